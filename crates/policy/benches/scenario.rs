//! The benchmark scenarios, shared by `benches/evaluate.rs` (criterion timings) and
//! `examples/decision_loop.rs` (instruction counts under callgrind).

use policy::{Context, Policy, PolicySet, Principal, Request};
use std::sync::Arc;

fn p(text: &str) -> Arc<Policy> {
    Arc::new(Policy::parse(text).expect("benchmark policy compiles"))
}

const FULL_ACCESS: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"FullAWSAccess","Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const REGION_GUARD: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"DenyOutsideRegions","Effect":"Deny","Action":"ses:*","Resource":"*",
  "Condition":{"StringNotEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}}}]}"#;

fn identity_policies() -> Vec<Arc<Policy>> {
    vec![
        p(r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Read","Effect":"Allow","Action":["ses:Get*","ses:List*","ses:Describe*"],"Resource":"*"},
          {"Sid":"S3","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::mail-archive/*"},
          {"Sid":"Logs","Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:*:444455556666:log-group:/mail/*"},
          {"Sid":"NoDelete","Effect":"Deny","Action":["ses:Delete*","ses:PutIdentityPolicy"],"Resource":"*"}]}"#),
        p(r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Send","Effect":"Allow","Action":["ses:SendEmail","ses:SendRawEmail","ses:SendTemplatedEmail"],"Resource":"arn:aws:ses:us-east-1:111122223333:identity/*"},
          {"Sid":"TLSOnly","Effect":"Deny","Action":"ses:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
          {"Sid":"Office","Effect":"Deny","Action":"ses:Send*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}}]}"#),
        p(r#"{"Version":"2012-10-17","Statement":[
          {"Sid":"Sqs","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:444455556666:bounces"},
          {"Sid":"Sns","Effect":"Allow","Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:444455556666:mail-events"},
          {"Sid":"Cutoff","Effect":"Deny","Action":"ses:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2030-01-01T00:00Z"}}}]}"#),
    ]
}

const BOUNDARY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ses:*","s3:*","logs:*","sqs:*","sns:*"],"Resource":"*"}]}"#;

const SENDING_AUTHORIZATION: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"AuthorizeDelegate","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":["ses:SendEmail","ses:SendRawEmail"],
   "Resource":"arn:aws:ses:us-east-1:111122223333:identity/example.com",
   "Condition":{"StringLike":{"ses:FromAddress":"*@example.com"},"ForAllValues:StringLike":{"ses:Recipients":["*@example.org","*@example.net"]}}},
  {"Sid":"OfficeOnly","Effect":"Deny","Principal":"*","Action":"ses:*","Resource":"arn:aws:ses:us-east-1:111122223333:identity/example.com",
   "Condition":{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}},
  {"Sid":"NoCeo","Effect":"Deny","Principal":"*","Action":"ses:*","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"ceo@example.com"}}},
  {"Sid":"NoCompetitors","Effect":"Deny","Principal":"*","Action":"ses:*","Resource":"*","Condition":{"ForAnyValue:StringLike":{"ses:Recipients":"*@competitor.example"}}},
  {"Sid":"Templated","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:user/bob"},"Action":"ses:SendTemplatedEmail","Resource":"*",
   "Condition":{"StringEquals":{"ses:FromAddress":"news@example.com"}}}]}"#;

pub fn delegate_send_policies() -> PolicySet {
    PolicySet {
        identity: identity_policies(),
        boundary: Some(p(BOUNDARY)),
        session: None,
        resource: Some(p(SENDING_AUTHORIZATION)),
        scps: Some(vec![
            vec![p(FULL_ACCESS)],
            vec![p(FULL_ACCESS), p(REGION_GUARD)],
            vec![p(FULL_ACCESS)],
        ]),
        rcps: None,
    }
}

pub fn delegate_send_request() -> Request {
    let mut ctx = Context::default();
    for (k, v) in [
        ("ses:FromAddress", "news@example.com"),
        ("aws:SourceIp", "203.0.113.7"),
        ("aws:SecureTransport", "true"),
        ("aws:CurrentTime", "2025-03-01T10:00:00Z"),
        ("aws:RequestedRegion", "us-east-1"),
    ] {
        ctx.insert(k, vec![v.to_string()]);
    }
    ctx.insert(
        "ses:Recipients",
        vec!["a@example.org".into(), "b@example.net".into()],
    );
    Request::new(
        Principal::parse("arn:aws:iam::444455556666:user/bob").expect("principal"),
        "ses:SendRawEmail",
        "arn:aws:ses:us-east-1:111122223333:identity/example.com",
        None,
        ctx,
    )
}

/// 100 identity policies of 20 statements; only the last statement of the last policy allows.
pub fn hundred_policies() -> PolicySet {
    let identity = (0..100)
        .map(|i| {
            let statements: Vec<String> = (0..20)
                .map(|j| {
                    if i == 99 && j == 19 {
                        r#"{"Effect":"Allow","Action":"ses:SendRawEmail","Resource":"arn:aws:ses:us-east-1:111122223333:identity/*"}"#.to_string()
                    } else {
                        format!(
                            r#"{{"Sid":"S{i}x{j}","Effect":"Allow","Action":["s3:Get{j}*","ses:Get{i}*"],"Resource":"arn:aws:s3:::bucket-{i}/{j}/*","Condition":{{"StringEquals":{{"aws:PrincipalTag/team":"t{j}"}}}}}}"#
                        )
                    }
                })
                .collect();
            p(&format!(r#"{{"Version":"2012-10-17","Statement":[{}]}}"#, statements.join(",")))
        })
        .collect();
    PolicySet {
        identity,
        ..PolicySet::default()
    }
}

pub fn same_account_request() -> Request {
    Request::new(
        Principal::parse("arn:aws:iam::111122223333:user/alice").expect("principal"),
        "ses:SendRawEmail",
        "arn:aws:ses:us-east-1:111122223333:identity/example.com",
        None,
        Context::default(),
    )
}
