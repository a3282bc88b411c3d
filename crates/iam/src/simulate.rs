//! IAM's policy simulator: SimulatePrincipalPolicy (the policies of a user, group or
//! role, plus optional extra ones) and SimulateCustomPolicy (only the given ones),
//! decided by the policy engine and reported the way IAM reports them: matched
//! statements with their source and position, missing context keys, and what the
//! organization's SCPs and the permissions boundary decided.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, ControlPolicy, Group, Permissions, Role, User};
use crate::{managed, org, Iam, IamError};
use policy::explain::{self, Span};
use policy::principal::Caller as PrincipalKind;
use policy::{Context, Layer, Outcome, PolicySet, Principal, Request, StatementRef};
use std::sync::Arc;
use store::Docs;

/// The request side of a simulation, shared by both operations.
#[derive(Debug, Clone, Default)]
pub struct SimulationInput {
    pub action_names: Vec<String>,
    /// Empty means `*`.
    pub resource_arns: Vec<String>,
    pub resource_policy: Option<String>,
    /// An account id (or an ARN naming one) owning the simulated resources.
    pub resource_owner: Option<String>,
    pub caller_arn: Option<String>,
    pub context_entries: Vec<ContextEntry>,
    pub policy_inputs: Vec<String>,
    pub boundary_inputs: Vec<String>,
}

/// One `ContextEntries` member.
#[derive(Debug, Clone, Default)]
pub struct ContextEntry {
    pub key: String,
    pub values: Vec<String>,
    pub kind: Option<String>,
}

/// One `EvaluationResults` member: one action on one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationResult {
    pub action: String,
    pub resource: String,
    pub decision: Outcome,
    pub matched: Vec<MatchedStatement>,
    pub missing_context: Vec<String>,
    pub allowed_by_organizations: Option<bool>,
    pub allowed_by_boundary: Option<bool>,
    /// `None` for `*`; empty for a resource of the caller's account; each side's
    /// decision (`IAM Policy`, `Resource Policy`) across accounts.
    pub decision_details: Option<Vec<(&'static str, Outcome)>>,
}

/// One `MatchedStatements` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedStatement {
    pub source_policy_id: String,
    /// `user`, `group`, `role`, `aws-managed`, `user-managed`, `resource` or `none`.
    pub source_policy_type: &'static str,
    pub span: Option<Span>,
}

/// Where a policy of the simulated set came from.
#[derive(Debug, Clone)]
struct Source {
    id: String,
    kind: &'static str,
    spans: Vec<Span>,
}

/// A policy set with the source of every policy, layer by layer in the same order.
#[derive(Default)]
struct Sourced {
    set: PolicySet,
    identity: Vec<Source>,
    boundary: Option<Source>,
    resource: Option<Source>,
    scps: Vec<Vec<Source>>,
}

impl Sourced {
    fn source(&self, s: StatementRef) -> Option<&Source> {
        match s.layer {
            Layer::Identity => self.identity.get(s.policy),
            Layer::Boundary => self.boundary.as_ref(),
            Layer::Resource => self.resource.as_ref(),
            Layer::Scp => self.scps.get(s.level)?.get(s.policy),
            Layer::Session | Layer::Rcp => None,
        }
    }
}

const CONTEXT_KEY_TYPES: &[&str] = &[
    "string",
    "stringList",
    "numeric",
    "numericList",
    "boolean",
    "booleanList",
    "ip",
    "ipList",
    "binary",
    "binaryList",
    "date",
    "dateList",
];

/// The entity a `PolicySourceArn` names.
enum SourceEntity {
    User(User),
    Group(Group),
    Role(Role),
}

