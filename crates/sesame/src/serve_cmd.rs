//! `sesame serve`: the AWS-compatible endpoint on the embedded store.

use anyhow::Context as _;
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct ServeArgs {
    /// Where all state lives (created if missing).
    #[arg(long, default_value = "./sesame-data")]
    data_dir: PathBuf,
    /// AWS-compatible HTTP endpoint; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:4566")]
    http: String,
    /// SMTP submission interface (STARTTLS offered when a certificate is configured).
    #[arg(long)]
    smtp: Option<String>,
    /// Implicit-TLS SMTP listener (needs --tls-cert and --tls-key).
    #[arg(long)]
    smtps: Option<String>,
    /// PEM certificate chain for STARTTLS and the implicit-TLS listener.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow SMTP AUTH without TLS (loopback development only).
    #[arg(long)]
    smtp_insecure_auth: bool,
    /// The region whose SMTP credentials the SMTP listener accepts.
    #[arg(long, default_value = "us-east-1")]
    smtp_region: String,
    /// Seconds an SMTP client may stay silent between commands.
    #[arg(long, default_value_t = 300)]
    smtp_timeout: u64,
    /// Most concurrent SMTP connections.
    #[arg(long, default_value_t = 200)]
    smtp_max_connections: usize,
    #[command(flatten)]
    delivery: crate::delivery_cmd::DeliveryArgs,
    /// Seconds between DNS checks (through --dns) of domain identities still pending
    /// verification.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    dns_check_interval: u64,
}

/// Root credentials and account of the management account, from the environment.
struct Bootstrap {
    account_id: String,
    access_key_id: String,
    secret_access_key: String,
}

impl Bootstrap {
    fn from_env() -> anyhow::Result<Bootstrap> {
        let account_id =
            std::env::var("SESAME_ACCOUNT_ID").unwrap_or_else(|_| "000000000000".into());
        anyhow::ensure!(
            account_id.len() == 12 && account_id.bytes().all(|b| b.is_ascii_digit()),
            "SESAME_ACCOUNT_ID must be 12 digits"
        );
        Ok(Bootstrap {
            account_id,
            access_key_id: std::env::var("SESAME_ROOT_ACCESS_KEY_ID")
                .unwrap_or_else(|_| "AKIASESAMEROOT000000".into()),
            secret_access_key: std::env::var("SESAME_ROOT_SECRET_ACCESS_KEY")
                .unwrap_or_else(|_| "sesame-root-secret-change-me-0000000000".into()),
        })
    }
}

/// Opens the store of a data directory (for the server and operator commands).
pub fn open_store(data_dir: &std::path::Path) -> anyhow::Result<(store::Store, store::MasterKey)> {
    let backend = store::SqliteBackend::open(data_dir)
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let key = store::MasterKey::load(data_dir, std::env::var("SESAME_MASTER_KEY").ok().as_deref())?;
    Ok((store::Store::new(Arc::new(backend)), key))
}

