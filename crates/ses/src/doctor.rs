//! `doctor`: the whole path of a send, checked without sending. Each check says
//! whether it passes, what decided, and for a failure the smallest fix — the
//! troubleshooting of AWS's "Unauthorized" and "554 Access denied" articles, done by
//! Sesame itself.

use crate::address::Mailbox;
use crate::model::{Identity, IdentityKind};
use crate::send::send_context;
use crate::{Ses, SesError};
use iam::{ids, Caller, CallerKind, RequestInfo};
use policy::{Decision, Layer, Outcome, StatementRef};

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
    /// Check an API raw send (ses:SendRawEmail) instead of SendEmail.
    pub raw: bool,
    pub source_ip: String,
    pub secure_transport: bool,
    /// The User-Agent the send would carry (aws:UserAgent); a default names doctor.
    pub user_agent: Option<String>,
    /// The SMTP username and password the client uses, to check against the key.
    pub smtp_credentials: Option<SmtpCredentials>,
}

/// SMTP AUTH credentials as a mail client holds them.
#[derive(Clone)]
pub struct SmtpCredentials {
    /// The access key id.
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for SmtpCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Regions an SMTP password may have been derived for (to recognise one made for
/// another region than the endpoint's).
const SES_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "af-south-1",
    "me-south-1",
    "me-central-1",
    "il-central-1",
    "ap-south-1",
    "ap-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "us-gov-west-1",
    "us-gov-east-1",
];

const SEND_ACTIONS: [&str; 2] = ["ses:SendEmail", "ses:SendRawEmail"];

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

/// The checks as JSON, as `sesame doctor --format json` prints them and the API returns
/// them.
pub fn checks_json(checks: &[Check]) -> serde_json::Value {
    let list: Vec<_> = checks
        .iter()
        .map(|c| serde_json::json!({ "check": c.name, "passed": c.passed, "detail": c.detail, "fix": c.fix, "trace": c.trace }))
        .collect();
    serde_json::json!({ "passed": checks.iter().all(|c| c.passed), "checks": list })
}

impl Ses {
    /// Doctor over the API: an administrator of the principal's account checks a send
    /// of that principal. It reveals what the IAM policy simulator reveals, so it needs
    /// what the simulator needs: `iam:SimulatePrincipalPolicy` on the principal.
    pub fn doctor_for(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        req: &DoctorRequest,
    ) -> Result<Vec<Check>, SesError> {
        self.allow(caller, info, "iam:SimulatePrincipalPolicy", &req.principal)?;
        if policy::arn::account(&req.principal) != Some(caller.account.as_str()) {
            return Err(SesError::InvalidParameter(format!(
                "The principal {} is not in your account {}.",
                req.principal, caller.account
            )));
        }
        self.doctor(req)
    }

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
            user_agent: match (&req.user_agent, req.smtp) {
                (Some(agent), _) => agent.clone(),
                (None, true) => "SMTP".into(),
                (None, false) => "aws-cli/doctor".into(),
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
        let action = if req.smtp || req.raw {
            "ses:SendRawEmail"
        } else {
            "ses:SendEmail"
        };
        let api_version = if req.smtp { "2" } else { "1" };
        let context = send_context(&from, &recipients, api_version, return_path.as_ref());
        for identity in &involved {
            checks.push(self.authorization_check(&caller, &info, action, identity, &context)?);
        }
        let owner = Some(&involved[0].account).filter(|a| **a != caller.account);
        checks.extend(self.account_checks(&caller, &info, &recipients, owner)?);
        Ok(checks)
    }

