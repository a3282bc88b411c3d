//! What `/metrics` reads from SES: why sends are refused (as counter labels), each
//! account's bounce and complaint rates over the same data points GetSendStatistics
//! returns, and the outbound queue's depth and age.

use crate::model::{table, SendDataPoint};
use crate::outbound::QueuedDelivery;
use crate::{Ses, SesError};
use metrics::RejectReason;
use std::collections::BTreeMap;

/// One account's sending statistics in a region over the GetSendStatistics window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountReputation {
    pub account: String,
    pub region: String,
    pub delivery_attempts: u64,
    pub bounces: u64,
    pub complaints: u64,
    pub rejects: u64,
}

impl AccountReputation {
    /// Bounces per delivery attempt (0 before the first attempt).
    pub fn bounce_rate(&self) -> f64 {
        ratio(self.bounces, self.delivery_attempts)
    }

    /// Complaints per delivery attempt (0 before the first attempt).
    pub fn complaint_rate(&self) -> f64 {
        ratio(self.complaints, self.delivery_attempts)
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The outbound queue: deliveries (message × recipient domain) still to finish.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueueSummary {
    pub deliveries: u64,
    pub pending_recipients: u64,
    /// When the oldest queued delivery's message was accepted.
    pub oldest_created_ms: Option<i64>,
}

/// The counter label of a refused send.
pub fn reject_reason(e: &SesError) -> RejectReason {
    match e {
        SesError::AccessDenied { .. } => RejectReason::AccessDenied,
        SesError::MessageRejected(m) if m.starts_with("Email address is not verified") => {
            RejectReason::NotVerified
        }
        SesError::MessageRejected(_) => RejectReason::MessageRejected,
        SesError::Throttling(m) if m == crate::quota::DAILY_QUOTA_EXCEEDED => {
            RejectReason::DailyQuotaExceeded
        }
        SesError::Throttling(_) => RejectReason::Throttled,
        SesError::AccountSendingPaused => RejectReason::AccountPaused,
        SesError::ConfigurationSetSendingPaused(_) => RejectReason::ConfigurationSetPaused,
        SesError::Store(_) | SesError::Iam(_) => RejectReason::Internal,
        _ => RejectReason::InvalidRequest,
    }
}

pub(crate) fn count_rejection(e: &SesError) {
    metrics::reject(reject_reason(e));
}

impl Ses {
    /// Every account's statistics per region, summed over the data points that
    /// GetSendStatistics returns now (the last two weeks).
    pub fn reputation(&self) -> Result<Vec<AccountReputation>, SesError> {
        let since = iam::ids::now_ms() - crate::stats::KEEP_MS;
        let mut tx = self.store.read()?;
        let mut by_scope: BTreeMap<(String, String), AccountReputation> = BTreeMap::new();
        for (key, point) in tx.scan_keyed::<SendDataPoint>(table::STATISTICS, "")? {
            let mut parts = key.splitn(3, '/');
            let (Some(account), Some(region)) = (parts.next(), parts.next()) else {
                continue;
            };
            if point.timestamp_ms < since {
                continue;
            }
            let entry = by_scope
                .entry((account.to_string(), region.to_string()))
                .or_insert_with(|| AccountReputation {
                    account: account.to_string(),
                    region: region.to_string(),
                    ..AccountReputation::default()
                });
            entry.delivery_attempts += point.delivery_attempts;
            entry.bounces += point.bounces;
            entry.complaints += point.complaints;
            entry.rejects += point.rejects;
        }
        Ok(by_scope.into_values().collect())
    }

    /// The outbound queue's depth and its oldest entry.
    pub fn queue_summary(&self) -> Result<QueueSummary, SesError> {
        let queued: Vec<QueuedDelivery> = self.store.read()?.scan(crate::outbound::TABLE, "")?;
        let pending = |d: &QueuedDelivery| {
            d.recipients
                .iter()
                .filter(|r| r.state == crate::outbound::RecipientState::Pending)
                .count() as u64
        };
        Ok(QueueSummary {
            deliveries: queued.len() as u64,
            pending_recipients: queued.iter().map(pending).sum(),
            oldest_created_ms: queued.iter().map(|d| d.created_ms).min(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_per_delivery_attempt_and_zero_without_sends() {
        let mut r = AccountReputation::default();
        assert_eq!(r.bounce_rate(), 0.0);
        r.delivery_attempts = 40;
        r.bounces = 2;
        r.complaints = 1;
        assert_eq!(r.bounce_rate(), 0.05);
        assert_eq!(r.complaint_rate(), 0.025);
    }

    #[test]
    fn refusals_get_their_reason() {
        let e = SesError::Throttling(crate::quota::DAILY_QUOTA_EXCEEDED.into());
        assert_eq!(reject_reason(&e), RejectReason::DailyQuotaExceeded);
        let e = SesError::Throttling("Maximum sending rate exceeded.".into());
        assert_eq!(reject_reason(&e), RejectReason::Throttled);
        let e = SesError::MessageRejected("Email address is not verified. x".into());
        assert_eq!(reject_reason(&e), RejectReason::NotVerified);
        assert_eq!(
            reject_reason(&SesError::AccountSendingPaused),
            RejectReason::AccountPaused
        );
    }
}
