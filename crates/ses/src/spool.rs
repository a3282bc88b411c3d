//! Durable accept with group commit: concurrent sends hand their messages to one
//! committer thread, which writes every message waiting at that moment in a single
//! synchronous transaction (one fsync), then answers each sender. A sender gets a
//! [`Commit`] it can wait on from a thread or await from async code (so no thread is
//! parked per message); a send reports success only once its commit has completed.

use crate::model::{table, StoredMessage};
use crate::SesError;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Mutex;
use store::Store;
use tokio::sync::oneshot;

type Outcome = Result<(), String>;

/// How a sender learns the outcome of its batch's commit.
enum Waiter {
    /// A thread blocked on a channel: [`Spool::accept`], which Sesame's own mail
    /// may call from any thread.
    Thread(SyncSender<Outcome>),
    /// A [`Commit`], awaited or waited on.
    Commit(oneshot::Sender<Outcome>),
}

impl Waiter {
    fn tell(self, outcome: Outcome) {
        // A sender that has gone away no longer needs the answer.
        let _ = match self {
            Waiter::Thread(s) => s.send(outcome).map_err(drop),
            Waiter::Commit(s) => s.send(outcome).map_err(drop),
        };
    }
}

pub(crate) struct Spool {
    queue: Mutex<Sender<(Pending, Waiter)>>,
}

/// A message on its way to the store, encoded by the sender's thread so that the
/// one committer thread only writes.
struct Pending {
    message: StoredMessage,
    encoded: store::Encoded,
}

impl Pending {
    fn new(message: StoredMessage) -> Result<Pending, store::StoreError> {
        let encoded = store::Encoded::new(&message)?;
        Ok(Pending { message, encoded })
    }
}

/// Whether accepted messages are also queued for outbound delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// Capture only: nothing leaves, nothing is queued.
    Off,
    /// Capture, but what SES never delivers anyway (mail to the mailbox simulator,
    /// recipients on the suppression list) is queued, so its outcomes and events
    /// happen as on SES.
    Simulated,
    /// Queue a delivery per recipient domain in the accept transaction.
    Queue,
}

/// Most messages written in one transaction.
const MAX_BATCH: usize = 1024;

impl Spool {
    pub fn start(store: Store, outbound: Outbound) -> Spool {
        let (queue, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("spool-committer".into())
            .spawn(move || commit_batches(&store, &rx, outbound))
            .unwrap_or_else(|e| panic!("cannot start the spool committer thread: {e}"));
        Spool {
            queue: Mutex::new(queue),
        }
    }

    /// Stores `message` durably; blocks the calling thread until it is committed.
    pub fn accept(&self, message: StoredMessage) -> Result<(), SesError> {
        let (done, wait) = mpsc::sync_channel(1);
        self.enqueue(message, Waiter::Thread(done))?;
        outcome(wait.recv().ok())
    }

    /// Hands `message` to the committer; the returned [`Commit`] completes once the
    /// message is on disk (or could not be stored).
    pub fn submit(&self, message: StoredMessage) -> Result<Commit, SesError> {
        let (done, wait) = oneshot::channel();
        self.enqueue(message, Waiter::Commit(done))?;
        Ok(Commit { wait })
    }

    fn enqueue(&self, message: StoredMessage, waiter: Waiter) -> Result<(), SesError> {
        let pending = Pending::new(message)?;
        let sent = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((pending, waiter));
        sent.map_err(|_| SesError::MessageRejected("The spool is not accepting messages.".into()))
    }
}

/// The group commit a submitted message is waiting for.
#[must_use = "a message is accepted only once its commit has completed"]
pub struct Commit {
    wait: oneshot::Receiver<Outcome>,
}

impl Commit {
    /// Blocks the calling thread until the commit completes. Panics on an async
    /// worker (tokio forbids blocking there): async code awaits [`Commit::completed`].
    pub fn wait(self) -> Result<(), SesError> {
        outcome(self.wait.blocking_recv().ok())
    }

    /// Completes with the commit, without holding a thread meanwhile.
    pub async fn completed(self) -> Result<(), SesError> {
        outcome(self.wait.await.ok())
    }
}

/// What a sender reports for the outcome it received (`None`: the committer is gone).
fn outcome(received: Option<Outcome>) -> Result<(), SesError> {
    match received {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => {
            tracing::error!(error = %e, "spool commit failed");
            Err(SesError::MessageRejected(
                "The message could not be stored; it was not accepted.".into(),
            ))
        }
        None => Err(SesError::MessageRejected(
            "The spool stopped before storing the message.".into(),
        )),
    }
}

/// Stores one message outside the group commit: Sesame's own mail (forwarded
/// feedback), written from a thread that may wait for its own fsync.
pub fn store_message(
    store: &Store,
    message: StoredMessage,
    outbound: Outbound,
) -> Result<(), store::StoreError> {
    write(store, std::iter::once(&Pending::new(message)?), outbound)
}

fn commit_batches(store: &Store, rx: &Receiver<(Pending, Waiter)>, outbound: Outbound) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let result =
            write(store, batch.iter().map(|(m, _)| m), outbound).map_err(|e| e.to_string());
        for (_, waiter) in batch {
            waiter.tell(result.clone());
        }
    }
}

fn write<'a>(
    store: &Store,
    messages: impl Iterator<Item = &'a Pending> + Clone,
    outbound: Outbound,
) -> Result<(), store::StoreError> {
    let mut tx = store.write_unversioned()?;
    crate::stats::record_accepted(&mut tx, messages.clone().map(|p| &p.message))?;
    for Pending {
        message: m,
        encoded,
    } in messages
    {
        let key = message_key(m);
        tx.put_encoded(table::MESSAGES, &key, encoded)?;
        if outbound != Outbound::Off {
            for (queue_key, delivery) in crate::outbound::queued_for(m, &key, outbound) {
                tx.put(crate::outbound::TABLE, &queue_key, &delivery)?;
            }
        }
    }
    tx.commit()
}

/// Store key of a message: time first, so keys sort oldest first.
pub(crate) fn message_key(m: &StoredMessage) -> String {
    format!("{:016}-{}", m.created_ms, m.message_id)
}
