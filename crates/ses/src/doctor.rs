//! `doctor`: the whole path of a send, checked without sending. Each check says
//! whether it passes, what decided, and for a failure the smallest fix — the
//! troubleshooting of AWS's "Unauthorized" and "554 Access denied" articles, done by
//! Sesame itself.

use crate::address::Mailbox;
use crate::model::{Identity, IdentityKind};
use crate::send::send_context;
use crate::{Ses, SesError};
use iam::{ids, Caller, CallerKind, RequestInfo};
use policy::{Decision, Layer, Outcome};

/// What to check: one send, as a principal would make it.
#[derive(Debug, Clone)]
pub struct DoctorRequest {
    pub principal: String,
    pub from: String,
    pub to: Vec<String>,
    pub region: String,
    pub source_arn: Option<String>,
    pub return_path: Option<String>,
    /// Check the SMTP path (ses:SendRawEmail, SMTP credentials) instead of SendEmail.
    pub smtp: bool,
    pub source_ip: String,
    pub secure_transport: bool,
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
    pub fix: Option<String>,
    /// The evaluation trace behind an authorization check.
    pub trace: Vec<String>,
}

impl Check {
    fn pass(name: &'static str, detail: String) -> Check {
        Check {
            name,
            passed: true,
            detail,
            fix: None,
            trace: Vec::new(),
        }
    }

    fn fail(name: &'static str, detail: String, fix: String) -> Check {
        Check {
            name,
            passed: false,
            detail,
            fix: Some(fix),
            trace: Vec::new(),
        }
    }
}

impl Ses {
    /// Runs every check of a send; stops early only where later checks cannot run.
    pub fn doctor(&self, req: &DoctorRequest) -> Result<Vec<Check>, SesError> {
        let mut checks = Vec::new();
        let caller = match self.iam.caller_for_principal(&req.principal) {
            Ok(c) => c,
            Err(e) => {
                checks.push(Check::fail(
                    "principal",
                    format!("{}: {e}", req.principal),
                    "check the principal ARN, or create the IAM user or role".into(),
                ));
                return Ok(checks);
            }
        };
        checks.push(Check::pass(
            "principal",
            format!("{} ({})", caller.arn, kind_name(caller.kind)),
        ));
        checks.push(self.credentials_check(&caller, req));
        let info = RequestInfo {
            source_ip: req.source_ip.clone(),
            secure_transport: req.secure_transport,
            user_agent: if req.smtp {
                "SMTP".into()
            } else {
                "aws-cli/doctor".into()
            },
            region: req.region.clone(),
            time_ms: ids::now_ms(),
            decisions: Default::default(),
        };
        let from = match Mailbox::parse(&req.from) {
            Ok(m) => m,
            Err(e) => {
                checks.push(Check::fail(
                    "from address",
                    e.to_string(),
                    "give a From address such as news@example.com".into(),
                ));
                return Ok(checks);
            }
        };
        let recipients: Vec<String> = req
            .to
            .iter()
            .filter_map(|t| Mailbox::parse(t).ok().map(|m| m.address))
            .collect();
        let return_path = req
            .return_path
            .as_deref()
            .and_then(|r| Mailbox::parse(r).ok());
        let Some(from_identity) = self.identity_check(
            &caller,
            &info,
            &from.address,
            req.source_arn.as_deref(),
            "from identity",
            &mut checks,
        )?
        else {
            return Ok(checks);
        };
        let mut involved = vec![from_identity];
        if let Some(rp) = &return_path {
            if let Some(i) = self.identity_check(
                &caller,
                &info,
                &rp.address,
                req.source_arn.as_deref(),
                "return-path identity",
                &mut checks,
            )? {
                if i.arn() != involved[0].arn() {
                    involved.push(i);
                }
            }
        }
        let action = if req.smtp {
            "ses:SendRawEmail"
        } else {
            "ses:SendEmail"
        };
        let api_version = if req.smtp { "2" } else { "1" };
        let context = send_context(&from, &recipients, api_version, return_path.as_ref());
        for identity in &involved {
            checks.push(self.authorization_check(&caller, &info, action, identity, &context)?);
        }
        checks.extend(self.account_checks(&caller, &info, &recipients)?);
        Ok(checks)
    }

