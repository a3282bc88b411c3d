//! Who is asking (the request principal, read from its ARN) and how a policy's
//! Principal / NotPrincipal element names principals.

use crate::arn;
use crate::context::Context;

/// The kind of caller, with what matching needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Root,
    User {
        name: String,
    },
    /// A role acting without a session name (rare; treated like one of its sessions).
    Role {
        name: String,
    },
    AssumedRole {
        role: String,
        session: String,
    },
    FederatedUser {
        name: String,
    },
    Service {
        name: String,
    },
    Anonymous,
}

/// The request principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// As given: an ARN, a service principal name or `*` for anonymous.
    pub arn: String,
    pub partition: String,
    /// Empty for service principals and anonymous callers.
    pub account: String,
    pub caller: Caller,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a principal: expected an IAM user, role, assumed-role session, federated user or root ARN, a service principal such as ses.amazonaws.com, or \"*\" for anonymous")]
pub struct PrincipalError(pub String);

impl Principal {
    pub fn parse(s: &str) -> Result<Principal, PrincipalError> {
        let err = || PrincipalError(s.to_string());
        if s == "*" || s.eq_ignore_ascii_case("anonymous") {
            return Ok(Principal::bare(s, Caller::Anonymous));
        }
        if !s.starts_with("arn:") {
            let valid = s.contains('.') && !s.contains([':', '/', ' ']);
            return valid
                .then(|| {
                    Principal::bare(
                        s,
                        Caller::Service {
                            name: s.to_string(),
                        },
                    )
                })
                .ok_or_else(err);
        }
        let [_, partition, service, _, account, resource] = arn::split(s).ok_or_else(err)?;
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let last = |r: &str| r.rsplit('/').next().unwrap_or_default().to_string();
        let caller = match (service, resource.split_once('/')) {
            ("iam", None) if resource == "root" => Caller::Root,
            ("iam", Some(("user", rest))) if !rest.is_empty() => Caller::User { name: last(rest) },
            ("iam", Some(("role", rest))) if !rest.is_empty() => Caller::Role { name: last(rest) },
            ("sts", Some(("assumed-role", rest))) => match rest.split_once('/') {
                Some((role, session)) if !role.is_empty() && !session.is_empty() => {
                    Caller::AssumedRole {
                        role: role.to_string(),
                        session: session.to_string(),
                    }
                }
                _ => return Err(err()),
            },
            ("sts", Some(("federated-user", name))) if !name.is_empty() => Caller::FederatedUser {
                name: name.to_string(),
            },
            _ => return Err(err()),
        };
        Ok(Principal {
            arn: s.to_string(),
            partition: partition.to_string(),
            account: account.to_string(),
            caller,
        })
    }

    fn bare(s: &str, caller: Caller) -> Principal {
        Principal {
            arn: s.to_string(),
            partition: "aws".to_string(),
            account: String::new(),
            caller,
        }
    }

    pub fn is_service(&self) -> bool {
        matches!(self.caller, Caller::Service { .. })
    }

    pub fn is_anonymous(&self) -> bool {
        self.caller == Caller::Anonymous
    }

    /// True for IAM principals of an account (not services, not anonymous).
    pub fn is_iam(&self) -> bool {
        !self.is_service() && !self.is_anonymous()
    }

    /// The role ARN behind an assumed-role session (path unknown, so none).
    pub fn role_arn(&self) -> Option<String> {
        match &self.caller {
            Caller::AssumedRole { role, .. } => Some(format!(
                "arn:{}:iam::{}:role/{}",
                self.partition, self.account, role
            )),
            _ => None,
        }
    }

    /// The value of `aws:PrincipalArn`: the role ARN for a role session.
    pub fn principal_arn(&self) -> String {
        self.role_arn().unwrap_or_else(|| self.arn.clone())
    }

    /// Adds the keys the principal implies, where the request did not set them.
    pub fn add_context_defaults(&self, ctx: &mut Context) {
        let (kind, userid) = match &self.caller {
            Caller::Root => ("Account", self.account.clone()),
            Caller::User { name } => {
                ctx.insert_default("aws:username", name);
                ("User", name.clone())
            }
            Caller::Role { name } => ("AssumedRole", name.clone()),
            Caller::AssumedRole { role, session } => ("AssumedRole", format!("{role}:{session}")),
            Caller::FederatedUser { name } => {
                ("FederatedUser", format!("{}:{}", self.account, name))
            }
            Caller::Service { name } => {
                ctx.insert_default("aws:PrincipalServiceName", name);
                ctx.insert_default("aws:PrincipalIsAWSService", "true");
                return;
            }
            Caller::Anonymous => {
                ctx.insert_default("aws:PrincipalType", "Anonymous");
                return;
            }
        };
        ctx.insert_default("aws:PrincipalArn", &self.principal_arn());
        ctx.insert_default("aws:PrincipalAccount", &self.account);
        ctx.insert_default("aws:PrincipalType", kind);
        ctx.insert_default("aws:userid", &userid);
        ctx.insert_default("aws:PrincipalIsAWSService", "false");
    }
}

/// One entry of a Principal / NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalEntry {
    /// `"*"` or `{"AWS": "*"}`: everyone, anonymous callers included.
    Everyone,
    /// An account id or `arn:aws:iam::ACCOUNT:root`: the account (delegation).
    Account(String),
    /// An IAM user, role, assumed-role session or federated user ARN.
    Arn(String),
    Service(String),
    Federated(String),
    CanonicalUser(String),
}

