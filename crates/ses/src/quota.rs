//! Sending quotas per account and region: a maximum send rate (token bucket, one
//! token per recipient) and a maximum number of recipients per rolling 24 hours.

use crate::SesError;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

const DAY_MS: i64 = 86_400_000;

/// The Throttling message when the rolling 24-hour quota is used up.
pub(crate) const DAILY_QUOTA_EXCEEDED: &str = "Daily message quota exceeded.";

#[derive(Default)]
pub(crate) struct Quotas {
    windows: Mutex<HashMap<(String, String), Window>>,
}

#[derive(Default)]
struct Window {
    tokens: f64,
    refilled_ms: i64,
    /// (time, recipients) of sends in the last 24 hours.
    sent: VecDeque<(i64, u64)>,
    sent_total: u64,
}

impl Quotas {
    /// Takes `recipients` from the account's rate and `daily` of them from its
    /// 24-hour quota (the mailbox simulator's recipients count toward the rate only),
    /// or says which one is exceeded.
    pub fn consume(
        &self,
        account: &str,
        region: &str,
        recipients: u64,
        daily: u64,
        (max_24h, max_rate): (f64, f64),
        now_ms: i64,
    ) -> Result<(), SesError> {
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = windows
            .entry((account.to_string(), region.to_string()))
            .or_insert_with(|| Window {
                tokens: max_rate,
                refilled_ms: now_ms,
                ..Window::default()
            });
        while w.sent.front().is_some_and(|(t, _)| *t <= now_ms - DAY_MS) {
            if let Some((_, n)) = w.sent.pop_front() {
                w.sent_total -= n;
            }
        }
        // The bucket holds one second of sending. A message may carry more recipients
        // than that (up to SES's 50): it is accepted once the bucket is full and its
        // debt delays the next sends, a short burst as SES allows.
        let capacity = max_rate.max(1.0);
        let elapsed = (now_ms - w.refilled_ms).max(0) as f64 / 1000.0;
        w.tokens = (w.tokens + elapsed * max_rate).min(capacity);
        w.refilled_ms = now_ms;
        if (w.sent_total + daily) as f64 > max_24h {
            return Err(SesError::Throttling(DAILY_QUOTA_EXCEEDED.into()));
        }
        let needed = (recipients as f64).min(capacity);
        if w.tokens + 1e-9 < needed {
            return Err(SesError::Throttling(
                "Maximum sending rate exceeded.".into(),
            ));
        }
        w.tokens -= recipients as f64;
        if daily > 0 {
            w.sent.push_back((now_ms, daily));
            w.sent_total += daily;
        }
        Ok(())
    }

    /// Recipients sent in the last 24 hours.
    pub fn sent_last_24h(&self, account: &str, region: &str, now_ms: i64) -> u64 {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        windows
            .get(&(account.to_string(), region.to_string()))
            .map_or(0, |w| {
                w.sent
                    .iter()
                    .filter(|(t, _)| *t > now_ms - DAY_MS)
                    .map(|(_, n)| n)
                    .sum()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_and_daily_limits() {
        let q = Quotas::default();
        assert!(q.consume("a", "r", 1, 1, (3.0, 1.0), 0).is_ok());
        let e = q.consume("a", "r", 1, 1, (3.0, 1.0), 100).unwrap_err();
        assert_eq!(e.to_string(), "Maximum sending rate exceeded.");
        assert!(q.consume("a", "r", 1, 1, (3.0, 1.0), 1100).is_ok());
        assert!(q.consume("a", "r", 1, 1, (3.0, 1.0), 2200).is_ok());
        assert_eq!(
            q.consume("a", "r", 1, 1, (3.0, 1.0), 3300)
                .unwrap_err()
                .to_string(),
            "Daily message quota exceeded."
        );
        assert!(
            q.consume("b", "r", 1, 1, (3.0, 1.0), 3300).is_ok(),
            "accounts are separate"
        );
        assert!(
            q.consume("a", "r", 1, 1, (3.0, 1.0), DAY_MS + 10).is_ok(),
            "the window rolls"
        );
        assert!(
            q.consume("b", "r", 1, 0, (3.0, 1.0), 4400).is_ok()
                && q.consume("b", "r", 1, 0, (3.0, 1.0), 5500).is_ok()
                && q.consume("b", "r", 1, 0, (3.0, 1.0), 6600).is_ok(),
            "recipients outside the daily quota (the simulator's) do not use it up"
        );
        assert_eq!(q.sent_last_24h("b", "r", 6600), 1);
    }
}
