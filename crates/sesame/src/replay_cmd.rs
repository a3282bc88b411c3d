//! `sesame simulate --replay` (the recorded calls of a period decided again with
//! proposed policies; exit 1 when any outcome changes) and `sesame policy generate`
//! (the least-privilege policy of what a principal did). Both read the data
//! directory read-only, so they work while `sesame serve` runs.

use crate::audit_cmd::{now_ms, open_audit, parse_duration_ms};
use anyhow::Context as _;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};
use ses::replay::{Change, ChangedCall, ReplayReport};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use store::{AuditEvent, AuditQuery};

#[derive(Args)]
pub struct SimulateArgs {
    /// Decide the recorded calls of the period again (the only mode so far; offline
    /// documents are `sesame policy simulate FILE`).
    #[arg(long)]
    replay: bool,
    /// The period: calls made within this long ago (45s, 30m, 1h, 7d).
    #[arg(long, value_parser = parse_duration_ms)]
    since: i64,
    /// A proposed policy: TARGET=FILE, TARGET one of user/NAME:POLICY,
    /// role/NAME:POLICY (optionally ACCOUNT: first), boundary:user/NAME,
    /// boundary:role/NAME, a managed policy ARN, an SCP id p-…, or
    /// identity/ADDRESS_OR_DOMAIN:POLICY. Repeat for several.
    #[arg(long = "with-policy", required = true)]
    with_policy: Vec<String>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// The principal: a user, role (covers its sessions), assumed-role session or root ARN.
    #[arg(long)]
    principal: String,
    /// The period: calls made within this long ago (45s, 30m, 1h, 7d).
    #[arg(long, value_parser = parse_duration_ms)]
    since: i64,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

pub fn simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.replay,
        "sesame simulate needs --replay (for offline documents: sesame policy simulate FILE)"
    );
    let changes = args
        .with_policy
        .iter()
        .map(|spec| read_change(spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let store = open_audit(&args.data_dir)?;
    let events = recorded_calls(&store, args.since)?;
    let key = master_key(&args.data_dir)?;
    let iam = Arc::new(iam::Iam::new(store.clone(), key));
    let ses = ses::Ses::new(store, iam, String::new());
    let report = ses.replay(&events, &changes)?;
    match args.format {
        Format::Text => print_text(&report),
        Format::Json => println!("{}", serde_json::to_string_pretty(&to_json(&report))?),
    }
    Ok(if report.changed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn generate(args: GenerateArgs) -> anyhow::Result<ExitCode> {
    let principal = policy::Principal::parse(&args.principal)?;
    let store = open_audit(&args.data_dir)?;
    let events = recorded_calls(&store, args.since)?;
    match ses::least_privilege::generate(&events, &principal) {
        Some(policy) => {
            println!("{}", serde_json::to_string_pretty(&policy)?);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "{} made no authorized call in the period: there is nothing to allow",
                args.principal
            );
            Ok(ExitCode::from(1))
        }
    }
}

/// `TARGET=FILE` → a checked change.
fn read_change(spec: &str) -> anyhow::Result<Change> {
    let (target, file) = spec
        .rsplit_once('=')
        .with_context(|| format!("`{spec}` is not TARGET=FILE"))?;
    let document = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    Ok(Change::new(target, document)?)
}

/// The master key `serve` uses (to open the sessions of recorded calls).
fn master_key(data_dir: &Path) -> anyhow::Result<store::MasterKey> {
    let from_env = std::env::var("SESAME_MASTER_KEY").ok();
    anyhow::ensure!(
        from_env.is_some() || data_dir.join("master.key").is_file(),
        "no master key in {} (master.key not found, SESAME_MASTER_KEY not set)",
        data_dir.display()
    );
    Ok(store::MasterKey::load(data_dir, from_env.as_deref())?)
}

/// The recorded calls of the last `since_ms` that carry authorization decisions,
/// oldest first.
fn recorded_calls(store: &store::Store, since_ms: i64) -> anyhow::Result<Vec<AuditEvent>> {
    const PAGE: usize = 1000;
    let mut query = AuditQuery {
        start_ms: Some(now_ms() - since_ms),
        limit: PAGE,
        ..AuditQuery::default()
    };
    let mut calls = Vec::new();
    loop {
        let page = store
            .query_audit(&query)
            .context("reading the audit trail")?;
        let done = page.len() < PAGE;
        query.before = page.last().map(|e| (e.time_ms, e.event_id.clone()));
        calls.extend(
            page.into_iter()
                .filter(|e| !e.recorded_authorizations().is_empty()),
        );
        if done || query.before.is_none() {
            break;
        }
    }
    calls.reverse();
    Ok(calls)
}

fn direction(c: &ChangedCall) -> &'static str {
    if c.after.allowed {
        "denied -> allowed"
    } else {
        "allowed -> denied"
    }
}

fn print_text(report: &ReplayReport) {
    for c in &report.changed {
        let denied = if c.after.allowed { &c.before } else { &c.after };
        println!(
            "{}  {}  {}  {}  {}  {} on {}",
            direction(c),
            c.request_id,
            iam::ids::iso8601(c.time_ms),
            c.principal,
            c.event_name,
            denied.action,
            denied.resource
        );
        println!("    was {} ({})", c.before.decision, c.before.decided_by);
        println!("    now {} ({})", c.after.decision, c.after.decided_by);
    }
    for (request_id, reason) in &report.skipped {
        println!("skipped  {request_id}: {reason}");
    }
    let denied = report.changed.iter().filter(|c| !c.after.allowed).count();
    println!(
        "{} of {} replayed calls would change: {} allowed -> denied, {} denied -> allowed; {} skipped",
        report.changed.len(),
        report.replayed,
        denied,
        report.changed.len() - denied,
        report.skipped.len()
    );
}

fn to_json(report: &ReplayReport) -> Value {
    let outcome = |o: &ses::replay::Outcome| json!({ "decision": o.decision, "action": o.action, "resource": o.resource, "decidedBy": o.decided_by });
    let changed: Vec<Value> = report
        .changed
        .iter()
        .map(|c| {
            json!({
                "requestId": c.request_id,
                "time": iam::ids::iso8601(c.time_ms),
                "principal": c.principal,
                "eventName": c.event_name,
                "change": direction(c),
                "before": outcome(&c.before),
                "after": outcome(&c.after),
            })
        })
        .collect();
    let denied = report.changed.iter().filter(|c| !c.after.allowed).count();
    json!({
        "changed": changed,
        "skipped": report.skipped.iter().map(|(id, why)| json!({"requestId": id, "reason": why})).collect::<Vec<_>>(),
        "summary": {
            "replayed": report.replayed,
            "changed": report.changed.len(),
            "allowedToDenied": denied,
            "deniedToAllowed": report.changed.len() - denied,
            "skipped": report.skipped.len(),
        },
    })
}
