//! Interoperability with botocore, the signer behind the AWS CLI and boto3.
//!
//! `botocore_capture.py` makes real botocore calls (Query, JSON 1.1 and REST
//! protocols, presigned URLs, session tokens) against a local recorder and
//! prints the requests exactly as they arrived on the wire. Each one must
//! verify, and changing one byte of its body, path, query, a signed header or
//! the secret must make verification fail with `SignatureDoesNotMatch`.
//!
//! Requires `python3` with botocore (`python3 -m pip install botocore`); the
//! test fails, never skips, when they are missing.

use std::process::Command;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sigv4::{parse_auth, ses_smtp_password, verify, HttpRequest, SigV4Error};

const INSTALL_HINT: &str =
    "this test needs python3 with botocore: `python3 -m pip install botocore`";

/// One request as captured on the wire, with what it must parse to.
struct Captured {
    name: String,
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    secret: String,
    service: String,
    region: String,
    token: Option<String>,
    presigned: bool,
}

impl Captured {
    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

/// The capture script's output, produced once for all tests of this file.
fn capture_document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(run_capture_script)
}

fn run_capture_script() -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/botocore_capture.py");
    let output = Command::new("python3")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); {INSTALL_HINT}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "botocore_capture.py failed ({}): {stderr}\n{INSTALL_HINT}",
        output.status
    );
    serde_json::from_slice(&output.stdout).expect("capture script printed invalid JSON")
}

fn text(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("missing string field {key}"))
        .to_owned()
}

fn from_hex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex body"))
        .collect()
}

fn captured_requests(document: &Value) -> Vec<Captured> {
    let requests = document["requests"].as_array().expect("requests array");
    requests
        .iter()
        .map(|r| {
            let target = text(r, "target");
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let headers = r["headers"]
                .as_array()
                .expect("headers array")
                .iter()
                .map(|pair| {
                    (
                        pair[0].as_str().unwrap().to_owned(),
                        pair[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            Captured {
                name: text(r, "name"),
                method: text(r, "method"),
                path: path.to_owned(),
                query: query.to_owned(),
                headers,
                body: from_hex(&text(r, "body_hex")),
                secret: text(r, "secret"),
                service: text(r, "service"),
                region: text(r, "region"),
                token: r["token"].as_str().map(str::to_owned),
                presigned: r["presigned"].as_bool().expect("presigned flag"),
            }
        })
        .collect()
}

fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    i64::try_from(elapsed.as_secs()).unwrap()
}

fn verify_parts(
    c: &Captured,
    path: &str,
    query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    secret: &str,
) -> Result<(), SigV4Error> {
    let req = HttpRequest {
        method: &c.method,
        path,
        query,
        headers,
        body,
    };
    let auth = parse_auth(&req)?;
    verify(&req, &auth, secret, now())
}

/// Changes the last byte of `text` to another unreserved character.
fn change_last_byte(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    if let Some(last) = bytes.last_mut() {
        *last = if *last == b'q' { b'z' } else { b'q' };
    }
    String::from_utf8(bytes).unwrap()
}

fn expect_mismatch(c: &Captured, what: &str, result: Result<(), SigV4Error>) {
    match result {
        Err(SigV4Error::SignatureDoesNotMatch(_)) => {}
        other => panic!("{}: changing {what} gave {other:?}", c.name),
    }
}

#[test]
fn botocore_requests_verify_and_tampering_is_detected() {
    let captured = captured_requests(capture_document());
    assert!(captured.len() >= 10, "too few captured requests");

    for c in &captured {
        let headers = c.header_refs();
        let req = HttpRequest {
            method: &c.method,
            path: &c.path,
            query: &c.query,
            headers: &headers,
            body: &c.body,
        };
        let auth = parse_auth(&req).unwrap_or_else(|e| panic!("{}: parse: {e}", c.name));
        assert_eq!(auth.access_key_id, "AKIDEXAMPLE", "{}", c.name);
        assert_eq!(auth.service, c.service, "{}", c.name);
        assert_eq!(auth.region, c.region, "{}", c.name);
        assert_eq!(auth.session_token, c.token, "{}", c.name);
        assert_eq!(auth.is_presigned(), c.presigned, "{}", c.name);
        if let Err(error) = verify(&req, &auth, &c.secret, now()) {
            panic!("{}: botocore-signed request rejected: {error:?}", c.name);
        }

        let (path, query, body) = (&c.path, &c.query, &c.body);
        let s = &c.secret;
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[0] ^= 0x01;
            expect_mismatch(
                c,
                "the body",
                verify_parts(c, path, query, &headers, &changed, s),
            );
        }
        let changed_path = if path == "/" {
            "/q".to_owned()
        } else {
            change_last_byte(path)
        };
        let result = verify_parts(c, &changed_path, query, &headers, body, s);
        expect_mismatch(c, "the path", result);
        if !query.is_empty() && !c.presigned {
            let changed = change_last_byte(query);
            expect_mismatch(
                c,
                "the query",
                verify_parts(c, path, &changed, &headers, body, s),
            );
        }
        if c.presigned {
            let changed = query.replacen("Version=", "Version=1", 1);
            expect_mismatch(
                c,
                "the query",
                verify_parts(c, path, &changed, &headers, body, s),
            );
        }
        for signed in auth.signed_headers.iter().filter(|h| *h != "x-amz-date") {
            let changed_headers: Vec<(String, String)> = c
                .headers
                .iter()
                .map(|(n, v)| {
                    let value = if n.eq_ignore_ascii_case(signed) {
                        change_last_byte(v)
                    } else {
                        v.clone()
                    };
                    (n.clone(), value)
                })
                .collect();
            let refs: Vec<(&str, &str)> = changed_headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let what = format!("header {signed}");
            expect_mismatch(c, &what, verify_parts(c, path, query, &refs, body, s));
        }
        let wrong_secret = change_last_byte(s);
        let result = verify_parts(c, path, query, &headers, body, &wrong_secret);
        expect_mismatch(c, "the secret", result);
    }
}

#[test]
fn smtp_passwords_match_an_independent_python_derivation() {
    let cases = capture_document()["smtp"].as_array().expect("smtp array");
    assert!(!cases.is_empty());
    for case in cases {
        let secret = text(case, "secret");
        let region = text(case, "region");
        assert_eq!(
            ses_smtp_password(&secret, &region),
            text(case, "password"),
            "{region}"
        );
    }
}