impl Iam {
    /// SimulatePrincipalPolicy: the policies of the user (with its groups'), group or
    /// role named by `source_arn`, plus the input policies.
    pub fn simulate_principal_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        source_arn: &str,
        input: &SimulationInput,
    ) -> Result<Vec<EvaluationResult>, IamError> {
        self.allow(caller, info, "iam:SimulatePrincipalPolicy", source_arn)?;
        check_input(input)?;
        let entity = self.source_entity(&caller.account, source_arn)?;
        let mut sourced = Sourced::default();
        self.read(|tx| self.entity_sources(tx, &entity, &mut sourced))?;
        let account = entity_account(&entity).to_string();
        let membership = self.read(|tx| org::membership(self, tx, &account))?;
        if let Some(levels) = membership.scps {
            sourced.scps = self.read(|tx| scp_sources(tx, &levels))?;
            sourced.set.scps = Some(levels);
        }
        self.add_inputs(&mut sourced, input)?;
        let principal = match &input.caller_arn {
            Some(arn) => caller_principal(arn)?,
            None => entity_principal(&entity, input)?,
        };
        Ok(run(&sourced, &principal, input))
    }

    /// SimulateCustomPolicy: only the input policies.
    pub fn simulate_custom_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        input: &SimulationInput,
    ) -> Result<Vec<EvaluationResult>, IamError> {
        self.allow(caller, info, "iam:SimulateCustomPolicy", "*")?;
        check_input(input)?;
        if input.policy_inputs.is_empty() {
            return Err(IamError::InvalidInput(
                "PolicyInputList must contain at least one policy document.".into(),
            ));
        }
        let mut sourced = Sourced::default();
        self.add_inputs(&mut sourced, input)?;
        let principal = match &input.caller_arn {
            Some(arn) => caller_principal(arn)?,
            None => placeholder_principal(&caller.account, "simulated-caller"),
        };
        Ok(run(&sourced, &principal, input))
    }

    fn source_entity(&self, account: &str, arn: &str) -> Result<SourceEntity, IamError> {
        let invalid = || IamError::InvalidInput(format!("Invalid ARN: {arn}"));
        let [_, _, service, _, arn_account, resource] =
            policy::arn::split(arn).ok_or_else(invalid)?;
        let (kind, rest) = resource.split_once('/').ok_or_else(invalid)?;
        let name = rest.rsplit('/').next().unwrap_or_default();
        if service != "iam" || name.is_empty() {
            return Err(invalid());
        }
        let missing =
            || IamError::NoSuchEntity(format!("The {kind} with name {name} cannot be found."));
        if arn_account != account {
            return Err(missing());
        }
        match kind {
            "user" => self.load_user(account, name).map(SourceEntity::User),
            "group" => self.load_group(account, name).map(SourceEntity::Group),
            "role" => self.load_role(account, name).map(SourceEntity::Role),
            _ => Err(invalid()),
        }
    }

    /// The identity policies and boundary of the simulated entity.
    fn entity_sources(
        &self,
        tx: &mut Docs<'_>,
        entity: &SourceEntity,
        out: &mut Sourced,
    ) -> Result<(), IamError> {
        let boundary = match entity {
            SourceEntity::User(u) => {
                self.permission_sources(tx, &u.account, &u.permissions, "user", out)?;
                for name in &u.groups {
                    let key = model::entity_key(&u.account, name);
                    if let Some(g) = tx.get::<Group>(table::GROUPS, &key)? {
                        self.permission_sources(tx, &g.account, &g.permissions, "group", out)?;
                    }
                }
                u.boundary.as_deref()
            }
            SourceEntity::Group(g) => {
                self.permission_sources(tx, &g.account, &g.permissions, "group", out)?;
                None
            }
            SourceEntity::Role(r) => {
                self.permission_sources(tx, &r.account, &r.permissions, "role", out)?;
                r.boundary.as_deref()
            }
        };
        if let Some(arn) = boundary {
            if let Some((source, text)) = managed_source(tx, "", arn)? {
                out.set.boundary = Some(self.compile_named(&text, &source.id)?);
                out.boundary = Some(source);
            }
        }
        Ok(())
    }

    /// Inline policies (typed `inline_kind`) and attached managed policies.
    fn permission_sources(
        &self,
        tx: &mut Docs<'_>,
        account: &str,
        perms: &Permissions,
        inline_kind: &'static str,
        out: &mut Sourced,
    ) -> Result<(), IamError> {
        for (name, doc) in &perms.inline {
            out.set.identity.push(self.compile_named(doc, name)?);
            out.identity.push(source(name, inline_kind, doc));
        }
        for arn in &perms.attached {
            if let Some((source, text)) = managed_source(tx, account, arn)? {
                out.set
                    .identity
                    .push(self.compile_named(&text, &source.id)?);
                out.identity.push(source);
            }
        }
        Ok(())
    }

    /// PolicyInputList joins the identity policies; a boundary input replaces the
    /// entity's boundary; the resource policy applies to every simulated resource.
    fn add_inputs(&self, out: &mut Sourced, input: &SimulationInput) -> Result<(), IamError> {
        for (i, doc) in input.policy_inputs.iter().enumerate() {
            let id = format!("PolicyInputList.{}", i + 1);
            out.set.identity.push(self.compile_input(doc, &id)?);
            out.identity.push(source(&id, "none", doc));
        }
        if let Some(doc) = input.boundary_inputs.first() {
            let id = "PermissionsBoundaryPolicyInputList.1";
            out.set.boundary = Some(self.compile_input(doc, id)?);
            out.boundary = Some(source(id, "none", doc));
        }
        if let Some(doc) = &input.resource_policy {
            out.set.resource = Some(self.compile_input(doc, "ResourcePolicy")?);
            out.resource = Some(source("ResourcePolicy", "resource", doc));
        }
        Ok(())
    }

    fn compile_named(&self, doc: &str, name: &str) -> Result<Arc<policy::Policy>, IamError> {
        Ok(Arc::new((*self.compile(doc)?).clone().with_name(name)))
    }

    /// An input document; a broken one is the caller's error.
    fn compile_input(&self, doc: &str, id: &str) -> Result<Arc<policy::Policy>, IamError> {
        self.compile_named(doc, id).map_err(|e| match e {
            IamError::MalformedPolicyDocument(m) => {
                IamError::InvalidInput(format!("{id} is not a valid policy document: {m}"))
            }
            other => other,
        })
    }
}

