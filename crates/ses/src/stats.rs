//! Sending statistics (GetSendStatistics): per account and region, counts of delivery
//! attempts, bounces, complaints and rejects in 15-minute intervals, kept two weeks.
//! Sends count against the sending account: under sending authorization, the
//! delegate's, not the identity owner's.

use crate::model::{scoped_key, table, EventType, SendDataPoint, SendingEvent, StoredMessage};
use crate::{Ses, SesError};
use iam::{ids, Caller, RequestInfo};
use std::collections::BTreeMap;
use store::Docs;

const INTERVAL_MS: i64 = 15 * 60 * 1000;
pub(crate) const KEEP_MS: i64 = 14 * 24 * 60 * 60 * 1000;

/// Feedback about a delivered message, counted against its sending account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    Bounce,
    Complaint,
    Reject,
}

impl Ses {
    /// The caller's data points of the last two weeks, oldest first.
    pub fn send_statistics(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<Vec<SendDataPoint>, SesError> {
        self.allow(caller, info, "ses:GetSendStatistics", "*")?;
        let since = ids::now_ms() - KEEP_MS;
        let points: Vec<SendDataPoint> = self.store.read()?.scan(
            table::STATISTICS,
            &scoped_key(&caller.account, &info.region, ""),
        )?;
        Ok(points
            .into_iter()
            .filter(|p| p.timestamp_ms >= since)
            .collect())
    }

    /// Sending events recorded for an account (rendering failures, bounces, …), oldest
    /// first: what event publishing will deliver to configuration sets' destinations.
    pub fn sending_events(&self, account: &str) -> Result<Vec<SendingEvent>, SesError> {
        Ok(self
            .store
            .read()?
            .scan(table::EVENTS, &format!("{account}/"))?)
    }

    /// Counts feedback that delivery learns later (a bounce, a complaint) against the
    /// account that sent the message.
    pub fn record_feedback(
        &self,
        message: &StoredMessage,
        feedback: Feedback,
    ) -> Result<(), SesError> {
        let mut delta = SendDataPoint::default();
        match feedback {
            Feedback::Bounce => delta.bounces = 1,
            Feedback::Complaint => delta.complaints = 1,
            Feedback::Reject => delta.rejects = 1,
        }
        let mut tx = self.store.write_unversioned()?;
        add(
            &mut tx,
            &message.account,
            &message.region,
            ids::now_ms(),
            &delta,
        )?;
        tx.commit()?;
        Ok(())
    }
}

impl Ses {
    /// Records sending events (inside their own transaction).
    pub(crate) fn record_events(&self, events: &[SendingEvent]) -> Result<(), SesError> {
        let mut tx = self.store.write_unversioned()?;
        put_events(&mut tx, events)?;
        tx.commit()?;
        Ok(())
    }
}

/// What accepting a batch of messages adds, written by the spool in the batch's own
/// transaction: their delivery attempts in the sending accounts' statistics (one
/// update per account, region and interval, however many messages), and a bounce
/// event for each recipient the suppression list held back (these count toward no
/// bounce rate).
pub(crate) fn record_accepted<'a>(
    tx: &mut Docs<'_>,
    messages: impl Iterator<Item = &'a StoredMessage>,
) -> Result<(), store::StoreError> {
    let mut attempts: BTreeMap<(&str, &str, i64), u64> = BTreeMap::new();
    let mut events = Vec::new();
    // Sesame's own mail (verification messages) is not the account's sending.
    for message in messages.filter(|m| !m.from_identity.is_empty()) {
        let interval = message.created_ms - message.created_ms.rem_euclid(INTERVAL_MS);
        *attempts
            .entry((&message.account, &message.region, interval))
            .or_default() += message.destination.len() as u64;
        events.extend(message.suppressed.iter().map(|s| SendingEvent {
            event_type: EventType::Bounce,
            message_id: message.message_id.clone(),
            account: message.account.clone(),
            region: message.region.clone(),
            configuration_set: message.configuration_set.clone(),
            recipients: vec![s.address.clone()],
            detail: format!("OnAccountSuppressionList ({})", s.reason.name()),
            created_ms: message.created_ms,
        }));
    }
    for ((account, region, interval), delivery_attempts) in attempts {
        let delta = SendDataPoint {
            delivery_attempts,
            ..SendDataPoint::default()
        };
        add(tx, account, region, interval, &delta)?;
    }
    put_events(tx, &events)
}

fn put_events(tx: &mut Docs<'_>, events: &[SendingEvent]) -> Result<(), store::StoreError> {
    for (n, e) in events.iter().enumerate() {
        let key = format!("{}/{:016}-{}-{n}", e.account, e.created_ms, e.message_id);
        tx.put(table::EVENTS, &key, e)?;
    }
    Ok(())
}

/// Adds `delta` to the interval holding `now_ms` (inside the caller's transaction).
pub(crate) fn add(
    tx: &mut Docs<'_>,
    account: &str,
    region: &str,
    now_ms: i64,
    delta: &SendDataPoint,
) -> Result<(), store::StoreError> {
    if *delta == SendDataPoint::default() {
        return Ok(());
    }
    let start = now_ms - now_ms.rem_euclid(INTERVAL_MS);
    let key = scoped_key(account, region, &format!("{start:016}"));
    let mut point: SendDataPoint = tx.get(table::STATISTICS, &key)?.unwrap_or(SendDataPoint {
        timestamp_ms: start,
        ..SendDataPoint::default()
    });
    point.delivery_attempts += delta.delivery_attempts;
    point.bounces += delta.bounces;
    point.complaints += delta.complaints;
    point.rejects += delta.rejects;
    tx.put(table::STATISTICS, &key, &point)?;
    metrics::STAT_DELIVERY_ATTEMPTS.add(delta.delivery_attempts);
    metrics::STAT_BOUNCES.add(delta.bounces);
    metrics::STAT_COMPLAINTS.add(delta.complaints);
    metrics::STAT_REJECTS.add(delta.rejects);
    Ok(())
}
