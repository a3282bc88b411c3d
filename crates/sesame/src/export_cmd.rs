//! `sesame export` and `sesame import`: the whole configuration of a data directory as
//! one sorted, diff-friendly JSON document, and bringing a data directory in line
//! with such a document. The document format and the comparison live in
//! `store::export`; this module names the configuration tables and the record type
//! each must hold.
//!
//! Export reads beside a running server. Import takes the data directory's holder
//! lock, so it refuses to run while `sesame serve` holds it (the server caches
//! callers and compiled policies); `--dry-run` only reads and works beside it.

use crate::serve_cmd::open_store;
use anyhow::Context as _;
use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::io::Write as _;
use std::path::PathBuf;
use store::export::{self, Change, Section};

#[derive(Args)]
pub struct ExportArgs {
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
    /// Include access-key secrets and DKIM private keys in plaintext.
    #[arg(long)]
    include_secrets: bool,
    /// Write to FILE instead of standard output (created with mode 0600).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A document written by `sesame export`.
    file: PathBuf,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
    /// Print what would change without changing anything.
    #[arg(long)]
    dry_run: bool,
}

/// A record type of a configuration table, and the store key it must have when the
/// record alone determines it (`None`: the key carries more, e.g. account and region).
trait Record: DeserializeOwned {
    fn key(&self) -> Option<String> {
        None
    }
}

/// Checks that a stored-form record deserializes as `T` and sits under its own key.
fn holds<T: Record>(key: &str, record: &Value) -> Result<(), String> {
    let parsed = T::deserialize(record).map_err(|e| e.to_string())?;
    match parsed.key() {
        Some(expected) if expected != key => Err(format!("its key must be \"{expected}\"")),
        _ => Ok(()),
    }
}

impl Record for iam::model::Organization {
    fn key(&self) -> Option<String> {
        Some(iam::org::ORG_KEY.into())
    }
}

