//! Compiled policies: lower-cased action patterns, pre-split resource ARNs, parsed
//! condition values. Compiled once, evaluated many times without allocation.

use crate::arn;
use crate::condition::Condition;
use crate::context::Context;
use crate::grammar::{self, Effect, Findings, ListDoc, PolicyDoc, StatementDoc, Version};
use crate::json::{self, Json};
use crate::pattern::{Pattern, Syntax};
use crate::principal::PrincipalEntry;

/// A policy that failed to compile: the findings that made it unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .findings.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct PolicyError {
    pub findings: Vec<grammar::Finding>,
}

/// A compiled policy document.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// A label for traces and messages (a policy name or ARN), if known.
    pub name: Option<String>,
    pub version: Version,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// 1-based position in the policy.
    pub number: usize,
    pub sid: Option<String>,
    pub effect: Effect,
    pub principal: Option<PrincipalClause>,
    pub actions: Clause<Pattern>,
    /// `None` when the statement has neither Resource nor NotResource (trust policies).
    pub resources: Option<Clause<ResourcePattern>>,
    pub conditions: Vec<Condition>,
}

/// Action/NotAction or Resource/NotResource, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause<T> {
    pub negated: bool,
    pub items: Vec<T>,
    pub source: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PrincipalClause {
    pub negated: bool,
    pub entries: Vec<PrincipalEntry>,
}

/// A Resource value: `*`, an ARN matched segment by segment, or a pattern over the
/// whole string. An ARN whose first five segments are literal matches the same texts
/// segment-wise and whole, so it is kept whole (one comparison instead of six).
#[derive(Debug, Clone, PartialEq)]
pub enum ResourcePattern {
    Any,
    Arn(Box<[Pattern; 6]>),
    Whole(Pattern),
}

/// The request's resource, split once per request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestResource {
    pub text: String,
    segments: Option<[(usize, usize); 6]>,
}

impl RequestResource {
    pub fn new(text: &str) -> RequestResource {
        let segments = arn::split(text).map(|parts| {
            parts.map(|p| {
                let start = p.as_ptr() as usize - text.as_ptr() as usize;
                (start, start + p.len())
            })
        });
        RequestResource {
            text: text.to_string(),
            segments,
        }
    }

    fn segment(&self, i: usize) -> &str {
        match self.segments {
            Some(s) => &self.text[s[i].0..s[i].1],
            None => "",
        }
    }
}

impl ResourcePattern {
    fn new(source: &str, variables: bool) -> ResourcePattern {
        let syntax = Syntax {
            wildcards: true,
            variables,
        };
        if source == "*" {
            return ResourcePattern::Any;
        }
        let whole = || ResourcePattern::Whole(Pattern::new(source, syntax, false));
        let Some(parts) = arn::split(source) else {
            return whole();
        };
        let segments = parts.map(|p| Pattern::new(p, syntax, false));
        if segments[..5].iter().all(Pattern::is_literal) {
            whole()
        } else {
            ResourcePattern::Arn(Box::new(segments))
        }
    }

    pub fn matches(&self, resource: &RequestResource, ctx: &Context) -> bool {
        match self {
            ResourcePattern::Any => true,
            ResourcePattern::Whole(p) => p.matches(&resource.text, ctx),
            ResourcePattern::Arn(parts) => {
                resource.segments.is_some()
                    && parts
                        .iter()
                        .enumerate()
                        .all(|(i, p)| p.matches(resource.segment(i), ctx))
            }
        }
    }
}

impl Policy {
    /// Parses and compiles a policy from JSON text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let json = json::parse(text).map_err(|e| PolicyError {
            findings: vec![grammar::Finding {
                at: e.at,
                severity: grammar::Severity::Error,
                message: e.kind.to_string(),
            }],
        })?;
        Policy::from_json(&json)
    }

    /// Compiles a policy from a JSON tree. Fails only when the document cannot be
    /// evaluated; [`crate::validate`] reports the remaining findings.
    pub fn from_json(json: &Json) -> Result<Policy, PolicyError> {
        let mut findings = Findings::default();
        compile(json, &mut findings).ok_or(PolicyError {
            findings: findings.0,
        })
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Policy {
        self.name = Some(name.into());
        self
    }
}

/// Reads and compiles, recording every finding; `None` when unusable.
pub(crate) fn compile(json: &Json, findings: &mut Findings) -> Option<Policy> {
    let doc = grammar::read_policy(json, findings)?;
    Some(compile_doc(&doc, findings))
}

fn compile_doc(doc: &PolicyDoc, findings: &mut Findings) -> Policy {
    let variables = doc.version == Version::V2012_10_17;
    let statements = doc
        .statements
        .iter()
        .enumerate()
        .map(|(i, s)| compile_statement(i + 1, s, variables, findings))
        .collect();
    Policy {
        name: doc.id.clone(),
        version: doc.version,
        statements,
    }
}