    fn credentials_check(&self, caller: &Caller, req: &DoctorRequest) -> Check {
        match (caller.kind, req.smtp) {
            (CallerKind::AssumedRole, true) => Check::fail(
                "credentials",
                "SMTP needs the long-term access key of an IAM user; temporary (role session) credentials are refused".into(),
                "create an IAM user with an access key and derive its SMTP password".into(),
            ),
            (_, true) => Check::pass(
                "credentials",
                format!("SMTP credentials are region-specific: derive the password for {} with `sesame smtp-password --access-key-id AKIA… --region {}`", req.region, req.region),
            ),
            _ => Check::pass("credentials", format!("requests must be signed for region {}", req.region)),
        }
    }

    /// Which verified identity covers `address`; records the check.
    fn identity_check(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        address: &str,
        arn: Option<&str>,
        name: &'static str,
        checks: &mut Vec<Check>,
    ) -> Result<Option<Identity>, SesError> {
        match self.resolve(caller, info, address, arn) {
            Ok(identity) => {
                let owner = if identity.account == caller.account {
                    "own".to_string()
                } else {
                    format!("account {}'s", identity.account)
                };
                checks.push(Check::pass(
                    name,
                    format!(
                        "{address} is covered by {owner} verified identity {} ({})",
                        identity.name,
                        identity.arn()
                    ),
                ));
                Ok(Some(identity))
            }
            Err(SesError::MessageRejected(message)) => {
                let domain = crate::address::domain_of(address);
                let fix = match arn {
                    Some(arn) => format!("the identity {arn} must be verified in {} and cover {address}; the delegate must send in that identity's region", info.region),
                    None => format!("verify {address} (aws ses verify-email-identity --email-address {address}) or its domain {domain} in region {}, or send from an address of a verified domain", info.region),
                };
                checks.push(Check::fail(name, message, fix));
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    fn authorization_check(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        identity: &Identity,
        context: &[(&str, Vec<String>)],
    ) -> Result<Check, SesError> {
        let resource_policy = self.merged_policies.merged(identity)?;
        let mut set = caller.policies.clone();
        set.resource = Some(resource_policy.clone());
        let arn = identity.arn();
        let result = self.iam.authorize(
            caller,
            action,
            &arn,
            info,
            Some((resource_policy, identity.account.clone())),
            context,
        );
        Ok(match result {
            Ok(decision) => {
                let by = decision
                    .statement
                    .map(|s| policy::trace::describe(&set, s))
                    .unwrap_or_else(|| "the account root user".into());
                Check::pass(
                    "authorization",
                    format!("{action} on {arn} is allowed by {by}"),
                )
            }
            Err(denial) => {
                let message = policy::message::ses_denial(&caller.arn, action, &arn);
                let by = denial
                    .decision
                    .statement
                    .map(|s| policy::trace::describe(&set, s));
                let detail = match (&by, denial.decision.denied_by) {
                    (Some(by), _) => format!("{message}: explicit deny by {by}"),
                    (None, Some(layer)) => {
                        format!("{message}: no {} allows {action}", layer.policy_type())
                    }
                    (None, None) => message,
                };
                let mut check = Check::fail(
                    "authorization",
                    detail,
                    fix_for(&denial.decision, caller, action, identity, &set),
                );
                check.trace = denial.trace;
                check
            }
        })
    }

    fn account_checks(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        recipients: &[String],
    ) -> Result<Vec<Check>, SesError> {
        let settings = self.settings(&caller.account, &info.region)?;
        let mut checks = Vec::new();
        checks.push(if settings.sending_enabled {
            Check::pass(
                "sending enabled",
                format!(
                    "sending is enabled for account {} in {}",
                    caller.account, info.region
                ),
            )
        } else {
            Check::fail(
                "sending enabled",
                "Email sending is disabled for your entire Amazon SES account.".into(),
                "aws ses update-account-sending-enabled --enabled".into(),
            )
        });
        checks.push(if settings.production {
            Check::pass("sandbox", format!("account {} has production access in {}", caller.account, info.region))
        } else {
            match self.check_sandbox(&caller.account, &info.region, recipients) {
                Ok(()) => Check::pass("sandbox", "the account is in the sandbox, and every recipient is a verified identity of it".into()),
                Err(e) => Check::fail("sandbox", e.to_string(), format!("verify the recipients in account {} ({}), or get production access for it (sesame admin production-access --account {} --region {})", caller.account, info.region, caller.account, info.region)),
            }
        });
        let (max, rate) = settings.quota();
        let sent = self
            .quotas
            .sent_last_24h(&caller.account, &info.region, ids::now_ms());
        let left = (max - sent as f64).max(0.0);
        checks.push(if left >= recipients.len() as f64 {
            Check::pass("quota", format!("{sent} of {max} sent in the last 24 hours; {rate} per second (counted against account {})", caller.account))
        } else {
            Check::fail("quota", "Daily message quota exceeded.".into(), "wait for the 24-hour window to roll, or raise the quota".into())
        });
        Ok(checks)
    }
}

/// The smallest change that would let the send through.
fn fix_for(
    d: &Decision,
    caller: &Caller,
    action: &str,
    identity: &Identity,
    set: &policy::PolicySet,
) -> String {
    let arn = identity.arn();
    let by = d
        .statement
        .map(|s| policy::trace::describe(set, s))
        .unwrap_or_default();
    match (d.outcome, d.denied_by) {
        (Outcome::ExplicitDeny, Some(Layer::Scp)) => format!("{by} denies {action}: detach that SCP from its target or add an exception for this principal"),
        (Outcome::ExplicitDeny, Some(Layer::Resource)) => format!("{by} on identity {} denies: the identity owner (account {}) must remove or narrow that statement", identity.name, identity.account),
        (Outcome::ExplicitDeny, _) => format!("{by} denies {action}: remove it or narrow its condition"),
        (_, Some(Layer::Identity)) => identity_fix(caller, action, identity, set),
        (_, Some(Layer::Boundary)) => format!("add {action} on {arn} to the permissions boundary of {} ({})", caller.arn, policy_name(set.boundary.as_deref())),
        (_, Some(Layer::Session)) => format!("the session policy passed when the role was assumed does not allow {action}: assume the role again with a session policy that does, or with none"),
        (_, Some(Layer::Scp)) => format!("no SCP at one level of the organization allows {action}: attach an SCP that allows it (e.g. FullAWSAccess) at that level"),
        (_, Some(Layer::Rcp)) => format!("no RCP allows {action} on {arn}: attach an RCP that allows it"),
        (_, Some(Layer::Resource)) => format!(
            "the owner of {} (account {}) must add a sending authorization policy allowing {action} for {} (or its account {}) on {arn}: aws ses put-identity-policy --identity {} --policy-name Delegate --policy '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"{}\"}},\"Action\":[\"ses:SendEmail\",\"ses:SendRawEmail\"],\"Resource\":\"{arn}\"}}]}}'",
            identity.name, identity.account, caller.arn, caller.account, identity.name, caller.arn
        ),
        _ => "no fix needed".into(),
    }
}

/// For a missing identity-policy allow: seed 001's case (the policy names the domain while
/// the address is its own identity) gets its own fix.
fn identity_fix(
    caller: &Caller,
    action: &str,
    identity: &Identity,
    set: &policy::PolicySet,
) -> String {
    let arn = identity.arn();
    if identity.kind == IdentityKind::EmailAddress {
        let domain_arn = format!(
            "arn:aws:ses:{}:{}:identity/{}",
            identity.region,
            identity.account,
            crate::address::domain_of(&identity.name)
        );
        let names_domain = set.identity.iter().flat_map(|p| &p.statements).any(|s| {
            s.resources
                .as_ref()
                .is_some_and(|r| r.source.iter().any(|src| src == &domain_arn))
        });
        if names_domain {
            return format!("{} is verified as its own identity, so SES authorizes it through {arn}: set the Resource of the statement that names {domain_arn} to {arn} (or add it)", identity.name);
        }
    }
    let target = match caller.kind {
        CallerKind::AssumedRole => "the role's".to_string(),
        _ => format!("{}'s", caller.arn),
    };
    format!(
        "add {action} on {arn} to an identity-based policy of {target}: {{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[\"ses:SendEmail\",\"ses:SendRawEmail\"],\"Resource\":\"{arn}\"}}]}}"
    )
}

fn policy_name(p: Option<&policy::Policy>) -> String {
    p.and_then(|p| p.name.clone())
        .unwrap_or_else(|| "its boundary policy".into())
}

fn kind_name(kind: CallerKind) -> &'static str {
    match kind {
        CallerKind::Root => "account root user",
        CallerKind::User | CallerKind::UserSession => "IAM user",
        CallerKind::AssumedRole => "assumed-role session",
    }
}
