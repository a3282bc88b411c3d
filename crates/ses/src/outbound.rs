//! The outbound delivery queue's records. The spool writes them in the same
//! transaction as the accepted message, so an accepted message always has its
//! deliveries queued; the `delivery` crate works them off.

use crate::model::StoredMessage;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Table of pending deliveries, one document per (message, recipient domain).
pub const TABLE: &str = "delivery_queue";

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

/// The deliveries of one message, one per recipient domain.
pub fn deliveries_for(message: &StoredMessage, message_key: &str) -> Vec<(String, QueuedDelivery)> {
    let mut by_domain: BTreeMap<String, Vec<QueuedRecipient>> = BTreeMap::new();
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
