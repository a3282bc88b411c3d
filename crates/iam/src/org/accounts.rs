//! Member accounts: CreateAccount (with the access role the management account
//! assumes), account-creation status, describing, listing and moving accounts.

use super::tree::attach_defaults;
use super::{
    account_arn, account_info, account_not_found, check_length, check_parent_id, check_pattern,
    invalid_input, is_account_id, org_account, org_accounts, org_of_management, parent_arn,
    parent_exists, parent_not_found, service_error, AccountInfo,
};
use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, Account, CreateAccountRequest, Permissions, Role};
use crate::{ids, Iam, IamError};
use store::Docs;

const DEFAULT_ROLE: &str = "OrganizationAccountAccessRole";
const ADMINISTRATOR_ACCESS: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// The parameters of CreateAccount.
#[derive(Debug, Clone, Default)]
pub struct NewAccount<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role_name: Option<&'a str>,
    pub iam_user_access_to_billing: Option<&'a str>,
}

impl Iam {
    /// Creates a member account in the root, with a role that trusts the management
    /// account. AWS does this asynchronously; here the request has finished (SUCCEEDED
    /// or FAILED) when the call returns.
    pub fn create_account(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        new: &NewAccount<'_>,
    ) -> Result<CreateAccountRequest, IamError> {
        check_new_account(new)?;
        let role_name = new.role_name.unwrap_or(DEFAULT_ROLE);
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(caller, info, "organizations:CreateAccount", &["*"], None)?;
            let now = ids::now_ms();
            let taken: Vec<String> = tx
                .scan::<CreateAccountRequest>(table::CREATE_ACCOUNT_REQUESTS, "")?
                .into_iter()
                .map(|r| r.id)
                .collect();
            let mut request = CreateAccountRequest {
                id: super::fresh_id("car-", 32, |id| Ok(taken.iter().any(|t| t == id)))?,
                account_name: new.name.to_string(),
                state: "SUCCEEDED".to_string(),
                requested_ms: now,
                completed_ms: now,
                account_id: None,
                failure_reason: None,
            };
            if email_taken(tx, new.email)? {
                request.state = "FAILED".to_string();
                request.failure_reason = Some("EMAIL_ALREADY_EXISTS".to_string());
            } else {
                let id = fresh_account_id(tx)?;
                let account = Account {
                    id: id.clone(),
                    name: new.name.to_string(),
                    email: new.email.to_string(),
                    joined_ms: now,
                    parent_id: Some(org.root_id.clone()),
                    joined_method: "CREATED".to_string(),
                };
                tx.put(table::ACCOUNTS, &id, &account)?;
                put_access_role(tx, &id, role_name, &org.management_account_id, now)?;
                attach_defaults(tx, &org, &id)?;
                request.account_id = Some(id);
            }
            tx.put(table::CREATE_ACCOUNT_REQUESTS, &request.id, &request)?;
            Ok(request)
        })
    }

    pub fn describe_create_account_status(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        request_id: &str,
    ) -> Result<CreateAccountRequest, IamError> {
        check_pattern(
            request_id
                .strip_prefix("car-")
                .is_some_and(|r| super::lower_alnum(r, 8, 32)),
        )?;
        self.read(|tx| {
            org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DescribeCreateAccountStatus",
                &["*"],
                None,
            )?;
            tx.get::<CreateAccountRequest>(table::CREATE_ACCOUNT_REQUESTS, request_id)?
                .ok_or_else(|| {
                    service_error(
                        "CreateAccountStatusNotFoundException",
                        "We can't find an create account request with the CreateAccountRequestId that you specified.",
                    )
                })
        })
    }

    /// Account-creation requests, oldest first, optionally only those in `states`.
    pub fn list_create_account_status(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        states: &[&str],
    ) -> Result<Vec<CreateAccountRequest>, IamError> {
        for s in states {
            if !["IN_PROGRESS", "SUCCEEDED", "FAILED"].contains(s) {
                return Err(invalid_input(
                    "INVALID_LIST_MEMBER",
                    "You provided a list to a parameter that contains at least one invalid value.",
                ));
            }
        }
        self.read(|tx| {
            org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListCreateAccountStatus",
                &["*"],
                None,
            )?;
            let mut all: Vec<CreateAccountRequest> = tx.scan(table::CREATE_ACCOUNT_REQUESTS, "")?;
            all.retain(|r| states.is_empty() || states.contains(&r.state.as_str()));
            all.sort_by(|a, b| a.requested_ms.cmp(&b.requested_ms).then(a.id.cmp(&b.id)));
            Ok(all)
        })
    }

    pub fn describe_account(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        account_id: &str,
    ) -> Result<AccountInfo, IamError> {
        check_pattern(is_account_id(account_id))?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DescribeAccount",
                &[&account_arn(&org, account_id)],
                None,
            )?;
            let account = org_account(tx, account_id)?.ok_or_else(account_not_found)?;
            account_info(tx, &org, &account)
        })
    }

    pub fn list_accounts(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<Vec<AccountInfo>, IamError> {
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(caller, info, "organizations:ListAccounts", &["*"], None)?;
            let mut out = Vec::new();
            for account in org_accounts(tx)? {
                out.push(account_info(tx, &org, &account)?);
            }
            Ok(out)
        })
    }

    pub fn list_accounts_for_parent(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        parent_id: &str,
    ) -> Result<Vec<AccountInfo>, IamError> {
        check_parent_id(parent_id)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListAccountsForParent",
                &[&parent_arn(&org, parent_id)],
                None,
            )?;
            if !parent_exists(tx, &org, parent_id)? {
                return Err(parent_not_found());
            }
            let mut out = Vec::new();
            for account in org_accounts(tx)? {
                if account.parent_id.as_deref() == Some(parent_id) {
                    out.push(account_info(tx, &org, &account)?);
                }
            }
            Ok(out)
        })
    }

    /// Moves an account from `source` (where it must be) to `destination`.
    pub fn move_account(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        account_id: &str,
        source: &str,
        destination: &str,
    ) -> Result<(), IamError> {
        check_pattern(is_account_id(account_id))?;
        check_parent_id(source)?;
        check_parent_id(destination)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:MoveAccount",
                &[
                    &account_arn(&org, account_id),
                    &parent_arn(&org, source),
                    &parent_arn(&org, destination),
                ],
                None,
            )?;
            let mut account = org_account(tx, account_id)?.ok_or_else(account_not_found)?;
            if !parent_exists(tx, &org, source)? {
                return Err(service_error(
                    "SourceParentNotFoundException",
                    "We can't find a source root or OU with the ParentId that you specified.",
                ));
            }
            if !parent_exists(tx, &org, destination)? {
                return Err(service_error(
                    "DestinationParentNotFoundException",
                    "We can't find the destination container (a root or OU) with the ParentId that you specified.",
                ));
            }
            if account.parent_id.as_deref() != Some(source) {
                return Err(account_not_found());
            }
            if source == destination {
                return Err(service_error(
                    "DuplicateAccountException",
                    "That account is already present in the specified destination.",
                ));
            }
            account.parent_id = Some(destination.to_string());
            tx.put(table::ACCOUNTS, account_id, &account)?;
            Ok(())
        })
    }
}

