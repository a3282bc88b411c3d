//! Email feedback forwarding: a bounce becomes a delivery status notification
//! (RFC 3464) and a complaint a feedback report (RFC 5965), addressed to the
//! message's Return-Path (or Source) and sent with an empty envelope sender, so that
//! it can never cause feedback of its own. It is an ordinary accepted message (the
//! capture store keeps it, the delivery queue sends it), marked as Sesame's own mail
//! by an empty `from_identity`.

use serde_json::Value;
use ses::model::{NotificationType, OwnMail, StoredMessage};

const BOUNDARY: &str = "sesame-feedback-report";

/// The forwarded feedback for `event` about `message`, sent by `host`.
pub fn build(
    message: &StoredMessage,
    event: &Value,
    kind: NotificationType,
    host: &str,
    now_ms: i64,
) -> StoredMessage {
    let message_id = new_message_id();
    let (from, subject, report_type, report) = match kind {
        NotificationType::Complaint => (
            format!("complaints@{host}"),
            "Complaint about your message".to_string(),
            "feedback-report",
            complaint_report(message, event),
        ),
        _ => (
            format!("MAILER-DAEMON@{host}"),
            "Delivery Status Notification (Failure)".to_string(),
            "delivery-status",
            bounce_report(event, host),
        ),
    };
    let headers: String = crate::events::parse_headers(&message.raw.header_text())
        .iter()
        .map(|(n, v)| format!("{n}: {v}\r\n"))
        .collect();
    let raw = format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}@{host}>\r\n\
         Date: {date}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type={report_type}; boundary=\"{BOUNDARY}\"\r\n\r\n\
         --{BOUNDARY}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{summary}\r\n\
         --{BOUNDARY}\r\nContent-Type: message/{report_type}\r\n\r\n{report}\r\n\
         --{BOUNDARY}\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n\
         --{BOUNDARY}--\r\n",
        to = message.source,
        date = ses::mime::rfc5322_date(now_ms),
        summary = summary(message, kind),
    );
    let mail = OwnMail {
        message_id,
        account: message.account.clone(),
        region: message.region.clone(),
        source: String::new(),
        to: message.source.clone(),
        created_ms: now_ms,
    };
    StoredMessage::own(mail, raw.into())
}

fn summary(message: &StoredMessage, kind: NotificationType) -> String {
    match kind {
        NotificationType::Complaint => format!(
            "A recipient complained about message {} that you sent.",
            message.message_id
        ),
        _ => format!(
            "Message {} could not be delivered to one or more recipients.",
            message.message_id
        ),
    }
}

/// The `message/delivery-status` part: per-message then per-recipient fields.
fn bounce_report(event: &Value, host: &str) -> String {
    let mut out = format!("Reporting-MTA: dns; {host}\r\n");
    let recipients = event["bounce"]["bouncedRecipients"].as_array();
    for r in recipients.into_iter().flatten() {
        out.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: {}\r\n",
            field(&r["emailAddress"]),
            field(&r["status"]),
            field(&r["diagnosticCode"]),
        ));
    }
    out
}

/// The `message/feedback-report` part.
fn complaint_report(message: &StoredMessage, event: &Value) -> String {
    let complaint = &event["complaint"];
    let feedback_type = complaint["complaintFeedbackType"]
        .as_str()
        .unwrap_or("abuse");
    let mut out = format!(
        "Feedback-Type: {feedback_type}\r\nUser-Agent: Sesame\r\nVersion: 1\r\nOriginal-Mail-From: <{}>\r\n",
        message.source
    );
    let recipients = complaint["complainedRecipients"].as_array();
    for r in recipients.into_iter().flatten() {
        out.push_str(&format!(
            "Original-Rcpt-To: <{}>\r\n",
            field(&r["emailAddress"])
        ));
    }
    out
}

/// A string field of an event, on one line.
fn field(v: &Value) -> String {
    v.as_str()
        .unwrap_or("")
        .replace(['\r', '\n'], " ")
        .trim()
        .to_string()
}

fn new_message_id() -> String {
    let b = store::random_bytes::<16>().unwrap_or_default();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("0100{hex}-000000")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn original() -> StoredMessage {
        StoredMessage {
            message_id: "m1".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            source: "bounces@example.com".into(),
            destination: vec!["gone@example.net".into()],
            raw: String::from("From: a@example.com\r\nSubject: hi\r\n\r\nbody\r\n").into(),
            created_ms: 0,
            from_identity: "arn:aws:ses:us-east-1:111122223333:identity/example.com".into(),
            configuration_set: None,
            suppressed: Vec::new(),
            tags: Vec::new(),
            caller_identity: String::new(),
            source_ip: String::new(),
        }
    }

    #[test]
    fn a_bounce_becomes_a_dsn_to_the_return_path() {
        let original = original();
        let event = json!({"eventType": "Bounce", "bounce": {"bouncedRecipients": [
            {"emailAddress": "gone@example.net", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no\r\nsuch"}
        ]}});
        let dsn = build(&original, &event, NotificationType::Bounce, "mta.test", 0);
        assert_eq!(dsn.destination, vec!["bounces@example.com"]);
        assert_eq!(dsn.source, "", "null reverse-path");
        assert!(dsn.from_identity.is_empty());
        assert!(dsn.raw.text().contains("report-type=delivery-status"));
        assert!(dsn
            .raw
            .text()
            .contains("Final-Recipient: rfc822; gone@example.net\r\n"));
        assert!(dsn
            .raw
            .text()
            .contains("Diagnostic-Code: smtp; 550 5.1.1 no  such\r\n"));
        assert!(
            dsn.raw.text().contains("\r\nSubject: hi\r\n"),
            "original headers"
        );
    }

    #[test]
    fn a_complaint_becomes_a_feedback_report() {
        let event = json!({"eventType": "Complaint", "complaint": {
            "complainedRecipients": [{"emailAddress": "angry@example.net"}],
            "complaintFeedbackType": "abuse",
        }});
        let arf = build(
            &original(),
            &event,
            NotificationType::Complaint,
            "mta.test",
            0,
        );
        assert_eq!(arf.destination, vec!["bounces@example.com"]);
        assert!(arf.raw.text().starts_with("From: complaints@mta.test\r\n"));
        assert!(arf.raw.text().contains("report-type=feedback-report"));
        assert!(arf
            .raw
            .text()
            .contains("Content-Type: message/feedback-report\r\n"));
        assert!(arf.raw.text().contains("Feedback-Type: abuse\r\n"));
        assert!(arf
            .raw
            .text()
            .contains("Original-Rcpt-To: <angry@example.net>\r\n"));
    }
}