fn source(id: &str, kind: &'static str, text: &str) -> Source {
    Source {
        id: id.to_string(),
        kind,
        spans: explain::statement_spans(text),
    }
}

/// A managed policy's source and default document, if it exists and is visible.
fn managed_source(
    tx: &mut Docs<'_>,
    account: &str,
    arn: &str,
) -> Result<Option<(Source, String)>, IamError> {
    let Some(p) = managed::find(tx, arn)? else {
        return Ok(None);
    };
    if !account.is_empty() && p.account != "aws" && p.account != account {
        return Ok(None);
    }
    let Some(text) = p.default_document().map(str::to_string) else {
        return Ok(None);
    };
    let kind = if p.account == "aws" {
        "aws-managed"
    } else {
        "user-managed"
    };
    Ok(Some((source(&p.name, kind, &text), text)))
}

/// Sources of the SCP levels (compiled policies are named by their policy id).
fn scp_sources(
    tx: &mut Docs<'_>,
    levels: &[Vec<Arc<policy::Policy>>],
) -> Result<Vec<Vec<Source>>, IamError> {
    let mut out = Vec::new();
    for level in levels {
        let mut sources = Vec::new();
        for p in level {
            let id = p.name.clone().unwrap_or_default();
            let text = tx
                .get::<ControlPolicy>(table::CONTROL_POLICIES, &id)?
                .map(|c| c.content)
                .unwrap_or_default();
            sources.push(source(&id, "none", &text));
        }
        out.push(sources);
    }
    Ok(out)
}

fn check_input(input: &SimulationInput) -> Result<(), IamError> {
    if input.action_names.is_empty() {
        return Err(IamError::InvalidInput(
            "ActionNames must contain at least one action.".into(),
        ));
    }
    for action in &input.action_names {
        let well_formed = action
            .split_once(':')
            .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
        if !well_formed {
            return Err(IamError::InvalidInput(format!(
                "Invalid action name {action}: an action name looks like service:ActionName."
            )));
        }
    }
    if input.boundary_inputs.len() > 1 {
        return Err(IamError::InvalidInput(
            "PermissionsBoundaryPolicyInputList can contain only one policy document.".into(),
        ));
    }
    for entry in &input.context_entries {
        if entry.key.is_empty() {
            return Err(IamError::InvalidInput(
                "ContextKeyName is required in every context entry.".into(),
            ));
        }
        if let Some(kind) = &entry.kind {
            if !CONTEXT_KEY_TYPES.contains(&kind.as_str()) {
                return Err(IamError::InvalidInput(format!(
                    "Invalid ContextKeyType {kind} for context key {}.",
                    entry.key
                )));
            }
        }
    }
    Ok(())
}

/// `CallerArn`: only an IAM user may be named.
fn caller_principal(arn: &str) -> Result<Principal, IamError> {
    match Principal::parse(arn) {
        Ok(p) if matches!(p.caller, PrincipalKind::User { .. }) => Ok(p),
        _ => Err(IamError::InvalidInput(format!(
            "Invalid CallerArn {arn}: only the ARN of an IAM user can be the simulated caller."
        ))),
    }
}