impl PrincipalEntry {
    /// Reads an `AWS` value: account id, root ARN, other ARN, or `*`.
    pub fn aws(value: &str) -> PrincipalEntry {
        if value == "*" {
            return PrincipalEntry::Everyone;
        }
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            return PrincipalEntry::Account(value.to_string());
        }
        match arn::split(value) {
            Some([_, _, "iam", "", account, "root"]) => {
                PrincipalEntry::Account(account.to_string())
            }
            _ => PrincipalEntry::Arn(value.to_string()),
        }
    }
}

/// How a Principal element names the caller, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum PrincipalMatch {
    /// The caller's own ARN (user, session, federated user), a service, or `*`.
    Direct,
    /// The role of an assumed-role session.
    RoleOfSession,
    /// The caller's account.
    Account,
}

/// The best way any of `entries` names `p`, if one does.
pub fn best_match(entries: &[PrincipalEntry], p: &Principal) -> Option<PrincipalMatch> {
    entries.iter().filter_map(|e| entry_match(e, p)).min()
}

fn entry_match(entry: &PrincipalEntry, p: &Principal) -> Option<PrincipalMatch> {
    let found = match entry {
        PrincipalEntry::Everyone => return Some(PrincipalMatch::Direct),
        PrincipalEntry::Account(a) => {
            return (p.is_iam() && *a == p.account).then_some(PrincipalMatch::Account)
        }
        PrincipalEntry::Arn(arn) if *arn == p.arn => PrincipalMatch::Direct,
        PrincipalEntry::Arn(arn) => {
            return role_of_session(arn, p).then_some(PrincipalMatch::RoleOfSession)
        }
        PrincipalEntry::Service(s) => {
            return matches!(&p.caller, Caller::Service { name } if name == s)
                .then_some(PrincipalMatch::Direct)
        }
        PrincipalEntry::Federated(f) | PrincipalEntry::CanonicalUser(f) => {
            return (*f == p.arn).then_some(PrincipalMatch::Direct)
        }
    };
    Some(found)
}

/// True when `role_arn` is the role (any path) behind the session principal `p`.
fn role_of_session(role_arn: &str, p: &Principal) -> bool {
    let Caller::AssumedRole { role, .. } = &p.caller else {
        return false;
    };
    match arn::split(role_arn) {
        Some([_, partition, "iam", "", account, resource]) => {
            partition == p.partition
                && account == p.account
                && resource
                    .strip_prefix("role/")
                    .and_then(|r| r.rsplit('/').next())
                    == Some(role.as_str())
        }
        _ => false,
    }
}

/// NotPrincipal: the caller is excluded only when every identity it acts as is
/// listed — its own ARN (or, for a session, its role), and its account. Listing a
/// user without the account still denies the user, as AWS documents.
pub fn excluded_by_not_principal(entries: &[PrincipalEntry], p: &Principal) -> bool {
    let matches: Vec<PrincipalMatch> = entries.iter().filter_map(|e| entry_match(e, p)).collect();
    let has = |m: PrincipalMatch| matches.contains(&m);
    match &p.caller {
        Caller::Root => has(PrincipalMatch::Account) || has(PrincipalMatch::Direct),
        Caller::Service { .. } | Caller::Anonymous => has(PrincipalMatch::Direct),
        _ => {
            let own = has(PrincipalMatch::Direct) || has(PrincipalMatch::RoleOfSession);
            own && (has(PrincipalMatch::Account) || entries.contains(&PrincipalEntry::Everyone))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_principals() {
        let s =
            Principal::parse("arn:aws:sts::111122223333:assumed-role/MailSender/app-1").unwrap();
        assert_eq!(
            s.principal_arn(),
            "arn:aws:iam::111122223333:role/MailSender"
        );
        assert!(
            matches!(Principal::parse("arn:aws:iam::111122223333:user/a/b").unwrap().caller, Caller::User { ref name } if name == "b")
        );
        assert!(Principal::parse("ses.amazonaws.com").unwrap().is_service());
        assert!(Principal::parse("arn:aws:iam::1:user/x").is_err());
        assert!(Principal::parse("bob").is_err());
    }

    #[test]
    fn matches_entries() {
        let s = Principal::parse("arn:aws:sts::444455556666:assumed-role/DelegateSender/batch-7")
            .unwrap();
        let role = [PrincipalEntry::aws(
            "arn:aws:iam::444455556666:role/team/DelegateSender",
        )];
        assert_eq!(best_match(&role, &s), Some(PrincipalMatch::RoleOfSession));
        let acct = [PrincipalEntry::aws("444455556666")];
        assert_eq!(best_match(&acct, &s), Some(PrincipalMatch::Account));
        let other = [PrincipalEntry::aws("arn:aws:iam::111122223333:root")];
        assert_eq!(best_match(&other, &s), None);
    }

    #[test]
    fn not_principal_needs_user_and_account() {
        let bob = Principal::parse("arn:aws:iam::444455556666:user/bob").unwrap();
        let both = [
            PrincipalEntry::aws("arn:aws:iam::444455556666:user/bob"),
            PrincipalEntry::aws("arn:aws:iam::444455556666:root"),
        ];
        assert!(excluded_by_not_principal(&both, &bob));
        assert!(!excluded_by_not_principal(&both[..1], &bob));
        assert!(!excluded_by_not_principal(&both[1..], &bob));
    }
}