fn compile_statement(
    number: usize,
    s: &StatementDoc,
    variables: bool,
    findings: &mut Findings,
) -> Statement {
    let actions = compile_actions(&s.action, findings);
    let resources = s
        .resource
        .as_ref()
        .map(|r| compile_resources(r, variables, findings));
    let conditions = s
        .conditions
        .iter()
        .map(|c| {
            let values = c.values.iter().map(|v| v.text.clone()).collect();
            let (condition, errors) = Condition::new(c.operator, &c.key.text, values, variables);
            for e in errors {
                let at = c
                    .values
                    .iter()
                    .find(|v| v.text == e.value)
                    .map_or(c.key.at, |v| v.at);
                findings.error(at, e.to_string());
            }
            condition
        })
        .collect();
    Statement {
        number,
        sid: s.sid.clone(),
        effect: s.effect,
        principal: s.principal.as_ref().map(|p| PrincipalClause {
            negated: p.negated,
            entries: p.entries.iter().map(|(e, _)| e.clone()).collect(),
        }),
        actions,
        resources,
        conditions,
    }
}

fn compile_actions(list: &ListDoc, findings: &mut Findings) -> Clause<Pattern> {
    let syntax = Syntax {
        wildcards: true,
        variables: false,
    };
    for v in &list.values {
        let well_formed = v.text == "*"
            || v.text.split_once(':').is_some_and(|(svc, name)| {
                !svc.is_empty()
                    && !name.is_empty()
                    && !name.contains(':')
                    && svc
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'*')
            });
        if !well_formed {
            findings.error(v.at, format!("action `{}` must look like `service:ActionName` (wildcards * and ? allowed) or be \"*\"", v.text));
        }
    }
    Clause {
        negated: list.negated,
        items: list
            .values
            .iter()
            .map(|v| Pattern::new(&v.text.to_ascii_lowercase(), syntax, false))
            .collect(),
        source: list.values.iter().map(|v| v.text.clone()).collect(),
    }
}

fn compile_resources(
    list: &ListDoc,
    variables: bool,
    findings: &mut Findings,
) -> Clause<ResourcePattern> {
    for v in &list.values {
        if v.text != "*" && arn::split(&v.text).is_none() {
            findings.error(v.at, format!("resource `{}` is not an ARN (arn:partition:service:region:account:resource) or \"*\"", v.text));
        }
    }
    Clause {
        negated: list.negated,
        items: list
            .values
            .iter()
            .map(|v| ResourcePattern::new(&v.text, variables))
            .collect(),
        source: list.values.iter().map(|v| v.text.clone()).collect(),
    }
}

impl Statement {
    /// Action/NotAction against the lower-cased request action.
    pub fn action_matches(&self, action_lower: &str, ctx: &Context) -> bool {
        let any = self
            .actions
            .items
            .iter()
            .any(|p| p.matches(action_lower, ctx));
        any != self.actions.negated
    }

    /// Resource/NotResource; a statement without either applies to every resource.
    pub fn resource_matches(&self, resource: &RequestResource, ctx: &Context) -> bool {
        match &self.resources {
            None => true,
            Some(r) => r.items.iter().any(|p| p.matches(resource, ctx)) != r.negated,
        }
    }

    /// Index of the first condition that fails, if any.
    pub fn failing_condition(&self, ctx: &Context) -> Option<usize> {
        self.conditions.iter().position(|c| !c.evaluate(ctx))
    }

    /// A label for traces: `statement 2 (Sid "X")`.
    pub fn label(&self) -> String {
        match &self.sid {
            Some(sid) if !sid.is_empty() => format!("statement {} (Sid \"{sid}\")", self.number),
            _ => format!("statement {}", self.number),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resource whose first five ARN segments are literal is matched as one string;
    /// it must decide exactly as the segment-by-segment reading does.
    #[test]
    fn whole_string_resource_matches_as_segments_do() {
        let syntax = Syntax {
            wildcards: true,
            variables: true,
        };
        let patterns = [
            "arn:aws:ses:us-east-1:111122223333:identity/*",
            "arn:aws:ses:us-east-1:111122223333:identity/example.com",
            "arn:aws:s3:::bucket/*/a?c",
            "arn:aws:iam::111122223333:user/${aws:username}",
        ];
        let texts = [
            "arn:aws:ses:us-east-1:111122223333:identity/example.com",
            "arn:aws:ses:us-east-1:111122223333:identity/a:b",
            "arn:aws:ses:us-east-1:1111222233334:identity/x",
            "arn:aws:ses:us-east-1:111122223333:identity",
            "arn:aws:s3:::bucket/x/y/abc",
            "arn:aws:s3:::bucket/abc",
            "arn:aws:iam::111122223333:user/alice",
            "arn:aws:iam::111122223333:user/alice:x",
            "arn:aws:ses:us-east-1:111122223333",
            "*",
        ];
        let mut ctx = Context::default();
        ctx.insert("aws:username", vec!["alice".to_string()]);
        for source in patterns {
            let compiled = ResourcePattern::new(source, true);
            assert!(matches!(compiled, ResourcePattern::Whole(_)), "{source}");
            let segments = arn::split(source)
                .expect("an ARN")
                .map(|p| Pattern::new(p, syntax, false));
            for text in texts {
                let resource = RequestResource::new(text);
                let by_segment = resource.segments.is_some()
                    && (0..6).all(|i| segments[i].matches(resource.segment(i), &ctx));
                assert_eq!(
                    compiled.matches(&resource, &ctx),
                    by_segment,
                    "{source} ~ {text}"
                );
            }
        }
    }
}
