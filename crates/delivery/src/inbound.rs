//! The feedback listener (`sesame serve --feedback-smtp`): a small inbound SMTP
//! server for Sesame's bounce address. It accepts mail only for VERP return paths it
//! handed out (and the plain bounce address `bounces@DOMAIN`), reads each message as
//! a DSN or an ARF report, links it to the original message — by the VERP token, else
//! by the returned message's Message-ID — and reports Bounce or Complaint events as
//! delivery does. What cannot be read or linked is refused with a reply that says why.

use crate::bounce;
use crate::events::{self, BouncedRecipient, ComplaintInfo};
use crate::reply::Reply;
use crate::report::{self, Arf, Dsn, Report};
use crate::verp::{Token, Verp, VerpError, PREFIX};
use crate::worker::{feedback_id, now_ms, Feedback};
use crate::Deliverer;
use ses::model::{table, StoredMessage};
use smtp::command::{self, Command};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

const MAX_LINE: u64 = 4096;
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const MAX_CONNECTIONS: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(60);

/// Serves the listener until the task is aborted.
pub async fn serve(deliverer: Arc<Deliverer>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let mut stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "feedback accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            let _ = stream
                .write_all(b"421 4.7.0 Too many connections; try again later\r\n")
                .await;
            continue;
        };
        let deliverer = deliverer.clone();
        tokio::spawn(async move {
            if let Err(e) = converse(&deliverer, stream).await {
                tracing::debug!(error = %e, "feedback connection ended");
            }
            drop(permit);
        });
    }
}

/// The recipients of one transaction: VERP tokens (none for the plain address).
#[derive(Default)]
struct Transaction {
    mail: bool,
    tokens: Vec<Token>,
    recipients: usize,
}

async fn converse(deliverer: &Arc<Deliverer>, stream: TcpStream) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    let host = deliverer.config.hostname.clone();
    send(&mut io, &format!("220 {host} ESMTP Sesame feedback")).await?;
    let mut tx = Transaction::default();
    loop {
        let Some(line) = with_timeout(read_line(&mut io)).await? else {
            return Ok(());
        };
        let reply = match command::parse(&line) {
            Err(e) => e.to_string(),
            Ok(Command::Ehlo(_)) => {
                tx = Transaction::default();
                format!("250-{host}\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SIZE {MAX_MESSAGE}")
            }
            Ok(Command::Helo(_)) => {
                tx = Transaction::default();
                format!("250 {host}")
            }
            Ok(Command::Mail { .. }) => {
                tx = Transaction {
                    mail: true,
                    ..Transaction::default()
                };
                "250 2.1.0 Ok".into()
            }
            Ok(Command::Rcpt { .. }) if !tx.mail => "503 5.5.1 Error: need MAIL command".into(),
            Ok(Command::Rcpt { to }) => match recipient(deliverer.verp(), &to) {
                Ok(token) => {
                    tx.tokens.extend(token);
                    tx.recipients += 1;
                    "250 2.1.5 Ok".into()
                }
                Err(reply) => reply,
            },
            Ok(Command::Data) if tx.recipients == 0 => {
                "554 5.5.1 Error: no valid recipients".into()
            }
            Ok(Command::Data) => {
                send(&mut io, "354 End data with <CR><LF>.<CR><LF>").await?;
                let Some(data) = with_timeout(read_data(&mut io)).await? else {
                    return Ok(());
                };
                let tokens = std::mem::take(&mut tx.tokens);
                tx = Transaction::default();
                match data {
                    Some(data) => {
                        let me = deliverer.clone();
                        tokio::task::spawn_blocking(move || me.receive_report(&tokens, &data))
                            .await
                            .unwrap_or_else(|_| "451 4.3.0 Internal error".into())
                    }
                    None => "552 5.3.4 Message too big".into(),
                }
            }
            Ok(Command::Rset) => {
                tx = Transaction::default();
                "250 2.0.0 Ok".into()
            }
            Ok(Command::Noop) => "250 2.0.0 Ok".into(),
            Ok(Command::Quit) => {
                send(&mut io, "221 2.0.0 Bye").await?;
                return Ok(());
            }
            Ok(_) => "502 5.5.1 Command not implemented".into(),
        };
        send(&mut io, &reply).await?;
    }
}

