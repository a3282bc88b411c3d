//! Durable outbox of one HTTP endpoint (the events webhook, an SNS subscription):
//! every body is written to the store before its first attempt and removed once the
//! endpoint accepted it or Sesame gave up on it, so posts pending when Sesame stops
//! are sent after the next start. One task per endpoint posts in order, retrying the
//! oldest with doubling delays; a failing endpoint delays only itself.

use crate::webhook::Webhook;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::Duration;
use store::Store;
use tokio::sync::mpsc::{self, error::TrySendError, Receiver, Sender};
use tokio::time::Instant;

/// Table of posts not yet accepted, keyed `ENDPOINT_ID/TIME-SEQ` (oldest first).
pub const TABLE: &str = "delivery_event_posts";

/// Attempts per post before it is given up.
const ATTEMPTS: u32 = 6;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);
/// Most new posts written to the store in one transaction.
const MAX_BATCH: usize = 256;

#[derive(Debug, Serialize, Deserialize)]
struct PendingPost {
    body: String,
    created_ms: i64,
}

/// The sending side of an endpoint's outbox.
pub struct Outbox {
    queue: Sender<String>,
}

impl Outbox {
    /// Starts the endpoint's task (needs a Tokio runtime); it first sends what an
    /// earlier run left pending. At most `capacity` posts wait to be stored.
    pub fn start(store: Store, endpoint: Webhook, capacity: usize) -> Outbox {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        let task = Task {
            prefix: format!("{}/", endpoint.outbox_id()),
            store,
            endpoint,
            next_seq: 0,
        };
        tokio::spawn(task.run(rx));
        Outbox { queue }
    }

    /// Queues `body`; never waits. A full or stopped outbox refuses it.
    pub fn push(&self, body: String) -> Result<(), &'static str> {
        match self.queue.try_send(body) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err("queue full"),
            Err(TrySendError::Closed(_)) => Err("posting task stopped"),
        }
    }
}

struct Task {
    store: Store,
    endpoint: Webhook,
    /// Store key prefix of this endpoint's posts.
    prefix: String,
    next_seq: u64,
}

/// The oldest post's retry state.
struct Retry {
    attempts: u32,
    wait: Duration,
    at: Instant,
}

impl Retry {
    fn fresh() -> Retry {
        Retry {
            attempts: 0,
            wait: FIRST_RETRY,
            at: Instant::now(),
        }
    }
}

impl Task {
    async fn run(mut self, mut rx: Receiver<String>) {
        let mut pending = self.load().await;
        if !pending.is_empty() {
            tracing::info!(posts = pending.len(), url_host = %self.endpoint.host(), "resuming event posts left pending");
        }
        let mut retry = Retry::fresh();
        loop {
            if pending.is_empty() {
                let Some(body) = rx.recv().await else { return };
                self.take_in(body, &mut rx, &mut pending).await;
                continue;
            }
            if Instant::now() < retry.at {
                tokio::select! {
                    () = tokio::time::sleep_until(retry.at) => {}
                    got = rx.recv() => match got {
                        Some(body) => self.take_in(body, &mut rx, &mut pending).await,
                        None => return,
                    },
                }
                continue;
            }
            let Some((key, body)) = pending.front() else {
                continue;
            };
            match self.endpoint.post(body).await {
                Ok(()) => {}
                Err(e) => {
                    retry.attempts += 1;
                    tracing::warn!(attempt = retry.attempts, error = %e, url_host = %self.endpoint.host(), "event post failed");
                    if retry.attempts < ATTEMPTS {
                        retry.at = Instant::now() + retry.wait;
                        retry.wait = (retry.wait * 2).min(MAX_RETRY);
                        continue;
                    }
                    tracing::error!(url_host = %self.endpoint.host(), "event post: giving up on one event");
                }
            }
            let key = key.clone();
            pending.pop_front();
            self.remove(key).await;
            retry = Retry::fresh();
        }
    }

