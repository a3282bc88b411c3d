//! One SMTP conversation as a state machine, without I/O: lines and message data in,
//! replies and what to read next out. The server feeds it; tests drive it directly.

use crate::command::{self, Command};
use std::net::IpAddr;

/// What submission needs from the rest of Sesame.
pub trait Backend {
    /// Who authenticated.
    type Identity;
    /// Checks SMTP credentials; `Err` carries the reply line.
    fn authenticate(
        &self,
        user: &str,
        password: &str,
        conn: &ConnInfo,
    ) -> Result<Self::Identity, String>;
    /// Sends one message; `Ok` is the message id, `Err` the full reply line.
    fn submit(
        &self,
        who: &Self::Identity,
        envelope: &Envelope,
        data: &[u8],
        conn: &ConnInfo,
    ) -> Result<String, String>;
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub to: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnInfo {
    pub peer: IpAddr,
    pub tls: bool,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub hostname: String,
    /// A certificate is configured, so STARTTLS can be offered.
    pub starttls_available: bool,
    /// Allow AUTH without TLS (loopback development only).
    pub insecure_auth: bool,
    pub max_message_bytes: usize,
    pub max_recipients: usize,
}

/// What the connection should do after a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Command,
    /// Read message data up to the lone `.` line.
    Data,
    /// Upgrade the connection to TLS, then call [`Session::tls_started`].
    StartTls,
    /// Read one line that answers an AUTH challenge.
    AuthResponse,
    Close,
}

enum Auth {
    None,
    Plain,
    LoginUser,
    LoginPassword(String),
}

pub struct Session<B: Backend> {
    config: Config,
    conn: ConnInfo,
    greeted: bool,
    identity: Option<B::Identity>,
    pending_auth: Auth,
    envelope: Option<Envelope>,
}

pub const TOO_LONG: &str = "552 Message is too long.";

impl<B: Backend> Session<B> {
    pub fn new(config: Config, conn: ConnInfo) -> Session<B> {
        Session {
            config,
            conn,
            greeted: false,
            identity: None,
            pending_auth: Auth::None,
            envelope: None,
        }
    }

    pub fn greeting(&self) -> String {
        format!("220 {} ESMTP Sesame", self.config.hostname)
    }

    /// After a successful TLS handshake: the session starts over (RFC 3207).
    pub fn tls_started(&mut self) {
        self.conn.tls = true;
        self.greeted = false;
        self.identity = None;
        self.envelope = None;
    }

    pub fn is_tls(&self) -> bool {
        self.conn.tls
    }

    pub fn on_line(&mut self, backend: &B, line: &str) -> (String, Next) {
        if !matches!(self.pending_auth, Auth::None) {
            return self.on_auth_response(backend, line);
        }
        let command = match command::parse(line) {
            Ok(c) => c,
            Err(e) => return (e.to_string(), Next::Command),
        };
        match command {
            Command::Ehlo(_) => {
                self.greeted = true;
                self.envelope = None;
                (self.ehlo_reply(), Next::Command)
            }
            Command::Helo(_) => {
                self.greeted = true;
                self.envelope = None;
                (format!("250 {}", self.config.hostname), Next::Command)
            }
            Command::StartTls if self.conn.tls => {
                ("503 5.5.1 TLS already active".into(), Next::Command)
            }
            Command::StartTls if !self.config.starttls_available => {
                ("454 4.7.0 TLS not available".into(), Next::Command)
            }
            Command::StartTls => ("220 Ready to start TLS".into(), Next::StartTls),
            Command::Auth { mechanism, initial } => {
                self.on_auth(backend, &mechanism, initial.as_deref())
            }
            Command::Mail { from, params } => (self.on_mail(from, &params), Next::Command),
            Command::Rcpt { to } => (self.on_rcpt(to), Next::Command),
            Command::Data => match &self.envelope {
                Some(e) if !e.to.is_empty() => {
                    ("354 End data with <CR><LF>.<CR><LF>".into(), Next::Data)
                }
                Some(_) => ("554 5.5.1 Error: no valid recipients".into(), Next::Command),
                None => ("503 5.5.1 Error: need MAIL command".into(), Next::Command),
            },
            Command::Rset => {
                self.envelope = None;
                ("250 Ok".into(), Next::Command)
            }
            Command::Noop => ("250 Ok".into(), Next::Command),
            Command::Vrfy => ("252 2.5.2 Cannot VRFY user".into(), Next::Command),
            Command::Help => ("214 2.0.0 See RFC 5321".into(), Next::Command),
            Command::Quit => ("221 Bye".into(), Next::Close),
        }
    }

