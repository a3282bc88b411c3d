//! The SMTP listener: connections, STARTTLS and implicit TLS, line and data reading
//! with limits and timeouts. The conversation itself is [`crate::session`].

use crate::session::{Config, ConnInfo, Next, Session, TOO_LONG};
use crate::submission::SmtpBackend;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Limits of the listener.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
}

pub struct SmtpServer {
    pub backend: Arc<SmtpBackend>,
    pub config: Config,
    pub tls: Option<TlsAcceptor>,
    pub limits: Limits,
    connections: AtomicUsize,
}

const MAX_LINE: u64 = 4096;

impl SmtpServer {
    pub fn new(
        backend: Arc<SmtpBackend>,
        config: Config,
        tls: Option<TlsAcceptor>,
        limits: Limits,
    ) -> SmtpServer {
        SmtpServer {
            backend,
            config,
            tls,
            limits,
            connections: AtomicUsize::new(0),
        }
    }

    /// Accepts connections until `shutdown` completes. `implicit_tls` starts every
    /// connection with a TLS handshake (port 465 style).
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        implicit_tls: bool,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let server = self.clone();
                        tokio::spawn(async move { server.connection(stream, implicit_tls).await });
                    }
                    Err(e) => tracing::warn!(error = %e, "smtp accept failed"),
                },
                () = &mut shutdown => break,
            }
        }
    }

    async fn connection(self: Arc<Self>, mut stream: TcpStream, implicit_tls: bool) {
        let Ok(peer) = stream.peer_addr() else { return };
        // Replies are whole lines written at once; don't hold them back for ACKs.
        let _ = stream.set_nodelay(true);
        if self.connections.fetch_add(1, Ordering::SeqCst) >= self.limits.max_connections {
            self.connections.fetch_sub(1, Ordering::SeqCst);
            let _ = stream
                .write_all(b"421 Too many concurrent SMTP connections; please try again later.\r\n")
                .await;
            return;
        }
        let conn = ConnInfo {
            peer: peer.ip(),
            tls: false,
        };
        let mut session = Session::new(self.config.clone(), conn);
        let result = if implicit_tls {
            self.over_tls(stream, &mut session, false).await
        } else {
            match self.converse(stream, &mut session, true).await {
                Ok(Some(plain)) => self.over_tls(plain, &mut session, true).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, peer = %peer, "smtp connection ended");
        }
        self.connections.fetch_sub(1, Ordering::SeqCst);
    }

    async fn over_tls(
        &self,
        stream: TcpStream,
        session: &mut Session<SmtpBackend>,
        after_starttls: bool,
    ) -> std::io::Result<()> {
        let Some(acceptor) = &self.tls else {
            return Ok(());
        };
        let tls = tokio::time::timeout(self.limits.command_timeout, acceptor.accept(stream))
            .await
            .map_err(|_| timed_out())??;
        session.tls_started();
        let greet = !after_starttls;
        self.converse(tls, session, greet).await.map(|_| ())
    }

    /// Runs the conversation. Returns the stream back when the client asked for STARTTLS.
    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        stream: S,
        session: &mut Session<SmtpBackend>,
        greet: bool,
    ) -> std::io::Result<Option<S>> {
        let mut io = BufReader::new(stream);
        if greet {
            write_reply(&mut io, &session.greeting(), true).await?;
        }
        loop {
            let line = match tokio::time::timeout(self.limits.command_timeout, read_line(&mut io))
                .await
            {
                Err(_) => {
                    write_reply(&mut io, "451 Timeout waiting for data from client.", true).await?;
                    return Ok(None);
                }
                Ok(Ok(Some(line))) => line,
                Ok(Ok(None)) => return Ok(None),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                    write_reply(&mut io, "500 5.5.2 Line too long", true).await?;
                    continue;
                }
                Ok(Err(e)) => return Err(e),
            };
            let backend = self.backend.clone();
            let (reply, next) = session.on_line(&backend, &line);
            let flush = io.buffer().is_empty() || next != Next::Command;
            write_reply(&mut io, &reply, flush).await?;
            match next {
                Next::Command | Next::AuthResponse => {}
                Next::Close => return Ok(None),
                Next::StartTls => return Ok(Some(io.into_inner())),
                Next::Data => {
                    let data = match tokio::time::timeout(
                        self.limits.data_timeout,
                        read_data(&mut io, self.config.max_message_bytes),
                    )
                    .await
                    {
                        Err(_) => {
                            write_reply(&mut io, "451 Timeout waiting for data from client.", true)
                                .await?;
                            return Ok(None);
                        }
                        Ok(result) => result?,
                    };
                    let reply = match data {
                        DataRead::Complete(bytes) => {
                            let backend = self.backend.clone();
                            let session_ref = &mut *session;
                            tokio::task::block_in_place(|| {
                                session_ref.on_data(&backend, Some(&bytes))
                            })
                        }
                        DataRead::TooLong => {
                            let _ = session.on_data(&self.backend, None);
                            TOO_LONG.to_string()
                        }
                        DataRead::Eof => return Ok(None),
                    };
                    write_reply(&mut io, &reply, true).await?;
                }
            }
        }
    }
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
}

async fn write_reply<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut BufReader<S>,
    reply: &str,
    flush: bool,
) -> std::io::Result<()> {
    // One write per reply: a reply split over two writes waits on the peer's delayed
    // ACK (Nagle), about 40 ms per reply.
    let mut line = Vec::with_capacity(reply.len() + 2);
    line.extend_from_slice(reply.as_bytes());
    line.extend_from_slice(b"\r\n");
    let stream = io.get_mut();
    stream.write_all(&line).await?;
    if flush {
        stream.flush().await?;
    }
    Ok(())
}

/// One command line without its line ending; `None` at end of stream.
async fn read_line<S: AsyncRead + Unpin>(io: &mut BufReader<S>) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = (&mut *io)
        .take(MAX_LINE)
        .read_until(b'\n', &mut buf)
        .await?;
    if n == 0 {
        return Ok(None);
    }
    if !buf.ends_with(b"\n") {
        if n as u64 >= MAX_LINE {
            let mut rest = Vec::new();
            io.read_until(b'\n', &mut rest).await?;
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "line too long",
            ));
        }
        return Ok(None);
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

enum DataRead {
    Complete(Vec<u8>),
    TooLong,
    Eof,
}

/// Message data up to the lone `.` line, dot-unstuffed, CRLF line endings kept.
async fn read_data<S: AsyncRead + Unpin>(
    io: &mut BufReader<S>,
    max: usize,
) -> std::io::Result<DataRead> {
    let mut data = Vec::new();
    let mut too_long = false;
    loop {
        let mut line = Vec::new();
        if io.read_until(b'\n', &mut line).await? == 0 {
            return Ok(DataRead::Eof);
        }
        let content = line
            .strip_suffix(b"\r\n")
            .or_else(|| line.strip_suffix(b"\n"))
            .unwrap_or(&line);
        if content == b"." {
            return Ok(if too_long {
                DataRead::TooLong
            } else {
                DataRead::Complete(data)
            });
        }
        if too_long {
            continue;
        }
        let unstuffed = content.strip_prefix(b".").unwrap_or(content);
        data.extend_from_slice(unstuffed);
        data.extend_from_slice(b"\r\n");
        if data.len() > max {
            too_long = true;
            data.clear();
        }
    }
}
