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
