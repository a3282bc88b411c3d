//! Event webhook: each event is POSTed as JSON to an `http://` URL with an
//! `X-Sesame-Signature: sha256=HEX` header (HMAC-SHA256 of the body under the
//! secret from `SESAME_WEBHOOK_SECRET`). Posts wait in a durable
//! [`crate::outbox::Outbox`], retried with backoff, also across restarts.

use hmac::{Hmac, Mac};
use sha2::Digest as _;
use sha2::Sha256;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

    /// The host (and port) posts go to, for logs.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// A stable name of this endpoint (URL and extra header fields) for its pending
    /// posts in the store: the same configuration finds them after a restart.
    pub fn outbox_id(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.host_port.as_bytes());
        hash.update(self.path.as_bytes());
        for (name, value) in &self.headers {
            hash.update(format!("\n{name}: {value}").as_bytes());
        }
        hash.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
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

    /// One POST of `body`; a 2xx status is success.
    pub(crate) async fn post(&self, body: &str) -> Result<(), String> {
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
