//! Decision traces: which layer, policy, statement and condition decided, with the
//! policy values and the request values side by side. Built only when asked for.

use crate::condition::Condition;
use crate::context::Context;
use crate::eval::{Decision, Layer, Outcome, PolicySet, Request, StatementRef};
use crate::grammar::Effect;
use crate::policy::{Policy, Statement};
use std::sync::Arc;

/// Where a statement sits while it is evaluated.
#[derive(Clone, Copy)]
pub struct Site<'a> {
    pub layer: Layer,
    pub level: usize,
    pub index: usize,
    pub policy: &'a Policy,
}

/// Receives evaluation steps. `ON` is a constant so the untraced path compiles to nothing.
pub trait Tracer {
    const ON: bool;
    fn statement(&mut self, site: Site<'_>, st: &Statement, detail: impl FnOnce() -> String);
    fn note(&mut self, text: impl FnOnce() -> String);
    /// A statement that applies to the request (action, resource, principal and
    /// conditions all match). Only tracers that collect matches override it.
    fn matched(&mut self, _at: StatementRef) {}
}

/// No tracing.
pub struct Off;

impl Tracer for Off {
    const ON: bool = false;
    fn statement(&mut self, _: Site<'_>, _: &Statement, _: impl FnOnce() -> String) {}
    fn note(&mut self, _: impl FnOnce() -> String) {}
}

/// Collects every statement that applies, in evaluation order (for the policy simulator).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub statements: Vec<StatementRef>,
}

impl Tracer for Matches {
    const ON: bool = true;
    fn statement(&mut self, _: Site<'_>, _: &Statement, _: impl FnOnce() -> String) {}
    fn note(&mut self, _: impl FnOnce() -> String) {}
    fn matched(&mut self, at: StatementRef) {
        self.statements.push(at);
    }
}

/// A readable account of an evaluation, one line per step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub lines: Vec<String>,
}

impl Tracer for Trace {
    const ON: bool = true;

    fn statement(&mut self, site: Site<'_>, st: &Statement, detail: impl FnOnce() -> String) {
        let effect = match st.effect {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        };
        self.lines.push(format!(
            "{}: {}, {} ({effect}): {}",
            place(site.layer, site.level),
            policy_label(site.policy, site.index),
            st.label(),
            detail()
        ));
    }

    fn note(&mut self, text: impl FnOnce() -> String) {
        self.lines.push(text());
    }
}

impl Trace {
    /// Adds the closing line: the outcome and what decided it.
    pub(crate) fn conclude(&mut self, set: &PolicySet, req: &Request, d: &Decision) {
        let by = d.statement.map(|s| describe(set, s)).unwrap_or_default();
        let line = match (d.outcome, d.denied_by) {
            (Outcome::Allowed, _) if by.is_empty() => {
                "decision: allowed (the account root user)".to_string()
            }
            (Outcome::Allowed, _) => format!("decision: allowed by {by}"),
            (Outcome::ExplicitDeny, _) => format!("decision: explicit deny by {by}"),
            (Outcome::ImplicitDeny, Some(layer)) => format!(
                "decision: implicit deny: no {} allows {} on {}",
                layer.policy_type(),
                req.action,
                req.resource.text
            ),
            (Outcome::ImplicitDeny, None) => "decision: implicit deny".to_string(),
        };
        self.lines.push(line);
    }
}

/// `identity-based policy "Name", statement 2 (Sid "X")` for a statement reference.
pub fn describe(set: &PolicySet, s: StatementRef) -> String {
    let policies: &[Arc<Policy>] = match s.layer {
        Layer::Identity => &set.identity,
        Layer::Boundary => set.boundary.as_slice(),
        Layer::Session => set.session.as_slice(),
        Layer::Resource => set.resource.as_slice(),
        Layer::Scp => set
            .scps
            .as_ref()
            .and_then(|l| l.get(s.level))
            .map_or(&[], Vec::as_slice),
        Layer::Rcp => set
            .rcps
            .as_ref()
            .and_then(|l| l.get(s.level))
            .map_or(&[], Vec::as_slice),
    };
    let Some(policy) = policies.get(s.policy) else {
        return place(s.layer, s.level);
    };
    let statement = policy
        .statements
        .get(s.statement)
        .map(Statement::label)
        .unwrap_or_default();
    format!(
        "{}: {}, {}",
        place(s.layer, s.level),
        policy_label(policy, s.policy),
        statement
    )
}

fn place(layer: Layer, level: usize) -> String {
    match layer {
        Layer::Scp | Layer::Rcp => format!("{} (level {})", layer.policy_type(), level + 1),
        _ => layer.policy_type().to_string(),
    }
}

fn policy_label(policy: &Policy, index: usize) -> String {
    match &policy.name {
        Some(name) => format!("policy \"{name}\""),
        None => format!("policy #{}", index + 1),
    }
}

/// Detail for a statement whose condition `index` failed.
pub(crate) fn condition_failed(st: &Statement, index: usize, ctx: &Context) -> String {
    match st.conditions.get(index) {
        Some(c) => format!("condition not met: {}", show_condition(c, ctx)),
        None => "condition not met".to_string(),
    }
}

/// Detail for a statement that applies.
pub(crate) fn applied(st: &Statement, ctx: &Context) -> String {
    if st.conditions.is_empty() {
        return "applies".to_string();
    }
    let conditions: Vec<String> = st
        .conditions
        .iter()
        .map(|c| show_condition(c, ctx))
        .collect();
    format!("applies; conditions met: {}", conditions.join("; "))
}

fn show_condition(c: &Condition, ctx: &Context) -> String {
    let request = c.request_values(ctx);
    let request = if request.is_empty() {
        "absent from the request".to_string()
    } else {
        format!("request value {}", quoted(request))
    };
    format!(
        "{} {} policy value {}, {request}",
        c.operator.canonical_name(),
        c.key,
        quoted(&c.values)
    )
}

fn quoted(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    format!("[{}]", items.join(", "))
}
