//! Replay: the authorization decisions recorded in the audit trail, decided again
//! with proposed policy changes, to list every call whose outcome would change before
//! anyone applies them. Each change names what it replaces or adds (an inline policy
//! of a user or role, a boundary, a managed policy's default version, an SCP, or an
//! identity's sending authorization policy). Baseline and proposal are both decided
//! on the policies stored now, so only the proposal's effect shows.

use crate::model::Identity;
use crate::send::merged_policy;
use crate::Ses;
use iam::decisions::context_of;
use policy::principal::Caller as PrincipalCaller;
use policy::{Decision, Policy, PolicySet, Principal, Request};
use std::collections::HashMap;
use std::sync::Arc;
use store::{AuditEvent, AuthorizationRecord};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("`{0}` is not a replay target: expected user/NAME:POLICY, role/NAME:POLICY, boundary:user/NAME, boundary:role/NAME, a managed policy ARN, an SCP id p-…, or identity/ADDRESS_OR_DOMAIN:POLICY (optionally prefixed by ACCOUNT: for users and roles)")]
    Target(String),
    #[error("the policy for {target} is not valid: {reason}")]
    Policy { target: String, reason: String },
    #[error("cannot read the stored policies: {0}")]
    Store(#[from] store::StoreError),
}

/// What a proposed policy document replaces or adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An inline policy of a user or role (added when absent).
    Inline {
        account: Option<String>,
        entity: Entity,
        policy: String,
    },
    /// The permissions boundary of a user or role (set or replaced).
    Boundary {
        account: Option<String>,
        entity: Entity,
    },
    /// A new default version of a managed policy, wherever it is attached or a boundary.
    Managed(String),
    /// New content of a service control policy, wherever attached.
    Scp(String),
    /// An identity's sending authorization policy (added when absent).
    SendingAuthorization { identity: String, policy: String },
}

/// A user or a role, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    User(String),
    Role(String),
}

