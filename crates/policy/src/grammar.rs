//! The IAM policy grammar: reads a positioned JSON tree into a [`PolicyDoc`],
//! recording every finding (error or warning) with its position. Elements may be a
//! string or an array wherever IAM allows both.

use crate::condition::Operator;
use crate::json::{Json, JsonValue, Member, Position};
use crate::principal::PrincipalEntry;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// A problem found in a policy, at a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub at: Position,
    pub severity: Severity,
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {}: {}",
            self.at.line, self.at.col, level, self.message
        )
    }
}

/// Findings collected while reading a policy.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

impl Findings {
    pub fn error(&mut self, at: Position, message: impl Into<String>) {
        self.push(at, Severity::Error, message.into());
    }

    pub fn warning(&mut self, at: Position, message: impl Into<String>) {
        self.push(at, Severity::Warning, message.into());
    }

    fn push(&mut self, at: Position, severity: Severity, message: String) {
        self.0.push(Finding {
            at,
            severity,
            message,
        });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|f| f.severity == Severity::Error)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V2012_10_17,
    V2008_10_17,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// A string from the policy with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned {
    pub text: String,
    pub at: Position,
}

/// Action/NotAction or Resource/NotResource.
#[derive(Debug, Clone, PartialEq)]
pub struct ListDoc {
    pub negated: bool,
    pub values: Vec<Spanned>,
}

