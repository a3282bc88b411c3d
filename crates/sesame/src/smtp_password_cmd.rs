//! `sesame smtp-password`: the SES SMTP password of an access key for a region.

use crate::serve_cmd::open_store;
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

#[derive(Args)]
pub struct SmtpPasswordArgs {
    /// The region whose SMTP endpoint will accept the password.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Derive for this access key, reading its secret from the store of --data-dir.
    #[arg(long, conflicts_with = "secret_stdin")]
    access_key_id: Option<String>,
    /// Read the secret access key from standard input instead.
    #[arg(long)]
    secret_stdin: bool,
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
}

pub fn run(args: SmtpPasswordArgs) -> anyhow::Result<()> {
    let secret = if args.secret_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s.trim().to_string()
    } else {
        let id = args
            .access_key_id
            .ok_or_else(|| anyhow::anyhow!("give --access-key-id or --secret-stdin"))?;
        let (store, key) = open_store(&args.data_dir)?;
        let iam = iam::Iam::new(store, key);
        let caller = iam.caller(&id).map_err(|e| anyhow::anyhow!("{id}: {e}"))?;
        anyhow::ensure!(
            !caller.is_temporary(),
            "temporary credentials cannot be used for SMTP"
        );
        caller.secret().to_string()
    };
    println!("{}", sigv4::ses_smtp_password(&secret, &args.region));
    Ok(())
}