impl Target {
    pub fn parse(text: &str) -> Result<Target, ReplayError> {
        let bad = || ReplayError::Target(text.to_string());
        if text.starts_with("arn:") {
            return text
                .contains(":policy/")
                .then(|| Target::Managed(text.to_string()))
                .ok_or_else(bad);
        }
        if text.starts_with("p-") && text.len() > 2 && !text.contains([':', '/']) {
            return Ok(Target::Scp(text.to_string()));
        }
        if let Some(rest) = text.strip_prefix("identity/") {
            let (identity, policy) = rest.rsplit_once(':').ok_or_else(bad)?;
            if identity.is_empty() || policy.is_empty() {
                return Err(bad());
            }
            return Ok(Target::SendingAuthorization {
                identity: identity.to_string(),
                policy: policy.to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("boundary:") {
            let (account, entity) = split_account(rest);
            let entity = parse_entity(entity).ok_or_else(bad)?;
            return Ok(Target::Boundary { account, entity });
        }
        let (account, rest) = split_account(text);
        let (entity, policy) = rest.split_once(':').ok_or_else(bad)?;
        let entity = parse_entity(entity).ok_or_else(bad)?;
        if policy.is_empty() || policy.contains([':', '/']) {
            return Err(bad());
        }
        Ok(Target::Inline {
            account,
            entity,
            policy: policy.to_string(),
        })
    }
}

fn split_account(text: &str) -> (Option<String>, &str) {
    match text.split_once(':') {
        Some((a, rest)) if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(a.to_string()), rest)
        }
        _ => (None, text),
    }
}

fn parse_entity(text: &str) -> Option<Entity> {
    let (kind, name) = text.split_once('/')?;
    if name.is_empty() || name.contains('/') {
        return None;
    }
    match kind {
        "user" => Some(Entity::User(name.to_string())),
        "role" => Some(Entity::Role(name.to_string())),
        _ => None,
    }
}

/// One proposed change: a target and its new document.
#[derive(Debug, Clone)]
pub struct Change {
    pub target: Target,
    pub label: String,
    pub document: String,
    compiled: Arc<Policy>,
}

impl Change {
    /// Parses the target and checks the document is a policy.
    pub fn new(target: &str, document: String) -> Result<Change, ReplayError> {
        let parsed = Target::parse(target)?;
        let name = match &parsed {
            Target::Inline { policy, .. } | Target::SendingAuthorization { policy, .. } => {
                policy.clone()
            }
            Target::Managed(arn) => arn.clone(),
            Target::Scp(id) => id.clone(),
            Target::Boundary { .. } => target.to_string(),
        };
        let compiled = Policy::parse(&document).map_err(|e| ReplayError::Policy {
            target: target.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Change {
            target: parsed,
            label: target.to_string(),
            document,
            compiled: Arc::new(compiled.with_name(name)),
        })
    }
}

/// The outcome of a call: allowed, or denied by its first denied decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub allowed: bool,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
    pub action: String,
    pub resource: String,
    /// The deciding layer and statement, in words.
    pub decided_by: String,
}

/// A call whose outcome the changes would turn around.
#[derive(Debug, Clone)]
pub struct ChangedCall {
    pub request_id: String,
    pub time_ms: i64,
    pub principal: String,
    pub event_name: String,
    pub before: Outcome,
    pub after: Outcome,
}

/// What a replay found.
#[derive(Debug, Clone, Default)]
pub struct ReplayReport {
    /// Calls with recorded decisions that were decided again.
    pub replayed: usize,
    /// Calls that could not be decided again (principal gone, a resource policy
    /// Sesame cannot reload such as a role's trust policy), with the reason.
    pub skipped: Vec<(String, String)>,
    pub changed: Vec<ChangedCall>,
}

/// One call decided again, or why it could not be.
enum Replayed {
    Decided(Outcome, Outcome),
    Skipped(String),
}

impl Ses {
    /// Decides the recorded calls again without and with `changes`.
    pub fn replay(
        &self,
        events: &[AuditEvent],
        changes: &[Change],
    ) -> Result<ReplayReport, ReplayError> {
        let mut report = ReplayReport::default();
        let mut callers: HashMap<(String, String), Option<PolicySet>> = HashMap::new();
        for event in events {
            let records = event.recorded_authorizations();
            if records.is_empty() {
                continue;
            }
            let request_id = event.detail["requestID"].as_str().unwrap_or_default();
            let key = (event.access_key_id.clone(), records[0].principal.clone());
            let policies = callers
                .entry(key)
                .or_insert_with(|| self.caller_policies(&event.access_key_id, &records[0]));
            let Some(policies) = policies.as_ref() else {
                report.skipped.push((
                    request_id.to_string(),
                    format!("{} no longer exists", records[0].principal),
                ));
                continue;
            };
            match self.replay_call(policies, &records, changes)? {
                Replayed::Decided(before, after) => {
                    report.replayed += 1;
                    if before.allowed != after.allowed {
                        report.changed.push(ChangedCall {
                            request_id: request_id.to_string(),
                            time_ms: event.time_ms,
                            principal: records[0].principal.clone(),
                            event_name: event.event_name.clone(),
                            before,
                            after,
                        });
                    }
                }
                Replayed::Skipped(reason) => {
                    report.skipped.push((request_id.to_string(), reason));
                }
            }
        }
        Ok(report)
    }

    /// The principal's policies as stored now: its session's when the key still
    /// exists (session policy included), else the principal's own.
    fn caller_policies(
        &self,
        access_key_id: &str,
        first: &AuthorizationRecord,
    ) -> Option<PolicySet> {
        let by_key = (!access_key_id.is_empty())
            .then(|| self.iam.caller(access_key_id).ok())
            .flatten()
            .filter(|c| c.arn == first.principal)
            .map(|c| c.policies.clone());
        by_key.or_else(|| {
            self.iam
                .caller_for_principal(&first.principal)
                .ok()
                .map(|c| c.policies)
        })
    }

    /// (before, after) of one call, or why it cannot be decided again.
    fn replay_call(
        &self,
        policies: &PolicySet,
        records: &[AuthorizationRecord],
        changes: &[Change],
    ) -> Result<Replayed, ReplayError> {
        let mut decided = Vec::new();
        for record in records {
            let principal = match Principal::parse(&record.principal) {
                Ok(p) => p,
                Err(e) => return Ok(Replayed::Skipped(e.to_string())),
            };
            let mut current = policies.clone();
            let mut proposed = policies.clone();
            if record.resource_policy {
                let Some(identity) = self.recorded_identity(&record.resource)? else {
                    return Ok(Replayed::Skipped(format!(
                        "the resource policy of {} cannot be reloaded",
                        record.resource
                    )));
                };
                current.resource = Some(merged_policy(&identity).map_err(policy_error)?);
                proposed.resource = Some(proposed_identity_policy(identity, changes)?);
            }
            for change in changes {
                apply(&mut proposed, &principal, change);
            }
            let request = Request::new(
                principal,
                &record.action,
                &record.resource,
                record.resource_account.clone(),
                context_of(record),
            );
            decided.push((request, current, proposed));
        }
        Ok(Replayed::Decided(
            call_outcome(decided.iter().map(|(r, current, _)| (current, r))),
            call_outcome(decided.iter().map(|(r, _, proposed)| (proposed, r))),
        ))
    }

