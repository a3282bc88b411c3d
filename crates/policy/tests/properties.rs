//! Invariants of the evaluator over generated policy sets: an explicit deny is never
//! overridden; adding an Allow statement never turns allowed into denied; the decision
//! does not depend on the order of policies and statements.

use policy::{evaluate, Context, Outcome, Policy, PolicySet, Principal, Request};
use proptest::prelude::*;
use std::sync::Arc;

const ACTIONS: &[&str] = &[
    "ses:SendEmail",
    "ses:SendRawEmail",
    "ses:Send*",
    "ses:*",
    "*",
    "s3:GetObject",
    "ses:Get*",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:ses:us-east-1:111122223333:identity/example.com",
    "arn:aws:ses:*:111122223333:identity/*",
    "arn:aws:ses:us-east-1:111122223333:identity/other.com",
];
const CONDITIONS: &[&str] = &[
    "",
    r#""Condition": {"StringEquals": {"ses:FromAddress": "news@example.com"}},"#,
    r#""Condition": {"StringLike": {"ses:FromAddress": "*@example.com"}},"#,
    r#""Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},"#,
    r#""Condition": {"Bool": {"aws:SecureTransport": "true"}},"#,
    r#""Condition": {"ForAnyValue:StringNotLike": {"ses:Recipients": "*@example.org"}},"#,
    r#""Condition": {"StringNotEqualsIfExists": {"ses:FeedbackAddress": "bounce@example.com"}},"#,
];
const PRINCIPALS: &[&str] = &[
    r#""Principal": "*","#,
    r#""Principal": {"AWS": "444455556666"},"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:root"},"#,
    r#""Principal": {"AWS": "arn:aws:iam::111122223333:user/alice"},"#,
    r#""Principal": {"AWS": "arn:aws:iam::444455556666:role/Sender"},"#,
    "",
];
const CALLERS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:iam::444455556666:user/bob",
    "arn:aws:sts::444455556666:assumed-role/Sender/s1",
    "arn:aws:sts::111122223333:assumed-role/Sender/s2",
];

/// Indexes into the tables above; `principal` is used only in resource policies.
#[derive(Debug, Clone, Copy)]
struct StatementSpec {
    allow: bool,
    action: usize,
    resource: usize,
    condition: usize,
    principal: usize,
}

fn statement_spec() -> impl Strategy<Value = StatementSpec> {
    (
        prop::bool::weighted(0.8),
        0..ACTIONS.len(),
        0..RESOURCES.len(),
        0..CONDITIONS.len(),
        0..PRINCIPALS.len(),
    )
        .prop_map(
            |(allow, action, resource, condition, principal)| StatementSpec {
                allow,
                action,
                resource,
                condition,
                principal,
            },
        )
}

fn statement_json(s: &StatementSpec, with_principal: bool) -> String {
    format!(
        r#"{{"Effect": "{}", {} {} "Action": "{}", "Resource": "{}"}}"#,
        if s.allow { "Allow" } else { "Deny" },
        if with_principal {
            PRINCIPALS[s.principal]
        } else {
            ""
        },
        CONDITIONS[s.condition],
        ACTIONS[s.action],
        RESOURCES[s.resource]
    )
}

fn policy_of(statements: &[StatementSpec], with_principal: bool) -> Arc<Policy> {
    let body: Vec<String> = statements
        .iter()
        .map(|s| statement_json(s, with_principal))
        .collect();
    Policy::parse(&format!(
        r#"{{"Version": "2012-10-17", "Statement": [{}]}}"#,
        body.join(",")
    ))
    .map(Arc::new)
    .expect("generated policy compiles")
}

/// A generated scenario: every layer as lists of statement specs.
#[derive(Debug, Clone)]
struct Scenario {
    caller: usize,
    identity: Vec<Vec<StatementSpec>>,
    boundary: Option<Vec<StatementSpec>>,
    session: Option<Vec<StatementSpec>>,
    resource: Option<Vec<StatementSpec>>,
    scps: Option<Vec<Vec<StatementSpec>>>,
    from: usize,
    ip: usize,
}

fn statements() -> impl Strategy<Value = Vec<StatementSpec>> {
    prop::collection::vec(statement_spec(), 1..4)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        0..CALLERS.len(),
        prop::collection::vec(statements(), 0..3),
        prop::option::of(statements()),
        prop::option::of(statements()),
        prop::option::of(statements()),
        prop::option::of(prop::collection::vec(statements(), 1..3)),
        0..2usize,
        0..2usize,
    )
        .prop_map(
            |(caller, identity, boundary, session, resource, scps, from, ip)| Scenario {
                caller,
                identity,
                boundary,
                session,
                resource,
                scps,
                from,
                ip,
            },
        )
}

