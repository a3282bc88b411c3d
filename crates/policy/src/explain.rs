//! What IAM's policy simulator reports beside the decision: where each statement sits
//! in its document (`StartPosition`/`EndPosition`), which statements determined the
//! result (`MatchedStatements`), which condition keys the request did not supply
//! (`MissingContextValues`), and how the organization's SCPs, the permissions
//! boundary and each side of a cross-account request decided.

use crate::context::{Context, Key};
use crate::eval::{Decision, Layer, Outcome, PolicySet, Request, StatementRef};
use crate::grammar::Effect;
use crate::json::{self, Json, JsonValue, Position};
use crate::policy::{Policy, Statement};
use std::sync::Arc;

/// Where a statement object sits in its policy text, as IAM reports it: `start` is
/// just after the opening `{`, `end` just after the closing `}` (1-based lines and
/// columns; AWS's example `{"Version":…,"Statement":{…}}` gives 1:38 and 1:167).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: Position,
    pub end: Position,
}

/// The span of every statement of a policy text, in statement order. Empty when the
/// text is not a policy with a `Statement` object or array.
pub fn statement_spans(text: &str) -> Vec<Span> {
    let Ok(doc) = json::parse(text) else {
        return Vec::new();
    };
    let Some(statement) = doc.get("Statement") else {
        return Vec::new();
    };
    let items: Vec<&Json> = match &statement.value {
        JsonValue::Array(items) => items.iter().collect(),
        JsonValue::Object(_) => vec![statement],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .filter_map(|item| span_of(text, item.at))
        .collect()
}

/// The span of the object or array that opens at `at`.
fn span_of(text: &str, at: Position) -> Option<Span> {
    let rest = text.get(at.offset..)?;
    let mut end = at;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for c in rest.chars() {
        end = advance(end, c);
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(Span {
                        start: advance(at, '{'),
                        end,
                    });
                }
            }
            _ => {}
        }
    }
    None
}

/// The position after `c`.
fn advance(p: Position, c: char) -> Position {
    let offset = p.offset + c.len_utf8();
    if c == '\n' {
        Position {
            offset,
            line: p.line.saturating_add(1),
            col: 1,
        }
    } else {
        Position {
            offset,
            line: p.line,
            col: p.col.saturating_add(1),
        }
    }
}

/// The policies of one layer (or one SCP/RCP level) of a set.
pub fn policies_at(set: &PolicySet, layer: Layer, level: usize) -> &[Arc<Policy>] {
    match layer {
        Layer::Identity => &set.identity,
        Layer::Boundary => set.boundary.as_slice(),
        Layer::Session => set.session.as_slice(),
        Layer::Resource => set.resource.as_slice(),
        Layer::Scp => level_of(set.scps.as_deref(), level),
        Layer::Rcp => level_of(set.rcps.as_deref(), level),
    }
}

fn level_of(levels: Option<&[Vec<Arc<Policy>>]>, level: usize) -> &[Arc<Policy>] {
    levels
        .and_then(|levels| levels.get(level))
        .map_or(&[], Vec::as_slice)
}

/// The statement a reference points at.
pub fn statement_at(set: &PolicySet, s: StatementRef) -> Option<&Statement> {
    policies_at(set, s.layer, s.level)
        .get(s.policy)?
        .statements
        .get(s.statement)
}

fn effect_of(set: &PolicySet, s: StatementRef) -> Option<Effect> {
    statement_at(set, s).map(|st| st.effect)
}

/// The statements that determined the result, as IAM's simulator reports them: every
/// applicable Deny for an explicit deny (the deny alone), every applicable identity
/// or resource-based Allow when allowed, none for an implicit deny.
pub fn deciding_statements(
    set: &PolicySet,
    decision: &Decision,
    matched: &[StatementRef],
) -> Vec<StatementRef> {
    let wanted = |s: &&StatementRef| match decision.outcome {
        Outcome::ExplicitDeny => effect_of(set, **s) == Some(Effect::Deny),
        Outcome::Allowed => {
            effect_of(set, **s) == Some(Effect::Allow)
                && matches!(s.layer, Layer::Identity | Layer::Resource)
        }
        Outcome::ImplicitDeny => false,
    };
    matched.iter().filter(wanted).copied().collect()
}

/// Condition keys used by statements whose action and resource match the request
/// but absent from its context, in first-use order without duplicates (keys compare
/// case-insensitively; the first spelling is kept).
pub fn missing_context_keys(set: &PolicySet, req: &Request) -> Vec<String> {
    let action = req.action.to_ascii_lowercase();
    let mut missing: Vec<String> = Vec::new();
    for layer in [
        Layer::Scp,
        Layer::Rcp,
        Layer::Resource,
        Layer::Identity,
        Layer::Boundary,
        Layer::Session,
    ] {
        for level in 0..level_count(set, layer) {
            for policy in policies_at(set, layer, level) {
                for st in &policy.statements {
                    if st.action_matches(&action, &req.context)
                        && st.resource_matches(&req.resource, &req.context)
                    {
                        add_missing(st, &req.context, &mut missing);
                    }
                }
            }
        }
    }
    missing
}