    fn credentials_check(&self, caller: &Caller, req: &DoctorRequest) -> Check {
        if let (true, Some(credentials)) = (req.smtp, &req.smtp_credentials) {
            return self.smtp_credentials_check(caller, &req.region, credentials);
        }
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

    /// The SMTP username must be an access key of the principal, and the password the
    /// one derived from its secret for the endpoint's region.
    fn smtp_credentials_check(
        &self,
        caller: &Caller,
        region: &str,
        given: &SmtpCredentials,
    ) -> Check {
        let key = &given.username;
        let derive = format!("sesame smtp-password --access-key-id {key} --region {region}");
        let owner = match self.iam.caller(key) {
            Ok(owner) => owner,
            Err(_) => {
                return Check::fail(
                    "credentials",
                    format!("the SMTP username {key} is not an access key id of this server"),
                    format!("use the access key id of {} as SMTP username", caller.arn),
                )
            }
        };
        if owner.is_temporary() {
            return Check::fail(
                "credentials",
                format!("the SMTP username {key} is a temporary (role session) access key; SMTP accepts only long-term keys of IAM users"),
                "create an IAM user with an access key and derive its SMTP password".into(),
            );
        }
        if owner.arn != caller.arn {
            return Check::fail(
                "credentials",
                format!(
                    "the SMTP username {key} is an access key of {}, not of {}",
                    owner.arn, caller.arn
                ),
                format!(
                    "use an access key of {}, or run doctor with --principal {}",
                    caller.arn, owner.arn
                ),
            );
        }
        let derived = |r: &str| sigv4::ses_smtp_password(owner.secret(), r);
        if derived(region) == given.password {
            return Check::pass(
                "credentials",
                format!("the SMTP password is the one derived from access key {key} for {region}"),
            );
        }
        let detail = if given.password == owner.secret() {
            format!("the SMTP password is the secret access key of {key} itself, not the SMTP password derived from it")
        } else if let Some(other) = SES_REGIONS.iter().find(|r| derived(r) == given.password) {
            format!("the SMTP password of access key {key} was derived for region {other}, but the SMTP endpoint of {region} accepts only passwords derived for {region}")
        } else {
            format!("the SMTP password is not derived from the secret of access key {key} for any region (a rotated key, or a mistyped password)")
        };
        Check::fail(
            "credentials",
            detail,
            format!("derive the password for {region}: {derive}"),
        )
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
        match self.resolve(&self.store.snapshot()?, caller, info, address, arn) {
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
                Ok(Some((*identity).clone()))
            }
            Err(SesError::MessageRejected(message)) => {
                let domain = crate::address::domain_of(address);
                let fix = match arn {
                    Some(arn) => self.owner_identity_fix(address, arn, &info.region)?,
                    None => format!("verify {address} (aws ses verify-email-identity --email-address {address}) or its domain {domain} in region {}, or send from an address of a verified domain", info.region),
                };
                checks.push(Check::fail(name, message, fix));
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// Why the owner's identity named by `arn` does not cover `address` in `region`:
    /// another region (sending authorization works only in the identity's region),
    /// an identity verified elsewhere, or one that does not cover the address.
    fn owner_identity_fix(
        &self,
        address: &str,
        arn: &str,
        region: &str,
    ) -> Result<String, SesError> {
        let Some([_, _, _, arn_region, account, resource]) = policy::arn::split(arn) else {
            return Ok(format!(
                "{arn} is not an SES identity ARN (arn:aws:ses:REGION:ACCOUNT:identity/NAME)"
            ));
        };
        let name = resource.strip_prefix("identity/").unwrap_or(resource);
        if arn_region != region {
            return Ok(format!("the identity ARN {arn} is in region {arn_region}, but the send goes to {region}: sending authorization works only in the identity's region, so send through the {arn_region} endpoint (--region {arn_region})"));
        }
        match self.load_identity(account, region, name)? {
            Some(i) if i.verified => Ok(format!("identity {name} of account {account} does not cover {address}: send from an address of {name}, or name the owner's identity that covers {address}")),
            Some(_) => Ok(format!("identity {name} of account {account} is not verified in {region} yet: its owner must finish the verification")),
            None => {
                for other in SES_REGIONS.iter().filter(|r| **r != region) {
                    if self.load_identity(account, other, name)?.is_some_and(|i| i.verified) {
                        let there = format!("arn:aws:ses:{other}:{account}:identity/{name}");
                        return Ok(format!("account {account} has no identity {name} in {region}; it is verified in {other}: send through the {other} endpoint (--region {other}) with --source-arn {there}"));
                    }
                }
                Ok(format!("account {account} has no verified identity {name} in {region}: its owner must verify it there and attach a sending authorization policy"))
            }
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
                    self.fix_for(&denial.decision, caller, action, identity, &set)?,
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
        owner: Option<&String>,
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
            match crate::send::check_sandbox(&self.store.snapshot()?, &caller.account, &info.region, recipients) {
                Ok(()) => Check::pass("sandbox", "the account is in the sandbox, and every recipient is a verified identity of it".into()),
                Err(e) => Check::fail("sandbox", e.to_string(), format!("verify the recipients in account {} ({}), or get production access for it (sesame admin production-access --account {} --region {})", caller.account, info.region, caller.account, info.region)),
            }
        });
        if let Some(owner) = owner {
            checks.push(self.owner_sandbox_check(owner, &info.region, recipients)?);
        }
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

    /// Under sending authorization the identity owner's sandbox binds too: a delegate
    /// reaches unverified recipients only when both accounts have production access.
    fn owner_sandbox_check(
        &self,
        owner: &str,
        region: &str,
        recipients: &[String],
    ) -> Result<Check, SesError> {
        if self.settings(owner, region)?.production {
            return Ok(Check::pass(
                "owner sandbox",
                format!("the identity owner, account {owner}, has production access in {region}"),
            ));
        }
        Ok(match crate::send::check_sandbox(&self.store.snapshot()?, owner, region, recipients) {
            Ok(()) => Check::pass("owner sandbox", format!("the identity owner, account {owner}, is in the sandbox in {region}, and every recipient is a verified identity of it")),
            Err(e) => Check::fail("owner sandbox", e.to_string(), format!("the identity owner, account {owner}, is in the sandbox in {region}: a delegate reaches unverified recipients only when both accounts have production access, so the owner needs it too (sesame admin production-access --account {owner} --region {region}), or verify the recipients in account {owner}")),
        })
    }

    /// The smallest change that would let the send through.
    fn fix_for(
        &self,
        d: &Decision,
        caller: &Caller,
        action: &str,
        identity: &Identity,
        set: &policy::PolicySet,
    ) -> Result<String, SesError> {
        let arn = identity.arn();
        let by = d
            .statement
            .map(|s| policy::trace::describe(set, s))
            .unwrap_or_default();
        Ok(match (d.outcome, d.denied_by) {
            (Outcome::ExplicitDeny, Some(Layer::Scp)) => match d.statement {
                Some(s) => self.scp_fix(s, caller, set)?,
                None => format!("{by} denies {action}: detach that SCP from its target or add an exception for this principal"),
            },
            (Outcome::ExplicitDeny, Some(Layer::Resource)) => format!("{by} on identity {} denies: the identity owner (account {}) must remove or narrow that statement", identity.name, identity.account),
            (Outcome::ExplicitDeny, _) => format!("{by} denies {action}: remove it or narrow its condition"),
            (_, Some(Layer::Identity)) => identity_fix(caller, action, identity, set),
            (_, Some(Layer::Boundary)) => format!("add {action} on {arn} to the permissions boundary of {} ({})", caller.arn, policy_name(set.boundary.as_deref())),
            (_, Some(Layer::Session)) => format!("the session policy passed when the role was assumed does not allow {action}: assume the role again with a session policy that does, or with none"),
            (_, Some(Layer::Scp)) => self.scp_gap_fix(caller, action, set)?,
            (_, Some(Layer::Rcp)) => format!("no RCP allows {action} on {arn}: attach an RCP that allows it"),
            (_, Some(Layer::Resource)) => sending_authorization_fix(caller, action, identity),
            _ => "no fix needed".into(),
        })
    }

    /// `SCP p-… attached to OU ou-… denies ses:* (statement 1): detach it or add an
    /// exception`, naming the policy, its target and the command that detaches it.
    fn scp_fix(
        &self,
        s: StatementRef,
        caller: &Caller,
        set: &policy::PolicySet,
    ) -> Result<String, SesError> {
        let policy = set
            .scps
            .as_ref()
            .and_then(|l| l.get(s.level))
            .and_then(|p| p.get(s.policy));
        let id = policy
            .and_then(|p| p.name.clone())
            .unwrap_or_else(|| "(unnamed)".into());
        let statement = policy.and_then(|p| p.statements.get(s.statement));
        let actions = statement
            .map(|st| st.actions.source.join(", "))
            .unwrap_or_default();
        let label = statement
            .map(policy::policy::Statement::label)
            .unwrap_or_default();
        let targets = self
            .iam
            .level_targets(&caller.account)
            .map_err(SesError::from)?;
        let Some(target) = targets.get(s.level) else {
            return Ok(format!(
                "SCP {id} denies {actions} ({label}): detach it or add an exception for {}",
                caller.arn
            ));
        };
        Ok(format!(
            "SCP {id} attached to {} denies {actions} ({label}): detach it or add an exception for {} (aws organizations detach-policy --policy-id {id} --target-id {target})",
            target_label(target),
            caller.arn
        ))
    }

    /// No SCP allows the action at some level (e.g. FullAWSAccess detached from an
    /// OU): names the first such level's target and what is attached there.
    fn scp_gap_fix(
        &self,
        caller: &Caller,
        action: &str,
        set: &policy::PolicySet,
    ) -> Result<String, SesError> {
        let ctx = policy::Context::default();
        let action_lower = action.to_ascii_lowercase();
        let levels = set.scps.as_deref().unwrap_or_default();
        let gap = levels.iter().position(|policies| {
            !policies.iter().flat_map(|p| &p.statements).any(|st| {
                st.effect == policy::grammar::Effect::Allow
                    && st.action_matches(&action_lower, &ctx)
            })
        });
        let targets = self.iam.level_targets(&caller.account)?;
        let (Some(level), Some(target)) = (gap, gap.and_then(|g| targets.get(g))) else {
            return Ok(format!("no SCP at one level of the organization allows {action}: attach an SCP that allows it (e.g. FullAWSAccess) at that level"));
        };
        let attached: Vec<&str> = levels[level]
            .iter()
            .filter_map(|p| p.name.as_deref())
            .collect();
        let attached = attached.join(", ");
        Ok(format!(
            "no SCP attached to {} allows {action} (attached there: {attached}): attach one that does, e.g. aws organizations attach-policy --policy-id {} --target-id {target}",
            target_label(target),
            iam::org::FULL_AWS_ACCESS
        ))
    }
}

/// `the root r-…`, `OU ou-…` or `account 123…` for an organization target id.
fn target_label(id: &str) -> String {
    if id.starts_with("r-") {
        format!("the root {id}")
    } else if id.starts_with("ou-") {
        format!("OU {id}")
    } else {
        format!("account {id}")
    }
}

/// No sending authorization policy of the owner's identity allows the delegate: names
/// the identity's policies (or their absence) and the statement the owner must add.
fn sending_authorization_fix(caller: &Caller, action: &str, identity: &Identity) -> String {
    let arn = identity.arn();
    let principal = policy_principal(caller);
    let policies = if identity.policies.is_empty() {
        format!(
            "identity {} has no sending authorization policy",
            identity.name
        )
    } else {
        let names: Vec<String> = identity
            .policies
            .keys()
            .map(|n| format!("\"{n}\""))
            .collect();
        format!("the sending authorization policies of identity {} ({}) do not allow {action} for {principal}", identity.name, names.join(", "))
    };
    format!(
        "{policies}: its owner (account {}) must add a statement allowing {action} for {principal} (or its account {}) on {arn}: aws ses put-identity-policy --identity {} --policy-name Delegate --policy '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"{principal}\"}},\"Action\":[\"ses:SendEmail\",\"ses:SendRawEmail\"],\"Resource\":\"{arn}\"}}]}}'",
        identity.account, caller.account, identity.name
    )
}

/// The ARN a policy's Principal names for the caller: the role for a role session.
fn policy_principal(caller: &Caller) -> String {
    match &caller.principal.caller {
        policy::principal::Caller::AssumedRole { role, .. } => {
            format!(
                "arn:{}:iam::{}:role/{role}",
                caller.principal.partition, caller.account
            )
        }
        _ => caller.arn.clone(),
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
    if let Some(fix) = sibling_action_fix(action, &policy_principal(caller), set) {
        return fix;
    }
    format!(
        "add {action} on {arn} to an identity-based policy of {target}: {{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":[\"ses:SendEmail\",\"ses:SendRawEmail\"],\"Resource\":\"{arn}\"}}]}}"
    )
}

/// A policy that allows the other sending action but not `action` (seed 001: only
/// ses:SendEmail allowed, the SMTP interface needs ses:SendRawEmail): add it there.
fn sibling_action_fix(action: &str, principal: &str, set: &policy::PolicySet) -> Option<String> {
    let sibling = SEND_ACTIONS.into_iter().find(|a| *a != action)?;
    let ctx = policy::Context::default();
    let allows =
        |st: &policy::policy::Statement, a: &str| st.action_matches(&a.to_ascii_lowercase(), &ctx);
    set.identity.iter().find_map(|p| {
        let st = p.statements.iter().find(|st| {
            st.effect == policy::grammar::Effect::Allow && allows(st, sibling) && !allows(st, action)
        })?;
        let name = p.name.clone().unwrap_or_else(|| "(unnamed)".into());
        Some(format!("add {action} to policy \"{name}\" (an identity-based policy of {principal}): its {} allows {sibling} but not {action}", st.label()))
    })
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
