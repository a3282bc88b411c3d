//! `sesame audit`: reads the audit trail of a data directory, newest first. The store
//! is opened read-only, so this works while `sesame serve` runs on the same directory.

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use store::{AuditEvent, AuditQuery};

#[derive(Args)]
pub struct AuditArgs {
    /// The data directory `sesame serve` uses.
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
    /// Only calls of this operation (e.g. ListUsers).
    #[arg(long)]
    event_name: Option<String>,
    /// Only calls by this user name (CloudTrail's `userName`; `root` for root).
    #[arg(long)]
    user: Option<String>,
    /// Only calls in this account.
    #[arg(long)]
    account: Option<String>,
    /// Only events from this source: `smtp` for SMTP submissions, or e.g. `ses.amazonaws.com`.
    #[arg(long)]
    event_source: Option<String>,
    /// Only calls made within this long ago: 45s, 30m, 1h, 7d.
    #[arg(long, value_parser = parse_duration_ms)]
    since: Option<i64>,
    /// Only calls refused by authentication or authorization.
    #[arg(long)]
    denied: bool,
    /// One JSON object per line (the full record, with the decision trace).
    #[arg(long)]
    json: bool,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// Error codes of calls refused before or by authorization.
const DENIAL_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
    "ExpiredToken",
];

/// The audit trail of a data directory, opened read-only (works while the server runs).
pub(crate) fn open_audit(data_dir: &std::path::Path) -> anyhow::Result<store::Store> {
    anyhow::ensure!(
        data_dir.join("sesame.db").is_file(),
        "no Sesame store in {} (sesame.db not found)",
        data_dir.display()
    );
    let backend = store::SqliteBackend::open_read_only(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    Ok(store::Store::new(Arc::new(backend)))
}

/// `sesame explain REQUEST-ID`: the recorded call whose response carried that request
/// id, with the decision trace behind a denial; for a failed send, doctor's failing
/// checks and fixes for the same send on the current configuration.
#[derive(Args)]
pub struct ExplainArgs {
    /// The request id of the response (`RequestId` in XML errors, `x-amzn-RequestId`).
    request_id: String,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
    /// One JSON object instead of text.
    #[arg(long)]
    json: bool,
}

pub fn explain(args: ExplainArgs) -> anyhow::Result<std::process::ExitCode> {
    let store = open_audit(&args.data_dir)?;
    let query = AuditQuery {
        limit: 1,
        ..AuditQuery::default()
    };
    let wanted = args.request_id.as_str();
    let found = store
        .query_audit_where(&query, |e| {
            e.detail.get("requestID").and_then(Value::as_str) == Some(wanted)
        })
        .context("reading the audit trail")?;
    let Some(event) = found.first() else {
        eprintln!("no recorded call has request id {wanted}");
        return Ok(std::process::ExitCode::from(1));
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    if args.json {
        writeln!(out, "{}", serde_json::to_string(event)?)?;
    } else {
        write_text(&mut out, event)?;
        if event.trace.is_empty() && error_code(event).is_some() {
            writeln!(
                out,
                "    (no authorization trace: the call failed before or after authorization)"
            )?;
        }
        if let Some(request) = crate::doctor_cmd::request_of_failed_send(event) {
            writeln!(out, "    doctor, on the configuration as it is now:")?;
            // The record stands on its own: a doctor that cannot run says so.
            match crate::doctor_cmd::failing_checks(&args.data_dir, &request) {
                Ok(lines) => {
                    for line in lines {
                        writeln!(out, "    {line}")?;
                    }
                }
                Err(e) => writeln!(out, "    (doctor could not run: {e:#})")?,
            }
        }
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let store = open_audit(&args.data_dir)?;
    let query = AuditQuery {
        account: args.account.clone(),
        event_name: args.event_name.clone(),
        user_name: args.user.clone(),
        event_source: args.event_source.clone(),
        start_ms: args.since.map(|ago| now_ms() - ago),
        limit: args.limit.max(1),
        ..AuditQuery::default()
    };
    let events = store
        .query_audit_where(&query, |e| !args.denied || is_denial(e))
        .context("reading the audit trail")?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    for e in &events {
        if args.json {
            writeln!(out, "{}", serde_json::to_string(e)?)?;
        } else {
            write_text(&mut out, e)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn error_code(e: &AuditEvent) -> Option<&str> {
    e.detail.get("errorCode").and_then(Value::as_str)
}

fn is_denial(e: &AuditEvent) -> bool {
    error_code(e).is_some_and(|code| DENIAL_CODES.contains(&code))
}

/// `TIME  ACCOUNT  PRINCIPAL  service:Action  OK | CODE: message`, then the trace of
/// a denial, one indented line per step.
fn write_text(out: &mut impl Write, e: &AuditEvent) -> std::io::Result<()> {
    let identity = e.detail.get("userIdentity");
    let principal = identity
        .and_then(|i| i.get("arn"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("(unauthenticated, access key {})", e.access_key_id));
    let service = e
        .event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(&e.event_source);
    let account = if e.account.is_empty() {
        "-"
    } else {
        &e.account
    };
    let outcome = match error_code(e) {
        None => "OK".to_string(),
        Some(code) => {
            let message = e
                .detail
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or_default();
            format!("{code}: {message}")
        }
    };
    let time = e
        .detail
        .get("eventTime")
        .and_then(Value::as_str)
        .unwrap_or_default();
    writeln!(
        out,
        "{time}  {account}  {principal}  {service}:{}  {outcome}",
        e.event_name
    )?;
    for line in &e.trace {
        writeln!(out, "    {line}")?;
    }
    Ok(())
}

/// `45s`, `30m`, `1h`, `7d` in milliseconds.
pub(crate) fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a duration such as 45s, 30m, 1h or 7d");
    let unit = text.chars().last().ok_or_else(bad)?;
    let number = &text[..text.len() - unit.len_utf8()];
    let n: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return Err(bad()),
    };
    if n < 0 {
        return Err(bad());
    }
    n.checked_mul(unit_ms).ok_or_else(bad)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("45s"), Ok(45_000));
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("7d"), Ok(604_800_000));
        for bad in [
            "",
            "h",
            "1",
            "1w",
            "-1h",
            "1.5h",
            "99999999999999999999d",
            "1é",
            "é",
        ] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_lines_show_denials_with_their_trace() {
        let e = AuditEvent {
            event_id: "e1".into(),
            time_ms: 0,
            account: "000000000000".into(),
            event_name: "ListUsers".into(),
            event_source: "iam.amazonaws.com".into(),
            user_name: "alice".into(),
            access_key_id: "AKIAALICE".into(),
            trace: vec!["decision: implicit deny".into()],
            detail: serde_json::json!({
                "eventTime": "1970-01-01T00:00:00Z",
                "userIdentity": {"arn": "arn:aws:iam::000000000000:user/alice"},
                "errorCode": "AccessDenied",
                "errorMessage": "User: arn:aws:iam::000000000000:user/alice is not authorized",
            }),
            authorizations: Vec::new(),
        };
        assert!(is_denial(&e));
        let mut out = Vec::new();
        write_text(&mut out, &e).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:00Z  000000000000  arn:aws:iam::000000000000:user/alice  iam:ListUsers  AccessDenied: User: arn:aws:iam::000000000000:user/alice is not authorized\n    decision: implicit deny\n"
        );
    }
}