fn check_new_account(new: &NewAccount<'_>) -> Result<(), IamError> {
    check_length(new.email, 6, 64)?;
    check_pattern(is_email(new.email))?;
    check_length(new.name, 1, 50)?;
    check_pattern(new.name.bytes().all(|b| (0x20..=0x7e).contains(&b)))?;
    if let Some(role) = new.role_name {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
        check_pattern((1..=64).contains(&role.len()) && role.chars().all(ok_char))?;
        if role.starts_with("AWSServiceRoleFor") {
            return Err(invalid_input(
                "INVALID_ROLE_NAME",
                "You provided a role name that isn't valid. A role name can't begin with the reserved prefix AWSServiceRoleFor.",
            ));
        }
    }
    if let Some(billing) = new.iam_user_access_to_billing {
        if billing != "ALLOW" && billing != "DENY" {
            return Err(invalid_input(
                "INVALID_ENUM",
                "You specified an invalid value.",
            ));
        }
    }
    Ok(())
}

/// `[^\s@]+@[^\s@]+\.[^\s@]+`.
fn is_email(email: &str) -> bool {
    let plain = |s: &str| !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c == '@');
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let Some((host, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    plain(local) && plain(host) && plain(tld)
}

/// Whether any account (in the organization or not) uses `email` already.
fn email_taken(tx: &mut Docs<'_>, email: &str) -> Result<bool, IamError> {
    let all: Vec<Account> = tx.scan(table::ACCOUNTS, "")?;
    Ok(all.iter().any(|a| a.email.eq_ignore_ascii_case(email)))
}

fn fresh_account_id(tx: &mut Docs<'_>) -> Result<String, IamError> {
    loop {
        let id = ids::account_id()?;
        if tx.get::<Account>(table::ACCOUNTS, &id)?.is_none() {
            return Ok(id);
        }
    }
}

/// The role the management account assumes to administer the new account.
fn put_access_role(
    tx: &mut Docs<'_>,
    account: &str,
    name: &str,
    management: &str,
    now: i64,
) -> Result<(), IamError> {
    let trust = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{management}:root")},
            "Action": "sts:AssumeRole"
        }]
    });
    let role = Role {
        account: account.to_string(),
        name: name.to_string(),
        path: "/".to_string(),
        id: ids::unique_id("AROA")?,
        created_ms: now,
        trust_policy: trust.to_string(),
        description: String::new(),
        max_session_duration: 3600,
        permissions: Permissions {
            inline: Default::default(),
            attached: vec![ADMINISTRATOR_ACCESS.to_string()],
        },
        boundary: None,
        tags: Vec::new(),
    };
    tx.put(table::ROLES, &model::entity_key(account, name), &role)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("a@b.co"));
        assert!(is_email("first.last+tag@example.com"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.d"));
        assert!(!is_email("@b.co"));
        assert!(!is_email("a@@b.co"));
    }
}
