//! The SMTP conversation driven line by line against a recording backend: replies
//! exactly as SES's SMTP endpoint gives them, TLS and AUTH rules, limits.

use smtp::session::{Backend, Config, ConnInfo, Envelope, Next, Session};
use std::cell::RefCell;

#[derive(Default)]
struct Recorder {
    submitted: RefCell<Vec<(Envelope, Vec<u8>, bool)>>,
    reject_with: Option<String>,
}

impl Backend for Recorder {
    type Identity = String;
    fn authenticate(&self, user: &str, password: &str, _: &ConnInfo) -> Result<String, String> {
        if user == "AKIAUSER" && password == "right" {
            Ok(user.to_string())
        } else {
            Err("535 Authentication Credentials Invalid".into())
        }
    }
    fn submit(
        &self,
        _: &String,
        envelope: &Envelope,
        data: &[u8],
        conn: &ConnInfo,
    ) -> Result<String, String> {
        if let Some(r) = &self.reject_with {
            return Err(r.clone());
        }
        self.submitted
            .borrow_mut()
            .push((envelope.clone(), data.to_vec(), conn.tls));
        Ok("0100-test-000000".into())
    }
}

fn config(tls: bool, insecure: bool) -> Config {
    Config {
        hostname: "smtp.test".into(),
        starttls_available: tls,
        insecure_auth: insecure,
        max_message_bytes: 1000,
        max_recipients: 3,
    }
}

