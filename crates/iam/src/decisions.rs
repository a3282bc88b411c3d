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

    /// The decisions so far, in the order taken.
    pub fn records(&self) -> Vec<AuthorizationRecord> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The record of one decision. For a denial it names the deciding deny statements.
pub fn record(set: &PolicySet, request: &Request, decision: &Decision) -> AuthorizationRecord {
    let matched = if decision.is_allowed() {
        Vec::new()
    } else {
        let (_, all) = policy::evaluate_matched(set, request);
        deciding_statements(set, decision, &all)
            .into_iter()
            .filter_map(|s| matched_statement(set, s))
            .collect()
    };
    AuthorizationRecord {
        principal: request.principal.arn.clone(),
        action: request.action.clone(),
        resource: request.resource.text.clone(),
        resource_account: request.resource_account.clone(),
        resource_policy: set.resource.is_some(),
        context: request
            .context
            .entries()
            .map(|(key, values, multi)| ContextEntry {
                key: key.to_string(),
                values: values.to_vec(),
                multi,
            })
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
