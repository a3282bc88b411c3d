//! Audit records: one per API call, allowed or denied, shaped like a CloudTrail event.

use serde::{Deserialize, Serialize};

/// A recorded call. `detail` holds the CloudTrail-shaped event document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub event_id: String,
    /// Milliseconds since the Unix epoch.
    pub time_ms: i64,
    pub account: String,
    pub event_name: String,
    pub event_source: String,
    pub user_name: String,
    pub access_key_id: String,
    /// The decision trace of a denial; kept apart from the CloudTrail document.
    pub trace: Vec<String>,
    pub detail: serde_json::Value,
}

/// A filter over audit records, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub account: Option<String>,
    pub event_name: Option<String>,
    pub user_name: Option<String>,
    pub access_key_id: Option<String>,
    pub event_id: Option<String>,
    pub event_source: Option<String>,
    /// The CloudTrail event's `readOnly`.
    pub read_only: Option<bool>,
    pub start_ms: Option<i64>,
    pub end_ms: Option<i64>,
    /// Skip events at or after this (time, id) position: the pagination cursor.
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

/// One authorization decision taken during a call, with everything needed to decide
/// it again: the principal, action, resource, whether a resource-based policy took
/// part, and the full request context. Kept in the CloudTrail document under
/// `additionalEventData.authorizations`, so older records (without it) still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationRecord {
    pub principal: String,
    pub action: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_account: Option<String>,
    /// A resource-based policy (e.g. a sending authorization policy) took part.
    #[serde(default)]
    pub resource_policy: bool,
    pub context: Vec<ContextEntry>,
    /// `allowed`, `explicitDeny` or `implicitDeny`.
    pub decision: String,
    /// The layer that denied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_by: Option<String>,
    /// The statements that decided a denial (the explicit denies); empty when allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<MatchedStatement>,
}

/// One condition key of a recorded request context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextEntry {
    pub key: String,
    pub values: Vec<String>,
    /// Given as a list (multivalued), whatever the number of values.
    #[serde(default)]
    pub multi: bool,
}

/// A statement that decided a recorded denial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchedStatement {
    pub layer: String,
    pub policy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

impl AuditEvent {
    /// The authorization decisions recorded with this call, in the order taken.
    pub fn authorizations(&self) -> Vec<AuthorizationRecord> {
        self.detail
            .get("additionalEventData")
            .and_then(|d| d.get("authorizations"))
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default()
    }

    /// Adds the call's authorization decisions to its CloudTrail document.
    pub fn set_authorizations(&mut self, records: &[AuthorizationRecord]) {
        if records.is_empty() {
            return;
        }
        let (Ok(value), Some(detail)) =
            (serde_json::to_value(records), self.detail.as_object_mut())
        else {
            return;
        };
        let extra = detail
            .entry("additionalEventData")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(extra) = extra.as_object_mut() {
            extra.insert("authorizations".into(), value);
        }
    }
}
