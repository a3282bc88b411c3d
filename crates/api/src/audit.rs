//! The audit trail: every call, allowed or denied, recorded as a CloudTrail-shaped
//! event. Events are encoded by the caller, queued and written by a background thread
//! in batches, so calls never wait on the audit log's fsync.

use crate::protocol::{ApiError, AuditedParameters};
use iam::{ids, Caller, CallerKind, RequestInfo};
use serde::Serialize;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;
use store::{AuditEvent, AuthorizationRecord, EncodedAudit, Store};

/// Queues audit records for the writer thread.
#[derive(Clone)]
pub struct Auditor {
    queue: SyncSender<EncodedAudit>,
}

const BATCH: usize = 4096;

/// Records waiting to be written at most; when the writer falls behind, calls wait for
/// room (back-pressure) instead of the queue growing without bound.
const QUEUE_LIMIT: usize = 65_536;

impl Auditor {
    /// Starts the writer thread. It ends, after writing what is queued, when every
    /// `Auditor` clone is dropped.
    pub fn start(store: Store) -> (Auditor, std::thread::JoinHandle<()>) {
        let (queue, rx) = mpsc::sync_channel(QUEUE_LIMIT);
        let writer = std::thread::Builder::new()
            .name("audit-writer".into())
            .spawn(move || write_batches(&store, &rx))
            .unwrap_or_else(|e| panic!("cannot start the audit writer thread: {e}"));
        (Auditor { queue }, writer)
    }

    /// Records the event of an API call.
    pub fn record_call(&self, event: CallEvent) {
        self.queue_encoded(event.encode());
    }

    /// Records an event made elsewhere (SMTP submissions).
    pub fn record(&self, event: &AuditEvent) {
        self.queue_encoded(EncodedAudit::new(event));
    }

    /// Encoding happens on the caller's thread: the writer only writes, and what the
    /// event held is freed where it was allocated.
    fn queue_encoded(&self, encoded: store::Result<EncodedAudit>) {
        let queued = match encoded {
            Ok(record) => self.queue.send(record).is_ok(),
            Err(e) => {
                tracing::error!(error = %e, "cannot encode an audit event");
                return;
            }
        };
        if !queued {
            tracing::error!("audit writer has stopped; an audit event was not recorded");
        }
    }
}

/// How long the writer gathers records after the first of a batch. Gathering by
/// sleeping, not by waiting on the queue, spares the callers a wake-up of this
/// thread per record.
const GATHER: Duration = Duration::from_millis(5);

fn write_batches(store: &Store, rx: &Receiver<EncodedAudit>) {
    while let Ok(first) = rx.recv() {
        std::thread::sleep(GATHER);
        let mut batch = vec![first];
        batch.extend(rx.try_iter().take(BATCH - 1));
        if let Err(e) = store.append_audit(&batch) {
            tracing::error!(error = %e, events = batch.len(), "cannot write audit events");
        }
    }
}

/// What is known of one call, for its audit event.
pub struct CallRecord<'a> {
    pub request_id: &'a str,
    pub service: &'a str,
    pub action: &'a str,
    pub caller: Option<&'a Caller>,
    pub access_key_id: &'a str,
    pub info: &'a RequestInfo,
    pub parameters: AuditedParameters,
    pub error: Option<&'a ApiError>,
    pub read_only: bool,
}

/// The audit event of an API call, typed: it is encoded straight into the
/// [`AuditEvent`] document the log keeps (the same fields, `detail` being the
/// CloudTrail event), without an intermediate JSON tree.
#[derive(Debug, Serialize)]
pub struct CallEvent {
    event_id: String,
    time_ms: i64,
    account: String,
    pub event_name: String,
    event_source: String,
    user_name: String,
    access_key_id: String,
    trace: Vec<String>,
    detail: CloudTrailEvent,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorizations: Vec<AuthorizationRecord>,
}

/// The CloudTrail record of a call, as LookupEvents returns it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct CloudTrailEvent {
    event_version: &'static str,
    user_identity: UserIdentity,
    event_time: String,
    event_source: String,
    event_name: String,
    aws_region: String,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: String,
    user_agent: String,
    request_parameters: AuditedParameters,
    response_elements: Option<()>,
    #[serde(rename = "requestID")]
    request_id: String,
    #[serde(rename = "eventID")]
    event_id: String,
    read_only: bool,
    event_type: &'static str,
    management_event: bool,
    recipient_account_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(untagged)]
enum UserIdentity {
    #[serde(rename_all = "camelCase")]
    Known {
        #[serde(rename = "type")]
        kind: &'static str,
        principal_id: String,
        arn: String,
        account_id: String,
        access_key_id: String,
        user_name: String,
    },
    #[serde(rename_all = "camelCase")]
    Unknown {
        #[serde(rename = "type")]
        kind: &'static str,
        access_key_id: String,
    },
}

impl CallEvent {
    fn encode(self) -> store::Result<EncodedAudit> {
        let body = serde_json::to_string(&self).map_err(store::StoreError::Encode)?;
        Ok(EncodedAudit {
            event_id: self.event_id,
            time_ms: self.time_ms,
            account: self.account,
            event_name: self.event_name,
            event_source: self.event_source,
            user_name: self.user_name,
            access_key_id: self.access_key_id,
            body,
        })
    }
}