    /// The SES identity an identity ARN names, as stored now.
    fn recorded_identity(&self, arn: &str) -> Result<Option<Identity>, ReplayError> {
        let Some((region, account, name)) = crate::model::identity_arn_parts(arn) else {
            return Ok(None);
        };
        Ok(self.load_identity(account, region, name)?)
    }
}

fn policy_error(e: crate::SesError) -> ReplayError {
    ReplayError::Policy {
        target: "a stored sending authorization policy".into(),
        reason: e.to_string(),
    }
}

/// The identity's sending authorization policies with the proposed ones put in.
fn proposed_identity_policy(
    mut identity: Identity,
    changes: &[Change],
) -> Result<Arc<Policy>, ReplayError> {
    for change in changes {
        if let Target::SendingAuthorization {
            identity: name,
            policy,
        } = &change.target
        {
            if name.eq_ignore_ascii_case(&identity.name) {
                identity
                    .policies
                    .insert(policy.clone(), change.document.clone());
            }
        }
    }
    merged_policy(&identity).map_err(policy_error)
}

/// Puts one change into a principal's policy set, when it bears on it.
pub fn apply(set: &mut PolicySet, principal: &Principal, change: &Change) {
    let new = change.compiled.clone();
    match &change.target {
        Target::Inline {
            account,
            entity,
            policy,
        } => {
            if is_entity(principal, account.as_deref(), entity) {
                match set
                    .identity
                    .iter_mut()
                    .find(|p| p.name.as_deref() == Some(policy.as_str()))
                {
                    Some(slot) => *slot = new,
                    None => set.identity.push(new),
                }
            }
        }
        Target::Boundary { account, entity } => {
            if is_entity(principal, account.as_deref(), entity) {
                set.boundary = Some(new);
            }
        }
        Target::Managed(arn) => {
            let named = |p: &Arc<Policy>| p.name.as_deref() == Some(arn.as_str());
            for slot in set.identity.iter_mut().filter(|p| named(p)) {
                *slot = new.clone();
            }
            if set.boundary.as_ref().is_some_and(named) {
                set.boundary = Some(new);
            }
        }
        Target::Scp(id) => {
            for level in set.scps.iter_mut().flatten() {
                for slot in level
                    .iter_mut()
                    .filter(|p| p.name.as_deref() == Some(id.as_str()))
                {
                    *slot = new.clone();
                }
            }
        }
        Target::SendingAuthorization { .. } => {}
    }
}

fn is_entity(principal: &Principal, account: Option<&str>, entity: &Entity) -> bool {
    if account.is_some_and(|a| a != principal.account) {
        return false;
    }
    match (&principal.caller, entity) {
        (PrincipalCaller::User { name }, Entity::User(want)) => name == want,
        (
            PrincipalCaller::AssumedRole { role: name, .. } | PrincipalCaller::Role { name },
            Entity::Role(want),
        ) => name == want,
        _ => false,
    }
}

/// The outcome of a call's decisions: its first denial, else allowed (by the
/// statement that allowed its first decision).
fn call_outcome<'a>(decisions: impl Iterator<Item = (&'a PolicySet, &'a Request)>) -> Outcome {
    let mut first_allowed = None;
    for (set, request) in decisions {
        let decision = policy::evaluate(set, request);
        let outcome = Outcome {
            allowed: decision.is_allowed(),
            decision: decision.outcome.as_str().to_string(),
            action: request.action.clone(),
            resource: request.resource.text.clone(),
            decided_by: decided_by(set, &decision),
        };
        if !outcome.allowed {
            return outcome;
        }
        first_allowed.get_or_insert(outcome);
    }
    first_allowed.unwrap_or(Outcome {
        allowed: true,
        decision: "allowed".into(),
        action: String::new(),
        resource: String::new(),
        decided_by: String::new(),
    })
}

