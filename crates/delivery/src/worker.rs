//! The delivery workers: a dispatcher task scans the durable queue for due
//! deliveries, groups them by destination and starts one task per group, which
//! opens (and reuses) one connection within a per-destination limit. Every outcome
//! is committed to the store right after the remote reply, before anything else
//! (concurrent connections share one commit, see [`crate::journal`]).

use crate::bounce::{self, Classification};
use crate::client::{ClientError, RecipientResult, Session, SessionOptions};
use crate::config::{Config, Mode};
use crate::dkim::DkimError;
use crate::events::{self, BouncedRecipient, DeliveryInfo};
use crate::journal::{Journal, JournalError, Record};
use crate::reply::Reply;
use crate::router::EventRouter;
use crate::simulator::{self, Scenario};
use crate::verp::Verp;
use ses::model::StoredMessage;
use ses::outbound::{QueuedDelivery, RecipientState, TABLE};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use store::{MasterKey, Store};
use tokio::sync::{Notify, Semaphore};

/// Feedback the rest of Sesame acts on. `message.account` is the sending account
/// (the delegate's, when a delegate sent): its reputation and suppression list.
#[derive(Debug)]
pub enum Feedback<'a> {
    /// A hard bounce of `address` (reported now or later, in a DSN).
    HardBounce {
        message: &'a StoredMessage,
        address: &'a str,
        feedback_id: &'a str,
    },
    /// A complaint about the message by `address`.
    Complaint {
        message: &'a StoredMessage,
        address: &'a str,
        feedback_id: &'a str,
    },
    /// An automatic answer (the mailbox simulator's out-of-the-office) from `from` to
    /// the message's sender, as full MIME text.
    AutoReply {
        message: &'a StoredMessage,
        from: &'a str,
        raw: String,
    },
}