impl Record for iam::model::OrgUnit {
    fn key(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Record for iam::model::Account {
    fn key(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Record for iam::model::ControlPolicy {
    fn key(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Record for iam::model::ManagedPolicy {
    fn key(&self) -> Option<String> {
        Some(self.arn.clone())
    }
}

impl Record for iam::model::User {
    fn key(&self) -> Option<String> {
        Some(iam::model::entity_key(&self.account, &self.name))
    }
}

impl Record for iam::model::Group {
    fn key(&self) -> Option<String> {
        Some(iam::model::entity_key(&self.account, &self.name))
    }
}

impl Record for iam::model::Role {
    fn key(&self) -> Option<String> {
        Some(iam::model::entity_key(&self.account, &self.name))
    }
}

impl Record for iam::model::AccessKey {
    fn key(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Record for ses::model::Identity {
    fn key(&self) -> Option<String> {
        let name = self.name.to_ascii_lowercase();
        Some(ses::model::scoped_key(&self.account, &self.region, &name))
    }
}

impl Record for ses::model::AccountSettings {}
impl Record for delivery::dkim::StoredKey {}
impl Record for ses::model::ConfigurationSet {}
impl Record for ses::model::Template {}
impl Record for ses::model::SuppressedDestination {}

/// Everything that is configuration, in dependency order. Not exported: STS sessions
/// (temporary), CreateAccount request history, messages, sending events, statistics,
/// the delivery queue and the audit trail.
const SECTIONS: &[Section] = &[
    Section {
        name: "organization",
        table: iam::model::table::ORG,
        policy_paths: &[],
        check: holds::<iam::model::Organization>,
    },
    Section {
        name: "organizational_units",
        table: iam::model::table::OUS,
        policy_paths: &[],
        check: holds::<iam::model::OrgUnit>,
    },
    Section {
        name: "accounts",
        table: iam::model::table::ACCOUNTS,
        policy_paths: &[],
        check: holds::<iam::model::Account>,
    },
    Section {
        name: "control_policies",
        table: iam::model::table::CONTROL_POLICIES,
        policy_paths: &["content"],
        check: holds::<iam::model::ControlPolicy>,
    },
    Section {
        name: "iam_managed_policies",
        table: iam::model::table::POLICIES,
        policy_paths: &["versions.*.document"],
        check: holds::<iam::model::ManagedPolicy>,
    },
    Section {
        name: "iam_users",
        table: iam::model::table::USERS,
        policy_paths: &["permissions.inline.*"],
        check: holds::<iam::model::User>,
    },
    Section {
        name: "iam_groups",
        table: iam::model::table::GROUPS,
        policy_paths: &["permissions.inline.*"],
        check: holds::<iam::model::Group>,
    },
    Section {
        name: "iam_roles",
        table: iam::model::table::ROLES,
        policy_paths: &["trust_policy", "permissions.inline.*"],
        check: holds::<iam::model::Role>,
    },
    Section {
        name: "iam_access_keys",
        table: iam::model::table::ACCESS_KEYS,
        policy_paths: &[],
        check: holds::<iam::model::AccessKey>,
    },
    Section {
        name: "ses_account_settings",
        table: ses::model::table::ACCOUNTS,
        policy_paths: &[],
        check: holds::<ses::model::AccountSettings>,
    },
    Section {
        name: "ses_identities",
        table: ses::model::table::IDENTITIES,
        policy_paths: &["policies.*"],
        check: holds::<ses::model::Identity>,
    },
    Section {
        name: "ses_dkim_signing_keys",
        table: delivery::dkim::TABLE,
        policy_paths: &[],
        check: holds::<delivery::dkim::StoredKey>,
    },
    Section {
        name: "ses_configuration_sets",
        table: ses::model::table::CONFIG_SETS,
        policy_paths: &[],
        check: holds::<ses::model::ConfigurationSet>,
    },
    Section {
        name: "ses_templates",
        table: ses::model::table::TEMPLATES,
        policy_paths: &[],
        check: holds::<ses::model::Template>,
    },
    Section {
        name: "ses_suppression_list",
        table: ses::model::table::SUPPRESSED,
        policy_paths: &[],
        check: holds::<ses::model::SuppressedDestination>,
    },
];

pub fn export(args: ExportArgs) -> anyhow::Result<()> {
    let backend = store::SqliteBackend::open_read_only(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let store = store::Store::new(std::sync::Arc::new(backend));
    let key = if args.include_secrets {
        Some(store::MasterKey::load(
            &args.data_dir,
            std::env::var("SESAME_MASTER_KEY").ok().as_deref(),
        )?)
    } else {
        None
    };
    let document = export::export(&store, SECTIONS, key.as_ref())?;
    let mut text = serde_json::to_string_pretty(&document)?;
    text.push('\n');
    match args.output {
        Some(path) => {
            write_private(&path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(text.as_bytes())?,
    }
    Ok(())
}

pub fn import(args: ImportArgs) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let document: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON document", args.file.display()))?;
    let _holder = if args.dry_run {
        None
    } else {
        Some(store::DataDirLock::acquire(&args.data_dir)?)
    };
    let (store, key) = open_store(&args.data_dir)?;
    let changes = export::import(&store, SECTIONS, &key, &document, args.dry_run)?;
    for c in &changes {
        println!("{}", describe(c));
    }
    let count = |f: fn(&Change) -> bool| changes.iter().filter(|c| f(&c.change)).count();
    let applied = count(|c| !matches!(c, Change::Skipped(_)));
    let skipped = count(|c| matches!(c, Change::Skipped(_)));
    let verb = if args.dry_run {
        "would change"
    } else {
        "changed"
    };
    if applied == 0 {
        println!("no changes ({skipped} skipped)");
    } else {
        println!(
            "{verb} {applied} objects: {} added, {} changed, {} removed ({skipped} skipped)",
            count(|c| matches!(c, Change::Added)),
            count(|c| matches!(c, Change::Changed(_))),
            count(|c| matches!(c, Change::Removed)),
        );
    }
    Ok(())
}

fn describe(c: &export::ObjectChange) -> String {
    let object = format!("{} {}", c.section, c.key);
    match &c.change {
        Change::Added => format!("+ {object}"),
        Change::Removed => format!("- {object}"),
        Change::Changed(fields) => format!("~ {object}: {}", fields.join(", ")),
        Change::Skipped(reason) => format!("! {object}: skipped, {reason}"),
    }
}

/// The export may hold secrets: only its owner may read it.
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}