/// Principal/NotPrincipal.
#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalDoc {
    pub negated: bool,
    pub entries: Vec<(PrincipalEntry, Position)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConditionDoc {
    pub operator: Operator,
    pub operator_at: Position,
    pub key: Spanned,
    pub values: Vec<Spanned>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatementDoc {
    pub at: Position,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalDoc>,
    pub action: ListDoc,
    pub resource: Option<ListDoc>,
    pub conditions: Vec<ConditionDoc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDoc {
    pub version: Version,
    pub id: Option<String>,
    pub statements: Vec<StatementDoc>,
}

const POLICY_ELEMENTS: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT_ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

/// Reads a policy document. Returns `None` when the document is too broken to
/// evaluate (the findings say why); otherwise the document, possibly with findings.
pub fn read_policy(json: &Json, findings: &mut Findings) -> Option<PolicyDoc> {
    let Some(members) = json.as_object() else {
        findings.error(
            json.at,
            format!("a policy must be a JSON object, not {}", json.type_name()),
        );
        return None;
    };
    check_members(members, POLICY_ELEMENTS, "policy", findings);
    let version = read_version(json, findings);
    let id = json.get("Id").and_then(|id| string_of(id, "Id", findings));
    let Some(statement) = json.get("Statement") else {
        findings.error(json.at, "the policy has no Statement element");
        return None;
    };
    let items: Vec<&Json> = match &statement.value {
        JsonValue::Array(items) => items.iter().collect(),
        JsonValue::Object(_) => vec![statement],
        _ => {
            findings.error(
                statement.at,
                format!(
                    "Statement must be an object or an array of objects, not {}",
                    statement.type_name()
                ),
            );
            return None;
        }
    };
    if items.is_empty() {
        findings.error(
            statement.at,
            "Statement is an empty array: a policy needs at least one statement",
        );
    }
    let statements: Option<Vec<StatementDoc>> = items
        .into_iter()
        .map(|s| read_statement(s, findings))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let statements = statements?;
    check_unique_sids(&statements, findings);
    Some(PolicyDoc {
        version,
        id,
        statements,
    })
}

fn read_version(json: &Json, findings: &mut Findings) -> Version {
    let Some(v) = json.get("Version") else {
        findings.warning(json.at, "the policy has no Version: policy variables such as ${aws:username} are not recognised; add \"Version\": \"2012-10-17\"");
        return Version::Absent;
    };
    match v.as_str() {
        Some("2012-10-17") => Version::V2012_10_17,
        Some("2008-10-17") => {
            findings.warning(
                v.at,
                "Version 2008-10-17 does not recognise policy variables; use \"2012-10-17\"",
            );
            Version::V2008_10_17
        }
        _ => {
            findings.error(
                v.at,
                format!(
                    "Version must be \"2012-10-17\" or \"2008-10-17\", not {}",
                    show(v)
                ),
            );
            Version::Absent
        }
    }
}

fn read_statement(json: &Json, findings: &mut Findings) -> Option<StatementDoc> {
    let Some(members) = json.as_object() else {
        findings.error(
            json.at,
            format!(
                "a statement must be a JSON object, not {}",
                json.type_name()
            ),
        );
        return None;
    };
    check_members(members, STATEMENT_ELEMENTS, "statement", findings);
    let sid = json.get("Sid").and_then(|s| string_of(s, "Sid", findings));
    let effect = read_effect(json, findings);
    let principal = read_principal(json, findings);
    let action = read_pair(json, "Action", "NotAction", findings);
    let resource = read_pair(json, "Resource", "NotResource", findings);
    let conditions = json
        .get("Condition")
        .map(|c| read_conditions(c, findings))
        .unwrap_or(Some(Vec::new()));
    if action.is_none() {
        findings.error(
            json.at,
            "the statement needs an Action or a NotAction element",
        );
    }
    let resource = match resource {
        None => None,
        Some(r) => Some(r?),
    };
    Some(StatementDoc {
        at: json.at,
        sid,
        effect: effect?,
        principal: principal?,
        action: action??,
        resource,
        conditions: conditions?,
    })
}

fn read_effect(json: &Json, findings: &mut Findings) -> Option<Effect> {
    let Some(e) = json.get("Effect") else {
        findings.error(
            json.at,
            "the statement has no Effect: add \"Effect\": \"Allow\" or \"Deny\"",
        );
        return None;
    };
    match e.as_str() {
        Some("Allow") => Some(Effect::Allow),
        Some("Deny") => Some(Effect::Deny),
        _ => {
            findings.error(
                e.at,
                format!(
                    "Effect must be \"Allow\" or \"Deny\" (case-sensitive), not {}",
                    show(e)
                ),
            );
            None
        }
    }
}

/// Reads `Name` or `NotName`. Outer `None`: neither present. Inner `None`: broken.
fn read_pair(
    json: &Json,
    name: &str,
    not_name: &str,
    findings: &mut Findings,
) -> Option<Option<ListDoc>> {
    let (plain, not) = (json.get(name), json.get(not_name));
    let (value, negated) = match (plain, not) {
        (None, None) => return None,
        (Some(p), Some(_)) => {
            findings.error(
                p.at,
                format!("a statement cannot have both {name} and {not_name}"),
            );
            (p, false)
        }
        (Some(p), None) => (p, false),
        (None, Some(n)) => (n, true),
    };
    let label = if negated { not_name } else { name };
    Some(strings_of(value, label, findings).map(|values| ListDoc { negated, values }))
}

fn read_principal(json: &Json, findings: &mut Findings) -> Option<Option<PrincipalDoc>> {
    let (value, negated) = match (json.get("Principal"), json.get("NotPrincipal")) {
        (None, None) => return Some(None),
        (Some(p), Some(_)) => {
            findings.error(
                p.at,
                "a statement cannot have both Principal and NotPrincipal",
            );
            (p, false)
        }
        (Some(p), None) => (p, false),
        (None, Some(n)) => (n, true),
    };
    if value.as_str() == Some("*") {
        return Some(Some(PrincipalDoc {
            negated,
            entries: vec![(PrincipalEntry::Everyone, value.at)],
        }));
    }
    let Some(members) = value.as_object() else {
        findings.error(value.at, "Principal must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::111122223333:root\"}");
        return None;
    };
    let mut entries = Vec::new();
    for m in members {
        let values = strings_of(&m.value, &m.key, findings)?;
        for v in values {
            let entry = match m.key.as_str() {
                "AWS" => {
                    check_aws_principal(&v, findings);
                    PrincipalEntry::aws(&v.text)
                }
                "Service" => PrincipalEntry::Service(v.text),
                "Federated" => PrincipalEntry::Federated(v.text),
                "CanonicalUser" => PrincipalEntry::CanonicalUser(v.text),
                other => {
                    findings.error(m.key_at, format!("unknown principal type `{other}` (expected AWS, Service, Federated or CanonicalUser)"));
                    continue;
                }
            };
            entries.push((entry, v.at));
        }
    }
    Some(Some(PrincipalDoc { negated, entries }))
}

fn check_aws_principal(v: &Spanned, findings: &mut Findings) {
    let t = &v.text;
    let is_account = t.len() == 12 && t.bytes().all(|b| b.is_ascii_digit());
    if t == "*" || is_account {
        return;
    }
    if crate::arn::split(t).is_none() {
        findings.error(
            v.at,
            format!("`{t}` is not a valid AWS principal: use an account id, an ARN or \"*\""),
        );
    } else if t.contains(['*', '?']) {
        findings.error(
            v.at,
            format!("`{t}`: wildcards are not allowed in a principal ARN (only \"*\" alone)"),
        );
    }
}

fn read_conditions(json: &Json, findings: &mut Findings) -> Option<Vec<ConditionDoc>> {
    let Some(ops) = json.as_object() else {
        findings.error(json.at, "Condition must be an object of operators, e.g. {\"StringEquals\": {\"ses:FromAddress\": \"a@example.com\"}}");
        return None;
    };
    let mut out = Vec::new();
    let mut ok = true;
    for op in ops {
        let operator = match Operator::parse(&op.key) {
            Ok(o) => o,
            Err(e) => {
                findings.error(op.key_at, e.to_string());
                ok = false;
                continue;
            }
        };
        if operator.canonical_name() != op.key {
            findings.warning(
                op.key_at,
                format!("write the operator as `{}`", operator.canonical_name()),
            );
        }
        let Some(keys) = op.value.as_object() else {
            findings.error(
                op.value.at,
                format!("{} must map condition keys to values", op.key),
            );
            ok = false;
            continue;
        };
        check_members(keys, &[], "", findings);
        for k in keys {
            let Some(values) = condition_values(&k.value, findings) else {
                ok = false;
                continue;
            };
            out.push(ConditionDoc {
                operator,
                operator_at: op.key_at,
                key: Spanned {
                    text: k.key.clone(),
                    at: k.key_at,
                },
                values,
            });
        }
    }
    ok.then_some(out)
}

/// Condition values: a string, number or boolean, or an array of them.
fn condition_values(json: &Json, findings: &mut Findings) -> Option<Vec<Spanned>> {
    let items: Vec<&Json> = match &json.value {
        JsonValue::Array(items) => items.iter().collect(),
        _ => vec![json],
    };
    if items.is_empty() {
        findings.error(json.at, "a condition key needs at least one value");
        return None;
    }
    items
        .into_iter()
        .map(|item| {
            let text = match &item.value {
                JsonValue::String(s) => s.clone(),
                JsonValue::Number(n) => n.clone(),
                JsonValue::Bool(b) => b.to_string(),
                _ => {
                    findings.error(
                        item.at,
                        format!(
                            "a condition value must be a string, number or boolean, not {}",
                            item.type_name()
                        ),
                    );
                    return None;
                }
            };
            check_typographic(&text, item.at, findings);
            Some(Spanned { text, at: item.at })
        })
        .collect()
}

fn strings_of(json: &Json, element: &str, findings: &mut Findings) -> Option<Vec<Spanned>> {
    let items: Vec<&Json> = match &json.value {
        JsonValue::Array(items) => items.iter().collect(),
        _ => vec![json],
    };
    if items.is_empty() {
        findings.error(json.at, format!("{element} is an empty array"));
    }
    items
        .into_iter()
        .map(|item| string_of(item, element, findings).map(|text| Spanned { text, at: item.at }))
        .collect()
}

fn string_of(json: &Json, element: &str, findings: &mut Findings) -> Option<String> {
    match json.as_str() {
        Some(s) => {
            check_typographic(s, json.at, findings);
            Some(s.to_string())
        }
        None => {
            findings.error(
                json.at,
                format!(
                    "{element} must be a string or an array of strings, not {}",
                    json.type_name()
                ),
            );
            None
        }
    }
}

/// Curly quotes inside a string are almost always a paste error.
fn check_typographic(s: &str, at: Position, findings: &mut Findings) {
    if let Some((i, c)) = s
        .char_indices()
        .find(|(_, c)| matches!(c, '\u{201C}' | '\u{201D}' | '\u{2018}' | '\u{2019}'))
    {
        // Point at the quote itself: `at` is the string's opening '"' (exact
        // unless an escape sequence comes before the quote).
        let before = u32::try_from(s[..i].chars().count()).unwrap_or(u32::MAX);
        let at = Position {
            offset: at.offset + 1 + i,
            line: at.line,
            col: at.col.saturating_add(1).saturating_add(before),
        };
        findings.error(at, format!("typographic quote {c} (U+{:04X}) inside the value \"{s}\": policies need straight quotes; delete it or replace it with \"", c as u32));
    }
}

/// Reports unknown and duplicate member names. An empty `known` accepts any name.
fn check_members(members: &[Member], known: &[&str], what: &str, findings: &mut Findings) {
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|earlier| earlier.key == m.key) {
            findings.error(
                m.key_at,
                format!("duplicate key `{}`: JSON keeps only one of them", m.key),
            );
        }
        if known.is_empty() || known.contains(&m.key.as_str()) {
            continue;
        }
        match known.iter().find(|k| k.eq_ignore_ascii_case(&m.key)) {
            Some(k) => findings.error(
                m.key_at,
                format!(
                    "element names are case-sensitive: write `{k}`, not `{}`",
                    m.key
                ),
            ),
            None => findings.error(
                m.key_at,
                format!(
                    "unknown {what} element `{}` (expected one of {})",
                    m.key,
                    known.join(", ")
                ),
            ),
        }
    }
}

fn check_unique_sids(statements: &[StatementDoc], findings: &mut Findings) {
    for (i, s) in statements.iter().enumerate() {
        let Some(sid) = &s.sid else { continue };
        if statements[..i].iter().any(|e| e.sid.as_ref() == Some(sid)) {
            findings.error(
                s.at,
                format!("duplicate Sid `{sid}`: statement ids must be unique within a policy"),
            );
        }
    }
}

fn show(json: &Json) -> String {
    match json.as_str() {
        Some(s) => format!("\"{s}\""),
        None => json.type_name().to_string(),
    }
}
