//! Each lint finding, with its position and severity, and clean policies staying clean.

use policy::grammar::Severity;
use policy::lint::lint;

fn findings(text: &str, identity: Option<&str>) -> Vec<(u32, u32, Severity, String)> {
    lint(text, identity)
        .into_iter()
        .map(|f| (f.at.line, f.at.col, f.severity, f.message))
        .collect()
}

/// Line and column of the opening quote of the `n`th (0-based) occurrence of `"needle`.
fn at(text: &str, needle: &str, n: usize) -> (u32, u32) {
    let quoted = format!("\"{needle}");
    let offset = text
        .match_indices(&quoted)
        .nth(n)
        .unwrap_or_else(|| panic!("{needle} not in text"))
        .0;
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() as u32 + 1;
    (line, col)
}

fn has(
    found: &[(u32, u32, Severity, String)],
    (line, col): (u32, u32),
    severity: Severity,
    phrase: &str,
) {
    assert!(
        found
            .iter()
            .any(|(l, c, s, m)| *l == line && *c == col && *s == severity && m.contains(phrase)),
        "no {severity:?} at {line}:{col} containing {phrase:?} in {found:#?}"
    );
}

#[test]
fn the_seed_001_example_is_clean() {
    let seed = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["ses:GetSendStatistics", "ses:GetSendQuota"], "Resource": "*"},
    {"Effect": "Allow", "Action": ["ses:SendEmail", "ses:SendRawEmail"], "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/example.com"}
  ]
}"#;
    assert!(
        findings(seed, None).is_empty(),
        "{:#?}",
        findings(seed, None)
    );
}

#[test]
fn unknown_actions_and_keys() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
{"Effect": "Allow", "Action": ["ses:SendRawMail", "ses:Send*"], "Resource": "arn:aws:ses:us-east-1:111122223333:identity/example.com",
 "Condition": {"StringEquals": {"ses:FromAdress": "a@example.com", "aws:SoruceIp": "1.2.3.4"}}}]}"#;
    let found = findings(text, None);
    has(
        &found,
        at(text, "ses:SendRawMail", 0),
        Severity::Error,
        "`ses:SendRawMail` matches no ses action",
    );
    has(
        &found,
        at(text, "ses:FromAdress", 0),
        Severity::Error,
        "`ses:FromAdress` is not an SES condition key",
    );
    has(
        &found,
        at(text, "aws:SoruceIp", 0),
        Severity::Warning,
        "`aws:SoruceIp` is not a known global condition key",
    );
}

#[test]
fn ses_key_on_an_action_that_never_sets_it() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
{"Effect": "Allow", "Action": "ses:GetSendQuota", "Resource": "*", "Condition": {"StringEquals": {"ses:FromAddress": "a@example.com"}}}]}"#;
    has(
        &findings(text, None),
        at(text, "ses:FromAddress", 0),
        Severity::Warning,
        "only set by the SES send actions",
    );
}

#[test]
fn star_resource_on_send_and_authorization_policy_resource() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]}"#;
    has(
        &findings(text, None),
        at(text, "*", 0),
        Severity::Warning,
        "scope Resource to the identity ARNs",
    );
    let auth = r#"{"Version": "2012-10-17", "Statement": [
{"Effect": "Allow", "Principal": {"AWS": "444455556666"}, "Action": "ses:SendRawEmail", "Resource": "arn:aws:ses:us-east-1:111122223333:identity/other.com"}]}"#;
    has(
        &findings(
            auth,
            Some("arn:aws:ses:us-east-1:111122223333:identity/example.com"),
        ),
        at(auth, "arn:aws:ses", 0),
        Severity::Error,
        "must be its identity",
    );
}

#[test]
fn set_qualifiers_and_variables_under_2008() {
    let text = r#"{"Version": "2008-10-17", "Statement": [
{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "arn:aws:ses:us-east-1:111122223333:identity/${aws:username}",
 "Condition": {"ForAnyValue:StringLike": {"ses:FromAddress": "*@example.com"}, "ForAllValues:StringLike": {"ses:Recipients": "*@example.org"}}}]}"#;
    let found = findings(text, None);
    has(
        &found,
        at(text, "arn:aws:ses", 0),
        Severity::Warning,
        "recognised only under",
    );
    has(
        &found,
        at(text, "ForAnyValue", 0),
        Severity::Warning,
        "takes one value per request",
    );
    has(
        &found,
        at(text, "ForAllValues", 0),
        Severity::Warning,
        "ForAllValues is true when `ses:Recipients` is absent",
    );
}

#[test]
fn shadowed_statement() {
    let text = r#"{"Version": "2012-10-17", "Statement": [
{"Sid": "All", "Effect": "Allow", "Action": "ses:*", "Resource": "*"},
{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "arn:aws:ses:us-east-1:111122223333:identity/example.com"}]}"#;
    has(
        &findings(text, None),
        (3, 1),
        Severity::Warning,
        "All already allows",
    );
}
