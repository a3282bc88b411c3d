//! Identity notifications (SetIdentityNotificationTopic) in SES's notification
//! format, made from a sending event: `notificationType` instead of `eventType`, and a
//! `mail` object without tags whose headers appear only when the identity asked for
//! them (SetIdentityHeadersInNotificationsEnabled).

use serde_json::{json, Value};
use ses::model::{NotificationType, Notifications, StoredMessage};

/// The kind of identity notification an event is, if any.
pub fn notification_type(event: &Value) -> Option<NotificationType> {
    NotificationType::parse(event["eventType"].as_str()?)
}

/// The identity's topic for `kind`, and whether its notifications carry headers.
pub fn topic_of(n: &Notifications, kind: NotificationType) -> (Option<&str>, bool) {
    match kind {
        NotificationType::Bounce => (n.bounce_topic.as_deref(), n.headers_in_bounce),
        NotificationType::Complaint => (n.complaint_topic.as_deref(), n.headers_in_complaint),
        NotificationType::Delivery => (n.delivery_topic.as_deref(), n.headers_in_delivery),
    }
}

/// The notification for `event` (a Bounce, Complaint or Delivery event).
pub fn from_event(message: &StoredMessage, event: &Value, with_headers: bool) -> Option<Value> {
    let kind = notification_type(event)?;
    let mut mail = json!({
        "timestamp": event["mail"]["timestamp"],
        "messageId": message.message_id,
        "source": message.source,
        "sourceArn": message.from_identity,
        "sourceIp": message.source_ip,
        "sendingAccountId": message.account,
        "callerIdentity": message.caller_identity,
        "destination": message.destination,
    });
    if with_headers {
        for field in ["headersTruncated", "headers", "commonHeaders"] {
            mail[field] = event["mail"][field].clone();
        }
    }
    let detail = match kind {
        NotificationType::Bounce => "bounce",
        NotificationType::Complaint => "complaint",
        NotificationType::Delivery => "delivery",
    };
    let mut notification = json!({
        "notificationType": event["eventType"],
        "mail": mail,
    });
    notification[detail] = event[detail].clone();
    Some(notification)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> StoredMessage {
        StoredMessage {
            message_id: "m1".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            source: "a@example.com".into(),
            destination: vec!["b@example.net".into()],
            raw: "Subject: hi\r\nFrom: a@example.com\r\n\r\nbody\r\n".into(),
            created_ms: 0,
            from_identity: "arn:aws:ses:us-east-1:444455556666:identity/example.com".into(),
            configuration_set: None,
            suppressed: Vec::new(),
            tags: Vec::new(),
            caller_identity: String::new(),
            source_ip: String::new(),
        }
    }

    #[test]
    fn headers_only_when_asked() {
        let m = message();
        let event = crate::events::send_event(&m);
        assert!(
            from_event(&m, &event, true).is_none(),
            "Send is no notification"
        );
        let mut bounce = event.clone();
        bounce["eventType"] = json!("Bounce");
        bounce["bounce"] = json!({"bounceType": "Permanent"});
        let plain = from_event(&m, &bounce, false).unwrap();
        assert_eq!(plain["notificationType"], "Bounce");
        assert_eq!(plain["bounce"]["bounceType"], "Permanent");
        assert!(plain["mail"].get("headers").is_none());
        assert!(plain["mail"].get("tags").is_none());
        assert_eq!(plain["mail"]["sourceArn"], m.from_identity);
        let full = from_event(&m, &bounce, true).unwrap();
        assert_eq!(full["mail"]["commonHeaders"]["subject"], "hi");
        assert_eq!(full["mail"]["headers"][0]["name"], "Subject");
    }
}
