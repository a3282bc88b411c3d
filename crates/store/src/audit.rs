//! Audit records: one per API call, allowed or denied, shaped like a CloudTrail event.

use serde::{Deserialize, Serialize};

/// A recorded call. `detail` holds the CloudTrail-shaped event document; the call's
/// authorization decisions are kept beside it, typed (`cloudtrail_document` shows them
/// under `additionalEventData.authorizations`, where records written before this field
/// existed keep them).
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
    /// The authorization decisions taken for the call, in the order taken.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub authorizations: Vec<AuthorizationRecord>,
}

/// An audit record ready to append: the fields the log is searched by, and the record
/// itself as an [`AuditEvent`] JSON document. Encoded on the caller's thread, so the
/// log's writer only writes.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedAudit {
    pub event_id: String,
    pub time_ms: i64,
    pub account: String,
    pub event_name: String,
    pub event_source: String,
    pub user_name: String,
    pub access_key_id: String,
    /// An [`AuditEvent`] document with the fields above.
    pub body: String,
}

impl EncodedAudit {
    pub fn new(event: &AuditEvent) -> crate::Result<EncodedAudit> {
        Ok(EncodedAudit {
            event_id: event.event_id.clone(),
            time_ms: event.time_ms,
            account: event.account.clone(),
            event_name: event.event_name.clone(),
            event_source: event.event_source.clone(),
            user_name: event.user_name.clone(),
            access_key_id: event.access_key_id.clone(),
            body: serde_json::to_string(event).map_err(crate::StoreError::Encode)?,
        })
    }
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
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
    pub fn recorded_authorizations(&self) -> Vec<AuthorizationRecord> {
        if !self.authorizations.is_empty() {
            return self.authorizations.clone();
        }
        self.detail
            .get("additionalEventData")
            .and_then(|d| d.get("authorizations"))
            .and_then(|a| serde_json::from_value(a.clone()).ok())
            .unwrap_or_default()
    }

    /// The CloudTrail event document, the authorization decisions under
    /// `additionalEventData.authorizations`.
    pub fn cloudtrail_document(&self) -> serde_json::Value {
        let mut document = self.detail.clone();
        if self.authorizations.is_empty() {
            return document;
        }
        let (Ok(records), Some(fields)) = (
            serde_json::to_value(&self.authorizations),
            document.as_object_mut(),
        ) else {
            return document;
        };
        let extra = fields
            .entry("additionalEventData")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(extra) = extra.as_object_mut() {
            extra.insert("authorizations".into(), records);
        }
        document
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> AuthorizationRecord {
        AuthorizationRecord {
            principal: "arn:aws:iam::111111111111:user/alice".into(),
            action: "ses:SendEmail".into(),
            resource: "arn:aws:ses:us-east-1:111111111111:identity/example.com".into(),
            resource_account: None,
            resource_policy: false,
            context: vec![ContextEntry {
                key: "ses:fromaddress".into(),
                values: vec!["a@example.com".into()],
                multi: false,
            }],
            decision: "allowed".into(),
            denied_by: None,
            matched: Vec::new(),
        }
    }

    fn event(detail: serde_json::Value, authorizations: Vec<AuthorizationRecord>) -> AuditEvent {
        AuditEvent {
            event_id: "e".into(),
            time_ms: 0,
            account: "111111111111".into(),
            event_name: "SendEmail".into(),
            event_source: "ses.amazonaws.com".into(),
            user_name: "alice".into(),
            access_key_id: "AKIA".into(),
            trace: Vec::new(),
            detail,
            authorizations,
        }
    }

    #[test]
    fn the_cloudtrail_document_shows_the_decisions_under_additional_event_data() {
        let stored = event(json!({"eventName": "SendEmail"}), vec![record()]);
        let read: AuditEvent =
            serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
        assert_eq!(read, stored);
        let document = read.cloudtrail_document();
        assert_eq!(document["eventName"], "SendEmail");
        assert_eq!(
            document["additionalEventData"]["authorizations"][0]["action"],
            "ses:SendEmail"
        );
        assert_eq!(read.recorded_authorizations(), vec![record()]);
    }

    #[test]
    fn records_that_kept_decisions_inside_the_document_still_read() {
        let legacy = json!({"additionalEventData": {"authorizations": [record()]}});
        let read: AuditEvent = serde_json::from_value(json!({
            "event_id": "e", "time_ms": 0, "account": "111111111111", "event_name": "SendEmail",
            "event_source": "ses.amazonaws.com", "user_name": "alice", "access_key_id": "AKIA",
            "trace": [], "detail": legacy,
        }))
        .unwrap();
        assert!(read.authorizations.is_empty());
        assert_eq!(read.recorded_authorizations(), vec![record()]);
        assert_eq!(read.cloudtrail_document(), read.detail);
        let without = event(json!({}), Vec::new());
        assert!(without.recorded_authorizations().is_empty());
        assert_eq!(without.cloudtrail_document(), json!({}));
    }
}