/// Called for every hard bounce, complaint and automatic answer: the place to count
/// them toward the sender's reputation, add to its suppression list, send the answer.
pub type FeedbackHook = Box<dyn Fn(&Feedback<'_>) + Send + Sync>;

pub struct Deliverer {
    pub(crate) store: Store,
    master: MasterKey,
    signers: crate::dkim::Signers,
    pub(crate) config: Config,
    pub(crate) events: Arc<EventRouter>,
    journal: Journal,
    pub(crate) feedback: Option<FeedbackHook>,
    /// Return paths by VERP, when a feedback listener receives reports for them.
    pub(crate) verp: Option<Verp>,
    in_flight: Mutex<HashSet<String>>,
    destinations: Mutex<HashMap<String, Arc<Semaphore>>>,
    connections: Arc<Semaphore>,
    wake: Notify,
}

/// What happened to one recipient in one attempt.
enum Outcome {
    Delivered(Reply),
    /// 5xx: bounces now.
    Failed(Reply),
    /// 4xx or no answer: retried until the maximum age.
    Deferred(Option<Reply>, String),
    /// A bounce decided without a connection (the mailbox simulator, the account's
    /// suppression list): its classification and diagnostic code.
    SimulatedBounce(Classification, String),
}

impl Deliverer {
    pub fn new(
        store: Store,
        master: MasterKey,
        config: Config,
        events: Arc<EventRouter>,
    ) -> Deliverer {
        Deliverer {
            journal: Journal::start(store.clone()),
            store,
            master,
            signers: crate::dkim::Signers::default(),
            connections: Arc::new(Semaphore::new(config.max_connections.max(1))),
            config,
            events,
            feedback: None,
            verp: None,
            in_flight: Mutex::new(HashSet::new()),
            destinations: Mutex::new(HashMap::new()),
            wake: Notify::new(),
        }
    }

    pub fn with_feedback_hook(mut self, hook: FeedbackHook) -> Deliverer {
        self.feedback = Some(hook);
        self
    }

    /// Sends with VERP return paths (see [`crate::verp`]).
    pub fn with_verp(mut self, verp: Verp) -> Deliverer {
        self.verp = Some(verp);
        self
    }

    /// The VERP return paths in use, if any.
    pub fn verp(&self) -> Option<&Verp> {
        self.verp.as_ref()
    }

    /// Starts the dispatcher; it runs until the runtime stops.
    pub fn start(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.clone().dispatch_due().await {
                    tracing::error!(error = %e, "delivery queue scan failed");
                }
                tokio::select! {
                    () = tokio::time::sleep(self.config.poll_interval) => {}
                    () = self.wake.notified() => {}
                }
            }
        })
    }

    /// Asks the dispatcher to look at the queue now (e.g. after an accept).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    async fn dispatch_due(self: Arc<Self>) -> Result<(), store::StoreError> {
        let store = self.store.clone();
        let queued: Vec<(String, QueuedDelivery)> = tokio::task::spawn_blocking(move || {
            let mut tx = store.read()?;
            let docs: Vec<QueuedDelivery> = tx.scan(TABLE, "")?;
            Ok::<_, store::StoreError>(
                docs.into_iter()
                    .map(|d| {
                        (
                            ses::outbound::queue_key(d.created_ms, &d.message_id, &d.domain),
                            d,
                        )
                    })
                    .collect(),
            )
        })
        .await
        .unwrap_or_else(|_| Ok(Vec::new()))?;
        let now = now_ms();
        let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let mut in_flight = lock(&self.in_flight);
            for (key, d) in queued {
                let held = matches!(self.config.mode, Mode::Capture)
                    && !ses::outbound::never_leaves(&d.domain);
                if held || d.next_attempt_ms > now || in_flight.contains(&key) {
                    continue; // in capture mode, real deliveries wait for relay or mx
                }
                in_flight.insert(key.clone());
                groups
                    .entry(self.destination(&d.domain))
                    .or_default()
                    .push(key);
            }
        }
        for (destination, keys) in groups {
            for chunk in keys.chunks(self.config.messages_per_connection.max(1)) {
                let me = self.clone();
                let chunk = chunk.to_vec();
                let destination = destination.clone();
                tokio::spawn(async move { me.run_group(destination, chunk).await });
            }
        }
        Ok(())
    }

    /// The destination that connection limits and reuse are keyed on.
    fn destination(&self, domain: &str) -> String {
        match &self.config.mode {
            Mode::Relay { addr, .. } => addr.clone(),
            Mode::Mx { .. } | Mode::Capture => domain.to_string(),
        }
    }

    fn limit_for(&self, destination: &str) -> Arc<Semaphore> {
        lock(&self.destinations)
            .entry(destination.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_destination.max(1))))
            .clone()
    }

    async fn run_group(self: Arc<Self>, destination: String, keys: Vec<String>) {
        let limit = self.limit_for(&destination);
        let permits = (
            limit.acquire_owned().await,
            self.connections.clone().acquire_owned().await,
        );
        let mut session: Option<Session> = None;
        for key in &keys {
            if let Err(e) = self.deliver_one(&destination, key, &mut session).await {
                tracing::error!(error = %e, key, "delivery bookkeeping failed");
            }
            lock(&self.in_flight).remove(key);
        }
        if let Some(s) = session {
            s.quit().await;
        }
        drop(permits);
    }

    /// One attempt of one queued delivery, reusing `session` when it is open.
    async fn deliver_one(
        self: &Arc<Self>,
        destination: &str,
        key: &str,
        session: &mut Option<Session>,
    ) -> Result<(), JournalError> {
        let me = self.clone();
        let key_owned = key.to_string();
        // One blocking task reads the message and signs it: DKIM signing costs about
        // a millisecond of CPU, too long for the async workers.
        let loaded = tokio::task::spawn_blocking(move || {
            let Some((delivery, message)) = load(&me.store, &key_owned)? else {
                return Ok(None);
            };
            let connects = !ses::outbound::never_leaves(&delivery.domain);
            let data = connects.then(|| me.prepare(&message));
            Ok::<_, store::StoreError>(Some((delivery, message, data)))
        })
        .await
        .unwrap_or(Ok(None))?;
        let Some((delivery, message, data)) = loaded else {
            return Ok(());
        };
        if delivery.reports_send && delivery.attempts == 0 {
            self.events.publish(&message, &events::send_event(&message));
        }
        let pending: Vec<String> = delivery
            .recipients
            .iter()
            .filter(|r| r.state == RecipientState::Pending)
            .map(|r| r.address.clone())
            .collect();
        let outcomes = match data {
            Some(data) => {
                self.attempt(destination, &delivery, &message, &pending, &data, session)
                    .await
            }
            None if delivery.domain == ses::outbound::SUPPRESSED => suppressed(&pending),
            None => simulate(&pending),
        };
        let remote_ip = session
            .as_ref()
            .map(|s| s.remote_ip.clone())
            .unwrap_or_default();
        self.record(key, &delivery, &message, outcomes, &remote_ip)
            .await
    }

    /// The message as it leaves: CRLF line ends, DKIM-signed when its domain identity
    /// signs (an identity older than keys made with identities gets its key now).
    fn prepare(&self, message: &StoredMessage) -> Vec<u8> {
        let data = crate::client::crlf(message.raw.as_bytes());
        match self.signed(&data, &message.from_identity) {
            Ok(Some(signed)) => signed,
            Ok(None) => data,
            Err(e) => {
                tracing::error!(error = %e, message_id = %message.message_id, "DKIM signing failed; sending unsigned");
                data
            }
        }
    }

    /// `data` signed with the key of the domain identity that `identity_arn` falls
    /// under, if there is one.
    fn signed(&self, data: &[u8], identity_arn: &str) -> Result<Option<Vec<u8>>, DkimError> {
        let Some(identity) = crate::dkim::signing_identity(&self.store, identity_arn)? else {
            return Ok(None);
        };
        let key = ses::dkim_key::ensure(&self.store, &self.master, &identity)?;
        self.signers.sign(data, &key, &self.master).map(Some)
    }

    /// Sends to the pending recipients; every recipient gets an outcome.
    async fn attempt(
        &self,
        destination: &str,
        delivery: &QueuedDelivery,
        message: &StoredMessage,
        pending: &[String],
        data: &[u8],
        session: &mut Option<Session>,
    ) -> Vec<(String, Outcome)> {
        let all = |outcome: &dyn Fn() -> Outcome| -> Vec<(String, Outcome)> {
            pending.iter().map(|r| (r.clone(), outcome())).collect()
        };
        if session.is_none() {
            match self.connect(destination, &delivery.domain).await {
                Ok(s) => *session = Some(s),
                Err(e) => return all(&|| failure_outcome(&e)),
            }
        }
        let Some(open) = session.as_mut() else {
            return Vec::new();
        };
        match self.send_all(open, message, pending, data).await {
            Ok(results) => results
                .into_iter()
                .map(|(rcpt, result)| {
                    let outcome = match result {
                        RecipientResult::Delivered(reply) => Outcome::Delivered(reply),
                        RecipientResult::Refused(reply) if reply.is_transient() => {
                            let text = reply.summary();
                            Outcome::Deferred(Some(reply), text)
                        }
                        RecipientResult::Refused(reply) => Outcome::Failed(reply),
                    };
                    (rcpt, outcome)
                })
                .collect(),
            Err(e) => {
                // The session's state is unknown: start afresh for the next message.
                if let Some(s) = session.take() {
                    s.quit().await;
                }
                all(&|| failure_outcome(&e))
            }
        }
    }

    /// One transaction for all recipients, or with VERP one per recipient (each has
    /// its own return path).
    async fn send_all(
        &self,
        session: &mut Session,
        message: &StoredMessage,
        pending: &[String],
        data: &[u8],
    ) -> Result<Vec<(String, RecipientResult)>, ClientError> {
        // Only the accounts' mail gets VERP return paths: Sesame's own (verification,
        // forwarded feedback with the null sender `<>`) keeps its envelope sender.
        let verp = self
            .verp
            .as_ref()
            .filter(|_| !message.from_identity.is_empty());
        let Some(verp) = verp else {
            return session.send(&message.source, pending, data).await;
        };
        let mut results = Vec::with_capacity(pending.len());
        for rcpt in pending {
            let index = message
                .destination
                .iter()
                .position(|d| d.eq_ignore_ascii_case(rcpt))
                .unwrap_or(usize::MAX);
            let from = verp.return_path(message.created_ms, &message.message_id, index);
            results.extend(
                session
                    .send(&from, std::slice::from_ref(rcpt), data)
                    .await?,
            );
        }
        Ok(results)
    }

    async fn connect(&self, destination: &str, domain: &str) -> Result<Session, ClientError> {
        let (hosts, credentials) = match &self.config.mode {
            Mode::Relay { addr, credentials } => (vec![addr.clone()], credentials.clone()),
            Mode::Mx { dns, port } => (crate::mx::hosts(*dns, domain, *port).await?, None),
            Mode::Capture => (Vec::new(), None),
        };
        let options = SessionOptions {
            hostname: self.config.hostname.clone(),
            timeout: self.config.timeout,
            starttls: self.config.starttls,
            credentials,
        };
        let mut last = ClientError::Protocol(format!("no host to deliver to for {destination}"));
        for host in hosts {
            match Session::open(&host, &options).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    tracing::info!(host, error = %e, "cannot open an SMTP session");
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Commits the outcomes of one attempt, then reports events.
    async fn record(
        self: &Arc<Self>,
        key: &str,
        delivery: &QueuedDelivery,
        message: &StoredMessage,
        outcomes: Vec<(String, Outcome)>,
        remote_ip: &str,
    ) -> Result<(), JournalError> {
        let now = now_ms();
        let gave_up = now - delivery.created_ms >= millis(self.config.max_age);
        let mut updated = delivery.clone();
        updated.attempts += 1;
        let mut delivered: Vec<(String, Reply)> = Vec::new();
        let mut bounced: Vec<BouncedRecipient> = Vec::new();
        let mut deferred: Vec<(String, String)> = Vec::new();
        for (address, outcome) in outcomes {
            let state = match outcome {
                Outcome::Delivered(reply) => {
                    delivered.push((address.clone(), reply));
                    RecipientState::Delivered
                }
                Outcome::Failed(reply) => {
                    bounced.push(bounced_recipient(&address, &reply, false));
                    RecipientState::Bounced
                }
                Outcome::Deferred(reply, text) if gave_up => {
                    let classification = reply
                        .as_ref()
                        .map_or_else(bounce::undeliverable, |r| bounce::classify(r, true));
                    bounced.push(BouncedRecipient {
                        address: address.clone(),
                        classification,
                        diagnostic: text,
                        action: "failed".into(),
                    });
                    RecipientState::Bounced
                }
                Outcome::SimulatedBounce(classification, diagnostic) => {
                    bounced.push(BouncedRecipient {
                        address: address.clone(),
                        classification,
                        diagnostic,
                        action: "failed".into(),
                    });
                    RecipientState::Bounced
                }
                Outcome::Deferred(_, text) => {
                    deferred.push((address.clone(), text));
                    RecipientState::Pending
                }
            };
            if let Some(r) = updated.recipients.iter_mut().find(|r| r.address == address) {
                r.state = state;
            }
        }
        let report_delay = !deferred.is_empty() && !updated.delay_reported;
        if !deferred.is_empty() {
            let delay = millis(self.config.retry_delay(updated.attempts));
            updated.next_attempt_ms = now + delay;
            updated.delay_reported = true;
            updated.last_error = deferred.first().map(|(_, t)| t.clone());
        }
        let finished = updated
            .recipients
            .iter()
            .all(|r| r.state != RecipientState::Pending);
        self.journal
            .save(Record {
                key: key.to_string(),
                delivery: updated,
                finished,
            })
            .await?;
        metrics::delivery(metrics::DeliveryResult::Delivered, delivered.len());
        metrics::delivery(metrics::DeliveryResult::Bounced, bounced.len());
        metrics::delivery(metrics::DeliveryResult::Deferred, deferred.len());
        self.report(
            message,
            delivered,
            bounced,
            &deferred,
            report_delay,
            remote_ip,
            now,
        );
        Ok(())
    }

    /// Hands the hard bounces among `bounced` to the feedback hook (not recipients
    /// already on the suppression list: that bounce is no news about them).
    pub(crate) fn hard_bounced(
        &self,
        message: &StoredMessage,
        bounced: &[BouncedRecipient],
        feedback_id: &str,
    ) {
        let Some(hook) = &self.feedback else { return };
        for r in bounced {
            let suppressed =
                r.classification.sub_type == bounce::BounceSubType::OnAccountSuppressionList;
            if r.classification.bounce_type == bounce::BounceType::Permanent && !suppressed {
                hook(&Feedback::HardBounce {
                    message,
                    address: &r.address,
                    feedback_id,
                });
            }
        }
    }

    /// What the mailbox simulator does after a delivery: a complaint from
    /// `complaint@`, an out-of-the-office answer from `ooto@`.
    fn simulate_after_delivery(&self, message: &StoredMessage, delivered: &[String], now: i64) {
        for address in delivered {
            match simulator::scenario(address) {
                Some(Scenario::Complaint) => {
                    let feedback_id = feedback_id(&message.message_id);
                    let arrival = events::timestamp(now);
                    self.events.publish(
                        message,
                        &events::complaint_event(
                            message,
                            &events::ComplaintInfo {
                                recipients: std::slice::from_ref(address),
                                time_ms: now,
                                feedback_id: &feedback_id,
                                feedback_type: Some("abuse"),
                                user_agent: Some(simulator::USER_AGENT),
                                arrival_date: Some(&arrival),
                            },
                        ),
                    );
                }
                Some(Scenario::AutoReply) => {
                    if let Some(hook) = &self.feedback {
                        hook(&Feedback::AutoReply {
                            message,
                            from: address,
                            raw: simulator::auto_reply(
                                message,
                                address,
                                &feedback_id(&message.message_id),
                            ),
                        });
                    }
                }
                _ => {}
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        message: &StoredMessage,
        delivered: Vec<(String, Reply)>,
        bounced: Vec<BouncedRecipient>,
        deferred: &[(String, String)],
        report_delay: bool,
        remote_ip: &str,
        now: i64,
    ) {
        let mta = self.config.hostname.as_str();
        if let Some((_, reply)) = delivered.first() {
            let recipients: Vec<String> = delivered.iter().map(|(a, _)| a.clone()).collect();
            tracing::info!(message_id = %message.message_id, recipients = recipients.len(), "delivered");
            self.events.publish(
                message,
                &events::delivery_event(
                    message,
                    &DeliveryInfo {
                        time_ms: now,
                        recipients: &recipients,
                        smtp_response: &reply.summary(),
                        remote_ip,
                        reporting_mta: mta,
                    },
                ),
            );
            self.simulate_after_delivery(message, &recipients, now);
        }
        if !bounced.is_empty() {
            tracing::info!(message_id = %message.message_id, recipients = bounced.len(), "bounced");
            let feedback_id = feedback_id(&message.message_id);
            self.events.publish(
                message,
                &events::bounce_event(message, &bounced, now, mta, &feedback_id),
            );
            self.hard_bounced(message, &bounced, &feedback_id);
        }
        if report_delay {
            let recipients: Vec<String> = deferred.iter().map(|(a, _)| a.clone()).collect();
            let diagnostic = deferred.first().map_or("", |(_, t)| t.as_str());
            let expires = message.created_ms + millis(self.config.max_age);
            self.events.publish(
                message,
                &events::delay_event(message, &recipients, diagnostic, now, expires, mta),
            );
        }
    }
}

fn bounced_recipient(address: &str, reply: &Reply, gave_up: bool) -> BouncedRecipient {
    let classification: Classification = bounce::classify(reply, gave_up);
    BouncedRecipient {
        address: address.to_string(),
        classification,
        diagnostic: format!("smtp; {}", reply.summary()),
        action: "failed".into(),
    }
}

/// The mailbox simulator's answer for each recipient; no connection is made.
fn simulate(pending: &[String]) -> Vec<(String, Outcome)> {
    pending
        .iter()
        .map(|address| {
            let outcome = match simulator::scenario(address) {
                Some(Scenario::Bounce) => {
                    let (classification, diagnostic) = simulator::unknown_user();
                    Outcome::SimulatedBounce(classification, diagnostic)
                }
                Some(Scenario::SuppressionList) => {
                    let (classification, diagnostic) = simulator::suppressed();
                    Outcome::SimulatedBounce(classification, diagnostic)
                }
                _ => Outcome::Delivered(simulator::accepted_reply()),
            };
            (address.clone(), outcome)
        })
        .collect()
}

/// Recipients on the suppression list: each bounces, nothing is sent.
fn suppressed(pending: &[String]) -> Vec<(String, Outcome)> {
    pending
        .iter()
        .map(|address| {
            let (classification, diagnostic) = bounce::on_account_suppression_list();
            (
                address.clone(),
                Outcome::SimulatedBounce(classification, diagnostic),
            )
        })
        .collect()
}

/// A session-level failure as the outcome of every recipient.
fn failure_outcome(error: &ClientError) -> Outcome {
    match error.reply() {
        Some(reply) if reply.code >= 500 => Outcome::Failed(reply.clone()),
        Some(reply) => Outcome::Deferred(Some(reply.clone()), format!("smtp; {}", reply.summary())),
        None => Outcome::Deferred(None, error.to_string()),
    }
}

/// The queued delivery and its message; a delivery whose message is gone (the
/// capture store was emptied) is dropped.
fn load(
    store: &Store,
    key: &str,
) -> Result<Option<(QueuedDelivery, StoredMessage)>, store::StoreError> {
    let mut tx = store.read()?;
    let Some(delivery) = tx.get::<QueuedDelivery>(TABLE, key)? else {
        return Ok(None);
    };
    match tx.get::<StoredMessage>(ses::model::table::MESSAGES, &delivery.message_key)? {
        Some(message) => Ok(Some((delivery, message))),
        None => {
            drop(tx);
            tracing::warn!(key, "queued delivery without its message; dropped");
            let mut w = store.write_unversioned()?;
            w.delete(TABLE, key)?;
            w.commit()?;
            Ok(None)
        }
    }
}

pub(crate) fn feedback_id(message_id: &str) -> String {
    let random = store::random_bytes::<8>()
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect::<String>())
        .unwrap_or_default();
    format!("{message_id}-{random}-000000")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