    fn ehlo_reply(&self) -> String {
        let mut lines = vec![
            self.config.hostname.clone(),
            "8BITMIME".into(),
            format!("SIZE {}", self.config.max_message_bytes),
        ];
        if self.config.starttls_available && !self.conn.tls {
            lines.push("STARTTLS".into());
        }
        lines.extend([
            "AUTH PLAIN LOGIN".into(),
            "PIPELINING".into(),
            "ENHANCEDSTATUSCODES".into(),
            "Ok".into(),
        ]);
        let last = lines.len() - 1;
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    fn auth_allowed(&self) -> Result<(), String> {
        if !self.greeted {
            return Err("503 5.5.1 Error: send EHLO first".into());
        }
        if self.identity.is_some() {
            return Err("503 5.5.1 Error: already authenticated".into());
        }
        if !self.conn.tls && !self.config.insecure_auth {
            return Err("530 Must issue a STARTTLS command first".into());
        }
        Ok(())
    }

    fn on_auth(&mut self, backend: &B, mechanism: &str, initial: Option<&str>) -> (String, Next) {
        if let Err(reply) = self.auth_allowed() {
            return (reply, Next::Command);
        }
        match (mechanism, initial) {
            ("PLAIN", Some(data)) => (self.finish_plain(backend, data), Next::Command),
            ("PLAIN", None) => {
                self.pending_auth = Auth::Plain;
                ("334 ".into(), Next::AuthResponse)
            }
            ("LOGIN", Some(user)) => match decode(user) {
                Some(u) => {
                    self.pending_auth = Auth::LoginPassword(u);
                    ("334 UGFzc3dvcmQ6".into(), Next::AuthResponse)
                }
                None => ("501 5.5.2 Cannot decode response".into(), Next::Command),
            },
            ("LOGIN", None) => {
                self.pending_auth = Auth::LoginUser;
                ("334 VXNlcm5hbWU6".into(), Next::AuthResponse)
            }
            _ => (
                "504 5.5.4 Unrecognized authentication type".into(),
                Next::Command,
            ),
        }
    }

    fn on_auth_response(&mut self, backend: &B, line: &str) -> (String, Next) {
        let pending = std::mem::replace(&mut self.pending_auth, Auth::None);
        if line.trim() == "*" {
            return ("501 5.7.0 Authentication aborted".into(), Next::Command);
        }
        match pending {
            Auth::Plain => (self.finish_plain(backend, line), Next::Command),
            Auth::LoginUser => match decode(line) {
                Some(user) => {
                    self.pending_auth = Auth::LoginPassword(user);
                    ("334 UGFzc3dvcmQ6".into(), Next::AuthResponse)
                }
                None => ("501 5.5.2 Cannot decode response".into(), Next::Command),
            },
            Auth::LoginPassword(user) => match decode(line) {
                Some(password) => (self.finish(backend, &user, &password), Next::Command),
                None => ("501 5.5.2 Cannot decode response".into(), Next::Command),
            },
            Auth::None => (
                "503 5.5.1 Error: no authentication in progress".into(),
                Next::Command,
            ),
        }
    }

    /// AUTH PLAIN: base64 of `authzid NUL user NUL password`.
    fn finish_plain(&mut self, backend: &B, data: &str) -> String {
        let Some(decoded) = decode(data) else {
            return "501 5.5.2 Cannot decode response".into();
        };
        let mut parts = decoded.split('\0');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(user), Some(password), None) => self.finish(backend, user, password),
            _ => "535 Authentication Credentials Invalid".into(),
        }
    }

    fn finish(&mut self, backend: &B, user: &str, password: &str) -> String {
        match backend.authenticate(user, password, &self.conn) {
            Ok(identity) => {
                self.identity = Some(identity);
                "235 Authentication successful.".into()
            }
            Err(reply) => one_line(reply),
        }
    }

    fn on_mail(&mut self, from: String, params: &[String]) -> String {
        if !self.greeted {
            return "503 5.5.1 Error: send EHLO first".into();
        }
        if self.identity.is_none() {
            return "530 Authentication required".into();
        }
        if self.envelope.is_some() {
            return "503 5.5.1 Error: nested MAIL command".into();
        }
        let declared = params.iter().find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.eq_ignore_ascii_case("SIZE")
                .then(|| v.parse::<usize>().ok())
                .flatten()
        });
        if declared.is_some_and(|size| size > self.config.max_message_bytes) {
            return TOO_LONG.into();
        }
        self.envelope = Some(Envelope {
            from,
            to: Vec::new(),
        });
        "250 Ok".into()
    }

    fn on_rcpt(&mut self, to: String) -> String {
        let max = self.config.max_recipients;
        match &mut self.envelope {
            None => "503 5.5.1 Error: need MAIL command".into(),
            Some(e) if e.to.len() >= max => "452 4.5.3 Error: too many recipients".into(),
            Some(e) => {
                e.to.push(to);
                "250 Ok".into()
            }
        }
    }

    /// The message data of a DATA command (dot-unstuffed), or `None` when it was too long.
    pub fn on_data(&mut self, backend: &B, data: Option<&[u8]>) -> String {
        let envelope = self.envelope.take();
        let (Some(envelope), Some(identity)) = (envelope, self.identity.as_ref()) else {
            return "503 5.5.1 Error: need MAIL command".into();
        };
        let Some(data) = data else {
            return TOO_LONG.into();
        };
        match backend.submit(identity, &envelope, data, &self.conn) {
            Ok(message_id) => one_line(format!("250 Ok {message_id}")),
            Err(reply) => one_line(reply),
        }
    }
}

/// A reply the backend worded (it may quote message text, e.g. addresses from headers)
/// as a single line: control characters such as a stray CR become spaces, so no
/// client input can end the reply early or add lines to it.
fn one_line(reply: String) -> String {
    if reply.chars().any(char::is_control) {
        reply.replace(|c: char| c.is_control(), " ")
    } else {
        reply
    }
}

fn decode(text: &str) -> Option<String> {
    let bytes = ses::mime::base64_decode(text.trim())?;
    String::from_utf8(bytes).ok()
}
