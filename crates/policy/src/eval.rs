//! Evaluation across every policy type with AWS's logic: an explicit deny anywhere
//! wins; SCP and RCP levels must each allow; same-account resource-policy grants by
//! principal kind; cross-account requests need both sides; boundaries and session
//! policies intersect. Tracing is a type parameter, so the fast path builds nothing.

use crate::context::Context;
use crate::grammar::Effect;
use crate::policy::{Policy, RequestResource, Statement};
use crate::principal::{self, Caller, Principal, PrincipalMatch};
use crate::trace::{Site, Trace, Tracer};
use std::sync::Arc;

/// Every policy that bears on one request. Policies are shared (`Arc`) so a server
/// can compile each once and assemble sets per request cheaply.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    pub identity: Vec<Arc<Policy>>,
    pub boundary: Option<Arc<Policy>>,
    pub session: Option<Arc<Policy>>,
    /// The resource-based policy, owned by the resource's account.
    pub resource: Option<Arc<Policy>>,
    /// SCP levels (root first, then each OU, then the account); `None` outside an organization.
    pub scps: Option<Vec<Vec<Arc<Policy>>>>,
    /// RCP levels of the resource's account; `None` outside an organization.
    pub rcps: Option<Vec<Vec<Arc<Policy>>>>,
}

/// One request to decide.
#[derive(Debug, Clone)]
pub struct Request {
    pub principal: Principal,
    /// As the caller named it (kept for messages).
    pub action: String,
    action_lower: String,
    pub resource: RequestResource,
    /// The account that owns the resource; `None` when unknown (treated as the caller's).
    pub resource_account: Option<String>,
    pub context: Context,
}

impl Request {
    /// Builds a request; keys the principal implies are added to the context when absent.
    pub fn new(
        principal: Principal,
        action: &str,
        resource: &str,
        resource_account: Option<String>,
        mut context: Context,
    ) -> Request {
        principal.add_context_defaults(&mut context);
        let resource_account =
            resource_account.or_else(|| crate::arn::account(resource).map(str::to_string));
        Request {
            principal,
            action: action.to_string(),
            action_lower: action.to_ascii_lowercase(),
            resource: RequestResource::new(resource),
            resource_account,
            context,
        }
    }

    fn same_account(&self) -> bool {
        self.resource_account
            .as_deref()
            .is_none_or(|a| a == self.principal.account)
    }
}

/// The policy types, in the order their explicit denies are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Scp,
    Rcp,
    Resource,
    Identity,
    Boundary,
    Session,
}

impl Layer {
    pub fn as_str(self) -> &'static str {
        match self {
            Layer::Scp => "scp",
            Layer::Rcp => "rcp",
            Layer::Resource => "resource",
            Layer::Identity => "identity",
            Layer::Boundary => "boundary",
            Layer::Session => "session",
        }
    }

    /// AWS's name of the policy type, as used in its denial messages.
    pub fn policy_type(self) -> &'static str {
        match self {
            Layer::Scp => "service control policy",
            Layer::Rcp => "resource control policy",
            Layer::Resource => "resource-based policy",
            Layer::Identity => "identity-based policy",
            Layer::Boundary => "permissions boundary",
            Layer::Session => "session policy",
        }
    }
}

/// `EvalDecision` in IAM's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allowed,
    ExplicitDeny,
    ImplicitDeny,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::ExplicitDeny => "explicitDeny",
            Outcome::ImplicitDeny => "implicitDeny",
        }
    }
}

/// A statement that decided: where it is in the policy set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementRef {
    pub layer: Layer,
    /// SCP/RCP level (0 = root), otherwise 0.
    pub level: usize,
    /// Index of the policy within its layer (or level).
    pub policy: usize,
    /// Index of the statement within the policy.
    pub statement: usize,
}

/// The result of evaluating one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// The layer that denied (explicitly, or by lacking an allow).
    pub denied_by: Option<Layer>,
    /// The deny statement that applied, or the allow statement that granted.
    pub statement: Option<StatementRef>,
}

impl Decision {
    fn allowed(by: StatementRef) -> Decision {
        Decision {
            outcome: Outcome::Allowed,
            denied_by: None,
            statement: Some(by),
        }
    }

    fn implicit(layer: Layer) -> Decision {
        Decision {
            outcome: Outcome::ImplicitDeny,
            denied_by: Some(layer),
            statement: None,
        }
    }

    pub fn is_allowed(&self) -> bool {
        self.outcome == Outcome::Allowed
    }
}

/// Decides a request (no trace).
pub fn evaluate(set: &PolicySet, req: &Request) -> Decision {
    decide(set, req, &mut crate::trace::Off)
}

/// Decides a request and explains how.
pub fn evaluate_traced(set: &PolicySet, req: &Request) -> (Decision, Trace) {
    let mut trace = Trace::default();
    let decision = decide(set, req, &mut trace);
    trace.conclude(set, req, &decision);
    (decision, trace)
}

