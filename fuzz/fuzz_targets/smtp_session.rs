//! Two SMTP sessions driven by arbitrary input, interleaved line by line through the
//! I/O-free state machine as the listener would drive them. Checks: nothing panics,
//! a session stays in a sane state, and no reply of one session carries the other
//! session's identity, envelope or message data.
//!
//! Input: lines separated by `\n`; the first byte of a line picks the session (its low
//! bit), the rest is the line. A session in the DATA state collects lines until `.`.
//! Each session first authenticates as its own user with a secret marker that its own
//! input never contains (lines holding the other marker are dropped).
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp::session::{Backend, Config, ConnInfo, Envelope, Next, Session};
use std::net::{IpAddr, Ipv4Addr};

const SECRETS: [&str; 2] = ["SECRETZERO", "SECRETONE"];

/// Accepts password `pw` for any user; a sent message's id names who sent what.
struct Mock;

impl Backend for Mock {
    type Identity = String;

    fn authenticate(&self, user: &str, password: &str, _: &ConnInfo) -> Result<String, String> {
        if password == "pw" {
            Ok(user.to_string())
        } else {
            Err("535 Authentication Credentials Invalid".into())
        }
    }

    fn submit(
        &self,
        who: &String,
        envelope: &Envelope,
        data: &[u8],
        _conn: &ConnInfo,
    ) -> Result<String, String> {
        let text = String::from_utf8_lossy(data);
        let summary = format!("{who}|{}|{}|{text}", envelope.from, envelope.to.join(","));
        if data.len() % 3 == 0 {
            Ok(summary)
        } else {
            Err(format!("554 Message rejected: {summary}"))
        }
    }
}

struct Driver {
    session: Session<Mock>,
    next: Next,
    data: Option<Vec<u8>>,
    replies: Vec<String>,
}

impl Driver {
    fn new(index: usize) -> Driver {
        let config = Config {
            hostname: "mx.example".into(),
            starttls_available: index == 0,
            insecure_auth: true,
            max_message_bytes: 256,
            max_recipients: 4,
        };
        let conn = ConnInfo {
            peer: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + index as u8)),
            tls: false,
        };
        let mut driver = Driver {
            session: Session::new(config, conn),
            next: Next::Command,
            data: None,
            replies: Vec::new(),
        };
        let plain = format!("\0user-{}\0pw", SECRETS[index]);
        driver.line(&Mock, b"EHLO client.example");
        driver.line(
            &Mock,
            format!("AUTH PLAIN {}", base64(plain.as_bytes())).as_bytes(),
        );
        driver.line(
            &Mock,
            format!("MAIL FROM:<{}@example.com>", SECRETS[index]).as_bytes(),
        );
        driver
    }

    fn line(&mut self, backend: &Mock, raw: &[u8]) {
        if self.next == Next::Close {
            return;
        }
        if let Some(data) = &mut self.data {
            if raw == b"." {
                let collected = self.data.take().and_then(|d| (d.len() <= 256).then_some(d));
                let reply = self.session.on_data(backend, collected.as_deref());
                self.reply(reply, Next::Command);
            } else {
                data.extend_from_slice(raw.strip_prefix(b".").unwrap_or(raw));
                data.extend_from_slice(b"\r\n");
            }
            return;
        }
        let (reply, next) = self.session.on_line(backend, &String::from_utf8_lossy(raw));
        if next == Next::StartTls {
            self.session.tls_started();
            assert!(self.session.is_tls());
        }
        if next == Next::Data {
            self.data = Some(Vec::new());
        }
        self.reply(reply, next);
    }

    fn reply(&mut self, reply: String, next: Next) {
        let code = reply.get(..3).unwrap_or("");
        assert!(
            code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()),
            "reply without a code: {reply:?}"
        );
        for line in reply.split("\r\n") {
            assert!(
                line.starts_with(code),
                "reply line without the code: {reply:?}"
            );
            assert!(
                !line.contains(['\r', '\n']),
                "a stray line break in {reply:?}"
            );
        }
        self.replies.push(reply);
        self.next = next;
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fuzz_target!(|input: &[u8]| {
    let mut drivers = [Driver::new(0), Driver::new(1)];
    for raw in input.split(|b| *b == b'\n') {
        let Some((selector, line)) = raw.split_first() else {
            continue;
        };
        let index = usize::from(selector & 1);
        let other = SECRETS[1 - index].as_bytes();
        if line
            .windows(other.len())
            .any(|w| w.eq_ignore_ascii_case(other))
        {
            continue;
        }
        drivers[index].line(&Mock, line.strip_suffix(b"\r").unwrap_or(line));
    }
    for (index, driver) in drivers.iter().enumerate() {
        let other = SECRETS[1 - index];
        for reply in &driver.replies {
            assert!(!reply.contains(other), "session {index} got {reply:?}");
        }
    }
});
