//! Least privilege from the audit trail: the identity policy that allows exactly the
//! actions a principal was allowed in a period, each on the resources it actually
//! used (SES sends on the identity ARNs they went through), actions that share the
//! same resources grouped into one statement.

use policy::principal::Caller;
use policy::Principal;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use store::AuditEvent;

/// Whether a recorded principal is `wanted`: the same ARN, or a session of the
/// wanted role.
pub fn principal_matches(wanted: &Principal, recorded: &str) -> bool {
    if wanted.arn == recorded {
        return true;
    }
    let Ok(recorded) = Principal::parse(recorded) else {
        return false;
    };
    match (&wanted.caller, &recorded.caller) {
        (Caller::Role { name }, Caller::AssumedRole { role, .. }) => {
            role == name && recorded.account == wanted.account
        }
        _ => false,
    }
}

/// An identity policy document, its members in the usual order.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Document {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    /// One action as a string, several as a list.
    pub action: Value,
    pub resource: Value,
}

/// The policy document (Version 2012-10-17) allowing what `wanted` was allowed in
/// `events`; `None` when it made no authorized call. Calls that authorization denied
/// are left out: the principal never did them.
pub fn generate(events: &[AuditEvent], wanted: &Principal) -> Option<Document> {
    let mut resources_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for event in events {
        let records = event.recorded_authorizations();
        let authorized = !records.is_empty() && records.iter().all(|r| r.decision == "allowed");
        if !authorized || !principal_matches(wanted, &records[0].principal) {
            continue;
        }
        for r in records {
            resources_of.entry(r.action).or_default().insert(r.resource);
        }
    }
    if resources_of.is_empty() {
        return None;
    }
    let mut actions_of: BTreeMap<Vec<String>, Vec<String>> = BTreeMap::new();
    for (action, resources) in resources_of {
        let resources = if resources.contains("*") {
            vec!["*".to_string()]
        } else {
            resources.into_iter().collect()
        };
        actions_of.entry(resources).or_default().push(action);
    }
    let statement = actions_of
        .into_iter()
        .enumerate()
        .map(|(i, (resources, actions))| Statement {
            sid: format!("Observed{}", i + 1),
            effect: "Allow",
            action: one_or_list(actions),
            resource: one_or_list(resources),
        })
        .collect();
    Some(Document {
        version: "2012-10-17",
        statement,
    })
}

fn one_or_list(mut items: Vec<String>) -> Value {
    if items.len() == 1 {
        Value::String(items.remove(0))
    } else {
        json!(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{AuthorizationRecord, ContextEntry};

    fn record(
        principal: &str,
        action: &str,
        resource: &str,
        decision: &str,
    ) -> AuthorizationRecord {
        AuthorizationRecord {
            principal: principal.into(),
            action: action.into(),
            resource: resource.into(),
            resource_account: None,
            resource_policy: false,
            context: vec![ContextEntry {
                key: "aws:sourceip".into(),
                values: vec!["127.0.0.1".into()],
                multi: false,
            }],
            decision: decision.into(),
            denied_by: None,
            matched: Vec::new(),
        }
    }

    fn event(records: &[AuthorizationRecord]) -> AuditEvent {
        AuditEvent {
            event_id: "e".into(),
            time_ms: 0,
            account: "111111111111".into(),
            event_name: "SendEmail".into(),
            event_source: "ses.amazonaws.com".into(),
            user_name: "alice".into(),
            access_key_id: String::new(),
            trace: Vec::new(),
            detail: json!({}),
            authorizations: records.to_vec(),
        }
    }

    const ALICE: &str = "arn:aws:iam::111111111111:user/alice";
    const SHOP: &str = "arn:aws:ses:us-east-1:222222222222:identity/shop.example";
    const NEWS: &str = "arn:aws:ses:us-east-1:111111111111:identity/news@example.com";

    #[test]
    fn groups_actions_by_the_resources_they_used_and_leaves_out_denied_calls() {
        let events = vec![
            event(&[record(ALICE, "ses:SendEmail", SHOP, "allowed")]),
            event(&[record(ALICE, "ses:SendRawEmail", SHOP, "allowed")]),
            event(&[record(ALICE, "ses:SendEmail", NEWS, "allowed")]),
            event(&[record(ALICE, "ses:GetSendQuota", "*", "allowed")]),
            event(&[record(ALICE, "iam:CreateUser", "*", "implicitDeny")]),
            event(&[record(
                "arn:aws:iam::111111111111:user/bob",
                "ses:DeleteIdentity",
                NEWS,
                "allowed",
            )]),
        ];
        let policy = generate(&events, &Principal::parse(ALICE).unwrap()).unwrap();
        let text = serde_json::to_string(&policy).unwrap();
        assert!(text.starts_with(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Observed1","Effect":"Allow","Action""#
        ));
        let policy = serde_json::to_value(&policy).unwrap();
        assert_eq!(
            policy,
            json!({"Version": "2012-10-17", "Statement": [
                {"Sid": "Observed1", "Effect": "Allow", "Action": "ses:GetSendQuota", "Resource": "*"},
                {"Sid": "Observed2", "Effect": "Allow", "Action": "ses:SendEmail", "Resource": [NEWS, SHOP]},
                {"Sid": "Observed3", "Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": SHOP},
            ]})
        );
        let findings =
            policy::validate::validate(&text, Some(policy::validate::PolicyKind::Identity));
        assert!(findings.is_empty(), "{findings:?}");
        let lint = policy::lint::lint(&text, None);
        assert!(lint.is_empty(), "{lint:?}");
    }

    #[test]
    fn a_role_covers_its_sessions_and_nothing_else() {
        let role = Principal::parse("arn:aws:iam::111111111111:role/sender").unwrap();
        assert!(principal_matches(
            &role,
            "arn:aws:sts::111111111111:assumed-role/sender/s1"
        ));
        assert!(!principal_matches(
            &role,
            "arn:aws:sts::111111111111:assumed-role/other/s1"
        ));
        assert!(!principal_matches(
            &role,
            "arn:aws:sts::999999999999:assumed-role/sender/s1"
        ));
        assert!(generate(&[], &role).is_none());
    }
}