/// The simulated caller when no CallerArn is given: the user itself, the role acting
/// without a session, or for a group a stand-in with no user name (so policy
/// variables such as `${aws:username}` stay unresolved unless given as context).
fn entity_principal(entity: &SourceEntity, input: &SimulationInput) -> Result<Principal, IamError> {
    match entity {
        SourceEntity::User(u) => Principal::parse(&crate::users::user_arn(u))
            .map_err(|e| IamError::InvalidInput(e.to_string())),
        _ if input.resource_policy.is_some() => Err(IamError::InvalidInput(
            "CallerArn must be specified when a ResourcePolicy is given and the PolicySourceArn is not an IAM user.".into(),
        )),
        SourceEntity::Role(r) => Principal::parse(&crate::roles::role_arn(r))
            .map_err(|e| IamError::InvalidInput(e.to_string())),
        SourceEntity::Group(g) => Ok(placeholder_principal(&g.account, &g.name)),
    }
}

/// A caller of `account` that is neither root nor a user.
fn placeholder_principal(account: &str, name: &str) -> Principal {
    Principal {
        arn: format!("arn:aws:iam::{account}:role/{name}"),
        partition: "aws".to_string(),
        account: account.to_string(),
        caller: PrincipalKind::Role {
            name: name.to_string(),
        },
    }
}

fn entity_account(entity: &SourceEntity) -> &str {
    match entity {
        SourceEntity::User(u) => &u.account,
        SourceEntity::Group(g) => &g.account,
        SourceEntity::Role(r) => &r.account,
    }
}

/// Every action on every resource, actions outermost.
fn run(sourced: &Sourced, principal: &Principal, input: &SimulationInput) -> Vec<EvaluationResult> {
    let star = ["*".to_string()];
    let resources: &[String] = if input.resource_arns.is_empty() {
        &star
    } else {
        &input.resource_arns
    };
    let owner = input.resource_owner.as_deref().map(owner_account);
    let mut results = Vec::new();
    for action in &input.action_names {
        for resource in resources {
            let request = Request::new(
                principal.clone(),
                action,
                resource,
                owner.clone(),
                context(&input.context_entries),
            );
            results.push(evaluate_one(sourced, &request));
        }
    }
    results
}

/// `ResourceOwner` may be an account id or an ARN naming the account.
fn owner_account(owner: &str) -> String {
    policy::arn::account(owner).unwrap_or(owner).to_string()
}

fn context(entries: &[ContextEntry]) -> Context {
    let mut ctx = Context::default();
    for e in entries {
        ctx.insert(&e.key, e.values.clone());
    }
    ctx
}

fn evaluate_one(sourced: &Sourced, req: &Request) -> EvaluationResult {
    let set = &sourced.set;
    let (decision, matched) = policy::evaluate_matched(set, req);
    let details = explain::details(set, req, &matched);
    let deciding = explain::deciding_statements(set, &decision, &matched);
    // AWS leaves the details out for `*` and when an SCP ends the evaluation.
    let decision_details = if req.resource.text == "*" || decision.denied_by == Some(Layer::Scp) {
        None
    } else if req
        .resource_account
        .as_deref()
        .is_none_or(|a| a == req.principal.account)
    {
        Some(Vec::new())
    } else {
        Some(vec![
            ("IAM Policy", details.identity),
            ("Resource Policy", details.resource),
        ])
    };
    EvaluationResult {
        action: req.action.clone(),
        resource: req.resource.text.clone(),
        decision: decision.outcome,
        matched: deciding
            .into_iter()
            .filter_map(|s| matched_statement(sourced, s))
            .collect(),
        missing_context: explain::missing_context_keys(set, req),
        allowed_by_organizations: details.allowed_by_organizations,
        allowed_by_boundary: details.allowed_by_boundary,
        decision_details,
    }
}

fn matched_statement(sourced: &Sourced, s: StatementRef) -> Option<MatchedStatement> {
    let source = sourced.source(s)?;
    Some(MatchedStatement {
        source_policy_id: source.id.clone(),
        source_policy_type: source.kind,
        span: source.spans.get(s.statement).copied(),
    })
}
