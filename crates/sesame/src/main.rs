//! The `sesame` binary: the command line over the workspace's crates. Only this edge
//! uses `anyhow`; every library crate has its own error types.

mod admin_cmd;
mod audit_cmd;
mod delivery_cmd;
mod doctor_cmd;
mod export_cmd;
mod policy_cmd;
mod replay_cmd;
mod serve_cmd;
mod smtp_password_cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The server allocates and frees many small buffers per request on many threads;
/// mimalloc's per-thread pages spend far less time on it than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "sesame",
    version,
    about = "A self-hosted, Amazon SES-compatible email sending service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the AWS-compatible endpoint.
    Serve(Box<serve_cmd::ServeArgs>),
    /// Operator commands on a data directory.
    Admin {
        #[command(subcommand)]
        command: admin_cmd::AdminCommand,
    },
    /// Read the audit trail of a data directory (works while `serve` runs).
    Audit(audit_cmd::AuditArgs),
    /// Check the whole path of a send without sending; names the cause and the fix.
    Doctor(doctor_cmd::DoctorArgs),
    /// Show a recorded call by its request id, with the decision trace of a denial.
    Explain(audit_cmd::ExplainArgs),
    /// Write the whole configuration as one JSON document (secrets only on request).
    Export(export_cmd::ExportArgs),
    /// Bring a stopped server's data directory in line with an exported document.
    Import(export_cmd::ImportArgs),
    /// Print the SES SMTP password of an access key for a region.
    SmtpPassword(smtp_password_cmd::SmtpPasswordArgs),
    /// Decide the recorded calls of a period again with proposed policies (--replay).
    Simulate(replay_cmd::SimulateArgs),
    /// Offline policy tools: simulate decisions, validate documents.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(*args).map(|()| ExitCode::SUCCESS),
        Command::Policy { command } => policy_cmd::run(command),
        Command::Simulate(args) => replay_cmd::simulate(args),
        Command::Doctor(args) => doctor_cmd::run(args),
        Command::Explain(args) => audit_cmd::explain(args),
        Command::Export(args) => export_cmd::export(args).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => export_cmd::import(args).map(|()| ExitCode::SUCCESS),
        Command::SmtpPassword(args) => smtp_password_cmd::run(args).map(|()| ExitCode::SUCCESS),
        Command::Audit(args) => audit_cmd::run(args).map(|()| ExitCode::SUCCESS),
        Command::Admin { command } => admin_cmd::run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sesame: {e:#}");
            ExitCode::from(2)
        }
    }
}
