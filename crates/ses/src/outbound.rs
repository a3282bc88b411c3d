//! The outbound delivery queue's records. The spool writes them in the same
//! transaction as the accepted message, so an accepted message always has its
//! deliveries queued; the `delivery` crate works them off.

use crate::model::StoredMessage;
use crate::reputation::{is_simulator, SIMULATOR_DOMAIN};
use crate::Outbound;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Table of pending deliveries, one document per (message, recipient domain).
pub const TABLE: &str = "delivery_queue";

/// The "domain" of the one record that holds a message's recipients on the
/// suppression list: nothing is sent to them, each gets its Bounce event. No
/// recipient domain looks like it.
pub const SUPPRESSED: &str = "*suppressed";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    Pending,
    Delivered,
    Bounced,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRecipient {
    pub address: String,
    pub state: RecipientState,
}

/// The delivery of one accepted message to the recipients of one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedDelivery {
    /// Store key of the message in the capture store.
    pub message_key: String,
    pub message_id: String,
    /// Lower-cased recipient domain.
    pub domain: String,
    pub recipients: Vec<QueuedRecipient>,
    pub created_ms: i64,
    pub next_attempt_ms: i64,
    pub attempts: u32,
    /// Whether this record reports the message's Send event (the first domain does).
    pub reports_send: bool,
    /// Whether a DeliveryDelay event was already reported.
    #[serde(default)]
    pub delay_reported: bool,
    /// Last temporary failure, for logs and events.
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Store key of a queued delivery: time first, so a scan sees the oldest first.
pub fn queue_key(created_ms: i64, message_id: &str, domain: &str) -> String {
    format!("{created_ms:016}-{message_id}-{domain}")
}

/// The queue records of one accepted message: with [`Outbound::Queue`] all its
/// deliveries; with [`Outbound::Simulated`] only those that never leave (the
/// mailbox simulator's, the suppressed recipients').
pub fn queued_for(
    message: &StoredMessage,
    message_key: &str,
    outbound: Outbound,
) -> Vec<(String, QueuedDelivery)> {
    match outbound {
        Outbound::Off => Vec::new(),
        Outbound::Queue => deliveries_for(message, message_key, |_| true),
        Outbound::Simulated => {
            let simulated = !message.suppressed.is_empty()
                || message.destination.iter().any(|a| is_simulator(a));
            if !simulated {
                return Vec::new();
            }
            deliveries_for(message, message_key, never_leaves)
        }
    }
}

/// Whether a queue record of this "domain" is settled without a connection.
pub fn never_leaves(domain: &str) -> bool {
    domain == SUPPRESSED || domain.eq_ignore_ascii_case(SIMULATOR_DOMAIN)
}

/// The deliveries of one message, one per recipient domain, and one for the
/// recipients the suppression list held back (their bounces are reported like any);
/// only the domains `keep` accepts.
fn deliveries_for(
    message: &StoredMessage,
    message_key: &str,
    keep: impl Fn(&str) -> bool,
) -> Vec<(String, QueuedDelivery)> {
    let mut by_domain: BTreeMap<String, Vec<QueuedRecipient>> = BTreeMap::new();
    for s in &message.suppressed {
        by_domain
            .entry(SUPPRESSED.to_string())
            .or_default()
            .push(QueuedRecipient {
                address: s.address.clone(),
                state: RecipientState::Pending,
            });
    }
    for address in &message.destination {
        let domain = address
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches('>').to_ascii_lowercase())
            .unwrap_or_default();
        let list = by_domain.entry(domain).or_default();
        if !list.iter().any(|r| r.address.eq_ignore_ascii_case(address)) {
            list.push(QueuedRecipient {
                address: address.clone(),
                state: RecipientState::Pending,
            });
        }
    }
    by_domain.retain(|domain, _| keep(domain));
    by_domain
        .into_iter()
        .enumerate()
        .map(|(i, (domain, recipients))| {
            let key = queue_key(message.created_ms, &message.message_id, &domain);
            let delivery = QueuedDelivery {
                message_key: message_key.to_string(),
                message_id: message.message_id.clone(),
                domain,
                recipients,
                created_ms: message.created_ms,
                next_attempt_ms: message.created_ms,
                attempts: 0,
                reports_send: i == 0,
                delay_reported: false,
                last_error: None,
            };
            (key, delivery)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{OwnMail, SuppressedRecipient, SuppressionReason};

    fn message(to: &[&str], suppressed: &[&str]) -> StoredMessage {
        let mail = OwnMail {
            message_id: "m1".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            source: "a@example.com".into(),
            to: String::new(),
            created_ms: 5,
        };
        let mut m = StoredMessage::own(mail, String::new().into());
        m.destination = to.iter().map(|s| s.to_string()).collect();
        m.suppressed = suppressed
            .iter()
            .map(|a| SuppressedRecipient {
                address: a.to_string(),
                reason: SuppressionReason::Bounce,
            })
            .collect();
        m
    }

    #[test]
    fn suppressed_recipients_get_their_own_record() {
        let m = message(&["x@b.example", "y@a.example"], &["s@a.example"]);
        let queued = deliveries_for(&m, "key", |_| true);
        let domains: Vec<&str> = queued.iter().map(|(_, d)| d.domain.as_str()).collect();
        assert_eq!(domains, [SUPPRESSED, "a.example", "b.example"]);
        let (key, held) = &queued[0];
        assert_eq!(key, &queue_key(5, "m1", SUPPRESSED));
        assert_eq!(held.recipients[0].address, "s@a.example");
        assert_eq!(held.recipients[0].state, RecipientState::Pending);
        assert_eq!(queued.iter().filter(|(_, d)| d.reports_send).count(), 1);
    }

    #[test]
    fn an_all_suppressed_message_still_reports_its_send() {
        let queued = queued_for(&message(&[], &["s@a.example"]), "key", Outbound::Queue);
        assert_eq!(queued.len(), 1);
        assert!(queued[0].1.reports_send && queued[0].1.domain == SUPPRESSED);
    }

    #[test]
    fn capture_queues_only_what_never_leaves() {
        let sim = "bounce@simulator.amazonses.com";
        let mixed = message(&["x@b.example", sim], &["s@a.example"]);
        let queued = queued_for(&mixed, "key", Outbound::Simulated);
        let domains: Vec<&str> = queued.iter().map(|(_, d)| d.domain.as_str()).collect();
        assert_eq!(domains, [SUPPRESSED, SIMULATOR_DOMAIN]);
        assert!(queued[0].1.reports_send && !queued[1].1.reports_send);
        let plain = message(&["x@b.example"], &[]);
        assert!(queued_for(&plain, "key", Outbound::Simulated).is_empty());
        assert_eq!(queued_for(&plain, "key", Outbound::Queue).len(), 1);
        assert!(queued_for(&mixed, "key", Outbound::Off).is_empty());
    }
}