/// Decides a request and lists every statement that applies to it, in every layer
/// (the policy simulator reports them as matched statements).
pub fn evaluate_matched(set: &PolicySet, req: &Request) -> (Decision, Vec<StatementRef>) {
    let mut matches = crate::trace::Matches::default();
    let decision = decide(set, req, &mut matches);
    (decision, matches.statements)
}

/// What one layer (or one SCP/RCP level) says.
#[derive(Debug, Clone, Copy, Default)]
struct LayerResult {
    deny: Option<StatementRef>,
    allow: Option<(StatementRef, PrincipalMatch)>,
}

/// How statements of a layer are tested against the principal.
#[derive(Clone, Copy)]
enum PrincipalRule {
    /// Identity-type policies: the principal is implied.
    Implied,
    /// Resource-based policies: Principal/NotPrincipal must name the caller.
    Named { boundary_attached: bool },
}

fn decide<T: Tracer>(set: &PolicySet, req: &Request, t: &mut T) -> Decision {
    let p = &req.principal;
    let scps = set.scps.as_deref().filter(|_| p.is_iam());
    let scp = scps.map(|levels| scan_levels(Layer::Scp, levels, req, t));
    let rcp = set
        .rcps
        .as_deref()
        .map(|levels| scan_levels(Layer::Rcp, levels, req, t));
    let boundary_attached = set.boundary.is_some()
        && matches!(
            p.caller,
            Caller::User { .. } | Caller::Role { .. } | Caller::AssumedRole { .. }
        );
    let rule = PrincipalRule::Named { boundary_attached };
    let resource = scan(Layer::Resource, 0, set.resource.as_slice(), rule, req, t);
    let identity_like = |layer, policies: &[Arc<Policy>], t: &mut T| {
        scan(layer, 0, policies, PrincipalRule::Implied, req, t)
    };
    let (identity, boundary, session) = if p.is_iam() {
        (
            identity_like(Layer::Identity, &set.identity, t),
            identity_like(Layer::Boundary, set.boundary.as_slice(), t),
            identity_like(Layer::Session, set.session.as_slice(), t),
        )
    } else {
        Default::default()
    };

    let denies = [
        scp.and_then(|(r, _)| r.deny),
        rcp.and_then(|(r, _)| r.deny),
        resource.deny,
        identity.deny,
        boundary.deny,
        session.deny,
    ];
    if let Some(hit) = denies.into_iter().flatten().next() {
        return Decision {
            outcome: Outcome::ExplicitDeny,
            denied_by: Some(hit.layer),
            statement: Some(hit),
        };
    }
    if scp.is_some_and(|(_, all_allow)| !all_allow) {
        return Decision::implicit(Layer::Scp);
    }
    if rcp.is_some_and(|(_, all_allow)| !all_allow) {
        return Decision::implicit(Layer::Rcp);
    }
    if !p.is_iam() {
        return resource
            .allow
            .map_or(Decision::implicit(Layer::Resource), |(hit, _)| {
                Decision::allowed(hit)
            });
    }
    // A federated user session (GetFederationToken) without a session policy has no
    // permissions of its own: only a resource policy naming the session can grant.
    let federated = matches!(p.caller, Caller::FederatedUser { .. });
    let limits = Limits {
        boundary: set.boundary.is_none() || boundary.allow.is_some(),
        session: if set.session.is_some() {
            session.allow.is_some()
        } else {
            !federated
        },
    };
    let identity_grant = if p.caller == Caller::Root {
        Some(None)
    } else {
        identity.allow.map(|(hit, _)| Some(hit))
    };
    if req.same_account() {
        same_account(p, resource.allow, identity_grant, limits)
    } else {
        cross_account(resource.allow, identity_grant, limits)
    }
}

/// Whether the boundary and the session policy (where present) allow.
#[derive(Clone, Copy)]
struct Limits {
    boundary: bool,
    session: bool,
}

impl Limits {
    /// The first limit that fails, if any.
    fn failing(self) -> Option<Layer> {
        if !self.boundary {
            Some(Layer::Boundary)
        } else if !self.session {
            Some(Layer::Session)
        } else {
            None
        }
    }
}

/// `identity_grant`: `None` no identity allow; `Some(None)` root (allowed without a statement).
fn same_account(
    p: &Principal,
    grant: Option<(StatementRef, PrincipalMatch)>,
    identity_grant: Option<Option<StatementRef>>,
    limits: Limits,
) -> Decision {
    match (&p.caller, grant) {
        // Granted to the user, federated user or session ARN itself: not limited by an
        // implicit deny in identity policies, the boundary or the session policy.
        (
            Caller::User { .. }
            | Caller::FederatedUser { .. }
            | Caller::AssumedRole { .. }
            | Caller::Root,
            Some((hit, PrincipalMatch::Direct)),
        ) => Decision::allowed(hit),
        // Granted to the role: no identity allow needed, but boundary and session policy limit it.
        (Caller::Role { .. }, Some((hit, PrincipalMatch::Direct)))
        | (_, Some((hit, PrincipalMatch::RoleOfSession))) => limits
            .failing()
            .map_or(Decision::allowed(hit), Decision::implicit),
        // Granted to the account (or not at all): the identity side decides.
        _ => match identity_grant {
            None => Decision::implicit(Layer::Identity),
            Some(hit) => match limits.failing() {
                Some(layer) => Decision::implicit(layer),
                None => allowed_by(hit.or(grant.map(|(h, _)| h))),
            },
        },
    }
}