fn session(tls: bool, insecure: bool) -> Session<Recorder> {
    Session::new(
        config(tls, insecure),
        ConnInfo {
            peer: "127.0.0.1".parse().unwrap(),
            tls: false,
        },
    )
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = s.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(T[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn auth_needs_starttls_unless_insecure_is_allowed() {
    let backend = Recorder::default();
    let mut s = session(true, false);
    let (ehlo, _) = s.on_line(&backend, "EHLO client");
    assert!(
        ehlo.contains("250-STARTTLS") && ehlo.ends_with("250 Ok"),
        "{ehlo}"
    );
    assert_eq!(
        s.on_line(&backend, "MAIL FROM:<a@example.com>").0,
        "530 Authentication required"
    );
    assert_eq!(
        s.on_line(
            &backend,
            &format!("AUTH PLAIN {}", b64("\0AKIAUSER\0right"))
        )
        .0,
        "530 Must issue a STARTTLS command first"
    );
    assert_eq!(
        s.on_line(&backend, "STARTTLS"),
        ("220 Ready to start TLS".to_string(), Next::StartTls)
    );
    s.tls_started();
    let (ehlo, _) = s.on_line(&backend, "EHLO client");
    assert!(!ehlo.contains("STARTTLS"));
    assert_eq!(
        s.on_line(
            &backend,
            &format!("AUTH PLAIN {}", b64("\0AKIAUSER\0wrong"))
        )
        .0,
        "535 Authentication Credentials Invalid"
    );
    assert_eq!(
        s.on_line(
            &backend,
            &format!("AUTH PLAIN {}", b64("\0AKIAUSER\0right"))
        )
        .0,
        "235 Authentication successful."
    );
}

#[test]
fn auth_login_and_a_full_transaction() {
    let backend = Recorder::default();
    let mut s = session(false, true);
    s.on_line(&backend, "EHLO client");
    assert_eq!(
        s.on_line(&backend, "AUTH LOGIN"),
        ("334 VXNlcm5hbWU6".to_string(), Next::AuthResponse)
    );
    assert_eq!(
        s.on_line(&backend, &b64("AKIAUSER")),
        ("334 UGFzc3dvcmQ6".to_string(), Next::AuthResponse)
    );
    assert_eq!(
        s.on_line(&backend, &b64("right")).0,
        "235 Authentication successful."
    );
    assert_eq!(
        s.on_line(&backend, "MAIL FROM:<sender@example.com> SIZE=100")
            .0,
        "250 Ok"
    );
    assert_eq!(s.on_line(&backend, "RCPT TO:<a@example.org>").0, "250 Ok");
    assert_eq!(s.on_line(&backend, "RCPT TO:<b@example.org>").0, "250 Ok");
    assert_eq!(
        s.on_line(&backend, "DATA"),
        (
            "354 End data with <CR><LF>.<CR><LF>".to_string(),
            Next::Data
        )
    );
    assert_eq!(
        s.on_data(&backend, Some(b"Subject: x\r\n\r\nhi\r\n")),
        "250 Ok 0100-test-000000"
    );
    let submitted = backend.submitted.borrow();
    assert_eq!(
        submitted[0].0,
        Envelope {
            from: "sender@example.com".into(),
            to: vec!["a@example.org".into(), "b@example.org".into()]
        }
    );
    assert!(!submitted[0].2, "no TLS on this connection");
}

#[test]
fn limits_and_rejections() {
    let backend = Recorder {
        reject_with: Some("554 Message rejected: Email address is not verified.".into()),
        ..Recorder::default()
    };
    let mut s = session(false, true);
    s.on_line(&backend, "EHLO client");
    s.on_line(
        &backend,
        &format!("AUTH PLAIN {}", b64("\0AKIAUSER\0right")),
    );
    assert_eq!(
        s.on_line(&backend, "MAIL FROM:<a@example.com> SIZE=5000").0,
        "552 Message is too long."
    );
    assert_eq!(s.on_line(&backend, "MAIL FROM:<a@example.com>").0, "250 Ok");
    for i in 0..3 {
        assert_eq!(
            s.on_line(&backend, &format!("RCPT TO:<r{i}@example.org>"))
                .0,
            "250 Ok"
        );
    }
    assert_eq!(
        s.on_line(&backend, "RCPT TO:<r4@example.org>").0,
        "452 4.5.3 Error: too many recipients"
    );
    s.on_line(&backend, "DATA");
    assert_eq!(
        s.on_data(&backend, Some(b"x")),
        "554 Message rejected: Email address is not verified."
    );
    s.on_line(&backend, "MAIL FROM:<a@example.com>");
    s.on_line(&backend, "RCPT TO:<r@example.org>");
    s.on_line(&backend, "DATA");
    assert_eq!(s.on_data(&backend, None), "552 Message is too long.");
    assert_eq!(
        s.on_line(&backend, "BOGUS").0,
        "502 5.5.2 Error: command not recognized"
    );
    assert_eq!(
        s.on_line(&backend, "QUIT"),
        ("221 Bye".to_string(), Next::Close)
    );
}

/// Found by fuzzing (fuzz/fuzz_targets/smtp_session.rs): a backend reply quoting
/// message text with a line break must still be one reply line.
#[test]
fn backend_replies_stay_on_one_line() {
    let backend = Recorder {
        reject_with: Some("554 Message rejected: <a@b>\r\n250 Ok forged\rx".into()),
        ..Recorder::default()
    };
    let mut s = session(false, true);
    s.on_line(&backend, "EHLO client");
    s.on_line(
        &backend,
        &format!("AUTH PLAIN {}", b64("\0AKIAUSER\0right")),
    );
    s.on_line(&backend, "MAIL FROM:<a@example.com>");
    s.on_line(&backend, "RCPT TO:<r@example.org>");
    s.on_line(&backend, "DATA");
    assert_eq!(
        s.on_data(&backend, Some(b"x")),
        "554 Message rejected: <a@b>  250 Ok forged x"
    );
}

proptest::proptest! {
    #[test]
    fn no_line_panics_the_session(lines in proptest::collection::vec(".{0,80}", 1..20)) {
        let backend = Recorder::default();
        let mut s = session(true, true);
        for line in &lines {
            let (reply, next) = s.on_line(&backend, line);
            proptest::prop_assert!(reply.len() >= 3 && reply.as_bytes()[..3].iter().all(u8::is_ascii_digit), "{reply}");
            if next == Next::Data {
                let _ = s.on_data(&backend, Some(line.as_bytes()));
            }
        }
    }
}
