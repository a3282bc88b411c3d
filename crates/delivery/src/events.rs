//! SES sending events (event publishing format): the builders are independent of
//! where events go; the [`EventSink`] writes them as JSON Lines to a file and POSTs
//! them to a webhook signed with HMAC-SHA256.

use crate::bounce::Classification;
use crate::outbox::Outbox;
use serde_json::{json, Value};
use ses::model::StoredMessage;
use std::io::Write as _;
use std::sync::Mutex;

/// Most headers reported in `mail.headers` (SES truncates too).
const MAX_HEADERS: usize = 50;

/// `2016-10-19T23:20:52.240Z`
pub fn timestamp(ms: i64) -> String {
    let base = iam::ids::iso8601(ms);
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// The `mail` object common to every event.
pub fn mail_object(message: &StoredMessage) -> Value {
    let headers = parse_headers(&message.raw.header_text());
    let truncated = headers.len() > MAX_HEADERS;
    let header_list: Vec<Value> = headers
        .iter()
        .take(MAX_HEADERS)
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect();
    json!({
        "timestamp": timestamp(message.created_ms),
        "messageId": message.message_id,
        "source": message.source,
        "sourceArn": message.from_identity,
        "sendingAccountId": message.account,
        "destination": destination(message),
        "headersTruncated": truncated,
        "headers": header_list,
        "commonHeaders": common_headers(&headers, &message.message_id),
        "tags": tags(message),
    })
}

/// `mail.destination`: every recipient of the send, also those the suppression list
/// held back.
fn destination(message: &StoredMessage) -> Vec<&str> {
    let kept = message.destination.iter().map(String::as_str);
    kept.chain(message.suppressed.iter().map(|s| s.address.as_str()))
        .collect()
}

/// `mail.tags`: the `ses:` auto-tags, then the message tags (each a list of values).
fn tags(message: &StoredMessage) -> Value {
    let mut tags = serde_json::Map::new();
    let caller = if message.caller_identity.is_empty() {
        &message.account
    } else {
        &message.caller_identity
    };
    tags.insert("ses:caller-identity".into(), json!([caller]));
    if !message.source_ip.is_empty() {
        tags.insert("ses:source-ip".into(), json!([message.source_ip]));
    }
    if let Some(domain) = from_domain(&message.raw.header_text()) {
        tags.insert("ses:from-domain".into(), json!([domain]));
    }
    if let Some(set) = &message.configuration_set {
        tags.insert("ses:configuration-set".into(), json!([set]));
    }
    for (name, value) in &message.tags {
        let values = tags.entry(name.clone()).or_insert_with(|| json!([]));
        if let Some(list) = values.as_array_mut() {
            list.push(json!(value));
        }
    }
    Value::Object(tags)
}

/// The domain of the message's From address.
fn from_domain(raw: &str) -> Option<String> {
    let headers = parse_headers(raw);
    let (_, from) = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("From"))?;
    let mailbox = ses::address::Mailbox::parse(from).ok()?;
    Some(ses::address::domain_of(&mailbox.address).to_ascii_lowercase())
}

