//! Condition operators and compiled conditions: every IAM operator family, the
//! `...IfExists` forms and the `ForAllValues:` / `ForAnyValue:` set qualifiers.

use crate::arn;
use crate::context::{Context, Key, RequestValue, RequestValues};
use crate::pattern::{Pattern, Syntax};
use crate::value::{self, Cidr};

/// The comparison an operator performs, before negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    NumericEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    ArnLike,
    Null,
}

/// `ForAllValues:` / `ForAnyValue:` or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    Single,
    ForAllValues,
    ForAnyValue,
}

/// A parsed condition operator such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operator {
    /// The base operator's canonical spelling as matched (`ArnLike` and `ArnEquals`
    /// compare alike but are both correct names).
    pub base: &'static str,
    pub comparison: Comparison,
    pub negated: bool,
    pub if_exists: bool,
    pub qualifier: SetQualifier,
}

/// Operator names with their comparison and negation. Names are matched
/// case-insensitively (the validator warns about non-canonical case).
const OPERATORS: &[(&str, Comparison, bool)] = &[
    ("StringEquals", Comparison::StringEquals, false),
    ("StringNotEquals", Comparison::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Comparison::StringLike, false),
    ("StringNotLike", Comparison::StringLike, true),
    ("NumericEquals", Comparison::NumericEquals, false),
    ("NumericNotEquals", Comparison::NumericEquals, true),
    ("NumericLessThan", Comparison::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        Comparison::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", Comparison::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Comparison::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", Comparison::DateEquals, false),
    ("DateNotEquals", Comparison::DateEquals, true),
    ("DateLessThan", Comparison::DateLessThan, false),
    ("DateLessThanEquals", Comparison::DateLessThanEquals, false),
    ("DateGreaterThan", Comparison::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        Comparison::DateGreaterThanEquals,
        false,
    ),
    ("Bool", Comparison::Bool, false),
    ("BinaryEquals", Comparison::BinaryEquals, false),
    ("IpAddress", Comparison::IpAddress, false),
    ("NotIpAddress", Comparison::IpAddress, true),
    ("ArnEquals", Comparison::ArnLike, false),
    ("ArnLike", Comparison::ArnLike, false),
    ("ArnNotEquals", Comparison::ArnLike, true),
    ("ArnNotLike", Comparison::ArnLike, true),
    ("Null", Comparison::Null, false),
];

/// Why an operator name was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    #[error("unknown condition operator `{0}`")]
    Unknown(String),
    #[error("`Null` cannot take the IfExists suffix")]
    NullIfExists,
}

impl Operator {
    pub fn parse(name: &str) -> Result<Operator, OperatorError> {
        let unknown = || OperatorError::Unknown(name.to_string());
        let (qualifier, rest) = if let Some(r) = strip_prefix_ci(name, "ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else if let Some(r) = strip_prefix_ci(name, "ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else {
            (SetQualifier::Single, name)
        };
        let (base, if_exists) = match rest.len().checked_sub(8) {
            Some(i) if rest.is_char_boundary(i) && rest[i..].eq_ignore_ascii_case("IfExists") => {
                (&rest[..i], true)
            }
            _ => (rest, false),
        };
        let &(canonical, comparison, negated) = OPERATORS
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(base))
            .ok_or_else(unknown)?;
        if comparison == Comparison::Null && if_exists {
            return Err(OperatorError::NullIfExists);
        }
        Ok(Operator {
            base: canonical,
            comparison,
            negated,
            if_exists,
            qualifier,
        })
    }

