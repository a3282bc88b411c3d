//! A small SMTP client (RFC 5321) for outbound delivery: EHLO, opportunistic
//! STARTTLS (RFC 3207), AUTH PLAIN/LOGIN (RFC 4954), one or more transactions on one
//! connection, per-recipient results. Every read is bounded in size and time.

use crate::reply::{parse_line, Reply};
use base64::Engine as _;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Longest reply line accepted from a server.
const MAX_LINE: u64 = 4096;
/// Most lines in one reply.
const MAX_LINES: usize = 100;

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Why a session failed as a whole (no per-recipient result).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out waiting for the server")]
    Timeout,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("TLS handshake failed: {0}")]
    Tls(String),
    /// The server refused the session or the transaction (greeting, EHLO, AUTH,
    /// MAIL FROM, DATA).
    #[error("server replied {}", .0.summary())]
    Rejected(Reply),
}

impl ClientError {
    /// The reply that ended the session, if the server gave one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            ClientError::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

/// Credentials for AUTH. Debug output never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How to open a session.
#[derive(Clone)]
pub struct SessionOptions {
    /// Our name in EHLO.
    pub hostname: String,
    pub timeout: Duration,
    /// STARTTLS is used when the server offers it (certificates are not checked:
    /// opportunistic TLS, RFC 7435).
    pub starttls: bool,
    pub credentials: Option<Credentials>,
}

/// Result of one recipient in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientResult {
    /// Accepted by RCPT and by the end of DATA: the reply after the data.
    Delivered(Reply),
    /// Refused by RCPT or by the end of DATA.
    Refused(Reply),
}

/// The replies to one transaction's envelope: MAIL, each RCPT (none when MAIL was
/// refused in lockstep) and DATA (none when it was not sent).
struct Envelope {
    mail: Reply,
    recipients: Vec<Reply>,
    data: Option<Reply>,
}

/// An open SMTP session.
pub struct Session {
    io: BufReader<Box<dyn Io>>,
    ehlo: Reply,
    timeout: Duration,
    pub remote_ip: String,
    pub tls: bool,
}

impl Session {
    /// Connects to `addr` (`host:port`), reads the greeting, says EHLO, upgrades to
    /// TLS when offered and authenticates when credentials are given.
    pub async fn open(addr: &str, options: &SessionOptions) -> Result<Session, ClientError> {
        let tcp = tokio::time::timeout(options.timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        tcp.set_nodelay(true)
            .map_err(|source| ClientError::Connect {
                addr: addr.to_string(),
                source,
            })?;
        let remote_ip = tcp
            .peer_addr()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).to_string();
        let mut session = Session {
            io: BufReader::new(Box::new(tcp) as Box<dyn Io>),
            ehlo: empty_reply(),
            timeout: options.timeout,
            remote_ip,
            tls: false,
        };
        session.expect(220).await?;
        session.hello(&options.hostname).await?;
        if options.starttls && session.ehlo.has_extension("STARTTLS") {
            session.starttls(&host).await?;
            session.hello(&options.hostname).await?;
        }
        if let Some(credentials) = &options.credentials {
            session.authenticate(credentials).await?;
        }
        Ok(session)
    }

    /// Sends one message to `recipients`; refusals of single recipients are results,
    /// not errors.
    pub async fn send(
        &mut self,
        from: &str,
        recipients: &[String],
        data: &[u8],
    ) -> Result<Vec<(String, RecipientResult)>, ClientError> {
        let envelope = if self.ehlo.has_extension("PIPELINING") {
            self.envelope_pipelined(from, recipients).await?
        } else {
            self.envelope_in_lockstep(from, recipients).await?
        };
        let mut accepted = Vec::new();
        let mut results = Vec::new();
        for (rcpt, reply) in recipients.iter().zip(envelope.recipients) {
            if reply.is_positive() {
                accepted.push(rcpt.clone());
            } else {
                results.push((rcpt.clone(), RecipientResult::Refused(reply)));
            }
        }
        if envelope.mail.code != 250 {
            // The caller drops the session: its state is unknown.
            return Err(ClientError::Rejected(envelope.mail));
        }
        if accepted.is_empty() {
            if envelope.data.as_ref().is_some_and(|r| r.code == 354) {
                // A server that opened DATA anyway gets an empty message ended at once.
                self.command(".").await?;
                self.read_reply().await?;
            }
            self.command("RSET").await?;
            self.read_reply().await?;
            return Ok(results);
        }
        match envelope.data {
            Some(reply) if reply.code == 354 => {}
            Some(reply) => return Err(ClientError::Rejected(reply)),
            None => return Err(ClientError::Protocol("no reply to DATA".into())),
        }
        let body = dot_stuff(data);
        self.io.get_mut().write_all(&body).await?;
        self.io.get_mut().flush().await?;
        let reply = self.read_reply().await?;
        for rcpt in accepted {
            let result = if reply.code == 250 {
                RecipientResult::Delivered(reply.clone())
            } else {
                RecipientResult::Refused(reply.clone())
            };
            results.push((rcpt, result));
        }
        Ok(results)
    }

