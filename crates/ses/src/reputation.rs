//! What delivery feedback does to the sending account: a hard bounce or a complaint
//! counts in the sending (delegate's) account's statistics and, when the reasons in
//! force allow it, puts the recipient on that account's suppression list. The
//! mailbox simulator's addresses touch neither, as on SES.

use crate::model::{table, OwnMail, StoredMessage, SuppressedDestination, SuppressionReason};
use crate::stats::Feedback;
use crate::{Ses, SesError};
use iam::ids;

/// The mailbox simulator's domain.
pub const SIMULATOR_DOMAIN: &str = "simulator.amazonses.com";

/// Whether `address` is one of the mailbox simulator's.
pub fn is_simulator(address: &str) -> bool {
    address.rsplit_once('@').is_some_and(|(_, d)| {
        d.trim_end_matches('>')
            .eq_ignore_ascii_case(SIMULATOR_DOMAIN)
    })
}

impl Ses {
    /// Records a hard bounce (`Bounce`) or a complaint (`Complaint`) of `address` for
    /// `message`. Returns whether the address was put on the suppression list.
    pub fn record_recipient_feedback(
        &self,
        message: &StoredMessage,
        address: &str,
        reason: SuppressionReason,
        feedback_id: &str,
    ) -> Result<bool, SesError> {
        if is_simulator(address) || message.from_identity.is_empty() {
            return Ok(false);
        }
        let kind = match reason {
            SuppressionReason::Bounce => Feedback::Bounce,
            SuppressionReason::Complaint => Feedback::Complaint,
        };
        self.record_feedback(message, kind)?;
        if !self.suppresses(message, reason)? {
            return Ok(false);
        }
        let entry = SuppressedDestination {
            email_address: address.trim().to_string(),
            reason,
            last_update_ms: ids::now_ms(),
            message_id: Some(message.message_id.clone()),
            feedback_id: Some(feedback_id.to_string()),
        };
        let mut tx = self.store.write()?;
        tx.put(
            table::SUPPRESSED,
            &crate::suppression::suppression_key(&message.account, &message.region, address),
            &entry,
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Whether `reason` adds to the suppression list for mail like `message`: its
    /// configuration set's suppression options when it has them, else the account's.
    fn suppresses(
        &self,
        message: &StoredMessage,
        reason: SuppressionReason,
    ) -> Result<bool, SesError> {
        let from_set = match &message.configuration_set {
            Some(name) => self
                .load_configuration_set(&message.account, &message.region, name)
                .ok()
                .and_then(|set| set.options.suppressed_reasons),
            None => None,
        };
        let reasons = match from_set {
            Some(r) => r,
            None => {
                self.settings(&message.account, &message.region)?
                    .suppressed_reasons
            }
        };
        Ok(reasons.contains(&reason))
    }

    /// Accepts an automatic reply (the mailbox simulator's out-of-the-office answer) to
    /// the sender of `original`, as Sesame's own mail.
    pub fn accept_auto_reply(
        &self,
        original: &StoredMessage,
        from: &str,
        raw: String,
    ) -> Result<String, SesError> {
        let message_id = crate::send::message_id()?;
        let mail = OwnMail {
            message_id: message_id.clone(),
            account: original.account.clone(),
            region: original.region.clone(),
            source: from.to_string(),
            to: original.source.clone(),
            created_ms: ids::now_ms(),
        };
        self.accept(StoredMessage::own(mail, raw.into()))?;
        Ok(message_id)
    }
}
