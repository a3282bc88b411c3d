//! `sesame doctor`: runs the whole path of a send without sending and prints a
//! checklist with the deciding policy and the smallest fix for each failure.

use crate::serve_cmd::open_store;
use clap::{Args, ValueEnum};
use ses::doctor::{Check, DoctorRequest, SmtpCredentials};
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

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
    let (store, key) = open_store(&args.data_dir)?;
    let iam = Arc::new(iam::Iam::new(store.clone(), key));
    let ses = ses::Ses::new(store, iam, String::new());
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
        source_ip: args.source_ip,
        secure_transport: args.tls || args.smtp,
        user_agent: args.user_agent,
        smtp_credentials,
    };
    let checks = ses.doctor(&request)?;
    match args.format {
        Format::Text => print_text(&checks),
        Format::Json => println!("{}", serde_json::to_string_pretty(&to_json(&checks))?),
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

fn to_json(checks: &[Check]) -> serde_json::Value {
    let list: Vec<_> = checks
        .iter()
        .map(|c| serde_json::json!({ "check": c.name, "passed": c.passed, "detail": c.detail, "fix": c.fix, "trace": c.trace }))
        .collect();
    serde_json::json!({ "passed": checks.iter().all(|c| c.passed), "checks": list })
}
