//! `policy validate`: every finding of a policy document, errors and warnings, with
//! positions, including the rules that depend on the policy's type.

use crate::grammar::{Finding, Findings, Severity};
use crate::json::{self, Json};

/// What a policy is used as; some elements are required or forbidden by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Identity-based, permissions boundary, session policy, SCP or RCP: no Principal.
    Identity,
    /// Resource-based (e.g. an SES sending authorization policy): Principal required.
    Resource,
}

/// Validates a policy text. With `kind` absent, a policy naming a Principal anywhere is
/// taken as resource-based, otherwise identity-based.
pub fn validate(text: &str, kind: Option<PolicyKind>) -> Vec<Finding> {
    let json = match json::parse(text) {
        Ok(j) => j,
        Err(e) => {
            return vec![Finding {
                at: e.at,
                severity: Severity::Error,
                message: e.kind.to_string(),
            }]
        }
    };
    let mut findings = Findings::default();
    if crate::policy::compile(&json, &mut findings).is_some() {
        let kind = kind.unwrap_or_else(|| guess_kind(&json));
        check_kind(&json, kind, &mut findings);
    }
    let mut all = findings.0;
    all.sort_by_key(|f| (f.at.offset, f.severity));
    all.dedup();
    all
}

/// True when no finding is an error.
pub fn is_valid(findings: &[Finding]) -> bool {
    findings.iter().all(|f| f.severity != Severity::Error)
}

fn statements(json: &Json) -> Vec<&Json> {
    match json.get("Statement") {
        Some(s) => s.as_array().map_or_else(|| vec![s], |a| a.iter().collect()),
        None => Vec::new(),
    }
}

fn guess_kind(json: &Json) -> PolicyKind {
    let named = statements(json)
        .iter()
        .any(|s| s.get("Principal").is_some() || s.get("NotPrincipal").is_some());
    if named {
        PolicyKind::Resource
    } else {
        PolicyKind::Identity
    }
}

fn check_kind(json: &Json, kind: PolicyKind, findings: &mut Findings) {
    for s in statements(json) {
        let principal = s.get("Principal").or_else(|| s.get("NotPrincipal"));
        let has_resource = s.get("Resource").is_some() || s.get("NotResource").is_some();
        match (kind, principal) {
            (PolicyKind::Identity, Some(p)) => findings.error(p.at, "an identity-based policy cannot name a Principal: the principal is whoever the policy is attached to; remove it, or attach this statement to the resource instead"),
            (PolicyKind::Resource, None) => findings.error(s.at, "a resource-based policy statement needs a Principal: without one it applies to nobody"),
            _ => {}
        }
        if kind == PolicyKind::Identity && !has_resource {
            findings.error(s.at, "the statement needs a Resource or NotResource element (use \"*\" for all resources)");
        }
        if let (Some(p), Some("Allow")) = (
            s.get("NotPrincipal"),
            s.get("Effect").and_then(Json::as_str),
        ) {
            findings.warning(p.at, "NotPrincipal with Allow grants access to everyone not listed, anonymous callers included; name the principals in Principal instead");
        }
    }
}
