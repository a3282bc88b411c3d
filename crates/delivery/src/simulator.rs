//! The SES mailbox simulator at delivery: mail to `success@`, `bounce@`, `ooto@`,
//! `complaint@` and `suppressionlist@simulator.amazonses.com` (with an optional
//! `+label`) never leaves; each address gets the outcome SES gives it.

use crate::bounce::{BounceSubType, BounceType, Classification};
use crate::reply::Reply;
use ses::model::StoredMessage;

pub use ses::reputation::{is_simulator, SIMULATOR_DOMAIN};

/// What a simulator address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Success,
    /// Rejected with `550 5.1.1` (a hard bounce).
    Bounce,
    /// Delivered; an out-of-the-office answer goes back to the sender.
    AutoReply,
    /// Delivered; then the recipient marks it as spam.
    Complaint,
    /// A hard bounce as if the address were on the suppression list.
    SuppressionList,
}

/// The scenario of `address`; any other local part at the simulator's domain is
/// treated as `success@` (it is accepted and goes nowhere).
pub fn scenario(address: &str) -> Option<Scenario> {
    let (local, domain) = address.trim_end_matches('>').rsplit_once('@')?;
    if !domain.eq_ignore_ascii_case(SIMULATOR_DOMAIN) {
        return None;
    }
    let base = local.split_once('+').map_or(local, |(b, _)| b);
    Some(match base.to_ascii_lowercase().as_str() {
        "bounce" => Scenario::Bounce,
        "ooto" => Scenario::AutoReply,
        "complaint" => Scenario::Complaint,
        "suppressionlist" => Scenario::SuppressionList,
        _ => Scenario::Success,
    })
}

/// The simulated recipient server's reply to a delivered message.
pub fn accepted_reply() -> Reply {
    reply(250, "2.6.0 Message received")
}

/// The `userAgent` of the simulator's complaints.
pub const USER_AGENT: &str = "Amazon SES Mailbox Simulator";

/// How SES reports `bounce@`: the recipient server's `550 5.1.1 user unknown`.
pub fn unknown_user() -> (Classification, String) {
    let classification = Classification {
        bounce_type: BounceType::Permanent,
        sub_type: BounceSubType::General,
        status: "5.1.1".into(),
    };
    (classification, "smtp; 550 5.1.1 user unknown".into())
}

/// How SES reports a recipient held back by the suppression list.
pub fn suppressed() -> (Classification, String) {
    let classification = Classification {
        bounce_type: BounceType::Permanent,
        sub_type: BounceSubType::Suppressed,
        status: "5.1.1".into(),
    };
    let diagnostic = "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address. For more information about how to remove an address from the suppression list, see the Amazon SES Developer Guide: http://docs.aws.amazon.com/ses/latest/DeveloperGuide/remove-from-suppressionlist.html ";
    (classification, diagnostic.to_string())
}

/// The out-of-the-office answer (RFC 3834) from `recipient` to the sender of `original`.
pub fn auto_reply(original: &StoredMessage, recipient: &str, message_id: &str) -> String {
    let subject = crate::events::parse_headers(&original.raw.header_text())
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Subject"))
        .map_or_else(String::new, |(_, v)| v);
    format!(
        "From: {recipient}\r\nTo: {to}\r\nSubject: Out of the office: {subject}\r\nMessage-ID: <{message_id}@{SIMULATOR_DOMAIN}>\r\nIn-Reply-To: <{original_id}@email.amazonses.com>\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nI am out of the office and will answer your message when I return.\r\n",
        to = original.source,
        original_id = original.message_id,
    )
}

fn reply(code: u16, text: &str) -> Reply {
    Reply {
        code,
        text: text.into(),
        lines: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_by_local_part_with_labels() {
        assert_eq!(
            scenario("bounce+x1@simulator.amazonses.com"),
            Some(Scenario::Bounce)
        );
        assert_eq!(
            scenario("OOTO@Simulator.AmazonSES.com"),
            Some(Scenario::AutoReply)
        );
        assert_eq!(
            scenario("suppressionlist@simulator.amazonses.com"),
            Some(Scenario::SuppressionList)
        );
        assert_eq!(
            scenario("complaint@simulator.amazonses.com"),
            Some(Scenario::Complaint)
        );
        assert_eq!(
            scenario("success@simulator.amazonses.com"),
            Some(Scenario::Success)
        );
        assert_eq!(scenario("bounce@example.com"), None);
    }
}