fn cross_account(
    grant: Option<(StatementRef, PrincipalMatch)>,
    identity_grant: Option<Option<StatementRef>>,
    limits: Limits,
) -> Decision {
    let Some(identity_hit) = identity_grant else {
        return Decision::implicit(Layer::Identity);
    };
    if let Some(layer) = limits.failing() {
        return Decision::implicit(layer);
    }
    match grant {
        None => Decision::implicit(Layer::Resource),
        Some((hit, _)) => allowed_by(identity_hit.or(Some(hit))),
    }
}

fn allowed_by(hit: Option<StatementRef>) -> Decision {
    Decision {
        outcome: Outcome::Allowed,
        denied_by: None,
        statement: hit,
    }
}

/// Scans SCP or RCP levels: the first deny, and whether every level allows.
fn scan_levels<T: Tracer>(
    layer: Layer,
    levels: &[Vec<Arc<Policy>>],
    req: &Request,
    t: &mut T,
) -> (LayerResult, bool) {
    let mut combined = LayerResult::default();
    let mut all_allow = true;
    for (level, policies) in levels.iter().enumerate() {
        let r = scan(layer, level, policies, PrincipalRule::Implied, req, t);
        combined.deny = combined.deny.or(r.deny);
        combined.allow = combined.allow.or(r.allow);
        if r.allow.is_none() {
            all_allow = false;
            t.note(|| {
                format!(
                    "{}: no statement at level {} allows {}",
                    layer.policy_type(),
                    level + 1,
                    req.action
                )
            });
        }
        if combined.deny.is_some() && !T::ON {
            break;
        }
    }
    (combined, all_allow)
}

/// Scans the policies of one layer for the first applicable deny and the best allow.
fn scan<T: Tracer>(
    layer: Layer,
    level: usize,
    policies: &[Arc<Policy>],
    rule: PrincipalRule,
    req: &Request,
    t: &mut T,
) -> LayerResult {
    let mut result = LayerResult::default();
    for (pi, policy) in policies.iter().enumerate() {
        for (si, st) in policy.statements.iter().enumerate() {
            let settled_allow = matches!(result.allow, Some((_, PrincipalMatch::Direct)));
            if !T::ON && st.effect == Effect::Allow && settled_allow {
                continue;
            }
            let site = Site {
                layer,
                level,
                index: pi,
                policy,
            };
            let Some(how) = applies(st, rule, req, t, site) else {
                continue;
            };
            let at = StatementRef {
                layer,
                level,
                policy: pi,
                statement: si,
            };
            t.matched(at);
            match st.effect {
                Effect::Deny => {
                    result.deny = result.deny.or(Some(at));
                    if !T::ON {
                        return result;
                    }
                }
                Effect::Allow => {
                    if result.allow.is_none_or(|(_, best)| how < best) {
                        result.allow = Some((at, how));
                    }
                }
            }
        }
    }
    result
}

/// Whether a statement applies to the request, and how it names the principal.
fn applies<T: Tracer>(
    st: &Statement,
    rule: PrincipalRule,
    req: &Request,
    t: &mut T,
    site: Site<'_>,
) -> Option<PrincipalMatch> {
    let ctx = &req.context;
    if !st.action_matches(&req.action_lower, ctx) {
        t.statement(site, st, || "action not matched".to_string());
        return None;
    }
    if !st.resource_matches(&req.resource, ctx) {
        t.statement(site, st, || "resource not matched".to_string());
        return None;
    }
    let how = match rule {
        PrincipalRule::Implied => PrincipalMatch::Direct,
        PrincipalRule::Named { boundary_attached } => {
            match principal_match(st, &req.principal, boundary_attached) {
                Some(how) => how,
                None => {
                    t.statement(site, st, || "principal not named".to_string());
                    return None;
                }
            }
        }
    };
    if let Some(failed) = st.failing_condition(ctx) {
        t.statement(site, st, || crate::trace::condition_failed(st, failed, ctx));
        return None;
    }
    t.statement(site, st, || crate::trace::applied(st, ctx));
    Some(how)
}

fn principal_match(
    st: &Statement,
    p: &Principal,
    boundary_attached: bool,
) -> Option<PrincipalMatch> {
    let clause = st.principal.as_ref()?;
    if !clause.negated {
        return principal::best_match(&clause.entries, p);
    }
    // AWS: a Deny with NotPrincipal always denies principals with a permissions boundary.
    let forced = boundary_attached && st.effect == Effect::Deny;
    (forced || !principal::excluded_by_not_principal(&clause.entries, p))
        .then_some(PrincipalMatch::Direct)
}
