//! `policy validate`: every kind of finding is reported at its exact line and
//! column, with its severity and a message that names the problem; valid
//! policies (AWS documentation examples included) produce no error.

use policy::grammar::{Finding, Severity};
use policy::validate::{is_valid, validate, PolicyKind};

use Severity::{Error, Warning};

/// One expected finding: line, column, severity and a phrase of the message.
type Want = (u32, u32, Severity, &'static str);

fn show(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}\n"))
        .collect::<String>()
}

/// Asserts that `text` yields exactly the findings `want`, in order.
#[track_caller]
fn check(text: &str, kind: Option<PolicyKind>, want: &[Want]) {
    let got = validate(text, kind);
    let matches = got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(f, (line, col, severity, phrase))| {
                f.at.line == *line
                    && f.at.col == *col
                    && f.severity == *severity
                    && f.message.contains(phrase)
            });
    assert!(matches, "want {want:?}\ngot:\n{}for:\n{text}", show(&got));
    let expect_valid = want.iter().all(|w| w.2 == Warning);
    assert_eq!(is_valid(&got), expect_valid, "validity of:\n{text}");
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

// ---------------------------------------------------------------- JSON syntax

#[test]
fn invalid_json_is_reported_at_the_fault() {
    let trailing_comma = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
  }]
}"#;
    check(
        trailing_comma,
        None,
        &[(6, 20, Error, "trailing comma in object")],
    );

    let missing_comma = "{\n  \"Version\": \"2012-10-17\"\n  \"Statement\": []\n}";
    check(
        missing_comma,
        None,
        &[(3, 3, Error, "missing comma between object members")],
    );

    let in_array = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["ses:SendEmail" "ses:SendRawEmail"], "Resource": "*"}]}"#;
    check(
        in_array,
        None,
        &[(1, 88, Error, "missing comma between array elements")],
    );

    check("", None, &[(1, 1, Error, "unexpected end of input")]);
    check(
        "{\"Version\": \"2012-10-17\", // note\n}",
        None,
        &[(1, 27, Error, "comments are not allowed")],
    );
    check(
        "{'Version': '2012-10-17'}",
        None,
        &[(1, 2, Error, "single-quoted string")],
    );
    check(
        "{\"Statement\": [], \"Version\": \"2012-10-17\"} x",
        None,
        &[(1, 44, Error, "after the JSON value")],
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    // "é" is two bytes in UTF-8 but one column.
    check(
        "{\"Id\": \"é\", \"Version\": \"2012-10-17\" \"Statement\": []}",
        None,
        &[(1, 37, Error, "missing comma")],
    );
}

// ---------------------------------------------------------------- typographic quotes

#[test]
fn typographic_quotes_outside_strings() {
    let text = fixture("seed-000-deny-pasted-quotes.json");
    check(
        &text,
        None,
        &[(6, 17, Error, "typographic quote “ (U+201C) where JSON needs a straight double quote (\"): replace “ and ” with \"")],
    );
    let text = fixture("seed-002-pasted-authorization.json");
    check(&text, None, &[(2, 1, Error, "replace “ and ” with \"")]);

    let single = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": ‘Allow’, \"Action\": \"ses:*\", \"Resource\": \"*\"}]\n}";
    check(
        single,
        None,
        &[(3, 28, Error, "typographic quote ‘ (U+2018)")],
    );
    check(single, None, &[(3, 28, Error, "replace ‘ and ’ with \"")]);
}

#[test]
fn typographic_closing_quote_after_straight_opening_quote() {
    // Half-converted paste: the string opened with " and "closed" with ”.
    let to_end_of_line = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail”,
    "Resource": "*"
  }]
}"#;
    check(
        to_end_of_line,
        None,
        &[(5, 29, Error, "typographic quote ” (U+201D)")],
    );

    let to_next_quote = r#"{"Version": "2012-10-17", "Statement": [{"Effect”: "Allow", "Action": "ses:SendEmail", "Resource": "*"}]}"#;
    check(
        to_next_quote,
        None,
        &[(1, 49, Error, "replace “ and ” with \"")],
    );
}

#[test]
fn typographic_quotes_inside_strings() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "arn:aws:ses:us-east-1:111122223333:identity/“example.com”"
  }]
}"#;
    check(
        text,
        None,
        &[(
            6,
            62,
            Error,
            "typographic quote “ (U+201C) inside the value",
        )],
    );
    let condition = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
    "Condition": {"StringEquals": {"ses:FromAddress": "‘sender@example.com’"}}
  }]
}"#;
    check(condition, None, &[(7, 56, Error, "straight quotes")]);
}

// ---------------------------------------------------------------- elements

#[test]
fn unknown_elements() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
    "Conditions": {}
  }],
  "Owner": "me"
}"#;
    check(
        text,
        None,
        &[
            (7, 5, Error, "unknown statement element `Conditions`"),
            (9, 3, Error, "unknown policy element `Owner`"),
        ],
    );
}

#[test]
fn element_names_are_case_sensitive() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "effect": "Allow",
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "resource": "*",
    "Resource": "*"
  }]
}"#;
    check(
        text,
        None,
        &[
            (4, 5, Error, "write `Effect`, not `effect`"),
            (7, 5, Error, "write `Resource`, not `resource`"),
        ],
    );
}