/// Builds the CloudTrail-shaped event of a call.
pub fn event(r: CallRecord<'_>) -> CallEvent {
    let user_identity = match r.caller {
        Some(c) => UserIdentity::Known {
            kind: identity_type(c.kind),
            principal_id: c.user_id.clone(),
            arn: c.arn.clone(),
            account_id: c.account.clone(),
            access_key_id: c.access_key_id.clone(),
            user_name: c.user_name.clone(),
        },
        None => UserIdentity::Unknown {
            kind: "Unknown",
            access_key_id: r.access_key_id.to_string(),
        },
    };
    let event_source = format!("{}.amazonaws.com", r.service);
    let time_ms = r.info.time_ms;
    let event_id = event_id(time_ms);
    let account = r.caller.map(|c| c.account.clone()).unwrap_or_default();
    let detail = CloudTrailEvent {
        event_version: "1.08",
        user_identity,
        event_time: ids::iso8601(time_ms),
        event_source: event_source.clone(),
        event_name: r.action.to_string(),
        aws_region: r.info.region.clone(),
        source_ip_address: r.info.source_ip.clone(),
        user_agent: r.info.user_agent.clone(),
        request_parameters: r.parameters,
        response_elements: None,
        request_id: r.request_id.to_string(),
        event_id: event_id.clone(),
        read_only: r.read_only,
        event_type: "AwsApiCall",
        management_event: true,
        recipient_account_id: account.clone(),
        error_code: None,
        error_message: None,
    };
    let mut event = CallEvent {
        event_id,
        time_ms,
        account,
        event_name: r.action.to_string(),
        event_source,
        user_name: r.caller.map(|c| c.user_name.clone()).unwrap_or_default(),
        access_key_id: r.access_key_id.to_string(),
        trace: Vec::new(),
        detail,
        authorizations: r.info.decisions.take(),
    };
    if let Some(e) = r.error {
        set_error(&mut event, e);
    }
    event
}

/// A UUID (version 7) that starts with the event's time: ids of events recorded one
/// after another sort together, so the audit log's index on them grows at its end
/// instead of taking a write on a random page per event.
fn event_id(time_ms: i64) -> String {
    let mut bytes = ids::unique_bytes::<16>();
    let millis = u64::try_from(time_ms).unwrap_or(0) & 0xffff_ffff_ffff;
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70 | (bytes[6] & 0x0f);
    bytes[8] = 0x80 | (bytes[8] & 0x3f);
    ids::uuid_text(&bytes)
}

/// Records in a call's event that the call failed with `e`.
pub fn set_error(event: &mut CallEvent, e: &ApiError) {
    event.detail.error_code = Some(e.code.clone());
    event.detail.error_message = Some(e.message.clone());
    event.trace = e.trace.clone();
}

fn identity_type(kind: CallerKind) -> &'static str {
    match kind {
        CallerKind::Root => "Root",
        CallerKind::User | CallerKind::UserSession => "IAMUser",
        CallerKind::AssumedRole => "AssumedRole",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_event_encodes_as_the_record_the_log_reads_back() {
        let info = RequestInfo {
            source_ip: "203.0.113.7".into(),
            region: "eu-west-1".into(),
            user_agent: "aws-cli/2".into(),
            time_ms: 1_795_404_323_277,
            ..RequestInfo::default()
        };
        let mut error = ApiError::new(403, "AccessDenied", "User is not authorized");
        error.trace = vec!["identity: no statement allows".into()];
        let event = event(CallRecord {
            request_id: "req-1",
            service: "ses",
            action: "SendEmail",
            caller: None,
            access_key_id: "AKIAEXAMPLE",
            info: &info,
            parameters: AuditedParameters::Form(vec![("Source".into(), "a@example.com".into())]),
            error: Some(&error),
            read_only: false,
        });
        let encoded = event.encode().unwrap();
        let read: AuditEvent = serde_json::from_str(&encoded.body).unwrap();
        assert_eq!(
            (
                read.event_id.as_str(),
                read.time_ms,
                read.event_name.as_str()
            ),
            (encoded.event_id.as_str(), encoded.time_ms, "SendEmail")
        );
        assert_eq!(read.event_source, "ses.amazonaws.com");
        assert_eq!(read.event_source, encoded.event_source);
        assert_eq!(read.access_key_id, "AKIAEXAMPLE");
        assert_eq!(read.trace, error.trace);
        let d = &read.detail;
        assert_eq!(d["eventID"], read.event_id.as_str());
        assert_eq!(d["eventTime"], "2026-11-23T03:25:23Z");
        assert_eq!(d["eventSource"], "ses.amazonaws.com");
        assert_eq!(d["awsRegion"], "eu-west-1");
        assert_eq!(d["sourceIPAddress"], "203.0.113.7");
        assert_eq!(d["userAgent"], "aws-cli/2");
        assert_eq!(d["requestID"], "req-1");
        assert_eq!(d["requestParameters"]["Source"], "a@example.com");
        assert!(d["responseElements"].is_null() && d.get("responseElements").is_some());
        assert_eq!(d["readOnly"], false);
        assert_eq!(d["userIdentity"]["type"], "Unknown");
        assert_eq!(d["userIdentity"]["accessKeyId"], "AKIAEXAMPLE");
        assert_eq!(d["errorCode"], "AccessDenied");
        assert_eq!(d["errorMessage"], "User is not authorized");
        assert_eq!(d["eventType"], "AwsApiCall");
        assert_eq!(d["managementEvent"], true);
        assert!(read.authorizations.is_empty());
    }

    #[test]
    fn event_ids_are_uuids_that_sort_by_time() {
        let earlier = event_id(1_795_404_323_277);
        let later = event_id(1_795_404_323_278);
        assert!(earlier < later, "{earlier} !< {later}");
        let groups: Vec<usize> = earlier.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert!(earlier.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&earlier[14..15], "7");
        assert!("89ab".contains(&earlier[19..20]));
        assert_ne!(event_id(1), event_id(1));
    }
}
