//! Event routing: the one place sending events go ([`EventRouter::publish`]).
//!
//! Every event goes to the global sink (events file, events webhook). An event of a
//! message sent by an account's own API or SMTP call (not Sesame's own mail) is
//! also handed, without waiting, to a routing thread, which reads the current
//! settings and sends it on:
//! - to every enabled event destination of the message's configuration set (the
//!   sending account's, so a delegate's) that matches the event type, as the event
//!   JSON; SNS destinations reach the endpoints subscribed to the topic;
//! - for Bounce, Complaint and Delivery, to the From identity's notification topic
//!   (the identity owner's), in SES's notification format;
//! - for Bounce and Complaint, as an email to the Return-Path (or Source) address
//!   when the identity forwards feedback, or when neither the identity owner (topic)
//!   nor the sender (configuration set destination) set up any other way to hear of
//!   it (seed 003).
//!
//! The routing queue is bounded: when it is full, routed copies are dropped (and
//! logged); the global sink still has the event.

use crate::events::EventSink;
use crate::feedback_mail;
use crate::notification;
use crate::sns::{Subscription, Topics};
use serde_json::Value;
use ses::model::{
    scoped_key, table, ConfigurationSet, EventTarget, EventType, Identity, NotificationType,
    Notifications, StoredMessage,
};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use store::Store;

/// Most events waiting for the routing thread.
const QUEUE_CAPACITY: usize = 10_000;

/// What the routing thread needs besides the store.
pub struct RouterConfig {
    /// SNS topic subscriptions (`--sns-endpoint`).
    pub subscriptions: Vec<Subscription>,
    /// Host name of Sesame's MTA: the domain of forwarded feedback's From.
    pub hostname: String,
    /// Whether stored feedback mail is also queued for delivery.
    pub outbound: ses::Outbound,
}

pub struct EventRouter {
    sink: EventSink,
    queue: SyncSender<(StoredMessage, Value)>,
}

impl EventRouter {
    /// Starts the routing thread and the SNS endpoint tasks (needs a Tokio runtime).
    pub fn start(sink: EventSink, store: Store, config: RouterConfig) -> std::io::Result<Self> {
        let (queue, rx) = sync_channel(QUEUE_CAPACITY);
        let routing = Routing {
            topics: Topics::start(&store, config.subscriptions),
            store,
            hostname: config.hostname,
            outbound: config.outbound,
        };
        std::thread::Builder::new()
            .name("event-router".into())
            .spawn(move || routing.run(&rx))?;
        Ok(EventRouter { sink, queue })
    }

    /// The hook through which the send pipeline reports templates that failed to
    /// render: each becomes a Rendering Failure event.
    pub fn rendering_failure_hook(router: Arc<EventRouter>) -> ses::RenderingFailureHook {
        Box::new(move |message, template_name, error| {
            let event = crate::events::rendering_failure_event(message, template_name, error);
            router.publish(message, &event);
        })
    }

    /// Publishes one event about `message`; never waits for a destination.
    pub fn publish(&self, message: &StoredMessage, event: &Value) {
        self.sink.emit(event);
        if message.from_identity.is_empty() {
            return; // Sesame's own mail: no sender settings apply.
        }
        match self.queue.try_send((header_copy(message), event.clone())) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                tracing::error!(message_id = %message.message_id, "event routing queue full; event not routed");
            }
            Err(TrySendError::Disconnected(_)) => {
                tracing::error!("event routing thread stopped; event not routed");
            }
        }
    }
}

/// What routing reads about a message's sender.
struct Settings {
    set: Option<Arc<ConfigurationSet>>,
    identity: Option<Arc<Identity>>,
}

struct Routing {
    store: Store,
    topics: Topics,
    hostname: String,
    outbound: ses::Outbound,
}

impl Routing {
    fn run(&self, rx: &Receiver<(StoredMessage, Value)>) {
        while let Ok((message, event)) = rx.recv() {
            if let Err(e) = self.route(&message, &event) {
                tracing::error!(error = %e, message_id = %message.message_id, "event routing failed");
            }
        }
    }

    fn route(&self, message: &StoredMessage, event: &Value) -> Result<(), store::StoreError> {
        let Some(kind) = event_type(event) else {
            tracing::warn!(event_type = %event["eventType"], "unknown event type; not routed");
            return Ok(());
        };
        let Settings { set, identity } = self.settings(message)?;
        let set_matches = set.as_ref().is_some_and(|s| self.to_set(s, kind, event));
        if let Some(n) = notification::notification_type(event) {
            self.to_identity(message, event, n, identity.as_deref(), set_matches)?;
        }
        Ok(())
    }

    /// The message's configuration set (the sending account's) and From identity.
    fn settings(&self, message: &StoredMessage) -> Result<Settings, store::StoreError> {
        let snapshot = self.store.snapshot()?;
        let set = match &message.configuration_set {
            Some(name) => snapshot.get(
                table::CONFIG_SETS,
                &scoped_key(&message.account, &message.region, name),
            )?,
            None => None,
        };
        let identity = match identity_key(&message.from_identity) {
            Some(key) => snapshot.get(table::IDENTITIES, &key)?,
            None => None,
        };
        Ok(Settings { set, identity })
    }