/// Checks one RCPT TO address: a valid VERP token, or the plain bounce address.
fn recipient(verp: Option<&Verp>, to: &str) -> Result<Option<Token>, String> {
    let Some(verp) = verp else {
        return Err("550 5.1.1 No bounce address is configured".into());
    };
    match verp.parse(to) {
        Ok(token) => Ok(Some(token)),
        Err(VerpError::NotOurs) if is_plain_bounce_address(verp, to) => Ok(None),
        Err(VerpError::NotOurs) => Err(format!("550 5.1.1 <{to}>: no such mailbox here")),
        Err(VerpError::Forged) => Err(format!(
            "550 5.7.1 <{to}>: bounce address token failed authentication"
        )),
        Err(VerpError::Malformed) => {
            Err(format!("550 5.1.3 <{to}>: malformed bounce address token"))
        }
    }
}

fn is_plain_bounce_address(verp: &Verp, to: &str) -> bool {
    let plain = format!("{}@{}", PREFIX.trim_end_matches('+'), verp.domain);
    to.trim().eq_ignore_ascii_case(&plain)
}

impl Deliverer {
    /// Reads one report and records what it says; returns the SMTP reply.
    fn receive_report(&self, tokens: &[Token], raw: &[u8]) -> String {
        let parsed = match report::parse(raw) {
            Ok(r) => r,
            Err(e) => return format!("550 5.6.0 Not a delivery status or feedback report: {e}"),
        };
        let original_id = match &parsed {
            Report::Dsn(d) => d.original_message_id.as_deref(),
            Report::Arf(a) => a.original_message_id.as_deref(),
        };
        let found = match self.find_original(tokens.first(), original_id) {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "feedback lookup failed");
                return "451 4.3.0 Temporary lookup failure".into();
            }
        };
        let Some((message, token_recipient)) = found else {
            return "550 5.1.0 The report matches no message sent by this server".into();
        };
        let recorded = match &parsed {
            Report::Dsn(dsn) => self.record_dsn(&message, token_recipient.as_deref(), dsn),
            Report::Arf(arf) => self.record_arf(&message, token_recipient.as_deref(), arf),
        };
        match recorded {
            Some(feedback_id) => format!("250 2.0.0 Ok: recorded as feedback {feedback_id}"),
            None => "550 5.1.0 The report names no recipient of the original message".into(),
        }
    }

    /// The original message, and the recipient the VERP token names.
    fn find_original(
        &self,
        token: Option<&Token>,
        header_id: Option<&str>,
    ) -> Result<Option<(StoredMessage, Option<String>)>, store::StoreError> {
        let mut tx = self.store.read()?;
        if let Some(token) = token {
            let prefix = format!("{:016}-", token.created_ms);
            let candidates: Vec<StoredMessage> = tx.scan(table::MESSAGES, &prefix)?;
            let found = candidates
                .into_iter()
                .find(|m| Verp::names(token, m.created_ms, &m.message_id));
            if let Some(message) = found {
                let recipient = message
                    .destination
                    .get(usize::from(token.recipient))
                    .cloned();
                return Ok(Some((message, recipient)));
            }
        }
        let Some(id) = header_id else { return Ok(None) };
        let all: Vec<StoredMessage> = tx.scan(table::MESSAGES, "")?;
        Ok(all
            .into_iter()
            .rev()
            .find(|m| has_message_id(m, id))
            .map(|m| (m, None)))
    }

    fn record_dsn(
        &self,
        message: &StoredMessage,
        token_recipient: Option<&str>,
        dsn: &Dsn,
    ) -> Option<String> {
        let bounced: Vec<BouncedRecipient> = dsn
            .recipients
            .iter()
            .filter(|r| r.action == "failed" || r.action == "delayed")
            .filter_map(|r| {
                let address = original_recipient(message, &r.final_recipient, token_recipient)?;
                let code = if r.action == "failed" && r.status.starts_with('5') {
                    550
                } else {
                    450
                };
                let reply = Reply {
                    code,
                    text: r.status.clone(),
                    lines: Vec::new(),
                };
                Some(BouncedRecipient {
                    address,
                    classification: bounce::classify(&reply, false),
                    diagnostic: r
                        .diagnostic
                        .clone()
                        .unwrap_or_else(|| format!("smtp; {}", r.status)),
                    action: r.action.clone(),
                })
            })
            .collect();
        if bounced.is_empty() {
            return None;
        }
        let feedback_id = feedback_id(&message.message_id);
        let mta = dsn
            .reporting_mta
            .as_deref()
            .unwrap_or(&self.config.hostname);
        tracing::info!(message_id = %message.message_id, recipients = bounced.len(), "bounce report received");
        self.events.publish(
            message,
            &events::bounce_event(message, &bounced, now_ms(), mta, &feedback_id),
        );
        self.hard_bounced(message, &bounced, &feedback_id);
        Some(feedback_id)
    }

    fn record_arf(
        &self,
        message: &StoredMessage,
        token_recipient: Option<&str>,
        arf: &Arf,
    ) -> Option<String> {
        let mut recipients: Vec<String> = arf
            .original_rcpt_to
            .iter()
            .filter_map(|r| original_recipient(message, r, None))
            .collect();
        if recipients.is_empty() {
            let only = (message.destination.len() == 1).then(|| message.destination[0].clone());
            recipients.extend(token_recipient.map(str::to_string).or(only));
        }
        if recipients.is_empty() {
            return None;
        }
        let feedback_id = feedback_id(&message.message_id);
        tracing::info!(message_id = %message.message_id, "complaint report received");
        self.events.publish(
            message,
            &events::complaint_event(
                message,
                &ComplaintInfo {
                    recipients: &recipients,
                    time_ms: now_ms(),
                    feedback_id: &feedback_id,
                    feedback_type: Some(&arf.feedback_type),
                    user_agent: arf.user_agent.as_deref(),
                    arrival_date: arf.arrival_date.as_deref(),
                },
            ),
        );
        if let Some(hook) = &self.feedback {
            for address in &recipients {
                hook(&Feedback::Complaint {
                    message,
                    address,
                    feedback_id: &feedback_id,
                });
            }
        }
        Some(feedback_id)
    }
}