#[test]
fn duplicate_keys() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Action": "ses:SendRawEmail",
    "Resource": "*"
  }]
}"#;
    check(text, None, &[(6, 5, Error, "duplicate key `Action`")]);
}

#[test]
fn duplicate_sids() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "Send", "Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"},
    {"Sid": "Send", "Effect": "Deny", "Action": "ses:SendRawEmail", "Resource": "*"}
  ]
}"#;
    check(text, None, &[(5, 5, Error, "duplicate Sid `Send`")]);
}

#[test]
fn effect_must_be_allow_or_deny() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "allow", "Action": "ses:SendEmail", "Resource": "*"}]
}"#;
    check(
        text,
        None,
        &[(3, 28, Error, "Effect must be \"Allow\" or \"Deny\"")],
    );
    let missing = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Action": "ses:SendEmail", "Resource": "*"}]
}"#;
    check(
        missing,
        None,
        &[(3, 17, Error, "the statement has no Effect")],
    );
}

#[test]
fn action_is_required_and_exclusive() {
    let missing = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Resource": "*"}]
}"#;
    check(
        missing,
        None,
        &[(3, 17, Error, "needs an Action or a NotAction")],
    );
    let both = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "NotAction": "ses:SendRawEmail",
    "Resource": "*"
  }]
}"#;
    check(
        both,
        None,
        &[(5, 15, Error, "cannot have both Action and NotAction")],
    );
    let malformed = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "SendEmail", "Resource": "*"}]
}"#;
    check(
        malformed,
        None,
        &[(3, 47, Error, "must look like `service:ActionName`")],
    );
}

#[test]
fn empty_statement() {
    let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": []\n}";
    check(text, None, &[(3, 16, Error, "Statement is an empty array")]);
    let missing = "{\n  \"Version\": \"2012-10-17\"\n}";
    check(missing, None, &[(1, 1, Error, "no Statement element")]);
}

// ---------------------------------------------------------------- versions

#[test]
fn version_findings() {
    let old = r#"{
  "Version": "2008-10-17",
  "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]
}"#;
    check(
        old,
        None,
        &[(
            2,
            14,
            Warning,
            "2008-10-17 does not recognise policy variables",
        )],
    );
    let absent = r#"{
  "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]
}"#;
    check(
        absent,
        None,
        &[(1, 1, Warning, "the policy has no Version")],
    );
    let wrong = r#"{
  "Version": "2012-10-18",
  "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}]
}"#;
    check(
        wrong,
        None,
        &[(
            2,
            14,
            Error,
            "Version must be \"2012-10-17\" or \"2008-10-17\"",
        )],
    );
}

// ---------------------------------------------------------------- conditions

#[test]
fn unknown_condition_operator() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
    "Condition": {"StringEqual": {"ses:FromAddress": "a@example.com"}}
  }]
}"#;
    check(
        text,
        None,
        &[(7, 19, Error, "unknown condition operator `StringEqual`")],
    );
    let null_if_exists = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
    "Condition": {"NullIfExists": {"ses:FromAddress": "true"}}
  }]
}"#;
    check(
        null_if_exists,
        None,
        &[(7, 19, Error, "`Null` cannot take the IfExists suffix")],
    );
}

#[test]
fn typed_condition_values() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Deny",
    "Action": "ses:*",
    "Resource": "*",
    "Condition": {
      "DateGreaterThan": {"aws:CurrentTime": "2025-13-01T00:00:00Z"},
      "IpAddress": {"aws:SourceIp": "203.0.113.0/33"},
      "NumericLessThan": {"aws:MultiFactorAuthAge": "one hour"},
      "Bool": {"aws:SecureTransport": "yes"}
    }
  }]
}"#;
    check(
        text,
        None,
        &[
            (8, 46, Error, "`2025-13-01T00:00:00Z` is not a valid date"),
            (
                9,
                37,
                Error,
                "`203.0.113.0/33` is not a valid IP address or CIDR block",
            ),
            (10, 53, Error, "`one hour` is not a valid number"),
            (11, 39, Error, "`yes` is not a valid boolean"),
        ],
    );
}

#[test]
fn typed_values_in_arrays_point_at_the_bad_element() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "*",
    "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/129"]}}
  }]
}"#;
    check(text, None, &[(7, 68, Error, "`2001:db8::/129`")]);
}

#[test]
fn malformed_arns() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "identity/example.com",
    "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cognito-idp:*"}}
  }]
}"#;
    check(
        text,
        None,
        &[
            (
                6,
                17,
                Error,
                "resource `identity/example.com` is not an ARN",
            ),
            (7, 48, Error, "`arn:aws:cognito-idp:*` is not a valid ARN"),
        ],
    );
}

