//! Classification of failed deliveries into SES's `bounceType` / `bounceSubType`,
//! from the SMTP reply code and the enhanced status code (RFC 3463).

use crate::reply::Reply;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceType {
    Permanent,
    Transient,
    Undetermined,
}

impl BounceType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceType::Permanent => "Permanent",
            BounceType::Transient => "Transient",
            BounceType::Undetermined => "Undetermined",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceSubType {
    General,
    NoEmail,
    Suppressed,
    OnAccountSuppressionList,
    MailboxFull,
    MessageTooLarge,
    ContentRejected,
    AttachmentRejected,
    Undetermined,
}

impl BounceSubType {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceSubType::General => "General",
            BounceSubType::NoEmail => "NoEmail",
            BounceSubType::Suppressed => "Suppressed",
            BounceSubType::OnAccountSuppressionList => "OnAccountSuppressionList",
            BounceSubType::MailboxFull => "MailboxFull",
            BounceSubType::MessageTooLarge => "MessageTooLarge",
            BounceSubType::ContentRejected => "ContentRejected",
            BounceSubType::AttachmentRejected => "AttachmentRejected",
            BounceSubType::Undetermined => "Undetermined",
        }
    }
}

/// The classification of one bounced recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    pub bounce_type: BounceType,
    pub sub_type: BounceSubType,
    /// The DSN status, e.g. `5.1.1`.
    pub status: String,
}

/// A bounce from a 5xx reply (`permanent`) or a 4xx reply that outlived the maximum
/// age (transient at the remote end, given up by us).
pub fn classify(reply: &Reply, gave_up: bool) -> Classification {
    let enhanced = reply.enhanced();
    let status = match enhanced {
        Some((c, s, d)) => format!("{c}.{s}.{d}"),
        None if reply.code >= 500 => "5.0.0".to_string(),
        None => "4.0.0".to_string(),
    };
    let permanent = reply.code >= 500 && !gave_up;
    let (subject, detail) = enhanced.map_or((0, 0), |(_, s, d)| (s, d));
    let sub_type = match (subject, detail) {
        (1, 1) | (1, 2) | (1, 3) | (1, 6) if permanent => BounceSubType::NoEmail,
        (2, 2) | (3, 1) => BounceSubType::MailboxFull,
        (2, 3) | (3, 4) => BounceSubType::MessageTooLarge,
        (7, 1) if !permanent => BounceSubType::ContentRejected,
        (6, _) => BounceSubType::ContentRejected,
        _ => BounceSubType::General,
    };
    // SES reports a full mailbox and oversized messages as transient even on 5xx.
    let bounce_type = if permanent
        && !matches!(
            sub_type,
            BounceSubType::MailboxFull | BounceSubType::MessageTooLarge
        ) {
        BounceType::Permanent
    } else {
        BounceType::Transient
    };
    Classification {
        bounce_type,
        sub_type,
        status,
    }
}

/// A recipient that could not be reached at all before the maximum age (no reply).
pub fn undeliverable() -> Classification {
    Classification {
        bounce_type: BounceType::Transient,
        sub_type: BounceSubType::General,
        status: "4.4.7".to_string(),
    }
}

/// A recipient on the sending account's suppression list: never sent to, reported
/// as SES does (`Permanent` / `OnAccountSuppressionList`), with its diagnostic code.
pub fn on_account_suppression_list() -> (Classification, String) {
    let classification = Classification {
        bounce_type: BounceType::Permanent,
        sub_type: BounceSubType::OnAccountSuppressionList,
        status: "5.1.1".into(),
    };
    let diagnostic = "Amazon SES did not send the message to this address because it is on the suppression list for your account.";
    (classification, diagnostic.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16, text: &str) -> Reply {
        Reply {
            code,
            text: text.into(),
            lines: vec![],
        }
    }

    #[test]
    fn classifies_common_replies() {
        let c = classify(&reply(550, "5.1.1 User unknown"), false);
        assert_eq!(
            (c.bounce_type, c.sub_type, c.status.as_str()),
            (BounceType::Permanent, BounceSubType::NoEmail, "5.1.1")
        );
        let c = classify(&reply(552, "5.2.2 Mailbox full"), false);
        assert_eq!(
            (c.bounce_type, c.sub_type),
            (BounceType::Transient, BounceSubType::MailboxFull)
        );
        let c = classify(&reply(554, "Rejected"), false);
        assert_eq!(
            (c.bounce_type, c.sub_type, c.status.as_str()),
            (BounceType::Permanent, BounceSubType::General, "5.0.0")
        );
        let c = classify(&reply(451, "4.7.1 Try later"), true);
        assert_eq!(
            (c.bounce_type, c.sub_type),
            (BounceType::Transient, BounceSubType::ContentRejected)
        );
        let c = classify(&reply(552, "5.3.4 Message too big"), false);
        assert_eq!(c.sub_type, BounceSubType::MessageTooLarge);
    }
}
