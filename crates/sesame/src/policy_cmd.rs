//! `sesame policy simulate | validate`.

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use policy::simulation::{self, Simulation};
use policy::validate::{self, PolicyKind};
use policy::{evaluate, evaluate_traced, message};
use serde_json::{json, Map, Value};
use std::io::{BufWriter, Read, Write};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Decide simulation documents (one object, an array, or JSON Lines); one JSON line out per document.
    Simulate {
        /// File to read, or - for standard input.
        file: String,
        /// Leave out the evaluation trace (faster for large batches).
        #[arg(long)]
        no_trace: bool,
    },
    /// Lint a policy (SES-aware checks beyond validation); exits 1 when any finding is an error.
    Lint {
        /// File to read, or - for standard input.
        file: String,
        /// The SES identity ARN whose sending authorization policy this is.
        #[arg(long)]
        identity: Option<String>,
    },
    /// The least-privilege identity policy allowing what a principal did in a period.
    Generate(crate::replay_cmd::GenerateArgs),
    /// Check a policy document; prints LINE:COL: error|warning: text, exits 1 when invalid.
    Validate {
        /// File to read, or - for standard input.
        file: String,
        /// What the policy is used as (default: resource-based when it names a Principal).
        #[arg(long, value_enum)]
        kind: Option<Kind>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Kind {
    Identity,
    Resource,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Simulate { file, no_trace } => simulate(&read_input(&file)?, !no_trace),
        PolicyCommand::Lint { file, identity } => {
            let findings = policy::lint::lint(&read_input(&file)?, identity.as_deref());
            for f in &findings {
                println!("{f}");
            }
            Ok(if policy::lint::passes(&findings) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        PolicyCommand::Generate(args) => crate::replay_cmd::generate(args),
        PolicyCommand::Validate { file, kind } => {
            let kind = kind.map(|k| match k {
                Kind::Identity => PolicyKind::Identity,
                Kind::Resource => PolicyKind::Resource,
            });
            validate_file(&read_input(&file)?, kind)
        }
    }
}

fn read_input(file: &str) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    if file == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
        bytes = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{file} is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
    })
}

fn simulate(text: &str, with_trace: bool) -> anyhow::Result<ExitCode> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut failed = false;
    for (name, item) in simulation::read_all(text) {
        let line = match item {
            Ok(sim) => decide(&sim, with_trace),
            Err(e) => {
                failed = true;
                json!({ "name": name, "error": e.to_string() })
            }
        };
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if failed {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

fn decide(sim: &Simulation, with_trace: bool) -> Value {
    let (decision, trace) = if with_trace {
        let (d, t) = evaluate_traced(&sim.policies, &sim.request);
        (d, Some(t.lines))
    } else {
        (evaluate(&sim.policies, &sim.request), None)
    };
    let mut obj = Map::new();
    obj.insert("name".into(), json!(sim.name));
    obj.insert("decision".into(), json!(decision.outcome.as_str()));
    if let Some(m) = message::iam_denial(&sim.request, &decision) {
        obj.insert("message".into(), json!(m));
    }
    obj.insert(
        "deniedBy".into(),
        json!(decision.denied_by.map(|l| l.as_str())),
    );
    if let Some(lines) = trace {
        obj.insert("trace".into(), json!(lines));
    }
    Value::Object(obj)
}

fn validate_file(text: &str, kind: Option<PolicyKind>) -> anyhow::Result<ExitCode> {
    let findings = validate::validate(text, kind);
    for f in &findings {
        println!("{f}");
    }
    Ok(if validate::is_valid(&findings) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
