//! Group commit of delivery outcomes. Every attempt's new queue state must be durable
//! before its connection moves on (so a delivery recorded as done is never repeated);
//! committing each in its own transaction costs one fsync per message. Concurrent
//! deliveries instead hand their records to one committer thread, which writes every
//! record waiting at that moment in a single transaction, then answers each. When a
//! batch fails, its records are written one by one so each gets its own result.

use ses::outbound::{QueuedDelivery, TABLE};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Mutex;
use store::{Store, StoreError};
use tokio::sync::oneshot;

/// The new state of one queued delivery; a finished one leaves the queue.
pub(crate) struct Record {
    pub key: String,
    pub delivery: QueuedDelivery,
    pub finished: bool,
}

type Waiter = oneshot::Sender<Result<(), StoreError>>;

pub(crate) struct Journal {
    queue: Mutex<Sender<(Record, Waiter)>>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Only after a panic in the committer: the record's fate is unknown.
    #[error("the delivery journal thread has stopped")]
    Stopped,
}

/// Most records written in one transaction.
const MAX_BATCH: usize = 512;

impl Journal {
    pub fn start(store: Store) -> Journal {
        let (queue, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("delivery-journal".into())
            .spawn(move || commit_batches(&store, &rx))
            .unwrap_or_else(|e| panic!("cannot start the delivery journal thread: {e}"));
        Journal {
            queue: Mutex::new(queue),
        }
    }

    /// Writes `record`; returns once it is committed.
    pub async fn save(&self, record: Record) -> Result<(), JournalError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((record, done))
            .map_err(|_| JournalError::Stopped)?;
        Ok(wait.await.map_err(|_| JournalError::Stopped)??)
    }
}

fn commit_batches(store: &Store, rx: &Receiver<(Record, Waiter)>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        if write(store, batch.iter().map(|(r, _)| r)).is_ok() {
            for (_, waiter) in batch {
                let _ = waiter.send(Ok(()));
            }
        } else {
            for (record, waiter) in batch {
                let _ = waiter.send(write(store, std::iter::once(&record)));
            }
        }
    }
}

fn write<'a>(store: &Store, records: impl Iterator<Item = &'a Record>) -> Result<(), StoreError> {
    let mut tx = store.write_unversioned()?;
    for r in records {
        if r.finished {
            tx.delete(TABLE, &r.key)?;
        } else {
            tx.put(TABLE, &r.key, &r.delivery)?;
        }
    }
    tx.commit()
}