    /// MAIL, every RCPT and DATA in one write, then their replies in order (RFC 2920).
    async fn envelope_pipelined(
        &mut self,
        from: &str,
        recipients: &[String],
    ) -> Result<Envelope, ClientError> {
        let mut batch = format!("MAIL FROM:<{}>\r\n", clean(from));
        for rcpt in recipients {
            batch.push_str(&format!("RCPT TO:<{}>\r\n", clean(rcpt)));
        }
        batch.push_str("DATA");
        self.command(&batch).await?;
        let mail = self.read_reply().await?;
        let mut replies = Vec::with_capacity(recipients.len());
        for _ in recipients {
            replies.push(self.read_reply().await?);
        }
        let data = self.read_reply().await?;
        Ok(Envelope {
            mail,
            recipients: replies,
            data: Some(data),
        })
    }

    /// MAIL, each RCPT and DATA one at a time, stopping where the transaction fails.
    async fn envelope_in_lockstep(
        &mut self,
        from: &str,
        recipients: &[String],
    ) -> Result<Envelope, ClientError> {
        self.command(&format!("MAIL FROM:<{}>", clean(from)))
            .await?;
        let mail = self.read_reply().await?;
        let mut envelope = Envelope {
            mail,
            recipients: Vec::with_capacity(recipients.len()),
            data: None,
        };
        if envelope.mail.code != 250 {
            return Ok(envelope);
        }
        for rcpt in recipients {
            self.command(&format!("RCPT TO:<{}>", clean(rcpt))).await?;
            envelope.recipients.push(self.read_reply().await?);
        }
        if envelope.recipients.iter().any(Reply::is_positive) {
            self.command("DATA").await?;
            envelope.data = Some(self.read_reply().await?);
        }
        Ok(envelope)
    }

    /// Says goodbye; errors are of no interest any more.
    pub async fn quit(mut self) {
        if self.command("QUIT").await.is_ok() {
            let _ = self.read_reply().await;
        }
        let _ = self.io.get_mut().shutdown().await;
    }

    async fn hello(&mut self, hostname: &str) -> Result<(), ClientError> {
        self.command(&format!("EHLO {hostname}")).await?;
        let reply = self.read_reply().await?;
        if reply.code == 250 {
            self.ehlo = reply;
            return Ok(());
        }
        self.command(&format!("HELO {hostname}")).await?;
        let reply = self.read_reply().await?;
        if reply.code != 250 {
            return Err(ClientError::Rejected(reply));
        }
        self.ehlo = empty_reply();
        Ok(())
    }

    async fn starttls(&mut self, host: &str) -> Result<(), ClientError> {
        self.command("STARTTLS").await?;
        self.expect(220).await?;
        if !self.io.buffer().is_empty() {
            return Err(ClientError::Protocol(
                "data after the STARTTLS reply".into(),
            ));
        }
        let plain = std::mem::replace(
            &mut self.io,
            BufReader::new(Box::new(tokio::io::duplex(1).0) as Box<dyn Io>),
        )
        .into_inner();
        let name = crate::tls::server_name(host);
        let connector = tokio_rustls::TlsConnector::from(crate::tls::client_config());
        let tls = tokio::time::timeout(self.timeout, connector.connect(name, plain))
            .await
            .map_err(|_| ClientError::Timeout)?
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        self.io = BufReader::new(Box::new(tls) as Box<dyn Io>);
        self.tls = true;
        Ok(())
    }

    async fn authenticate(&mut self, credentials: &Credentials) -> Result<(), ClientError> {
        let mechanisms = self.ehlo.extension_params("AUTH");
        let b64 = base64::engine::general_purpose::STANDARD;
        if mechanisms.iter().any(|m| m == "PLAIN") || mechanisms.is_empty() {
            let token = b64.encode(format!("\0{}\0{}", credentials.user, credentials.password));
            self.command_secret(&format!("AUTH PLAIN {token}")).await?;
            self.expect(235).await?;
            return Ok(());
        }
        if mechanisms.iter().any(|m| m == "LOGIN") {
            self.command("AUTH LOGIN").await?;
            self.expect(334).await?;
            self.command_secret(&b64.encode(&credentials.user)).await?;
            self.expect(334).await?;
            self.command_secret(&b64.encode(&credentials.password))
                .await?;
            self.expect(235).await?;
            return Ok(());
        }
        Err(ClientError::Protocol(
            "the server offers neither AUTH PLAIN nor AUTH LOGIN".into(),
        ))
    }