fn level_count(set: &PolicySet, layer: Layer) -> usize {
    match layer {
        Layer::Scp => set.scps.as_ref().map_or(0, Vec::len),
        Layer::Rcp => set.rcps.as_ref().map_or(0, Vec::len),
        _ => 1,
    }
}

fn add_missing(st: &Statement, ctx: &Context, missing: &mut Vec<String>) {
    for c in &st.conditions {
        let absent = ctx.get(&Key::new(&c.key)).is_none();
        let listed = missing.iter().any(|m| m.eq_ignore_ascii_case(&c.key));
        if absent && !listed {
            missing.push(c.key.clone());
        }
    }
}

/// How each policy type bore on one request, for the simulator's decision details.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Details {
    /// `None` when no SCPs apply (outside an organization, or the management account).
    pub allowed_by_organizations: Option<bool>,
    /// `None` when there is no permissions boundary.
    pub allowed_by_boundary: Option<bool>,
    /// The caller's side: SCPs, identity policies, boundary and session policy.
    pub identity: Outcome,
    /// The resource's side: the resource-based policy and RCPs.
    pub resource: Outcome,
}

/// Summarises the applicable statements layer by layer.
pub fn details(set: &PolicySet, req: &Request, matched: &[StatementRef]) -> Details {
    let has = |layer: Layer, effect: Effect| {
        matched
            .iter()
            .any(|s| s.layer == layer && effect_of(set, *s) == Some(effect))
    };
    let allowed_by_organizations =
        set.scps
            .as_ref()
            .filter(|_| req.principal.is_iam())
            .map(|levels| {
                let every_level_allows = (0..levels.len()).all(|level| {
                    matched.iter().any(|s| {
                        s.layer == Layer::Scp
                            && s.level == level
                            && effect_of(set, *s) == Some(Effect::Allow)
                    })
                });
                every_level_allows && !has(Layer::Scp, Effect::Deny)
            });
    let allowed_by_boundary = set
        .boundary
        .as_ref()
        .map(|_| has(Layer::Boundary, Effect::Allow) && !has(Layer::Boundary, Effect::Deny));
    let identity_denies = [Layer::Scp, Layer::Identity, Layer::Boundary, Layer::Session]
        .into_iter()
        .any(|l| has(l, Effect::Deny));
    let session_allows = set.session.is_none() || has(Layer::Session, Effect::Allow);
    let identity_allows = (req.principal.caller == crate::principal::Caller::Root
        || has(Layer::Identity, Effect::Allow))
        && allowed_by_organizations != Some(false)
        && allowed_by_boundary != Some(false)
        && session_allows;
    let resource_denies = has(Layer::Resource, Effect::Deny) || has(Layer::Rcp, Effect::Deny);
    Details {
        allowed_by_organizations,
        allowed_by_boundary,
        identity: outcome(identity_denies, identity_allows),
        resource: outcome(resource_denies, has(Layer::Resource, Effect::Allow)),
    }
}