    /// Stores `first` and whatever else is waiting, and appends them to `pending`.
    async fn take_in(
        &mut self,
        first: String,
        rx: &mut Receiver<String>,
        pending: &mut VecDeque<(String, String)>,
    ) {
        let mut bodies = vec![first];
        while bodies.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(body) => bodies.push(body),
                Err(_) => break,
            }
        }
        let now = crate::worker::now_ms();
        let batch: Vec<(String, String)> = bodies
            .into_iter()
            .map(|body| {
                self.next_seq += 1;
                (
                    format!("{}{now:016}-{:010}", self.prefix, self.next_seq),
                    body,
                )
            })
            .collect();
        let store = self.store.clone();
        let to_store: Vec<(String, PendingPost)> = batch
            .iter()
            .map(|(key, body)| {
                let post = PendingPost {
                    body: body.clone(),
                    created_ms: now,
                };
                (key.clone(), post)
            })
            .collect();
        let stored = tokio::task::spawn_blocking(move || {
            let mut tx = store.write_unversioned()?;
            for (key, post) in &to_store {
                tx.put(TABLE, key, post)?;
            }
            tx.commit()
        })
        .await;
        if !matches!(stored, Ok(Ok(()))) {
            // Still posted from memory; only a restart before then loses them.
            tracing::error!(url_host = %self.endpoint.host(), "cannot store event posts");
        }
        pending.extend(batch);
    }

    /// The posts an earlier run left, oldest first.
    async fn load(&self) -> VecDeque<(String, String)> {
        let store = self.store.clone();
        let prefix = self.prefix.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            store.read()?.scan_keyed::<PendingPost>(TABLE, &prefix)
        })
        .await;
        match loaded {
            Ok(Ok(posts)) => posts.into_iter().map(|(k, p)| (k, p.body)).collect(),
            _ => {
                tracing::error!(url_host = %self.endpoint.host(), "cannot read pending event posts");
                VecDeque::new()
            }
        }
    }

    async fn remove(&self, key: String) {
        let store = self.store.clone();
        let removed = tokio::task::spawn_blocking(move || {
            let mut tx = store.write_unversioned()?;
            tx.delete(TABLE, &key)?;
            tx.commit()
        })
        .await;
        if !matches!(removed, Ok(Ok(()))) {
            tracing::error!(url_host = %self.endpoint.host(), "cannot remove a sent event post");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let backend = store::SqliteBackend::open(dir.path()).unwrap();
        (dir, Store::new(std::sync::Arc::new(backend)))
    }

    fn stored(store: &Store) -> usize {
        let mut tx = store.read().unwrap();
        tx.scan::<PendingPost>(TABLE, "").unwrap().len()
    }

    async fn eventually(what: &str, check: impl Fn() -> bool) {
        for _ in 0..200 {
            if check() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}");
    }

    /// Answers every POST with 200 and hands its body to `bodies`.
    async fn accept_posts(listener: TcpListener, bodies: mpsc::UnboundedSender<String>) {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            let body = loop {
                let Ok(n) = conn.read(&mut buf).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                let Some((head, body)) = text.split_once("\r\n\r\n") else {
                    continue;
                };
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if body.len() >= length {
                    break body.to_string();
                }
            };
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                .await;
            let _ = bodies.send(body);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_pending_at_a_restart_is_sent_once_after_it() {
        let (_dir, store) = temp_store();
        let addr = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let endpoint = Webhook::parse(&format!("http://{addr}/hook"), None).unwrap();

        // Nothing listens: the post is stored and retried.
        let first = Outbox::start(store.clone(), endpoint.clone(), 10);
        first.push(r#"{"n":1}"#.into()).unwrap();
        eventually("the post to be stored", || stored(&store) == 1).await;
        drop(first); // the task ends: as after a stop
        tokio::time::sleep(Duration::from_millis(700)).await;

        let listener = TcpListener::bind(addr).await.unwrap();
        let (bodies, mut received) = mpsc::unbounded_channel();
        tokio::spawn(accept_posts(listener, bodies));
        let _second = Outbox::start(store.clone(), endpoint, 10);
        let body = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body, r#"{"n":1}"#);
        eventually("the sent post to leave the store", || stored(&store) == 0).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(received.try_recv().is_err(), "posted twice");
    }

    #[test]
    fn endpoints_keep_their_id_and_differ_by_url_and_headers() {
        let a = Webhook::parse("http://127.0.0.1:9/a", None).unwrap();
        let again = Webhook::parse("http://127.0.0.1:9/a", Some("s".into())).unwrap();
        let b = Webhook::parse("http://127.0.0.1:9/b", None).unwrap();
        assert_eq!(a.outbox_id(), again.outbox_id());
        assert_ne!(a.outbox_id(), b.outbox_id());
        assert_ne!(a.outbox_id(), a.clone().with_header("x", "1").outbox_id());
    }
}