    async fn command(&mut self, line: &str) -> Result<(), ClientError> {
        tracing::trace!(command = line, "smtp client");
        self.command_secret(line).await
    }

    /// Writes a command without logging it (it may carry credentials).
    async fn command_secret(&mut self, line: &str) -> Result<(), ClientError> {
        // One write per command: a command split over two writes waits on the
        // server's delayed ACK (Nagle), about 40 ms per command.
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        let io = self.io.get_mut();
        io.write_all(&bytes).await?;
        io.flush().await?;
        Ok(())
    }

    async fn expect(&mut self, code: u16) -> Result<Reply, ClientError> {
        let reply = self.read_reply().await?;
        if reply.code == code {
            Ok(reply)
        } else {
            Err(ClientError::Rejected(reply))
        }
    }

    async fn read_reply(&mut self) -> Result<Reply, ClientError> {
        tokio::time::timeout(self.timeout, self.read_reply_untimed())
            .await
            .map_err(|_| ClientError::Timeout)?
    }

    async fn read_reply_untimed(&mut self) -> Result<Reply, ClientError> {
        let mut texts = Vec::new();
        let mut code = 0;
        for _ in 0..MAX_LINES {
            let mut raw = Vec::new();
            (&mut self.io)
                .take(MAX_LINE)
                .read_until(b'\n', &mut raw)
                .await?;
            if raw.is_empty() {
                return Err(ClientError::Protocol("connection closed".into()));
            }
            let line = String::from_utf8_lossy(&raw);
            let (c, last, text) = parse_line(&line).ok_or_else(|| {
                ClientError::Protocol(format!("bad reply line {:?}", line.trim_end()))
            })?;
            if code != 0 && c != code {
                return Err(ClientError::Protocol(
                    "reply codes differ between lines".into(),
                ));
            }
            code = c;
            texts.push(text.to_string());
            if last {
                let lines = texts.iter().skip(1).cloned().collect();
                return Ok(Reply {
                    code,
                    text: texts.join(" "),
                    lines,
                });
            }
        }
        Err(ClientError::Protocol("reply too long".into()))
    }
}

fn empty_reply() -> Reply {
    Reply {
        code: 250,
        text: String::new(),
        lines: Vec::new(),
    }
}

/// An address without characters that would break the command line.
fn clean(address: &str) -> String {
    address
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .chars()
        .filter(|c| !c.is_control() && *c != '<' && *c != '>')
        .collect()
}

/// The message as DATA content: CRLF line ends, leading dots doubled (RFC 5321
/// §4.5.2), ended by `CRLF.CRLF`.
pub fn dot_stuff(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 8);
    for line in data.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        push_crlf_line(&mut out, line);
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// Every line end as CRLF.
pub fn crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32 + 8);
    for line in data.split_inclusive(|b| *b == b'\n') {
        push_crlf_line(&mut out, line);
    }
    out
}

/// Appends `line`, its bare LF ending (if any) made CRLF.
fn push_crlf_line(out: &mut Vec<u8>, line: &[u8]) {
    match line.strip_suffix(b"\n") {
        Some(text) if !text.ends_with(b"\r") => {
            out.extend_from_slice(text);
            out.extend_from_slice(b"\r\n");
        }
        _ => out.extend_from_slice(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_stuffing_and_line_ends() {
        assert_eq!(
            dot_stuff(b"a\n.b\r\n..c"),
            b"a\r\n..b\r\n...c\r\n.\r\n".to_vec()
        );
        assert_eq!(dot_stuff(b".\r\n"), b"..\r\n.\r\n".to_vec());
        assert_eq!(dot_stuff(b"\n\n.\n"), b"\r\n\r\n..\r\n.\r\n".to_vec());
        assert_eq!(dot_stuff(b""), b"\r\n.\r\n".to_vec());
        assert_eq!(
            crlf(b"a\r\nb\nc\r\r\n\n"),
            b"a\r\nb\r\nc\r\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn credentials_debug_hides_password() {
        let c = Credentials {
            user: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
