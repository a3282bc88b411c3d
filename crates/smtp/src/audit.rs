//! SMTP submissions in the audit trail, shaped like the API's CloudTrail-style events
//! (`sesame audit`, `sesame explain`): AUTH failures, refused messages with the
//! decision trace of a denial, and accepted messages. The event source is `smtp`; the
//! SMTP reply is in `responseElements`. The request id of an accepted message is its
//! MessageId (the id the client saw in `250 Ok …`); a refused one gets a fresh id,
//! written to the server log with the refusal.

use iam::{ids, Caller, CallerKind, RequestInfo};
use serde_json::{json, Value};
use store::AuditEvent;

/// Where audit events go (the API's audit writer in `sesame serve`).
pub type AuditSink = std::sync::Arc<dyn Fn(AuditEvent) + Send + Sync>;

pub const EVENT_SOURCE: &str = "smtp";

/// Why AUTH failed, as the API's authentication error codes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No such access key, or temporary credentials.
    UnknownKey,
    /// The password is not the SMTP password of the key.
    WrongPassword,
}

/// A refused message: error code, message and the decision trace of a denial.
pub struct Refusal<'a> {
    pub code: &'a str,
    pub message: String,
    pub trace: &'a [String],
}

/// The event of a failed AUTH. Only the access key id is recorded, never the password.
pub fn auth_failure(
    access_key_id: &str,
    info: &RequestInfo,
    why: AuthFailure,
    reply: &str,
) -> AuditEvent {
    let code = match why {
        AuthFailure::UnknownKey => "InvalidClientTokenId",
        AuthFailure::WrongPassword => "SignatureDoesNotMatch",
    };
    let refusal = Refusal {
        code,
        message: reply.to_string(),
        trace: &[],
    };
    let parameters = json!({ "mechanismUser": access_key_id });
    build(
        None,
        access_key_id,
        "Authenticate",
        &ids::request_id(),
        info,
        parameters,
        Some(&refusal),
        reply,
    )
}

/// The event of one DATA submission, accepted (`refusal` is `None`) or not.
#[allow(clippy::too_many_arguments)]
pub fn submission(
    caller: &Caller,
    request_id: &str,
    info: &RequestInfo,
    mail_from: &str,
    recipients: &[String],
    size: usize,
    refusal: Option<&Refusal<'_>>,
    reply: &str,
) -> AuditEvent {
    let parameters = json!({
        "mailFrom": mail_from,
        "recipients": recipients,
        "size": size,
    });
    build(
        Some(caller),
        &caller.access_key_id,
        "SendRawEmail",
        request_id,
        info,
        parameters,
        refusal,
        reply,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    caller: Option<&Caller>,
    access_key_id: &str,
    action: &str,
    request_id: &str,
    info: &RequestInfo,
    parameters: Value,
    refusal: Option<&Refusal<'_>>,
    reply: &str,
) -> AuditEvent {
    let event_id = ids::request_id();
    let account = caller.map(|c| c.account.clone()).unwrap_or_default();
    let mut detail = json!({
        "eventVersion": "1.08",
        "userIdentity": user_identity(caller, access_key_id),
        "eventTime": ids::iso8601(info.time_ms),
        "eventSource": EVENT_SOURCE,
        "eventName": action,
        "awsRegion": info.region,
        "sourceIPAddress": info.source_ip,
        "userAgent": info.user_agent,
        "requestParameters": parameters,
        "responseElements": { "smtpReply": reply },
        "requestID": request_id,
        "eventID": event_id,
        "readOnly": false,
        "eventType": "SmtpSubmission",
        "managementEvent": false,
        "tlsDetails": { "secureTransport": info.secure_transport },
        "recipientAccountId": account,
    });
    if let Some(r) = refusal {
        detail["errorCode"] = r.code.into();
        detail["errorMessage"] = r.message.clone().into();
    }
    AuditEvent {
        event_id,
        time_ms: info.time_ms,
        account,
        event_name: action.to_string(),
        event_source: EVENT_SOURCE.to_string(),
        user_name: caller.map(|c| c.user_name.clone()).unwrap_or_default(),
        access_key_id: access_key_id.to_string(),
        trace: refusal.map(|r| r.trace.to_vec()).unwrap_or_default(),
        detail,
        authorizations: Vec::new(),
    }
}

fn user_identity(caller: Option<&Caller>, access_key_id: &str) -> Value {
    let Some(c) = caller else {
        return json!({ "type": "Unknown", "accessKeyId": access_key_id });
    };
    let kind = match c.kind {
        CallerKind::Root => "Root",
        CallerKind::User | CallerKind::UserSession => "IAMUser",
        CallerKind::AssumedRole => "AssumedRole",
    };
    json!({
        "type": kind,
        "principalId": c.user_id,
        "arn": c.arn,
        "accountId": c.account,
        "accessKeyId": c.access_key_id,
        "userName": c.user_name,
    })
}