    /// The canonical spelling, e.g. `ForAnyValue:StringNotLike`.
    pub fn canonical_name(&self) -> String {
        let base = self.base;
        let prefix = match self.qualifier {
            SetQualifier::Single => "",
            SetQualifier::ForAllValues => "ForAllValues:",
            SetQualifier::ForAnyValue => "ForAnyValue:",
        };
        let suffix = if self.if_exists { "IfExists" } else { "" };
        format!("{prefix}{base}{suffix}")
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Policy values compiled for their operator; `None` entries never match (they were
/// reported by validation).
#[derive(Debug, Clone, PartialEq)]
enum Values {
    Patterns(Vec<Pattern>),
    Numbers(Vec<Option<f64>>),
    Dates(Vec<Option<i64>>),
    Bools(Vec<Option<bool>>),
    Texts(Vec<String>),
    Cidrs(Vec<Option<Cidr>>),
    Arns(Vec<Option<[Pattern; 6]>>),
}

/// One key test inside a statement's Condition block.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub operator: Operator,
    /// The key as written in the policy.
    pub key: String,
    key_lower: Key,
    /// The values as written in the policy.
    pub values: Vec<String>,
    compiled: Values,
}

/// A policy value that does not fit its operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a valid {expected} for {operator}")]
pub struct ValueError {
    pub value: String,
    pub expected: &'static str,
    pub operator: String,
}

impl Condition {
    /// Compiles a condition. `variables` is true under policy Version 2012-10-17.
    /// Values that cannot be parsed for the operator are returned as errors and never match.
    pub fn new(
        operator: Operator,
        key: &str,
        values: Vec<String>,
        variables: bool,
    ) -> (Condition, Vec<ValueError>) {
        let mut errors = Vec::new();
        let compiled = compile_values(operator, &values, variables, &mut errors);
        let condition = Condition {
            operator,
            key: key.to_string(),
            key_lower: Key::new(key),
            values,
            compiled,
        };
        (condition, errors)
    }

    /// The request values this condition reads (empty when the key is absent).
    pub fn request_values<'c>(&self, ctx: &'c Context) -> &'c [String] {
        ctx.get(&self.key_lower).unwrap_or(&[])
    }

    /// Evaluates the condition against the request context.
    pub fn evaluate(&self, ctx: &Context) -> bool {
        let request = ctx.lookup(&self.key_lower).unwrap_or(RequestValues::ABSENT);
        let op = self.operator;
        if op.comparison == Comparison::Null {
            return self.null_matches(request.is_empty());
        }
        // Multivalued keys need a set operator: a plain operator (negated or
        // ...IfExists too) does not match a key the request gives as a list.
        if op.qualifier == SetQualifier::Single && request.multivalued {
            return false;
        }
        if request.is_empty() {
            return match op.qualifier {
                SetQualifier::ForAllValues => true,
                SetQualifier::ForAnyValue => op.if_exists,
                SetQualifier::Single => op.if_exists || op.negated,
            };
        }
        let holds = |v: RequestValue<'_>| self.matches_any(v, ctx) != op.negated;
        match op.qualifier {
            SetQualifier::ForAllValues => request.iter().all(holds),
            SetQualifier::ForAnyValue => request.iter().any(holds),
            SetQualifier::Single if op.negated => request.iter().all(holds),
            SetQualifier::Single => request.iter().any(holds),
        }
    }

    fn null_matches(&self, key_absent: bool) -> bool {
        match &self.compiled {
            Values::Bools(b) => b.contains(&Some(key_absent)),
            _ => false,
        }
    }

    /// True when one request value matches at least one policy value (before negation).
    fn matches_any(&self, value: RequestValue<'_>, ctx: &Context) -> bool {
        let c = self.operator.comparison;
        let request = value.text;
        match &self.compiled {
            Values::Patterns(ps) => ps.iter().any(|p| p.matches(request, ctx)),
            Values::Numbers(ns) => (value.typed().number)
                .is_some_and(|r| ns.iter().flatten().any(|p| compare(c, r, *p))),
            Values::Dates(ds) => {
                (value.typed().date).is_some_and(|r| ds.iter().flatten().any(|p| compare(c, r, *p)))
            }
            Values::Bools(bs) => (value.typed().boolean).is_some_and(|r| bs.contains(&Some(r))),
            Values::Texts(ts) => ts.iter().any(|t| t == request),
            Values::Cidrs(cs) => (value.typed().ip)
                .is_some_and(|ip| cs.iter().flatten().any(|cidr| cidr.contains(ip))),
            Values::Arns(arns) => arn::split(request).is_some_and(|r| {
                arns.iter()
                    .flatten()
                    .any(|p| p.iter().zip(r).all(|(seg, rs)| seg.matches(rs, ctx)))
            }),
        }
    }
}

