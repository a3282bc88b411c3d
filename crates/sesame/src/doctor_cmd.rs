//! `sesame doctor`: runs the whole path of a send without sending and prints a
//! checklist with the deciding policy and the smallest fix for each failure.

use crate::admin_cmd::open_ses;
use clap::{Args, ValueEnum};
use serde_json::Value;
use ses::doctor::{Check, DoctorRequest, SmtpCredentials};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::AuditEvent;

#[derive(Args)]
pub struct DoctorArgs {
    /// The sender: an IAM user, role, assumed-role session or root ARN.
    #[arg(long)]
    principal: String,
    /// The From address.
    #[arg(long)]
    from: String,
    /// A recipient (repeat for several).
    #[arg(long = "to", required = true)]
    to: Vec<String>,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// The identity ARN of another account's identity (delegate sending).
    #[arg(long)]
    source_arn: Option<String>,
    /// The Return-Path (feedback) address.
    #[arg(long)]
    return_path: Option<String>,
    /// Check the SMTP interface (ses:SendRawEmail and SMTP credentials).
    #[arg(long)]
    smtp: bool,
    /// Check an API raw send (ses:SendRawEmail) rather than SendEmail.
    #[arg(long)]
    raw: bool,
    /// The client address the send would come from (aws:SourceIp).
    #[arg(long, default_value = "127.0.0.1")]
    source_ip: String,
    /// The send would use TLS (aws:SecureTransport).
    #[arg(long)]
    tls: bool,
    /// The User-Agent the send would carry (aws:UserAgent).
    #[arg(long)]
    user_agent: Option<String>,
    /// With --smtp: the SMTP username (access key id) the mail client uses; its
    /// SMTP password is read from standard input and checked for the region.
    #[arg(long, requires = "smtp")]
    smtp_username: Option<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let ses = open_ses(&args.data_dir)?;
    let smtp_credentials = match args.smtp_username {
        Some(username) => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            Some(SmtpCredentials {
                username,
                password: password.trim().to_string(),
            })
        }
        None => None,
    };
    let request = DoctorRequest {
        principal: args.principal,
        from: args.from,
        to: args.to,
        region: args.region,
        source_arn: args.source_arn,
        return_path: args.return_path,
        smtp: args.smtp,
        raw: args.raw,
        source_ip: args.source_ip,
        secure_transport: args.tls || args.smtp,
        user_agent: args.user_agent,
        smtp_credentials,
    };
    let checks = ses.doctor(&request)?;
    match args.format {
        Format::Text => print_text(&checks),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&ses::doctor::checks_json(&checks))?
        ),
    }
    Ok(if checks.iter().all(|c| c.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_text(checks: &[Check]) {
    for c in checks {
        println!(
            "{} {:<21} {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
        if let Some(fix) = &c.fix {
            println!("     {:<21} fix: {fix}", "");
        }
        for line in &c.trace {
            println!("     {:<21} | {line}", "");
        }
    }
}

/// For `sesame explain`: a failed send, as doctor would check it (principal, From,
/// recipients, Return-Path, region, the owner's identity for a delegate, and the
/// client's address, transport and User-Agent). `None` for other calls, and for
/// sends it cannot rebuild (a raw message refused before authorization).
pub(crate) fn request_of_failed_send(event: &AuditEvent) -> Option<DoctorRequest> {
    if event.event_source != "ses.amazonaws.com" || event.detail.get("errorCode").is_none() {
        return None;
    }
    request_of_authorization(event).or_else(|| request_of_parameters(event))
}

/// From the recorded authorization of the send action: the denied one, else the
/// allowed one of a send refused later (e.g. by the sandbox).
fn request_of_authorization(event: &AuditEvent) -> Option<DoctorRequest> {
    let sends: Vec<_> = event
        .recorded_authorizations()
        .into_iter()
        .filter(|a| a.action.starts_with("ses:Send"))
        .collect();
    let send = sends
        .iter()
        .find(|a| a.decision != "allowed")
        .or(sends.first())?;
    let value = |key: &str| {
        send.context
            .iter()
            .find(|c| c.key == key)
            .map(|c| c.values.clone())
            .unwrap_or_default()
    };
    let one = |key: &str| value(key).into_iter().next();
    let address = one("ses:fromaddress")?;
    let from = match one("ses:fromdisplayname") {
        Some(name) => format!("{name} <{address}>"),
        None => address,
    };
    let principal_account = one("aws:principalaccount").unwrap_or_default();
    let cross_account = send
        .resource_account
        .as_ref()
        .is_some_and(|owner| *owner != principal_account);
    Some(DoctorRequest {
        principal: send.principal.clone(),
        from,
        to: value("ses:recipients"),
        region: one("aws:requestedregion")?,
        source_arn: cross_account.then(|| send.resource.clone()),
        return_path: one("ses:feedbackaddress"),
        smtp: false, // SMTP submissions are not in the audit trail
        raw: send.action == "ses:SendRawEmail",
        source_ip: one("aws:sourceip").unwrap_or_else(|| "127.0.0.1".into()),
        secure_transport: one("aws:securetransport").as_deref() == Some("true"),
        user_agent: one("aws:useragent"),
        smtp_credentials: None,
    })
}

/// From the parameters of a SendEmail (v1 or v2, simple or templated content) refused
/// before authorization, e.g. for an identity ARN of another region.
fn request_of_parameters(event: &AuditEvent) -> Option<DoctorRequest> {
    if event.event_name != "SendEmail" {
        return None;
    }
    let detail = &event.detail;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let params = detail.get("requestParameters")?;
    let (from, to, source_arn, return_path) = match text(params, "Source") {
        Some(source) => {
            let to = params
                .as_object()?
                .iter()
                .filter(|(k, _)| k.starts_with("Destination.") && k.contains("Addresses.member."))
                .filter_map(|(_, v)| v.as_str().map(str::to_string))
                .collect();
            (
                source,
                to,
                text(params, "SourceArn"),
                text(params, "ReturnPath"),
            )
        }
        None => {
            let destination = params.get("Destination");
            let to = ["ToAddresses", "CcAddresses", "BccAddresses"]
                .iter()
                .filter_map(|k| destination?.get(k)?.as_array())
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            (
                text(params, "FromEmailAddress")?,
                to,
                text(params, "FromEmailAddressIdentityArn"),
                text(params, "FeedbackForwardingEmailAddress"),
            )
        }
    };
    Some(DoctorRequest {
        principal: text(detail.get("userIdentity")?, "arn")?,
        from,
        to,
        region: text(detail, "awsRegion")?,
        source_arn,
        return_path,
        smtp: false,
        raw: false,
        source_ip: text(detail, "sourceIPAddress").unwrap_or_else(|| "127.0.0.1".into()),
        secure_transport: false,
        user_agent: text(detail, "userAgent"),
        smtp_credentials: None,
    })
}

/// The failing checks of `request` on the configuration as it is now, in doctor's
/// words (one line per check, then its fix), or a line saying every check passes.
pub(crate) fn failing_checks(
    data_dir: &Path,
    request: &DoctorRequest,
) -> anyhow::Result<Vec<String>> {
    let checks = open_ses(data_dir)?.doctor(request)?;
    let mut lines = Vec::new();
    for c in checks.iter().filter(|c| !c.passed) {
        lines.push(format!("FAIL {:<21} {}", c.name, c.detail));
        if let Some(fix) = &c.fix {
            lines.push(format!("     {:<21} fix: {fix}", ""));
        }
    }
    if lines.is_empty() {
        lines.push("every check passes now: the cause has been fixed since".into());
    }
    Ok(lines)
}
