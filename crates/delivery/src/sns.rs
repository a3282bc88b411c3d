//! SNS topics, as far as Sesame delivers them: the operator subscribes HTTP endpoints
//! to topic ARNs (`sesame serve --sns-endpoint TOPIC_ARN=URL`, repeatable), and every
//! message published to a topic is POSTed to each of its endpoints in the shape of an
//! SNS HTTP notification (`Type`, `MessageId`, `TopicArn`, `Message`, `Timestamp`),
//! signed like the events webhook (`X-Sesame-Signature`). Each endpoint has its own
//! durable outbox ([`crate::outbox`]) and retries with backoff, so a slow or failing
//! endpoint delays only itself and a restart loses nothing; a message published to a
//! topic without endpoints goes nowhere.

use crate::outbox::Outbox;
use crate::webhook::Webhook;
use serde_json::json;
use std::collections::HashMap;
use store::Store;

/// Most notifications waiting to be stored for one endpoint; further ones are
/// dropped (and logged).
pub const QUEUE_CAPACITY: usize = 10_000;

/// One `TOPIC_ARN=URL` subscription.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub topic_arn: String,
    pub endpoint: Webhook,
}

impl Subscription {
    /// Parses `arn:aws:sns:REGION:ACCOUNT:NAME=http://HOST[:PORT]/PATH`.
    pub fn parse(spec: &str, secret: Option<String>) -> Result<Subscription, String> {
        let (arn, url) = spec
            .split_once('=')
            .ok_or("an SNS endpoint is TOPIC_ARN=URL")?;
        let valid = arn.starts_with("arn:")
            && arn.split(':').nth(2) == Some("sns")
            && arn.split(':').count() == 6
            && !arn.chars().any(|c| c.is_whitespace() || c.is_control());
        if !valid {
            return Err(format!("not an SNS topic ARN: {arn:?}"));
        }
        let endpoint = Webhook::parse(url, secret)?
            .with_header("x-amz-sns-message-type", "Notification")
            .with_header("x-amz-sns-topic-arn", arn);
        Ok(Subscription {
            topic_arn: arn.to_string(),
            endpoint,
        })
    }
}

/// The subscribed endpoints of every topic, each with its posting task.
#[derive(Default)]
pub struct Topics {
    endpoints: HashMap<String, Vec<Outbox>>,
}

impl Topics {
    /// Starts one posting task per subscription (needs a Tokio runtime).
    pub fn start(store: &Store, subscriptions: Vec<Subscription>) -> Topics {
        let mut endpoints: HashMap<String, Vec<Outbox>> = HashMap::new();
        for s in subscriptions {
            let outbox = Outbox::start(store.clone(), s.endpoint, QUEUE_CAPACITY);
            endpoints.entry(s.topic_arn).or_default().push(outbox);
        }
        Topics { endpoints }
    }

    /// Queues `message` for every endpoint subscribed to `topic_arn`; never waits.
    pub fn publish(&self, topic_arn: &str, message: &str) {
        let Some(endpoints) = self.endpoints.get(topic_arn) else {
            tracing::debug!(topic_arn, "no endpoint subscribed to this topic");
            return;
        };
        for outbox in endpoints {
            let body = envelope(topic_arn, message, crate::worker::now_ms());
            if let Err(e) = outbox.push(body) {
                tracing::error!(topic_arn, error = e, "SNS endpoint: notification dropped");
            }
        }
    }
}

/// The body of an SNS HTTP notification carrying `message`.
fn envelope(topic_arn: &str, message: &str, now_ms: i64) -> String {
    json!({
        "Type": "Notification",
        "MessageId": message_id(),
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": crate::events::timestamp(now_ms),
    })
    .to_string()
}

/// A random UUID-shaped id, as SNS gives every notification.
fn message_id() -> String {
    let b = store::random_bytes::<16>().unwrap_or_default();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_parse() {
        let s = Subscription::parse(
            "arn:aws:sns:us-east-1:111122223333:bounces=http://127.0.0.1:9000/sns",
            None,
        )
        .unwrap();
        assert_eq!(s.topic_arn, "arn:aws:sns:us-east-1:111122223333:bounces");
        assert!(Subscription::parse("http://127.0.0.1:9000/sns", None).is_err());
        assert!(Subscription::parse("arn:aws:sqs:us-east-1:1:q=http://h/", None).is_err());
        assert!(Subscription::parse("arn:aws:sns:us-east-1:1:t=https://h/", None).is_err());
    }

    #[test]
    fn the_envelope_carries_the_message_as_a_string() {
        let body = envelope(
            "arn:aws:sns:us-east-1:1:t",
            r#"{"eventType":"Send"}"#,
            1_000,
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Type"], "Notification");
        assert_eq!(v["TopicArn"], "arn:aws:sns:us-east-1:1:t");
        assert_eq!(v["Message"], r#"{"eventType":"Send"}"#);
        assert_eq!(v["Timestamp"], "1970-01-01T00:00:01.000Z");
        assert_eq!(v["MessageId"].as_str().unwrap().len(), 36);
    }
}