fn compare<T: PartialOrd>(c: Comparison, request: T, policy: T) -> bool {
    use Comparison::*;
    match c {
        NumericLessThan | DateLessThan => request < policy,
        NumericLessThanEquals | DateLessThanEquals => request <= policy,
        NumericGreaterThan | DateGreaterThan => request > policy,
        NumericGreaterThanEquals | DateGreaterThanEquals => request >= policy,
        _ => request == policy,
    }
}

fn compile_values(
    op: Operator,
    values: &[String],
    variables: bool,
    errors: &mut Vec<ValueError>,
) -> Values {
    use Comparison::*;
    let mut checked = |expected: &'static str, ok: bool, v: &String| {
        if !ok {
            errors.push(ValueError {
                value: v.clone(),
                expected,
                operator: op.canonical_name(),
            });
        }
    };
    let pattern = |v: &String, wildcards: bool, ignore_case: bool| {
        Pattern::new(
            v,
            Syntax {
                wildcards,
                variables,
            },
            ignore_case,
        )
    };
    match op.comparison {
        StringEquals => Values::Patterns(values.iter().map(|v| pattern(v, false, false)).collect()),
        StringEqualsIgnoreCase => {
            Values::Patterns(values.iter().map(|v| pattern(v, false, true)).collect())
        }
        StringLike => Values::Patterns(values.iter().map(|v| pattern(v, true, false)).collect()),
        NumericEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => Values::Numbers(
            values
                .iter()
                .map(|v| {
                    let n = value::parse_number(v);
                    checked("number", n.is_some(), v);
                    n
                })
                .collect(),
        ),
        DateEquals
        | DateLessThan
        | DateLessThanEquals
        | DateGreaterThan
        | DateGreaterThanEquals => Values::Dates(
            values
                .iter()
                .map(|v| {
                    let d = value::parse_date(v);
                    checked("date (ISO 8601 or epoch seconds)", d.is_some(), v);
                    d
                })
                .collect(),
        ),
        Bool | Null => Values::Bools(
            values
                .iter()
                .map(|v| {
                    let b = value::parse_bool(v);
                    checked("boolean (\"true\" or \"false\")", b.is_some(), v);
                    b
                })
                .collect(),
        ),
        BinaryEquals => Values::Texts(values.to_vec()),
        IpAddress => Values::Cidrs(
            values
                .iter()
                .map(|v| {
                    let c = Cidr::parse(v);
                    checked("IP address or CIDR block", c.is_some(), v);
                    c
                })
                .collect(),
        ),
        ArnLike => Values::Arns(
            values
                .iter()
                .map(|v| {
                    let segments =
                        arn::split(v).map(|s| s.map(|seg| pattern(&seg.to_string(), true, false)));
                    checked(
                        "ARN (arn:partition:service:region:account:resource)",
                        segments.is_some() || v == "*",
                        v,
                    );
                    segments
                })
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::default();
        for (k, vs) in pairs {
            c.insert(k, vs.iter().map(|s| s.to_string()).collect());
        }
        c
    }

    fn cond(op: &str, key: &str, values: &[&str]) -> Condition {
        let (c, errors) = Condition::new(
            Operator::parse(op).unwrap(),
            key,
            values.iter().map(|s| s.to_string()).collect(),
            true,
        );
        assert!(errors.is_empty(), "{errors:?}");
        c
    }

    #[test]
    fn operator_names() {
        let op = Operator::parse("ForAnyValue:StringNotLikeIfExists").unwrap();
        assert_eq!(op.comparison, Comparison::StringLike);
        assert!(op.negated && op.if_exists);
        assert_eq!(op.qualifier, SetQualifier::ForAnyValue);
        assert_eq!(op.canonical_name(), "ForAnyValue:StringNotLikeIfExists");
        for name in ["ArnLike", "ArnEquals", "ArnNotLike", "ArnNotEqualsIfExists"] {
            assert_eq!(Operator::parse(name).unwrap().canonical_name(), name);
        }
        assert_eq!(
            Operator::parse("arnlike").unwrap().canonical_name(),
            "ArnLike"
        );
        assert!(Operator::parse("StringEqualz").is_err());
        assert!(Operator::parse("NullIfExists").is_err());
    }

    #[test]
    fn missing_keys() {
        let empty = ctx(&[]);
        assert!(!cond("StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(cond("StringNotEquals", "k", &["a"]).evaluate(&empty));
        assert!(cond("StringEqualsIfExists", "k", &["a"]).evaluate(&empty));
        assert!(cond("ForAllValues:StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(!cond("ForAnyValue:StringEquals", "k", &["a"]).evaluate(&empty));
        assert!(cond("Null", "k", &["true"]).evaluate(&empty));
        assert!(!cond("Null", "k", &["false"]).evaluate(&empty));
    }

    #[test]
    fn set_qualifiers() {
        let c = ctx(&[("ses:Recipients", &["a@example.com", "b@other.org"])]);
        assert!(cond(
            "ForAnyValue:StringNotLike",
            "ses:recipients",
            &["*@example.com"]
        )
        .evaluate(&c));
        assert!(!cond(
            "ForAllValues:StringLike",
            "ses:Recipients",
            &["*@example.com"]
        )
        .evaluate(&c));
        assert!(cond(
            "ForAllValues:StringLike",
            "ses:Recipients",
            &["*@example.com", "*@other.org"]
        )
        .evaluate(&c));
        assert!(!cond("StringNotEquals", "ses:Recipients", &["a@example.com"]).evaluate(&c));
    }

    #[test]
    fn plain_operators_never_match_multivalued_keys() {
        let mut one = Context::default();
        one.insert_list("ses:Recipients", vec!["a@example.com".into()]);
        for op in [
            "StringLike",
            "StringNotLike",
            "StringEquals",
            "StringNotEqualsIfExists",
        ] {
            assert!(
                !cond(op, "ses:Recipients", &["*@example.com"]).evaluate(&one),
                "{op}"
            );
        }
        assert!(cond(
            "ForAnyValue:StringLike",
            "ses:Recipients",
            &["*@example.com"]
        )
        .evaluate(&one));
        assert!(cond(
            "ForAllValues:StringLike",
            "ses:Recipients",
            &["*@example.com"]
        )
        .evaluate(&one));
        assert!(cond("Null", "ses:Recipients", &["false"]).evaluate(&one));
        // A single value set with `insert` stays single-valued.
        let mut single = Context::default();
        single.insert("ses:FromAddress", vec!["a@example.com".into()]);
        assert!(cond("StringLike", "ses:FromAddress", &["*@example.com"]).evaluate(&single));
    }

    #[test]
    fn typed_operators() {
        let c = ctx(&[
            ("aws:CurrentTime", &["2025-03-01T10:00:00Z"]),
            ("aws:SourceIp", &["203.0.113.7"]),
            ("aws:SecureTransport", &["false"]),
            ("n", &["300"]),
            (
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:role/MailSender"],
            ),
        ]);
        assert!(cond("DateGreaterThan", "aws:CurrentTime", &["2025-01-01T00:00Z"]).evaluate(&c));
        assert!(cond("DateLessThan", "aws:CurrentTime", &["1767225600"]).evaluate(&c));
        assert!(cond("IpAddress", "aws:SourceIp", &["203.0.113.0/24"]).evaluate(&c));
        assert!(cond(
            "NotIpAddress",
            "aws:SourceIp",
            &["198.51.100.0/24", "10.0.0.0/8"]
        )
        .evaluate(&c));
        assert!(cond("Bool", "aws:SecureTransport", &["false"]).evaluate(&c));
        assert!(cond("NumericLessThan", "n", &["3600"]).evaluate(&c));
        assert!(!cond("NumericGreaterThan", "n", &["3600"]).evaluate(&c));
        assert!(cond(
            "ArnLike",
            "aws:PrincipalArn",
            &["arn:aws:iam::111122223333:role/Mail*"]
        )
        .evaluate(&c));
        assert!(cond(
            "ArnEquals",
            "aws:PrincipalArn",
            &["arn:aws:iam::*:role/MailSender"]
        )
        .evaluate(&c));
        let (short, errors) = Condition::new(
            Operator::parse("ArnLike").unwrap(),
            "aws:PrincipalArn",
            vec!["arn:aws:iam::*".into()],
            true,
        );
        assert_eq!(errors.len(), 1);
        assert!(!short.evaluate(&c));
    }
}