/// Most threads running blocking work at once (see `run`).
const BLOCKING_THREADS: usize = 64;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging();
    // Calls run on blocking threads (store reads, the wait for the spool's group
    // commit). Left unbounded, tokio grows the pool to hundreds of threads under a
    // steady load (a thread finishing as the next call arrives is not yet idle), each
    // with its own stack and allocator pages; past this many, calls queue.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let _holder = store::DataDirLock::acquire(&args.data_dir)?;
    let backend = store::SqliteBackend::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    let store = store::Store::new(Arc::new(backend));
    let key = store::MasterKey::load(
        &args.data_dir,
        std::env::var("SESAME_MASTER_KEY").ok().as_deref(),
    )?;
    let delivery_key = key.clone();
    let iam = Arc::new(iam::Iam::new(store.clone(), key));
    let boot = Bootstrap::from_env()?;
    if std::env::var_os("SESAME_ROOT_SECRET_ACCESS_KEY").is_none() {
        tracing::warn!(access_key_id = %boot.access_key_id, "SESAME_ROOT_SECRET_ACCESS_KEY is not set: using the built-in development root credentials (see README)");
    }
    iam.bootstrap(
        &boot.account_id,
        &boot.access_key_id,
        &boot.secret_access_key,
    )?;
    let listener = tokio::net::TcpListener::bind(&args.http)
        .await
        .with_context(|| format!("binding {}", args.http))?;
    let address = listener.local_addr()?;
    let mut ses = ses::Ses::with_outbound(
        store.clone(),
        iam.clone(),
        format!("http://{address}"),
        args.delivery.outbound(),
    );
    let dns = args.delivery.dns_server()?;
    if let Some(server) = dns {
        ses = ses.with_resolver(ses::dns::Resolver::new(server));
    }
    let events = args.delivery.events(&store)?;
    ses = ses.with_rendering_failure_hook(delivery::EventRouter::rendering_failure_hook(
        events.clone(),
    ));
    let ses = Arc::new(ses);
    let dns_task = dns.map(|_| {
        let every = std::time::Duration::from_secs(args.dns_check_interval);
        tokio::spawn(verify_domains_periodically(ses.clone(), every))
    });
    let delivery_tasks = args
        .delivery
        .start(store.clone(), delivery_key, events, ses.clone())
        .await?;
    let (auditor, audit_writer) = api::Auditor::start(store);
    let smtp_tasks = start_smtp(&args, iam.clone(), ses.clone(), auditor.clone()).await?;
    let state = Arc::new(api::AppState { iam, ses, auditor });
    println!("http listening on {address}");
    tracing::info!(data_dir = %args.data_dir.display(), "sesame serving");
    api::serve(listener, state.clone(), shutdown_signal()).await?;
    if let Some(task) = dns_task {
        task.abort();
    }
    for task in smtp_tasks {
        task.abort();
    }
    // Deliveries in progress are simply cut: the queue is durable, and a delivery
    // not yet recorded as done is retried at the next start.
    for task in delivery_tasks {
        task.abort();
    }
    drop(state);
    // The writer ends once the last queue handle is gone, after writing what is queued.
    let flushed = tokio::task::spawn_blocking(move || audit_writer.join());
    if tokio::time::timeout(std::time::Duration::from_secs(10), flushed)
        .await
        .is_err()
    {
        tracing::warn!("audit writer did not finish within 10 s");
    }
    tracing::info!("sesame stopped");
    Ok(())
}

/// Binds the SMTP listeners that were asked for and starts serving them.
async fn start_smtp(
    args: &ServeArgs,
    iam: Arc<iam::Iam>,
    ses: Arc<ses::Ses>,
    auditor: api::Auditor,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(smtp::acceptor(cert, key)?),
        _ => None,
    };
    let backend = Arc::new(smtp::SmtpBackend {
        iam,
        ses,
        region: args.smtp_region.clone(),
        audit: Arc::new(move |event| auditor.record(&event)),
    });
    let config = smtp::session::Config {
        hostname: "email-smtp.sesame.local".into(),
        starttls_available: tls.is_some(),
        insecure_auth: args.smtp_insecure_auth,
        max_message_bytes: 10 * 1024 * 1024,
        max_recipients: 50,
    };
    let limits = smtp::Limits {
        max_connections: args.smtp_max_connections,
        command_timeout: std::time::Duration::from_secs(args.smtp_timeout),
        data_timeout: std::time::Duration::from_secs(args.smtp_timeout),
    };
    let server = Arc::new(smtp::SmtpServer::new(backend, config, tls.clone(), limits));
    let mut tasks = Vec::new();
    for (addr, implicit) in [(&args.smtp, false), (&args.smtps, true)] {
        let Some(addr) = addr else { continue };
        anyhow::ensure!(
            !implicit || tls.is_some(),
            "--smtps needs --tls-cert and --tls-key"
        );
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let label = if implicit { "smtps" } else { "smtp" };
        println!("{label} listening on {}", listener.local_addr()?);
        tasks.push(tokio::spawn(server.clone().serve(
            listener,
            implicit,
            std::future::pending(),
        )));
    }
    Ok(tasks)
}

/// Checks pending domain identities in DNS every `every`, off the async threads.
async fn verify_domains_periodically(ses: Arc<ses::Ses>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let ses = ses.clone();
        match tokio::task::spawn_blocking(move || ses.verify_pending_domains()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(verified = n, "domain identities verified through DNS"),
            Ok(Err(e)) => tracing::warn!(error = %e, "DNS verification sweep failed"),
            Err(e) => tracing::warn!(error = %e, "DNS verification sweep did not finish"),
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

fn init_logging() {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("SESAME_LOG").unwrap_or_else(|_| "info".into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
