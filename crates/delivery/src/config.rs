//! How the delivery service is configured (`sesame serve --delivery …`).

use crate::client::Credentials;
use std::time::Duration;

/// Where messages go.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Nowhere: mail stays in the capture store; only what never leaves anyway
    /// (the mailbox simulator, suppressed recipients) is worked off, for its events.
    Capture,
    /// Everything to one smarthost.
    Relay {
        /// `host:port`
        addr: String,
        credentials: Option<Credentials>,
    },
    /// To each recipient domain's MX hosts (A/AAAA fallback), found through `dns`.
    Mx {
        dns: std::net::SocketAddr,
        /// The SMTP port of MX hosts (25; tests use another).
        port: u16,
    },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Our name in EHLO and the events' `reportingMTA`.
    pub hostname: String,
    /// After this age a message that still cannot be delivered bounces.
    pub max_age: Duration,
    /// First retry delay; doubled per attempt up to `max_retry_delay`.
    pub first_retry_delay: Duration,
    pub max_retry_delay: Duration,
    /// How often the queue is scanned for due deliveries.
    pub poll_interval: Duration,
    /// Most simultaneous connections to one destination.
    pub per_destination: usize,
    /// Most simultaneous connections overall.
    pub max_connections: usize,
    /// Most messages sent on one connection before it is closed.
    pub messages_per_connection: usize,
    /// Network timeout of one SMTP step.
    pub timeout: Duration,
    /// Use STARTTLS when offered.
    pub starttls: bool,
}

impl Config {
    pub fn new(mode: Mode) -> Config {
        Config {
            mode,
            hostname: "sesame.local".into(),
            max_age: Duration::from_secs(4 * 3600),
            first_retry_delay: Duration::from_secs(60),
            max_retry_delay: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(1),
            per_destination: 4,
            max_connections: 32,
            messages_per_connection: 50,
            timeout: Duration::from_secs(60),
            starttls: true,
        }
    }

    /// Delay before attempt `attempts + 1`, after `attempts` failures.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.first_retry_delay
            .saturating_mul(factor)
            .min(self.max_retry_delay)
    }
}

/// Parses `smtp://[USER:PASS@]HOST:PORT` (user and password percent-decoded).
/// Errors never repeat the URL, which may hold a password.
pub fn parse_relay(url: &str) -> Result<Mode, String> {
    let rest = url
        .strip_prefix("smtp://")
        .ok_or("--relay must look like smtp://[USER:PASS@]HOST:PORT")?;
    let rest = rest.trim_end_matches('/');
    let (userinfo, hostport) = match rest.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, rest),
    };
    let valid_port = hostport
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
    if !valid_port {
        return Err("--relay needs HOST:PORT (e.g. smtp://127.0.0.1:2525)".into());
    }
    let credentials = match userinfo {
        None => None,
        Some(info) => {
            let (user, password) = info
                .split_once(':')
                .ok_or("--relay credentials must be USER:PASS")?;
            Some(Credentials {
                user: percent_decode(user)?,
                password: percent_decode(password)?,
            })
        }
    };
    Ok(Mode::Relay {
        addr: hostport.to_string(),
        credentials,
    })
}

fn percent_decode(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("bad percent-encoding in --relay credentials")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "--relay credentials are not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relay_urls() {
        match parse_relay("smtp://user%40x:p%3Ass@mail.example.com:587").unwrap() {
            Mode::Relay { addr, credentials } => {
                assert_eq!(addr, "mail.example.com:587");
                let c = credentials.unwrap();
                assert_eq!((c.user.as_str(), c.password.as_str()), ("user@x", "p:ss"));
            }
            Mode::Mx { .. } | Mode::Capture => panic!("relay expected"),
        }
        assert!(parse_relay("smtp://127.0.0.1").is_err());
        let err = parse_relay("http://u:secret@h:1").unwrap_err();
        assert!(!err.contains("secret"));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let mut c = Config::new(Mode::Relay {
            addr: "h:1".into(),
            credentials: None,
        });
        c.first_retry_delay = Duration::from_secs(2);
        c.max_retry_delay = Duration::from_secs(10);
        assert_eq!(c.retry_delay(1), Duration::from_secs(2));
        assert_eq!(c.retry_delay(2), Duration::from_secs(4));
        assert_eq!(c.retry_delay(5), Duration::from_secs(10));
    }
}
