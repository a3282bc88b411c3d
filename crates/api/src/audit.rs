//! The audit trail: every call, allowed or denied, recorded as a CloudTrail-shaped
//! event. Events are queued and written by a background thread in batches, so calls
//! never wait on the audit log's fsync.

use crate::protocol::ApiError;
use iam::{ids, Caller, CallerKind, RequestInfo};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::time::Duration;
use store::{AuditEvent, Store};

/// Queues audit events for the writer thread.
#[derive(Clone)]
pub struct Auditor {
    queue: SyncSender<AuditEvent>,
}

const BATCH: usize = 4096;

/// Events waiting to be written at most; when the writer falls behind, calls wait for
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

    pub fn record(&self, event: AuditEvent) {
        if self.queue.send(event).is_err() {
            tracing::error!("audit writer has stopped; an audit event was not recorded");
        }
    }
}

/// How long the writer gathers events after the first of a batch. Gathering by
/// sleeping, not by waiting on the queue, spares the callers a wake-up of this
/// thread per event.
const GATHER: Duration = Duration::from_millis(5);

fn write_batches(store: &Store, rx: &Receiver<AuditEvent>) {
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
    pub parameters: serde_json::Value,
    pub error: Option<&'a ApiError>,
    pub read_only: bool,
}

/// Builds the CloudTrail-shaped event of a call.
pub fn event(r: CallRecord<'_>) -> AuditEvent {
    let identity = match r.caller {
        Some(c) => serde_json::json!({
            "type": identity_type(c.kind),
            "principalId": c.user_id,
            "arn": c.arn,
            "accountId": c.account,
            "accessKeyId": c.access_key_id,
            "userName": c.user_name,
        }),
        None => serde_json::json!({ "type": "Unknown", "accessKeyId": r.access_key_id }),
    };
    let event_source = format!("{}.amazonaws.com", r.service);
    let time_ms = r.info.time_ms;
    let event_id = event_id(time_ms);
    let detail = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": ids::iso8601(time_ms),
        "eventSource": event_source,
        "eventName": r.action,
        "awsRegion": r.info.region,
        "sourceIPAddress": r.info.source_ip,
        "userAgent": r.info.user_agent,
        "requestParameters": r.parameters,
        "responseElements": null,
        "requestID": r.request_id,
        "eventID": event_id,
        "readOnly": r.read_only,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": r.caller.map(|c| c.account.clone()).unwrap_or_default(),
    });
    let mut event = AuditEvent {
        event_id,
        time_ms,
        account: r.caller.map(|c| c.account.clone()).unwrap_or_default(),
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
pub fn set_error(event: &mut AuditEvent, e: &ApiError) {
    event.detail["errorCode"] = e.code.clone().into();
    event.detail["errorMessage"] = e.message.clone().into();
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
    use super::event_id;

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