/// The deciding layer and statement of a decision, in words.
fn decided_by(set: &PolicySet, decision: &Decision) -> String {
    let layer = decision.denied_by.map_or("", |l| l.as_str());
    match decision.statement {
        Some(s) => {
            let policy = policy::explain::policies_at(set, s.layer, s.level)
                .get(s.policy)
                .and_then(|p| p.name.clone())
                .unwrap_or_default();
            let statement = policy::explain::statement_at(set, s)
                .map(policy::policy::Statement::label)
                .unwrap_or_default();
            format!("{} policy {policy}: {statement}", s.layer.as_str())
        }
        None => format!("{layer}: no statement allows it"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOW_SEND: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:SendEmail","Resource":"*"}]}"#;
    const DENY_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;

    fn named(doc: &str, name: &str) -> Arc<Policy> {
        Arc::new(Policy::parse(doc).unwrap().with_name(name))
    }

    fn send(principal: &str) -> Request {
        Request::new(
            Principal::parse(principal).unwrap(),
            "ses:SendEmail",
            "arn:aws:ses:us-east-1:111111111111:identity/example.com",
            None,
            policy::Context::default(),
        )
    }

    #[test]
    fn targets_parse_into_what_they_name() {
        let inline = |account: Option<&str>, entity, policy: &str| Target::Inline {
            account: account.map(str::to_string),
            entity,
            policy: policy.into(),
        };
        assert_eq!(
            Target::parse("user/alice:Send").unwrap(),
            inline(None, Entity::User("alice".into()), "Send")
        );
        assert_eq!(
            Target::parse("111111111111:role/sender:P").unwrap(),
            inline(Some("111111111111"), Entity::Role("sender".into()), "P")
        );
        assert_eq!(
            Target::parse("boundary:user/alice").unwrap(),
            Target::Boundary {
                account: None,
                entity: Entity::User("alice".into())
            }
        );
        assert_eq!(
            Target::parse("arn:aws:iam::111111111111:policy/Senders").unwrap(),
            Target::Managed("arn:aws:iam::111111111111:policy/Senders".into())
        );
        assert_eq!(
            Target::parse("p-abc123").unwrap(),
            Target::Scp("p-abc123".into())
        );
        assert_eq!(
            Target::parse("identity/news@example.com:Delegates").unwrap(),
            Target::SendingAuthorization {
                identity: "news@example.com".into(),
                policy: "Delegates".into()
            }
        );
        for bad in [
            "user/alice",
            "group/g:P",
            "identity/example.com",
            "arn:aws:s3:::b",
            "x",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_inline_change_touches_only_its_principal_and_replaces_by_name() {
        let base = PolicySet {
            identity: vec![named(ALLOW_SEND, "Send")],
            ..PolicySet::default()
        };
        let change = Change::new("user/alice:Send", DENY_ALL.into()).unwrap();
        let alice = send("arn:aws:iam::111111111111:user/alice");
        let bob = send("arn:aws:iam::111111111111:user/bob");
        let mut set = base.clone();
        apply(&mut set, &alice.principal, &change);
        assert_eq!(set.identity.len(), 1);
        assert!(!policy::evaluate(&set, &alice).is_allowed());
        let mut set = base.clone();
        apply(&mut set, &bob.principal, &change);
        assert!(policy::evaluate(&set, &bob).is_allowed());
    }

    #[test]
    fn managed_and_scp_changes_replace_where_attached() {
        let arn = "arn:aws:iam::111111111111:policy/Senders";
        let base = PolicySet {
            identity: vec![named(ALLOW_SEND, arn)],
            scps: Some(vec![vec![named(ALLOW_SEND, "p-root")]]),
            ..PolicySet::default()
        };
        let alice = send("arn:aws:iam::111111111111:user/alice");
        assert!(policy::evaluate(&base, &alice).is_allowed());
        for target in [arn, "p-root"] {
            let mut set = base.clone();
            apply(
                &mut set,
                &alice.principal,
                &Change::new(target, DENY_ALL.into()).unwrap(),
            );
            let decision = policy::evaluate(&set, &alice);
            assert_eq!(decision.outcome, policy::Outcome::ExplicitDeny, "{target}");
            assert!(decided_by(&set, &decision).contains(target));
        }
    }

    #[test]
    fn a_broken_document_is_refused_with_its_target() {
        let e = Change::new("user/alice:P", "{".into()).unwrap_err();
        assert!(e.to_string().contains("user/alice:P"));
    }
}
