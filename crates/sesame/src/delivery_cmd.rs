//! The outbound delivery flags of `sesame serve` and the start of the workers.

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryMode {
    /// Keep accepted mail (readable at GET /_sesame/messages); nothing leaves.
    Capture,
    /// Hand every message to the smarthost of --relay.
    Relay,
    /// Deliver to the recipients' MX hosts, found through --dns.
    Mx,
}

#[derive(Args, Debug)]
pub struct DeliveryArgs {
    /// What happens to accepted mail.
    #[arg(long, value_enum, default_value = "capture")]
    delivery: DeliveryMode,
    /// Smarthost for --delivery relay: smtp://[USER:PASS@]HOST:PORT.
    #[arg(long)]
    relay: Option<String>,
    /// DNS server (ADDR:PORT) for MX lookups.
    #[arg(long)]
    dns: Option<String>,
    /// SMTP port of MX hosts (25; tests point it at a local receiver).
    #[arg(long, default_value_t = 25)]
    smtp_port_for_mx: u16,
    /// Seconds a message may stay undeliverable (4xx, no connection) before it bounces.
    #[arg(long, default_value_t = 4 * 3600)]
    delivery_max_age: u64,
    /// Seconds before the first retry; doubled per attempt.
    #[arg(long, default_value_t = 60)]
    delivery_retry_delay: u64,
    /// Longest wait between two attempts, in seconds.
    #[arg(long, default_value_t = 3600)]
    delivery_max_retry_delay: u64,
    /// Most simultaneous connections to one destination (relay or recipient domain).
    #[arg(long, default_value_t = 4)]
    delivery_per_destination: usize,
    /// Our host name in EHLO and the events' reportingMTA.
    #[arg(long, default_value = "sesame.local")]
    delivery_hostname: String,
    /// Append SES sending events (JSON Lines) to this file.
    #[arg(long)]
    events_file: Option<PathBuf>,
    /// POST each event to this http:// URL (signed with SESAME_WEBHOOK_SECRET).
    #[arg(long)]
    events_webhook: Option<String>,
    /// Listen here (ADDR:PORT) for bounce reports (DSNs) and complaints (ARF) sent to
    /// the bounce address; outbound mail then leaves with VERP return paths.
    #[arg(long)]
    feedback_smtp: Option<String>,
    /// Domain of the bounce address (`bounces+TOKEN@DOMAIN`); default: the
    /// --delivery-hostname.
    #[arg(long, requires = "feedback_smtp")]
    feedback_domain: Option<String>,
    /// Subscribe an http:// endpoint to an SNS topic: TOPIC_ARN=URL (repeatable).
    /// Configuration set SNS destinations and identity notification topics are POSTed
    /// there as SNS notifications, signed with SESAME_WEBHOOK_SECRET.
    #[arg(long = "sns-endpoint", value_name = "TOPIC_ARN=URL")]
    sns_endpoints: Vec<String>,
}

impl DeliveryArgs {
    /// The --dns server, also used to verify domain identities.
    pub fn dns_server(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        self.dns
            .as_deref()
            .map(|d| {
                d.parse()
                    .map_err(|_| anyhow::anyhow!("--dns must be ADDR:PORT"))
            })
            .transpose()
    }

    /// How the spool treats accepted messages.
    pub fn outbound(&self) -> ses::Outbound {
        match self.delivery {
            DeliveryMode::Capture => ses::Outbound::Simulated,
            DeliveryMode::Relay | DeliveryMode::Mx => ses::Outbound::Queue,
        }
    }

