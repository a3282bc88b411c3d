//! Event webhook: each event is POSTed as JSON to an `http://` URL with an
//! `X-Sesame-Signature: sha256=HEX` header (HMAC-SHA256 of the body under the
//! secret from `SESAME_WEBHOOK_SECRET`), retried with backoff. Delivery to the
//! webhook is best effort: events not yet posted when the process stops are lost
//! (the events file has them).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ATTEMPTS: u32 = 6;

/// A webhook endpoint. Debug output never shows the secret.
#[derive(Clone)]
pub struct Webhook {
    host_port: String,
    host: String,
    path: String,
    secret: Option<Vec<u8>>,
    /// Further header fields sent with every POST.
    headers: Vec<(String, String)>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("host_port", &self.host_port)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Parses `http://HOST[:PORT][/PATH]`.
    pub fn parse(url: &str, secret: Option<String>) -> Result<Webhook, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("the events webhook must be an http:// URL")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err("the events webhook URL needs a host (and no user info)".into());
        }
        let host_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Webhook {
            host_port,
            host: authority.to_string(),
            path: path.to_string(),
            secret: secret.map(String::into_bytes),
            headers: Vec::new(),
        })
    }

    /// Adds a header field to every POST.
    pub fn with_header(mut self, name: &str, value: &str) -> Webhook {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Like [`Webhook::start`], with a queue of at most `capacity` events: a full
    /// queue refuses the event (the caller logs and drops it) instead of growing.
    pub fn start_bounded(self, capacity: usize) -> tokio::sync::mpsc::Sender<String> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(capacity.max(1));
        tokio::spawn(async move {
            while let Some(body) = rx.recv().await {
                self.post_with_retries(&body).await;
            }
        });
        tx
    }

    /// Starts the posting task; events sent to the returned channel are posted in order.
    pub fn start(self) -> tokio::sync::mpsc::UnboundedSender<String> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            while let Some(body) = rx.recv().await {
                self.post_with_retries(&body).await;
            }
        });
        tx
    }

    async fn post_with_retries(&self, body: &str) {
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            match self.post(body).await {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(attempt, error = %e, url_host = %self.host, "event webhook failed");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::error!(url_host = %self.host, "event webhook: giving up on one event");
    }

    /// The `X-Sesame-Signature` value of `body`.
    pub fn signature(&self, body: &str) -> Option<String> {
        let secret = self.secret.as_ref()?;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
        mac.update(body.as_bytes());
        let digest = mac.finalize().into_bytes();
        Some(format!(
            "sha256={}",
            digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    }

    async fn post(&self, body: &str) -> Result<(), String> {
        let mut request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.path,
            self.host,
            body.len()
        );
        if let Some(sig) = self.signature(body) {
            request.push_str(&format!("X-Sesame-Signature: {sig}\r\n"));
        }
        for (name, value) in &self.headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(&self.host_port).await?;
            stream.write_all(request.as_bytes()).await?;
            let mut head = vec![0u8; 64];
            let n = stream.read(&mut head).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&head[..n]).into_owned())
        };
        let head = tokio::time::timeout(Duration::from_secs(10), exchange)
            .await
            .map_err(|_| "timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if status.starts_with('2') {
            Ok(())
        } else {
            Err(format!("HTTP status {status:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_signs() {
        let w = Webhook::parse("http://127.0.0.1:8080/hook", Some("key".into())).unwrap();
        assert_eq!(w.host_port, "127.0.0.1:8080");
        assert_eq!(w.path, "/hook");
        // RFC 4231-style check against a known HMAC-SHA256 value.
        let sig = w
            .signature("The quick brown fox jumps over the lazy dog")
            .unwrap();
        assert_eq!(
            sig,
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
        assert!(Webhook::parse("https://x", None).is_err());
        assert!(!format!("{w:?}").contains("key"));
    }
}
