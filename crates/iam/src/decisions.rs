//! The authorization decisions of one call, collected as they are taken: the audit
//! trail keeps them (so a call can be decided again against other policies), and a
//! denial's encoded authorization message is built from them.

use policy::explain::{deciding_statements, policies_at, statement_at};
use policy::grammar::Effect;
use policy::{Decision, PolicySet, Request};
use std::sync::{Arc, Mutex};
use store::{AuthorizationRecord, ContextEntry, MatchedStatement};

/// The decisions of one call. Clones share the same list (a call's `RequestInfo` is
/// cloned along its way).
#[derive(Debug, Clone, Default)]
pub struct DecisionLog(Arc<Mutex<Vec<AuthorizationRecord>>>);

impl DecisionLog {
    pub fn push(&self, record: AuthorizationRecord) {
        if let Ok(mut list) = self.0.lock() {
            list.push(record);
        }
    }

    /// The last decision taken so far.
    pub fn last(&self) -> Option<AuthorizationRecord> {
        self.0.lock().ok()?.last().cloned()
    }

    /// The decisions so far, in the order taken, leaving the log empty (for the
    /// call's audit record, made once the call is over).
    pub fn take(&self) -> Vec<AuthorizationRecord> {
        self.0
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default()
    }
}

/// The record of one decision, taking the request's principal, resource and
/// context. For a denial it names the deciding deny statements.
pub fn record(set: &PolicySet, request: Request, decision: &Decision) -> AuthorizationRecord {
    let matched = if decision.is_allowed() {
        Vec::new()
    } else {
        let (_, all) = policy::evaluate_matched(set, &request);
        deciding_statements(set, decision, &all)
            .into_iter()
            .filter_map(|s| matched_statement(set, s))
            .collect()
    };
    AuthorizationRecord {
        principal: request.principal.arn,
        action: request.action,
        resource: request.resource.text,
        resource_account: request.resource_account,
        resource_policy: set.resource.is_some(),
        context: request
            .context
            .into_entries()
            .map(|(key, values, multi)| ContextEntry { key, values, multi })
            .collect(),
        decision: decision.outcome.as_str().to_string(),
        denied_by: decision.denied_by.map(|l| l.as_str().to_string()),
        matched,
    }
}

/// The request context of a record, as the engine takes it.
pub fn context_of(record: &AuthorizationRecord) -> policy::Context {
    let mut ctx = policy::Context::default();
    for e in &record.context {
        if e.multi {
            ctx.insert_list(&e.key, e.values.clone());
        } else {
            ctx.insert(&e.key, e.values.clone());
        }
    }
    ctx
}

fn matched_statement(set: &PolicySet, s: policy::StatementRef) -> Option<MatchedStatement> {
    let policy = policies_at(set, s.layer, s.level).get(s.policy)?;
    let statement = statement_at(set, s)?;
    Some(MatchedStatement {
        layer: s.layer.as_str().to_string(),
        policy: policy.name.clone().unwrap_or_default(),
        sid: statement.sid.clone(),
        effect: match statement.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
        .to_string(),
        actions: statement.actions.source.clone(),
        resources: statement
            .resources
            .as_ref()
            .map(|r| r.source.clone())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{Policy, Principal};
    use std::sync::Arc;

    fn set(doc: &str) -> PolicySet {
        PolicySet {
            identity: vec![Arc::new(Policy::parse(doc).unwrap().with_name("p"))],
            ..PolicySet::default()
        }
    }

    fn send_request() -> Request {
        let mut ctx = policy::Context::default();
        ctx.insert_list("ses:Recipients", vec!["a@example.org".into()]);
        ctx.insert("aws:SourceIp", vec!["203.0.113.7".into()]);
        Request::new(
            Principal::parse("arn:aws:iam::111111111111:user/alice").unwrap(),
            "ses:SendEmail",
            "arn:aws:ses:us-east-1:111111111111:identity/example.com",
            None,
            ctx,
        )
    }

    #[test]
    fn a_record_rebuilds_the_same_request_context() {
        // A single recipient given as a list: the rebuilt context must keep the list
        // flag (compared by the context equality below), or operators would differ.
        let policies = set(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"NoOutsiders","Effect":"Deny","Action":"ses:SendEmail","Resource":"*",
                "Condition":{"ForAnyValue:StringNotLike":{"ses:Recipients":"*@example.com"},"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}"#,
        );
        let request = send_request();
        let decision = policy::evaluate(&policies, &request);
        let record = record(&policies, request.clone(), &decision);
        assert_eq!(record.decision, "explicitDeny");
        assert_eq!(record.denied_by.as_deref(), Some("identity"));
        assert_eq!(record.matched.len(), 1);
        assert_eq!(record.matched[0].sid.as_deref(), Some("NoOutsiders"));
        assert_eq!(record.matched[0].effect, "Deny");
        let again = Request::new(
            Principal::parse(&record.principal).unwrap(),
            &record.action,
            &record.resource,
            record.resource_account.clone(),
            context_of(&record),
        );
        assert_eq!(again.context, request.context);
        assert_eq!(policy::evaluate(&policies, &again), decision);
    }

    #[test]
    fn an_allowed_decision_names_no_statements_and_the_log_keeps_order() {
        let policies = set(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"}]}"#,
        );
        let request = send_request();
        let log = DecisionLog::default();
        let shared = log.clone();
        let decision = policy::evaluate(&policies, &request);
        shared.push(record(&policies, request.clone(), &decision));
        shared.push(record(
            &PolicySet::default(),
            request.clone(),
            &policy::evaluate(&PolicySet::default(), &request),
        ));
        assert_eq!(log.last().unwrap().decision, "implicitDeny");
        let records = log.take();
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].decision, "allowed");
        assert!(records[0].matched.is_empty() && records[0].denied_by.is_none());
        assert_eq!(records[1].decision, "implicitDeny");
        assert!(shared.take().is_empty() && log.last().is_none());
    }
}