    fn config(&self) -> anyhow::Result<delivery::Config> {
        let mode = match self.delivery {
            DeliveryMode::Capture => delivery::Mode::Capture,
            DeliveryMode::Relay => {
                let url = self
                    .relay
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("--delivery relay needs --relay"))?;
                delivery::parse_relay(url).map_err(|e| anyhow::anyhow!(e))?
            }
            DeliveryMode::Mx => {
                let dns = self
                    .dns
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("--delivery mx needs --dns ADDR:PORT"))?;
                delivery::Mode::Mx {
                    dns: dns
                        .parse()
                        .map_err(|_| anyhow::anyhow!("--dns must be ADDR:PORT"))?,
                    port: self.smtp_port_for_mx,
                }
            }
        };
        let mut config = delivery::Config::new(mode);
        config.max_age = Duration::from_secs(self.delivery_max_age);
        config.first_retry_delay = Duration::from_secs(self.delivery_retry_delay);
        config.max_retry_delay =
            Duration::from_secs(self.delivery_max_retry_delay.max(self.delivery_retry_delay));
        config.per_destination = self.delivery_per_destination.max(1);
        config.hostname = self.delivery_hostname.clone();
        Ok(config)
    }

    /// The event router (events file, webhook, SNS endpoints). With mail only
    /// captured, the events are those of mail that never leaves on SES either (the
    /// mailbox simulator, suppressed recipients) and rendering failures.
    pub fn events(&self, store: &store::Store) -> anyhow::Result<Arc<delivery::EventRouter>> {
        let config = self.config()?;
        let secret = std::env::var("SESAME_WEBHOOK_SECRET").ok();
        let webhook = match &self.events_webhook {
            Some(url) => {
                let endpoint = delivery::webhook::Webhook::parse(url, secret.clone())
                    .map_err(|e| anyhow::anyhow!(e))?;
                Some(delivery::Outbox::start(
                    store.clone(),
                    endpoint,
                    delivery::sns::QUEUE_CAPACITY,
                ))
            }
            None => None,
        };
        let subscriptions = self
            .sns_endpoints
            .iter()
            .map(|spec| delivery::sns::Subscription::parse(spec, secret.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("--sns-endpoint: {e}"))?;
        let sink = delivery::EventSink::new(self.events_file.as_deref(), webhook)?;
        let router = delivery::RouterConfig {
            subscriptions,
            hostname: config.hostname,
            outbound: self.outbound(),
        };
        let router = delivery::EventRouter::start(sink, store.clone(), router)?;
        Ok(Arc::new(router))
    }

    /// Starts the delivery workers (in capture mode, for what never leaves) and the
    /// feedback listener. Feedback counts toward the sending account's reputation in
    /// `ses`.
    pub async fn start(
        &self,
        store: store::Store,
        master: store::MasterKey,
        events: Arc<delivery::EventRouter>,
        ses: Arc<ses::Ses>,
    ) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
        anyhow::ensure!(
            self.feedback_smtp.is_none() || self.delivery != DeliveryMode::Capture,
            "--feedback-smtp needs --delivery relay or mx"
        );
        let config = self.config()?;
        let domain = self
            .feedback_domain
            .clone()
            .unwrap_or_else(|| config.hostname.clone());
        let mut deliverer = delivery::Deliverer::new(store.clone(), master.clone(), config, events)
            .with_feedback_hook(feedback_hook(ses));
        let listener = match &self.feedback_smtp {
            Some(addr) => {
                deliverer =
                    deliverer.with_verp(delivery::verp::Verp::load(&store, &master, &domain)?);
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding {addr}"))?;
                println!("feedback listening on {}", listener.local_addr()?);
                Some(listener)
            }
            None => None,
        };
        let deliverer = Arc::new(deliverer);
        tracing::info!(mode = ?self.delivery, "outbound delivery started");
        let mut tasks = vec![deliverer.clone().start()];
        if let Some(listener) = listener {
            tasks.push(tokio::spawn(delivery::inbound::serve(deliverer, listener)));
        }
        Ok(tasks)
    }
}

/// Hard bounces and complaints count toward the sending account and may put the
/// recipient on its suppression list; automatic answers are sent as Sesame's mail.
fn feedback_hook(ses: Arc<ses::Ses>) -> delivery::FeedbackHook {
    use delivery::Feedback;
    use ses::model::SuppressionReason;
    Box::new(move |feedback: &Feedback<'_>| {
        let done = match feedback {
            Feedback::HardBounce {
                message,
                address,
                feedback_id,
            } => ses
                .record_recipient_feedback(message, address, SuppressionReason::Bounce, feedback_id)
                .map(drop),
            Feedback::Complaint {
                message,
                address,
                feedback_id,
            } => ses
                .record_recipient_feedback(
                    message,
                    address,
                    SuppressionReason::Complaint,
                    feedback_id,
                )
                .map(drop),
            Feedback::AutoReply { message, from, raw } => {
                ses.accept_auto_reply(message, from, raw.clone()).map(drop)
            }
        };
        if let Err(e) = done {
            tracing::error!(error = %e, "recording delivery feedback failed");
        }
    })
}