    /// Sends `event` to the set's matching destinations; whether any matched.
    fn to_set(&self, set: &ConfigurationSet, kind: EventType, event: &Value) -> bool {
        let mut matched = false;
        let body = event.to_string();
        for d in &set.event_destinations {
            if !d.enabled || !d.matching_event_types.contains(&kind) {
                continue;
            }
            matched = true;
            match &d.target {
                EventTarget::Sns { topic_arn } => self.topics.publish(topic_arn, &body),
                _ => tracing::debug!(
                    destination = %d.name,
                    "only SNS event destinations are delivered"
                ),
            }
        }
        matched
    }

    /// The owner's notification topic, then email feedback forwarding.
    fn to_identity(
        &self,
        message: &StoredMessage,
        event: &Value,
        kind: NotificationType,
        identity: Option<&Identity>,
        sender_listens: bool,
    ) -> Result<(), store::StoreError> {
        let default = Notifications::default();
        let notifications = identity.map_or(&default, |i| &i.notifications);
        let forwarding = identity.is_none_or(|i| i.feedback_forwarding);
        let (topic, with_headers) = notification::topic_of(notifications, kind);
        if let Some(topic) = topic {
            if let Some(n) = notification::from_event(message, event, with_headers) {
                self.topics.publish(topic, &n.to_string());
            }
        }
        let feedback = kind != NotificationType::Delivery;
        let no_other_way = topic.is_none() && !sender_listens;
        if feedback && (forwarding || no_other_way) && !message.source.is_empty() {
            let now = crate::worker::now_ms();
            let mail = feedback_mail::build(message, event, kind, &self.hostname, now);
            ses::store_message(&self.store, mail, self.outbound)?;
            tracing::info!(message_id = %message.message_id, to = %message.source, "feedback forwarded by email");
        }
        Ok(())
    }
}

/// `message` with only the header section of its text: all that routing reads, so a
/// full queue holds no message bodies.
fn header_copy(message: &StoredMessage) -> StoredMessage {
    StoredMessage {
        message_id: message.message_id.clone(),
        account: message.account.clone(),
        region: message.region.clone(),
        source: message.source.clone(),
        destination: message.destination.clone(),
        raw: message.raw.header_bytes().to_vec().into(),
        created_ms: message.created_ms,
        from_identity: message.from_identity.clone(),
        configuration_set: message.configuration_set.clone(),
        suppressed: message.suppressed.clone(),
        tags: message.tags.clone(),
        caller_identity: message.caller_identity.clone(),
        source_ip: message.source_ip.clone(),
    }
}

/// The event's type from its `eventType` (`Send`, `DeliveryDelay`, `Rendering Failure`…).
fn event_type(event: &Value) -> Option<EventType> {
    let name: String = event["eventType"].as_str()?.split_whitespace().collect();
    let mut chars = name.chars();
    let first = chars.next()?.to_ascii_lowercase();
    EventType::from_v1(&format!("{first}{}", chars.as_str()))
}

/// Store key of the identity an identity ARN names.
fn identity_key(arn: &str) -> Option<String> {
    let (region, account, name) = ses::model::identity_arn_parts(arn)?;
    Some(scoped_key(account, region, &name.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_types_from_their_names() {
        let of = |name: &str| event_type(&json!({ "eventType": name }));
        assert_eq!(of("Send"), Some(EventType::Send));
        assert_eq!(of("DeliveryDelay"), Some(EventType::DeliveryDelay));
        assert_eq!(of("Rendering Failure"), Some(EventType::RenderingFailure));
        assert_eq!(of("Bounce"), Some(EventType::Bounce));
        assert_eq!(of("Nope"), None);
    }

    #[test]
    fn routing_copies_only_the_header_section() {
        let mut message: StoredMessage = serde_json::from_value(json!({
            "message_id": "m", "account": "1", "region": "r", "source": "a@b",
            "destination": [], "raw": "Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n",
            "created_ms": 0, "from_identity": "", "configuration_set": null,
        }))
        .unwrap();
        assert_eq!(
            header_copy(&message).raw.text(),
            "Subject: x\r\nFrom: a@b\r\n"
        );
        message.raw = "Subject: x\nFrom: a@b\n\nbody\n".into();
        assert_eq!(header_copy(&message).raw.text(), "Subject: x\nFrom: a@b\n");
    }

    #[test]
    fn identity_keys_from_arns() {
        assert_eq!(
            identity_key("arn:aws:ses:eu-west-1:111122223333:identity/Example.COM").as_deref(),
            Some("111122223333/eu-west-1/example.com")
        );
        assert_eq!(identity_key("arn:aws:sns:eu-west-1:1:identity/x"), None);
        assert_eq!(identity_key(""), None);
    }
}