impl Scenario {
    fn policies(&self) -> PolicySet {
        let is_session = CALLERS[self.caller].contains("assumed-role");
        PolicySet {
            identity: self.identity.iter().map(|p| policy_of(p, false)).collect(),
            boundary: self.boundary.as_deref().map(|p| policy_of(p, false)),
            session: self
                .session
                .as_deref()
                .filter(|_| is_session)
                .map(|p| policy_of(p, false)),
            resource: self.resource.as_deref().map(|p| policy_of(p, true)),
            scps: self
                .scps
                .as_ref()
                .map(|levels| levels.iter().map(|l| vec![policy_of(l, false)]).collect()),
            rcps: None,
        }
    }

    fn request(&self) -> Request {
        let mut ctx = Context::default();
        let from = ["news@example.com", "ceo@elsewhere.net"][self.from];
        ctx.insert("ses:FromAddress", vec![from.to_string()]);
        ctx.insert(
            "ses:Recipients",
            vec!["a@example.org".into(), "b@example.net".into()],
        );
        ctx.insert(
            "aws:SourceIp",
            vec![["203.0.113.9", "198.51.100.1"][self.ip].to_string()],
        );
        ctx.insert("aws:SecureTransport", vec!["true".into()]);
        Request::new(
            Principal::parse(CALLERS[self.caller]).expect("caller"),
            "ses:SendRawEmail",
            "arn:aws:ses:us-east-1:111122223333:identity/example.com",
            None,
            ctx,
        )
    }
}

/// A Deny that applies to every request.
const DENY_ALL: StatementSpec = StatementSpec {
    allow: false,
    action: 4,
    resource: 0,
    condition: 0,
    principal: 0,
};
const ALLOW_SEND: StatementSpec = StatementSpec {
    allow: true,
    action: 1,
    resource: 0,
    condition: 0,
    principal: 0,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn explicit_deny_is_never_overridden(s in scenario(), layer in 0..4usize, extra_allows in 0..3usize) {
        let mut s = s;
        match layer {
            0 => s.identity.push(vec![DENY_ALL]),
            1 => s.boundary.get_or_insert_with(Vec::new).push(DENY_ALL),
            2 => s.resource.get_or_insert_with(Vec::new).push(DENY_ALL),
            _ => s.scps.get_or_insert_with(|| vec![vec![ALLOW_SEND]])[0].push(DENY_ALL),
        }
        for _ in 0..extra_allows {
            s.identity.push(vec![ALLOW_SEND]);
            s.resource.get_or_insert_with(Vec::new).push(ALLOW_SEND);
        }
        let d = evaluate(&s.policies(), &s.request());
        prop_assert_eq!(d.outcome, Outcome::ExplicitDeny);
    }

    #[test]
    fn adding_an_allow_never_denies(s in scenario(), extra in statement_spec(), target in 0..4usize) {
        let before = evaluate(&s.policies(), &s.request());
        let mut s = s;
        let extra = StatementSpec { allow: true, ..extra };
        match target {
            0 => s.identity.push(vec![extra]),
            1 => if let Some(b) = s.boundary.as_mut() { b.push(extra) },
            2 => if let Some(r) = s.resource.as_mut() { r.push(extra) },
            _ => if let Some(levels) = s.scps.as_mut() { levels[0].push(extra) },
        }
        let after = evaluate(&s.policies(), &s.request());
        // Allowed stays allowed, and an explicit deny stays an explicit deny.
        if before.outcome != Outcome::ImplicitDeny {
            prop_assert_eq!(after.outcome, before.outcome);
        }
    }

    #[test]
    fn order_of_policies_and_statements_does_not_matter(s in scenario()) {
        let before = evaluate(&s.policies(), &s.request());
        let mut r = s.clone();
        r.identity.reverse();
        for p in &mut r.identity { p.reverse(); }
        for p in [&mut r.boundary, &mut r.session, &mut r.resource].into_iter().flatten() { p.reverse(); }
        if let Some(levels) = r.scps.as_mut() { for l in levels { l.reverse(); } }
        let after = evaluate(&r.policies(), &r.request());
        prop_assert_eq!(before.outcome, after.outcome);
        prop_assert_eq!(before.denied_by, after.denied_by);
    }
}
