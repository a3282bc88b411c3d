//! Parsers of asynchronous feedback: delivery status notifications (RFC 3464,
//! `multipart/report; report-type=delivery-status`) and abuse reports in the Abuse
//! Reporting Format (RFC 5965, `report-type=feedback-report`). MIME is mail-parser's;
//! the report parts' `Name: value` field groups are read here. Nothing panics on any
//! input: what is not a usable report is a [`ReportError`].

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// One recipient block of a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsnRecipient {
    /// The address of `Final-Recipient` (its `rfc822;` type removed).
    pub final_recipient: String,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`, lower-cased.
    pub action: String,
    /// e.g. `5.1.1`
    pub status: String,
    pub diagnostic: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dsn {
    /// The host of `Reporting-MTA` (its `dns;` type removed).
    pub reporting_mta: Option<String>,
    pub recipients: Vec<DsnRecipient>,
    /// Message-ID of the returned message or its headers, without angle brackets.
    pub original_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arf {
    /// `abuse`, `fraud`, `virus`, `other`, … lower-cased.
    pub feedback_type: String,
    pub user_agent: Option<String>,
    pub original_rcpt_to: Vec<String>,
    pub arrival_date: Option<String>,
    pub original_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Dsn(Dsn),
    Arf(Arf),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("not a MIME message")]
    NotMime,
    #[error("not a multipart/report message")]
    NotAReport,
    #[error("unsupported report-type {0}")]
    UnsupportedType(String),
    #[error("the report has no {0} part")]
    MissingPart(&'static str),
    #[error("the report has no {0} field")]
    MissingField(&'static str),
}

/// Parses a DSN or an ARF report.
pub fn parse(raw: &[u8]) -> Result<Report, ReportError> {
    // mail-parser 0.11.9 has a `debug_assert!` that some malformed nestings of
    // message/rfc822 parts reach (found by fuzzing, see the tests); in builds with
    // debug assertions that is a panic, here an unusable message.
    let parsed = std::panic::catch_unwind(|| MessageParser::default().parse(raw));
    let message = parsed.ok().flatten().ok_or(ReportError::NotMime)?;
    let content_type = message.content_type().ok_or(ReportError::NotAReport)?;
    let is_report = content_type.ctype().eq_ignore_ascii_case("multipart")
        && content_type
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"));
    if !is_report {
        return Err(ReportError::NotAReport);
    }
    let report_type = content_type
        .attribute("report-type")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let parts: Vec<Part> = message.parts.iter().skip(1).map(Part::of).collect();
    let original_message_id = parts.iter().find_map(|p| p.original_message_id.clone());
    let fields_of = |subtype: &'static str| -> Result<String, ReportError> {
        parts
            .iter()
            .find(|p| p.mime == subtype)
            .map(|p| p.text.clone())
            .ok_or(ReportError::MissingPart(subtype))
    };
    match report_type.as_str() {
        "delivery-status" => {
            parse_dsn(&fields_of("message/delivery-status")?, original_message_id).map(Report::Dsn)
        }
        "feedback-report" => {
            parse_arf(&fields_of("message/feedback-report")?, original_message_id).map(Report::Arf)
        }
        other => Err(ReportError::UnsupportedType(other.to_string())),
    }
}

/// What a report needs of one MIME part.
struct Part {
    /// `type/subtype`, lower-cased.
    mime: String,
    text: String,
    original_message_id: Option<String>,
}

impl Part {
    fn of(part: &mail_parser::MessagePart<'_>) -> Part {
        let mime = part.content_type().map_or_else(String::new, |c| {
            format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase()
        });
        let text = String::from_utf8_lossy(part.contents()).into_owned();
        let original_message_id = match &part.body {
            PartType::Message(inner) => inner.message_id().map(str::to_string),
            _ if mime == "text/rfc822-headers" => field_groups(&text)
                .first()
                .and_then(|g| field(g, "Message-ID"))
                .map(|v| {
                    v.trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>')
                        .to_string()
                }),
            _ => None,
        };
        Part {
            mime,
            text,
            original_message_id,
        }
    }
}

fn parse_dsn(text: &str, original_message_id: Option<String>) -> Result<Dsn, ReportError> {
    let groups = field_groups(text);
    let reporting_mta = groups
        .first()
        .and_then(|g| field(g, "Reporting-MTA"))
        .map(|v| without_type(&v));
    let recipients: Vec<DsnRecipient> = groups
        .iter()
        .filter_map(|g| {
            let recipient =
                field(g, "Final-Recipient").or_else(|| field(g, "Original-Recipient"))?;
            Some(DsnRecipient {
                final_recipient: without_type(&recipient),
                action: field(g, "Action")?.trim().to_ascii_lowercase(),
                status: field(g, "Status")?
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                diagnostic: field(g, "Diagnostic-Code"),
            })
        })
        .collect();
    if recipients.is_empty() {
        return Err(ReportError::MissingField("Final-Recipient/Action/Status"));
    }
    Ok(Dsn {
        reporting_mta,
        recipients,
        original_message_id,
    })
}

fn parse_arf(text: &str, original_message_id: Option<String>) -> Result<Arf, ReportError> {
    let groups = field_groups(text);
    let fields: Vec<(String, String)> = groups.into_iter().flatten().collect();
    let feedback_type = field(&fields, "Feedback-Type")
        .ok_or(ReportError::MissingField("Feedback-Type"))?
        .trim()
        .to_ascii_lowercase();
    let original_rcpt_to = fields
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Original-Rcpt-To"))
        .map(|(_, v)| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
        .filter(|v| !v.is_empty())
        .collect();
    Ok(Arf {
        feedback_type,
        user_agent: field(&fields, "User-Agent"),
        original_rcpt_to,
        arrival_date: field(&fields, "Arrival-Date").or_else(|| field(&fields, "Received-Date")),
        original_message_id,
    })
}

/// Groups of `Name: value` fields separated by blank lines (values unfolded).
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !current.is_empty() {
                groups.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    groups
}

fn field(group: &[(String, String)], name: &str) -> Option<String> {
    group
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// `rfc822; a@b` → `a@b`, `dns; mx.example.com` → `mx.example.com`.
fn without_type(value: &str) -> String {
    let value = value.split_once(';').map_or(value, |(_, v)| v);
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &str = "From: MAILER-DAEMON@mx.example.org\r\nTo: bounces+00@b.example\r\nSubject: Undelivered Mail\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n boundary=\"B1\"\r\n\r\n--B1\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\nArrival-Date: Mon, 23 Nov 2026 01:00:00 +0000\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nOriginal-Recipient: rfc822;gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <gone@example.org>:\r\n Recipient address rejected\r\n\r\nFinal-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.7\r\n\r\n--B1\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: a@example.com\r\nMessage-ID: <0100abc-1-000000@email.amazonses.com>\r\nSubject: hi\r\n\r\n--B1--\r\n";

    const ARF: &str = "From: fbl@isp.example\r\nTo: bounces@b.example\r\nSubject: FW: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"A1\"\r\n\r\n--A1\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n--A1\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\nOriginal-Rcpt-To: <victim@example.org>\r\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n\r\n--A1\r\nContent-Type: message/rfc822\r\n\r\nFrom: a@example.com\r\nTo: victim@example.org\r\nMessage-ID: <0100def-2-000000@email.amazonses.com>\r\nSubject: hi\r\n\r\nbuy now\r\n--A1--\r\n";

    #[test]
    fn dsn_recipients_statuses_and_original_message() {
        let Report::Dsn(d) = parse(DSN.as_bytes()).unwrap() else {
            panic!("a DSN")
        };
        assert_eq!(d.reporting_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(
            d.original_message_id.as_deref(),
            Some("0100abc-1-000000@email.amazonses.com")
        );
        assert_eq!(d.recipients.len(), 2);
        let first = &d.recipients[0];
        assert_eq!(
            (
                first.final_recipient.as_str(),
                first.action.as_str(),
                first.status.as_str()
            ),
            ("gone@example.org", "failed", "5.1.1")
        );
        assert_eq!(
            first.diagnostic.as_deref(),
            Some("smtp; 550 5.1.1 <gone@example.org>: Recipient address rejected")
        );
        assert_eq!(d.recipients[1].action, "delayed");
        assert_eq!(d.recipients[1].diagnostic, None);
    }

    #[test]
    fn arf_fields_and_returned_message() {
        let Report::Arf(a) = parse(ARF.as_bytes()).unwrap() else {
            panic!("an ARF report")
        };
        assert_eq!(a.feedback_type, "abuse");
        assert_eq!(a.user_agent.as_deref(), Some("SomeGenerator/1.0"));
        assert_eq!(a.original_rcpt_to, vec!["victim@example.org".to_string()]);
        assert_eq!(
            a.arrival_date.as_deref(),
            Some("Thu, 8 Mar 2005 14:00:00 EDT")
        );
        assert_eq!(
            a.original_message_id.as_deref(),
            Some("0100def-2-000000@email.amazonses.com")
        );
    }

    #[test]
    fn malformed_reports_are_errors() {
        assert_eq!(
            parse(b"Subject: hello\r\n\r\nplain mail\r\n"),
            Err(ReportError::NotAReport)
        );
        let other = DSN.replace("delivery-status;", "disposition-notification;");
        assert_eq!(
            parse(other.as_bytes()),
            Err(ReportError::UnsupportedType(
                "disposition-notification".into()
            ))
        );
        let no_status = DSN.replace(
            "Content-Type: message/delivery-status",
            "Content-Type: text/plain",
        );
        assert_eq!(
            parse(no_status.as_bytes()),
            Err(ReportError::MissingPart("message/delivery-status"))
        );
        let no_type = ARF.replace("Feedback-Type: abuse\r\n", "");
        assert_eq!(
            parse(no_type.as_bytes()),
            Err(ReportError::MissingField("Feedback-Type"))
        );
        for junk in [
            &b""[..],
            b"\xff\xfe",
            b"Content-Type: multipart/report\r\n\r\n--",
        ] {
            assert!(parse(junk).is_err());
        }
    }

    #[test]
    fn a_nesting_that_trips_mail_parser_is_an_error_not_a_panic() {
        let raw = include_bytes!("../testdata/nested-rfc822-debug-assert.eml");
        assert!(parse(raw).is_err());
    }
}