#[test]
fn arn_operators_keep_their_names() {
    // ArnLike and ArnEquals (and their negations) are all correct spellings.
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Deny",
    "Action": "ses:*",
    "Resource": "*",
    "Condition": {
      "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:role/Mail*"},
      "ArnEqualsIfExists": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:topic"},
      "ForAnyValue:ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/*"}
    }
  }]
}"#;
    check(text, None, &[]);
    let lower = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:*",
    "Resource": "*",
    "Condition": {"arnlike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}}
  }]
}"#;
    check(
        lower,
        None,
        &[(7, 19, Warning, "write the operator as `ArnLike`")],
    );
}

// ---------------------------------------------------------------- policy kinds

#[test]
fn principal_in_identity_policy() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": "ses:SendEmail",
    "Resource": "*"
  }]
}"#;
    check(
        text,
        Some(PolicyKind::Identity),
        &[(
            5,
            18,
            Error,
            "an identity-based policy cannot name a Principal",
        )],
    );
    // Without --kind, naming a Principal makes it a resource-based policy.
    check(text, None, &[]);
}

#[test]
fn missing_principal_in_resource_policy() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": "ses:SendEmail",
    "Resource": "arn:aws:ses:us-east-1:111122223333:identity/example.com"
  }]
}"#;
    check(
        text,
        Some(PolicyKind::Resource),
        &[(
            3,
            17,
            Error,
            "a resource-based policy statement needs a Principal",
        )],
    );
    check(text, Some(PolicyKind::Identity), &[]);
}

#[test]
fn principal_values() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": ["arn:aws:iam::444455556666:user/*", "bob"], "Users": "x"},
    "Action": "ses:SendEmail",
    "Resource": "*"
  }]
}"#;
    check(
        text,
        None,
        &[
            (5, 27, Error, "wildcards are not allowed in a principal ARN"),
            (5, 63, Error, "`bob` is not a valid AWS principal"),
            (5, 71, Error, "unknown principal type `Users`"),
        ],
    );
}

#[test]
fn identity_statement_needs_resource() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "ses:SendEmail"}]
}"#;
    check(
        text,
        None,
        &[(3, 17, Error, "needs a Resource or NotResource")],
    );
}

#[test]
fn not_principal_with_allow_warns() {
    let text = r#"{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "NotPrincipal": {"AWS": "arn:aws:iam::444455556666:root"},
    "Action": "ses:SendEmail",
    "Resource": "*"
  }]
}"#;
    check(text, None, &[(5, 21, Warning, "NotPrincipal with Allow")]);
}

// ---------------------------------------------------------------- valid policies

#[test]
fn aws_documentation_examples_are_valid() {
    for name in ["seed-000-identity-send.json", "seed-001-domain-only.json"] {
        check(&fixture(name), Some(PolicyKind::Identity), &[]);
        check(&fixture(name), None, &[]);
    }
}

#[test]
fn sending_authorization_policies_are_valid() {
    let delegate = r#"{
  "Id": "ExampleAuthorizationPolicy",
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "AuthorizeMarketer",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::444455556666:user/division/bob"]},
      "Action": ["ses:SendEmail", "ses:SendRawEmail"],
      "Resource": "arn:aws:ses:us-east-1:111122223333:identity/example.com",
      "Condition": {
        "StringLike": {"ses:FromAddress": "marketing+*@example.com"},
        "ForAllValues:StringLike": {"ses:Recipients": ["*@example.org", "*@example.net"]},
        "DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"},
        "IpAddress": {"aws:SourceIp": ["203.0.113.0/24", "2001:db8::/32"]},
        "Bool": {"aws:SecureTransport": true},
        "NumericLessThan": {"aws:MultiFactorAuthAge": 3600}
      }
    },
    {
      "Sid": "AuthorizeCognito",
      "Effect": "Allow",
      "Principal": {"Service": "cognito-idp.amazonaws.com"},
      "Action": "ses:SendEmail",
      "Resource": "arn:aws:ses:us-east-1:111122223333:identity/example.com",
      "Condition": {
        "StringEquals": {"aws:SourceAccount": "111122223333"},
        "ArnLike": {"aws:SourceArn": "arn:aws:cognito-idp:us-east-1:111122223333:userpool/*"}
      }
    },
    {
      "Sid": "DenyOutsiders",
      "Effect": "Deny",
      "NotPrincipal": {"AWS": ["arn:aws:iam::444455556666:user/division/bob", "arn:aws:iam::444455556666:root"]},
      "Action": "ses:*",
      "Resource": "*"
    }
  ]
}"#;
    check(delegate, Some(PolicyKind::Resource), &[]);
    check(delegate, None, &[]);

    let identity = r#"{
  "Version": "2012-10-17",
  "Statement": {
    "Effect": "Allow",
    "NotAction": ["ses:Delete*", "ses:Put*"],
    "NotResource": "arn:aws:ses:*:111122223333:identity/${aws:username}@example.com",
    "Condition": {
      "Null": {"ses:FromAddress": "false"},
      "StringEqualsIgnoreCase": {"ses:FromDisplayName": "Example Corp"},
      "ForAnyValue:StringNotLike": {"ses:Recipients": "*@example.com"},
      "DateGreaterThanEquals": {"aws:EpochTime": "1735689600"},
      "BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}
    }
  }
}"#;
    check(identity, Some(PolicyKind::Identity), &[]);
}
