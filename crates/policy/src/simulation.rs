//! Simulation documents (CONTRACT §3): a request and the policies that bear on it, read
//! from one JSON object, an array of them, or JSON Lines.

use crate::context::Context;
use crate::eval::{PolicySet, Request};
use crate::json::{self, Json, JsonValue, Position};
use crate::policy::Policy;
use crate::principal::Principal;
use std::sync::Arc;

/// One simulation, ready to evaluate.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub name: Option<String>,
    pub request: Request,
    pub policies: PolicySet,
}

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {message}", .at.line, .at.col)]
pub struct SimulationError {
    pub at: Position,
    pub message: String,
}

/// One input document: its name (when readable) and the simulation or the error.
pub type Item = (Option<String>, Result<Simulation, SimulationError>);

/// Reads every document of an input text.
pub fn read_all(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    for value in json::parse_stream(text) {
        match value {
            Ok(Json {
                value: JsonValue::Array(docs),
                ..
            }) => items.extend(docs.iter().map(read_item)),
            Ok(doc) => items.push(read_item(&doc)),
            Err(e) => items.push((
                None,
                Err(SimulationError {
                    at: e.at,
                    message: e.kind.to_string(),
                }),
            )),
        }
    }
    items
}

fn read_item(doc: &Json) -> Item {
    let name = doc.get("name").and_then(Json::as_str).map(str::to_string);
    (name.clone(), read(doc, name))
}

fn fail<T>(at: Position, message: impl Into<String>) -> Result<T, SimulationError> {
    Err(SimulationError {
        at,
        message: message.into(),
    })
}

fn read(doc: &Json, name: Option<String>) -> Result<Simulation, SimulationError> {
    if doc.as_object().is_none() {
        return fail(
            doc.at,
            format!(
                "a simulation document must be an object, not {}",
                doc.type_name()
            ),
        );
    }
    let Some(request) = doc.get("request") else {
        return fail(doc.at, "missing `request`");
    };
    Ok(Simulation {
        name,
        request: read_request(request)?,
        policies: PolicySet {
            identity: policy_list(doc.get("identityPolicies"), "identityPolicies")?,
            boundary: optional_policy(doc.get("permissionsBoundary"))?,
            session: optional_policy(doc.get("sessionPolicy"))?,
            resource: optional_policy(doc.get("resourcePolicy"))?,
            scps: levels(doc.get("serviceControlPolicies"), "serviceControlPolicies")?,
            rcps: levels(
                doc.get("resourceControlPolicies"),
                "resourceControlPolicies",
            )?,
        },
    })
}

fn read_request(r: &Json) -> Result<Request, SimulationError> {
    let text = |field: &str| -> Result<Option<&str>, SimulationError> {
        match r.get(field) {
            None => Ok(None),
            Some(v) if v.is_null() => Ok(None),
            Some(v) => match v.as_str() {
                Some(s) => Ok(Some(s)),
                None => fail(v.at, format!("`request.{field}` must be a string")),
            },
        }
    };
    let Some(principal_text) = text("principal")? else {
        return fail(r.at, "missing `request.principal`");
    };
    let principal = Principal::parse(principal_text).map_err(|e| SimulationError {
        at: r.get("principal").map_or(r.at, |p| p.at),
        message: e.to_string(),
    })?;
    let Some(action) = text("action")? else {
        return fail(r.at, "missing `request.action`");
    };
    let resource = text("resource")?.unwrap_or("*");
    let resource_account = text("resourceAccount")?.map(str::to_string);
    let context = match r.get("context") {
        None => Context::default(),
        Some(c) if c.is_null() => Context::default(),
        Some(c) => read_context(c)?,
    };
    Ok(Request::new(
        principal,
        action,
        resource,
        resource_account,
        context,
    ))
}

fn read_context(c: &Json) -> Result<Context, SimulationError> {
    let Some(members) = c.as_object() else {
        return fail(
            c.at,
            "`request.context` must be an object of keys to values",
        );
    };
    let mut ctx = Context::default();
    for m in members {
        match &m.value.value {
            JsonValue::Array(items) => {
                let values = items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?;
                ctx.insert_list(&m.key, values);
            }
            _ => ctx.insert(&m.key, vec![scalar(&m.value)?]),
        }
    }
    Ok(ctx)
}

fn scalar(v: &Json) -> Result<String, SimulationError> {
    match &v.value {
        JsonValue::String(s) => Ok(s.clone()),
        JsonValue::Number(n) => Ok(n.clone()),
        JsonValue::Bool(b) => Ok(b.to_string()),
        _ => fail(
            v.at,
            format!(
                "a context value must be a string (or an array of strings), not {}",
                v.type_name()
            ),
        ),
    }
}

/// A policy document given as an object, or as a JSON string holding one.
fn policy(v: &Json) -> Result<Arc<Policy>, SimulationError> {
    let compiled = match v.as_str() {
        Some(text) => Policy::parse(text),
        None => Policy::from_json(v),
    };
    compiled.map(Arc::new).map_err(|e| SimulationError {
        at: v.at,
        message: format!("invalid policy: {e}"),
    })
}

fn optional_policy(v: Option<&Json>) -> Result<Option<Arc<Policy>>, SimulationError> {
    match v {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => policy(v).map(Some),
    }
}

fn policy_list(v: Option<&Json>, field: &str) -> Result<Vec<Arc<Policy>>, SimulationError> {
    match v {
        None => Ok(Vec::new()),
        Some(v) if v.is_null() => Ok(Vec::new()),
        Some(v) => match v.as_array() {
            Some(items) => items.iter().map(policy).collect(),
            None => fail(
                v.at,
                format!("`{field}` must be an array of policy documents"),
            ),
        },
    }
}

fn levels(v: Option<&Json>, field: &str) -> Result<Option<Vec<Vec<Arc<Policy>>>>, SimulationError> {
    match v {
        None => Ok(None),
        Some(v) if v.is_null() => Ok(None),
        Some(v) => match v.as_array() {
            Some(levels) => levels.iter().map(|l| policy_list(Some(l), field)).collect::<Result<_, _>>().map(Some),
            None => fail(v.at, format!("`{field}` must be null or an array of levels, each an array of policy documents")),
        },
    }
}