fn outcome(denies: bool, allows: bool) -> Outcome {
    if denies {
        Outcome::ExplicitDeny
    } else if allows {
        Outcome::Allowed
    } else {
        Outcome::ImplicitDeny
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate_matched;
    use crate::principal::Principal;

    fn policy(text: &str) -> Arc<Policy> {
        Arc::new(Policy::parse(text).unwrap())
    }

    fn request(action: &str, context: Context) -> Request {
        let p = Principal::parse("arn:aws:iam::111122223333:user/bob").unwrap();
        Request::new(p, action, "*", None, context)
    }

    #[test]
    fn spans_follow_aws_example_positions() {
        let text = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}"#;
        let spans = statement_spans(text);
        assert_eq!(spans.len(), 1);
        assert_eq!((spans[0].start.line, spans[0].start.col), (1, 38));
        assert_eq!((spans[0].end.line, spans[0].end.col), (1, 167));
    }

    #[test]
    fn spans_of_a_pretty_printed_array_with_tricky_strings() {
        let text = "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"a:b\", \"Resource\": \"x}{\\\"\"},\n    {\n      \"Effect\": \"Deny\",\n      \"Action\": \"*\"\n    }\n  ]\n}";
        let spans = statement_spans(text);
        assert_eq!(spans.len(), 2);
        assert_eq!((spans[0].start.line, spans[0].start.col), (3, 6));
        assert_eq!(spans[0].end.line, 3);
        assert_eq!(
            spans[0].end.col as usize,
            text.lines().nth(2).unwrap().len()
        );
        assert_eq!((spans[1].start.line, spans[1].start.col), (4, 6));
        assert_eq!((spans[1].end.line, spans[1].end.col), (7, 6));
    }

    #[test]
    fn spans_of_unparsable_text_are_empty() {
        assert!(statement_spans("{").is_empty());
        assert!(statement_spans("[]").is_empty());
    }

    #[test]
    fn deciding_statements_are_the_denies_or_the_grants() {
        let set = PolicySet {
            identity: vec![
                policy(
                    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ses:*","Resource":"*"},{"Effect":"Allow","Action":"ses:Send*","Resource":"*"}]}"#,
                ),
                policy(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ses:SendRawEmail","Resource":"*"}}"#,
                ),
            ],
            ..PolicySet::default()
        };
        let req = request("ses:SendEmail", Context::default());
        let (d, matched) = evaluate_matched(&set, &req);
        assert_eq!(d.outcome, Outcome::Allowed);
        let got = deciding_statements(&set, &d, &matched);
        assert_eq!(
            got.iter()
                .map(|s| (s.policy, s.statement))
                .collect::<Vec<_>>(),
            [(0, 0), (0, 1)]
        );
        let req = request("ses:SendRawEmail", Context::default());
        let (d, matched) = evaluate_matched(&set, &req);
        assert_eq!(d.outcome, Outcome::ExplicitDeny);
        let got = deciding_statements(&set, &d, &matched);
        assert_eq!(
            got.iter()
                .map(|s| (s.policy, s.statement))
                .collect::<Vec<_>>(),
            [(1, 0)]
        );
        let req = request("iam:CreateUser", Context::default());
        let (d, matched) = evaluate_matched(&set, &req);
        assert_eq!(d.outcome, Outcome::ImplicitDeny);
        assert!(deciding_statements(&set, &d, &matched).is_empty());
    }

    #[test]
    fn missing_keys_come_from_statements_that_match_action_and_resource() {
        let set = PolicySet {
            identity: vec![policy(
                r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"ses:SendEmail","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"a@x","aws:SourceIp":"1.2.3.4"},"Bool":{"AWS:SourceIp":"true"}}},
                {"Effect":"Allow","Action":"iam:*","Resource":"*","Condition":{"StringEquals":{"iam:PolicyARN":"x"}}}]}"#,
            )],
            ..PolicySet::default()
        };
        let mut ctx = Context::default();
        ctx.insert("aws:sourceip", vec!["1.2.3.4".into()]);
        assert_eq!(
            missing_context_keys(&set, &request("ses:SendEmail", ctx)),
            ["ses:FromAddress"]
        );
        assert_eq!(
            missing_context_keys(&set, &request("ses:SendEmail", Context::default())),
            ["ses:FromAddress", "aws:SourceIp"]
        );
        // Keys the principal implies (aws:username) are never missing.
        let set = PolicySet {
            identity: vec![policy(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"bob"}}}}"#,
            )],
            ..PolicySet::default()
        };
        assert!(
            missing_context_keys(&set, &request("ses:SendEmail", Context::default())).is_empty()
        );
    }

    #[test]
    fn details_report_organizations_and_boundary() {
        let allow_all = policy(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        );
        let set = PolicySet {
            identity: vec![allow_all.clone()],
            boundary: Some(policy(
                r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ses:*","Resource":"*"}}"#,
            )),
            scps: Some(vec![
                vec![allow_all.clone()],
                vec![policy(
                    r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["ses:*","sts:*"],"Resource":"*"}}"#,
                )],
            ]),
            ..PolicySet::default()
        };
        let check = |action: &str| {
            let req = request(action, Context::default());
            let (d, matched) = evaluate_matched(&set, &req);
            (d.outcome, details(&set, &req, &matched))
        };
        let (outcome, d) = check("ses:SendEmail");
        assert_eq!(outcome, Outcome::Allowed);
        assert_eq!(d.allowed_by_organizations, Some(true));
        assert_eq!(d.allowed_by_boundary, Some(true));
        assert_eq!(d.identity, Outcome::Allowed);
        let (outcome, d) = check("sts:GetSessionToken");
        assert_eq!(outcome, Outcome::ImplicitDeny);
        assert_eq!(d.allowed_by_organizations, Some(true));
        assert_eq!(d.allowed_by_boundary, Some(false));
        let (outcome, d) = check("iam:CreateUser");
        assert_eq!(outcome, Outcome::ImplicitDeny);
        assert_eq!(d.allowed_by_organizations, Some(false));
        assert_eq!(d.allowed_by_boundary, Some(false));
        assert_eq!(d.identity, Outcome::ImplicitDeny);
        assert_eq!(d.resource, Outcome::ImplicitDeny);
    }
}