/// `reported` as the message's own recipient address, else the VERP-named one.
fn original_recipient(
    message: &StoredMessage,
    reported: &str,
    token_recipient: Option<&str>,
) -> Option<String> {
    message
        .destination
        .iter()
        .find(|d| d.eq_ignore_ascii_case(reported.trim()))
        .cloned()
        .or_else(|| token_recipient.map(str::to_string))
}

/// Whether `id` (a Message-ID without brackets) is the message's: SES's form
/// `MESSAGEID@email.amazonses.com`, or the Message-ID header the message left with.
fn has_message_id(message: &StoredMessage, id: &str) -> bool {
    let local = id.split_once('@').map_or(id, |(l, _)| l);
    if local == message.message_id {
        return true;
    }
    events::parse_headers(&message.raw.header_text())
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Message-ID"))
        .is_some_and(|(_, v)| v.trim().trim_start_matches('<').trim_end_matches('>') == id)
}

async fn with_timeout<T>(
    f: impl std::future::Future<Output = std::io::Result<Option<T>>>,
) -> std::io::Result<Option<T>> {
    tokio::time::timeout(TIMEOUT, f).await.unwrap_or(Ok(None))
}

async fn send(io: &mut BufReader<TcpStream>, reply: &str) -> std::io::Result<()> {
    let stream = io.get_mut();
    stream.write_all(reply.as_bytes()).await?;
    stream.write_all(b"\r\n").await?;
    stream.flush().await
}

/// One command line without its line end; `None` at the end of the stream.
async fn read_line(io: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

/// The message up to the lone `.` line, dot-unstuffed; `Some(None)` when it is too
/// big (read to its end all the same), `None` at the end of the stream.
async fn read_data(io: &mut BufReader<TcpStream>) -> std::io::Result<Option<Option<Vec<u8>>>> {
    let mut data = Vec::new();
    let mut too_big = false;
    loop {
        let mut line = Vec::new();
        let limit = (MAX_MESSAGE + 2) as u64;
        if (&mut *io).take(limit).read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok(Some((!too_big).then_some(data)));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE {
            too_big = true;
            data.clear();
        } else if !too_big {
            data.extend_from_slice(line);
        }
    }
}
