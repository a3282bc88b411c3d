//! `sesame admin`: operator commands on the store of a data directory (they work
//! while the server runs).

use crate::serve_cmd::open_store;
use clap::Subcommand;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Mark an email address or domain identity verified (creating it when missing);
    /// a domain's DKIM records count as found, which turns its signing on.
    VerifyIdentity {
        identity: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "./sesame-data")]
        data_dir: PathBuf,
    },
    /// Set an account's sending quota in a region.
    SetQuota {
        #[arg(long)]
        account: String,
        #[arg(long)]
        region: String,
        /// Messages (recipients) per rolling 24 hours.
        #[arg(long)]
        max_24_hour_send: f64,
        /// Messages (recipients) per second.
        #[arg(long)]
        max_send_rate: f64,
        #[arg(long, default_value = "./sesame-data")]
        data_dir: PathBuf,
    },
    /// Print the DKIM public key record of a domain identity (creating the key pair
    /// of an identity made before keys came with identities): `NAME TXT "v=DKIM1;
    /// k=rsa; p=…"`.
    DkimRecord {
        domain: String,
        #[arg(long)]
        account: String,
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "./sesame-data")]
        data_dir: PathBuf,
    },
    /// Take an account out of the SES sandbox in a region.
    ProductionAccess {
        #[arg(long)]
        account: String,
        #[arg(long)]
        region: String,
        #[arg(long, default_value = "./sesame-data")]
        data_dir: PathBuf,
    },
}

pub fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::VerifyIdentity {
            identity,
            account,
            region,
            data_dir,
        } => {
            let ses = open_ses(&data_dir)?;
            let verified = ses.mark_verified(&account, &region, &identity)?;
            println!("verified {} ({})", verified.name, verified.arn());
        }
        AdminCommand::SetQuota {
            account,
            region,
            max_24_hour_send,
            max_send_rate,
            data_dir,
        } => {
            open_ses(&data_dir)?.set_quota(&account, &region, max_24_hour_send, max_send_rate)?;
            println!("account {account} in {region}: {max_24_hour_send} per 24 hours, {max_send_rate} per second");
        }
        AdminCommand::DkimRecord {
            domain,
            account,
            region,
            data_dir,
        } => {
            let (store, key) = open_store(&data_dir)?;
            let name = ses::model::scoped_key(&account, &region, &domain.to_ascii_lowercase());
            let identity = store
                .read()?
                .get::<ses::model::Identity>(ses::model::table::IDENTITIES, &name)?
                .filter(|i| i.kind == ses::IdentityKind::Domain)
                .ok_or_else(|| {
                    anyhow::anyhow!("no domain identity {domain} in {account}/{region}")
                })?;
            let dkim = ses::dkim_key::ensure(&store, &key, &identity)?;
            println!("{} TXT \"{}\"", dkim.record_name(), dkim.record_text());
        }
        AdminCommand::ProductionAccess {
            account,
            region,
            data_dir,
        } => {
            open_ses(&data_dir)?.grant_production_access(&account, &region)?;
            println!("account {account} has production access in {region}");
        }
    }
    Ok(())
}

/// The SES service over the store of a data directory.
pub(crate) fn open_ses(data_dir: &std::path::Path) -> anyhow::Result<ses::Ses> {
    let (store, key) = open_store(data_dir)?;
    let iam = Arc::new(iam::Iam::new(store.clone(), key));
    Ok(ses::Ses::new(store, iam, String::new()))
}