fn common_headers(headers: &[(String, String)], message_id: &str) -> Value {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let list = |name: &str| -> Vec<String> {
        headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| {
                v.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut common = serde_json::Map::new();
    common.insert("from".into(), json!(list("From")));
    common.insert("to".into(), json!(list("To")));
    let cc = list("Cc");
    if !cc.is_empty() {
        common.insert("cc".into(), json!(cc));
    }
    if let Some(date) = find("Date") {
        common.insert("date".into(), json!(date));
    }
    common.insert("messageId".into(), json!(message_id));
    if let Some(subject) = find("Subject") {
        common.insert("subject".into(), json!(subject));
    }
    Value::Object(common)
}

/// Unfolded header fields of a message, in order (bounded).
pub fn parse_headers(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in raw.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if out.len() > MAX_HEADERS {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

pub fn send_event(message: &StoredMessage) -> Value {
    json!({"eventType": "Send", "mail": mail_object(message), "send": {}})
}

pub struct DeliveryInfo<'a> {
    pub time_ms: i64,
    pub recipients: &'a [String],
    pub smtp_response: &'a str,
    pub remote_ip: &'a str,
    pub reporting_mta: &'a str,
}

pub fn delivery_event(message: &StoredMessage, d: &DeliveryInfo<'_>) -> Value {
    json!({
        "eventType": "Delivery",
        "mail": mail_object(message),
        "delivery": {
            "timestamp": timestamp(d.time_ms),
            "processingTimeMillis": (d.time_ms - message.created_ms).max(0),
            "recipients": d.recipients,
            "smtpResponse": d.smtp_response,
            "remoteMtaIp": d.remote_ip,
            "reportingMTA": d.reporting_mta,
        }
    })
}

/// One bounced recipient.
pub struct BouncedRecipient {
    pub address: String,
    pub classification: Classification,
    pub diagnostic: String,
    /// The DSN action: `failed`, or `delayed` in an asynchronous report.
    pub action: String,
}

pub fn bounce_event(
    message: &StoredMessage,
    recipients: &[BouncedRecipient],
    time_ms: i64,
    reporting_mta: &str,
    feedback_id: &str,
) -> Value {
    let first = recipients.first().map(|r| &r.classification);
    let bounced: Vec<Value> = recipients
        .iter()
        .map(|r| {
            json!({
                "emailAddress": r.address,
                "action": r.action,
                "status": r.classification.status,
                "diagnosticCode": r.diagnostic,
            })
        })
        .collect();
    json!({
        "eventType": "Bounce",
        "mail": mail_object(message),
        "bounce": {
            "bounceType": first.map_or("Undetermined", |c| c.bounce_type.as_str()),
            "bounceSubType": first.map_or("Undetermined", |c| c.sub_type.as_str()),
            "bouncedRecipients": bounced,
            "timestamp": timestamp(time_ms),
            "feedbackId": feedback_id,
            "reportingMTA": format!("dsn; {reporting_mta}"),
        }
    })
}

/// A complaint about a delivered message (from an ARF report or the simulator).
pub struct ComplaintInfo<'a> {
    pub recipients: &'a [String],
    pub time_ms: i64,
    pub feedback_id: &'a str,
    /// The ARF `Feedback-Type` (`abuse`, …).
    pub feedback_type: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// When the receiver got the message (the ARF `Arrival-Date`).
    pub arrival_date: Option<&'a str>,
}

pub fn complaint_event(message: &StoredMessage, c: &ComplaintInfo<'_>) -> Value {
    let recipients: Vec<Value> = c
        .recipients
        .iter()
        .map(|r| json!({"emailAddress": r}))
        .collect();
    let mut complaint = serde_json::Map::new();
    complaint.insert("complainedRecipients".into(), json!(recipients));
    complaint.insert("timestamp".into(), json!(timestamp(c.time_ms)));
    complaint.insert("feedbackId".into(), json!(c.feedback_id));
    complaint.insert("complaintSubType".into(), Value::Null);
    let optional = [
        ("complaintFeedbackType", c.feedback_type),
        ("userAgent", c.user_agent),
        ("arrivalDate", c.arrival_date),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            complaint.insert(name.into(), json!(v));
        }
    }
    json!({
        "eventType": "Complaint",
        "mail": mail_object(message),
        "complaint": Value::Object(complaint),
    })
}

pub fn delay_event(
    message: &StoredMessage,
    recipients: &[String],
    diagnostic: &str,
    time_ms: i64,
    expiration_ms: i64,
    reporting_mta: &str,
) -> Value {
    let delayed: Vec<Value> = recipients
        .iter()
        .map(|r| json!({"emailAddress": r, "status": "4.0.0", "diagnosticCode": diagnostic}))
        .collect();
    json!({
        "eventType": "DeliveryDelay",
        "mail": mail_object(message),
        "deliveryDelay": {
            "timestamp": timestamp(time_ms),
            "delayType": "TransientCommunicationFailure",
            "expirationTime": timestamp(expiration_ms),
            "delayedRecipients": delayed,
            "reportingMTA": reporting_mta,
        }
    })
}

/// A templated message that was accepted but did not render (it is never sent).
pub fn rendering_failure_event(message: &StoredMessage, template_name: &str, error: &str) -> Value {
    json!({
        "eventType": "Rendering Failure",
        "mail": mail_object(message),
        "failure": {"errorMessage": error, "templateName": template_name},
    })
}

/// Where events go.
pub struct EventSink {
    file: Option<Mutex<std::fs::File>>,
    webhook: Option<Outbox>,
}

impl EventSink {
    /// The events file and the events webhook's outbox (see [`Outbox::start`]).
    pub fn new(
        file: Option<&std::path::Path>,
        webhook: Option<Outbox>,
    ) -> std::io::Result<EventSink> {
        let file = match file {
            Some(path) => Some(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            )),
            None => None,
        };
        Ok(EventSink { file, webhook })
    }

    /// A sink that drops everything.
    pub fn none() -> EventSink {
        EventSink {
            file: None,
            webhook: None,
        }
    }

    pub fn emit(&self, event: &Value) {
        let line = event.to_string();
        if let Some(file) = &self.file {
            let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
            let written = f
                .write_all(format!("{line}\n").as_bytes())
                .and_then(|()| f.flush());
            if let Err(e) = written {
                tracing::error!(error = %e, "cannot write to the events file");
            }
        }
        if let Some(webhook) = &self.webhook {
            if let Err(e) = webhook.push(line) {
                tracing::error!(error = e, "events webhook: event dropped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_milliseconds() {
        assert_eq!(timestamp(1_000_123), "1970-01-01T00:16:40.123Z");
    }

    #[test]
    fn headers_unfold() {
        let h = parse_headers("Subject: a\r\n b\r\nFrom: x@y\r\n\r\nbody: no\r\n");
        assert_eq!(
            h,
            vec![
                ("Subject".to_string(), "a b".to_string()),
                ("From".to_string(), "x@y".to_string())
            ]
        );
    }
}
