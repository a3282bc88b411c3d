//! IAM's policy simulator on the Query API: SimulatePrincipalPolicy and
//! SimulateCustomPolicy, with `SimulatePolicyResponse`'s XML shape and
//! MaxItems/Marker pagination over the evaluation results.

use crate::protocol::{ApiError, Call, Params, Reply};
use crate::server::{AppState, IAM_NAMESPACE};
use crate::xml::{query_response, Xml};
use iam::simulate::{ContextEntry, EvaluationResult, MatchedStatement, SimulationInput};

const DEFAULT_MAX_ITEMS: usize = 100;

pub fn handle(state: &AppState, call: &Call, p: &Params) -> Result<Reply, ApiError> {
    let iam = &state.iam;
    let (c, i) = (call.caller.as_ref(), &call.info);
    let input = input(p);
    let results = match call.action.as_str() {
        "SimulatePrincipalPolicy" => {
            iam.simulate_principal_policy(c, i, p.required("PolicySourceArn")?, &input)?
        }
        "SimulateCustomPolicy" => {
            if input.policy_inputs.is_empty() {
                return Err(ApiError::missing("PolicyInputList"));
            }
            iam.simulate_custom_policy(c, i, &input)?
        }
        other => return Err(ApiError::invalid_action(other, p)),
    };
    let (start, max) = page(p)?;
    let end = results.len().min(start.saturating_add(max));
    let mut x = Xml::default();
    x.open("EvaluationResults");
    for r in results.get(start..end).unwrap_or_default() {
        x.open("member");
        evaluation_result(&mut x, r);
        x.close("member");
    }
    x.close("EvaluationResults");
    if end < results.len() {
        x.leaf("IsTruncated", "true")
            .leaf("Marker", &end.to_string());
    } else {
        x.leaf("IsTruncated", "false");
    }
    Ok(Reply::xml(query_response(
        IAM_NAMESPACE,
        &call.action,
        &x.into_string(),
        &call.request_id,
    )))
}

/// The request members both operations share.
fn input(p: &Params) -> SimulationInput {
    let strings =
        |name: &str| -> Vec<String> { p.members(name).into_iter().map(str::to_string).collect() };
    SimulationInput {
        action_names: strings("ActionNames"),
        resource_arns: strings("ResourceArns"),
        resource_policy: p.get("ResourcePolicy").map(str::to_string),
        resource_owner: p.get("ResourceOwner").map(str::to_string),
        caller_arn: p.get("CallerArn").map(str::to_string),
        context_entries: p
            .structs("ContextEntries")
            .iter()
            .map(|e| ContextEntry {
                key: e.get("ContextKeyName").unwrap_or_default().to_string(),
                values: e
                    .members("ContextKeyValues")
                    .into_iter()
                    .map(str::to_string)
                    .collect(),
                kind: e.get("ContextKeyType").map(str::to_string),
            })
            .collect(),
        policy_inputs: strings("PolicyInputList"),
        boundary_inputs: strings("PermissionsBoundaryPolicyInputList"),
    }
}

/// (first result index, page size) from `Marker` and `MaxItems`.
fn page(p: &Params) -> Result<(usize, usize), ApiError> {
    let max = match p.integer("MaxItems")? {
        None => DEFAULT_MAX_ITEMS,
        Some(n) if (1..=1000).contains(&n) => usize::try_from(n).unwrap_or(DEFAULT_MAX_ITEMS),
        Some(n) => {
            return Err(ApiError::new(
                400,
                "ValidationError",
                format!("1 validation error detected: Value '{n}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000"),
            ))
        }
    };
    let start = match p.get("Marker") {
        None => 0,
        Some(m) => m.parse::<usize>().map_err(|_| {
            ApiError::new(
                400,
                "InvalidInput",
                format!("Invalid Marker {m}: use the Marker of the previous response."),
            )
        })?,
    };
    Ok((start, max))
}

fn evaluation_result(x: &mut Xml, r: &EvaluationResult) {
    x.leaf("EvalActionName", &r.action)
        .leaf("EvalResourceName", &r.resource)
        .leaf("EvalDecision", r.decision.as_str());
    matched_statements(x, &r.matched);
    missing_context(x, &r.missing_context);
    if let Some(allowed) = r.allowed_by_organizations {
        x.open("OrganizationsDecisionDetail")
            .leaf("AllowedByOrganizations", bool_text(allowed))
            .close("OrganizationsDecisionDetail");
    }
    boundary_detail(x, r.allowed_by_boundary);
    decision_details(x, r);
    if r.resource != "*" {
        x.open("ResourceSpecificResults").open("member");
        x.leaf("EvalResourceName", &r.resource)
            .leaf("EvalResourceDecision", r.decision.as_str());
        matched_statements(x, &r.matched);
        missing_context(x, &r.missing_context);
        decision_details(x, r);
        boundary_detail(x, r.allowed_by_boundary);
        x.close("member").close("ResourceSpecificResults");
    }
}

fn matched_statements(x: &mut Xml, statements: &[MatchedStatement]) {
    x.open("MatchedStatements");
    for s in statements {
        x.open("member")
            .leaf("SourcePolicyId", &s.source_policy_id)
            .leaf("SourcePolicyType", s.source_policy_type);
        if let Some(span) = s.span {
            position(x, "StartPosition", span.start.line, span.start.col);
            position(x, "EndPosition", span.end.line, span.end.col);
        }
        x.close("member");
    }
    x.close("MatchedStatements");
}

fn position(x: &mut Xml, tag: &str, line: u32, col: u32) {
    x.open(tag)
        .leaf("Line", &line.to_string())
        .leaf("Column", &col.to_string())
        .close(tag);
}

fn missing_context(x: &mut Xml, keys: &[String]) {
    x.open("MissingContextValues");
    for k in keys {
        x.leaf("member", k);
    }
    x.close("MissingContextValues");
}

fn boundary_detail(x: &mut Xml, allowed: Option<bool>) {
    if let Some(allowed) = allowed {
        x.open("PermissionsBoundaryDecisionDetail")
            .leaf("AllowedByPermissionsBoundary", bool_text(allowed))
            .close("PermissionsBoundaryDecisionDetail");
    }
}

/// A map in Query XML: `<entry><key>…</key><value>…</value></entry>`.
fn decision_details(x: &mut Xml, r: &EvaluationResult) {
    let Some(details) = &r.decision_details else {
        return;
    };
    x.open("EvalDecisionDetails");
    for (source, outcome) in details {
        x.open("entry")
            .leaf("key", source)
            .leaf("value", outcome.as_str())
            .close("entry");
    }
    x.close("EvalDecisionDetails");
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}
