//! The audit trail end to end over HTTP: secrets never reach the stored records,
//! denied calls carry their error and decision trace, CloudTrail's LookupEvents
//! reads them back, and the policy simulator answers in IAM's shape.

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{AuditEvent, AuditQuery, Store};

const ACCOUNT: &str = "000000000000";
const ROOT_KEY: &str = "AKIAROOT000000000001";
const ROOT_SECRET: &str = "rootsecret0000000000000000000000000000000";

/// A server on a free port, stopped when dropped.
struct Server {
    address: SocketAddr,
    store: Store,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let backend = store::SqliteBackend::open(dir.path()).unwrap();
        let store = Store::new(Arc::new(backend));
        let key = store::MasterKey::load(dir.path(), None).unwrap();
        let iam = Arc::new(iam::Iam::new(store.clone(), key));
        iam.bootstrap(ACCOUNT, ROOT_KEY, ROOT_SECRET).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let address = listener.local_addr().unwrap();
        let ses = Arc::new(ses::Ses::new(
            store.clone(),
            iam.clone(),
            format!("http://{address}"),
        ));
        let (auditor, _writer) = api::Auditor::start(store.clone());
        let state = Arc::new(api::AppState { iam, ses, auditor });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime
                .block_on(api::serve(listener, state, async {
                    let _ = stopped.await;
                }))
                .unwrap();
        });
        Server {
            address,
            store,
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// A signed POST; returns the status and body.
    fn call(
        &self,
        key: (&str, &str),
        service: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let host = self.address.to_string();
        let mut all: Vec<(&str, &str)> = vec![("host", &host)];
        all.extend_from_slice(headers);
        let request = sigv4::HttpRequest {
            method: "POST",
            path: "/",
            query: "",
            headers: &all,
            body: body.as_bytes(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let params = sigv4::SigningParams {
            access_key_id: key.0,
            secret_access_key: key.1,
            session_token: None,
            region: "us-east-1",
            service,
            unix_seconds: i64::try_from(now).unwrap(),
        };
        let auth = sigv4::sign(&request, &params).unwrap();
        let mut text = String::from("POST / HTTP/1.1\r\n");
        for (name, value) in &all {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        for (name, value) in auth.to_vec() {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str(&format!(
            "content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ));
        let mut stream = TcpStream::connect(self.address).unwrap();
        stream.write_all(text.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_string())
    }

    fn query(&self, key: (&str, &str), params: &[(&str, &str)]) -> (u16, String) {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (k, v) in params {
            form.append_pair(k, v);
        }
        form.append_pair("Version", "2010-05-08");
        let body = form.finish();
        self.call(
            key,
            "iam",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            &body,
        )
    }

    fn lookup(&self, key: (&str, &str), body: &Value) -> (u16, Value) {
        let (status, text) = self.call(
            key,
            "cloudtrail",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                (
                    "x-amz-target",
                    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                ),
            ],
            &body.to_string(),
        );
        (status, serde_json::from_str(&text).unwrap())
    }

    /// Waits for the audit writer to store at least `n` events.
    fn audit_events(&self, n: usize) -> Vec<AuditEvent> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let events = self
                .store
                .query_audit(&AuditQuery {
                    limit: 1000,
                    ..AuditQuery::default()
                })
                .unwrap();
            if events.len() >= n || Instant::now() > deadline {
                return events;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The text of the first `<tag>…</tag>` in an XML body.
fn xml_text<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..]
        .find(&format!("</{tag}>"))
        .map_or(start, |i| start + i);
    &xml[start..end]
}

#[test]
fn secrets_never_reach_the_audit_trail_and_denials_are_looked_up() {
    let server = Server::start();
    let root = (ROOT_KEY, ROOT_SECRET);
    let (status, _) = server.query(root, &[("Action", "CreateUser"), ("UserName", "alice")]);
    assert_eq!(status, 200);
    let (status, body) = server.query(
        root,
        &[("Action", "CreateAccessKey"), ("UserName", "alice")],
    );
    assert_eq!(status, 200, "{body}");
    let alice_key = xml_text(&body, "AccessKeyId").to_string();
    let alice_secret = xml_text(&body, "SecretAccessKey").to_string();
    assert_eq!(alice_secret.len(), 40);
    // A password parameter (the action itself is unknown here, but still audited).
    let (status, _) = server.query(
        root,
        &[
            ("Action", "CreateLoginProfile"),
            ("UserName", "alice"),
            ("Password", "hunter2-very-secret"),
        ],
    );
    assert_eq!(status, 400);
    let alice = (alice_key.as_str(), alice_secret.as_str());
    let (status, body) = server.query(alice, &[("Action", "ListUsers")]);
    assert_eq!(status, 403, "{body}");

    let events = server.audit_events(4);
    assert_eq!(events.len(), 4, "{events:?}");
    for e in &events {
        let text = serde_json::to_string(e).unwrap();
        assert!(!text.contains(&alice_secret), "secret in {text}");
        assert!(!text.contains(ROOT_SECRET), "root secret in {text}");
        assert!(!text.contains("hunter2"), "password in {text}");
    }
    let login = events
        .iter()
        .find(|e| e.event_name == "CreateLoginProfile")
        .unwrap();
    assert_eq!(
        login.detail["requestParameters"]["Password"],
        "HIDDEN_DUE_TO_SECURITY_REASONS"
    );
    let created = events
        .iter()
        .find(|e| e.event_name == "CreateAccessKey")
        .unwrap();
    assert!(created.detail["responseElements"].is_null());
    let denied = events.iter().find(|e| e.event_name == "ListUsers").unwrap();
    assert_eq!(denied.detail["errorCode"], "AccessDenied");
    assert_eq!(denied.user_name, "alice");
    assert!(
        denied
            .trace
            .iter()
            .any(|l| l.starts_with("decision: implicit deny")),
        "{:?}",
        denied.trace
    );

    let by_name =
        json!({"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ListUsers"}]});
    let (status, out) = server.lookup(root, &by_name);
    assert_eq!(status, 200, "{out}");
    let found = &out["Events"][0];
    assert_eq!(found["EventName"], "ListUsers");
    assert_eq!(found["Username"], "alice");
    assert_eq!(found["ReadOnly"], "true");
    let event: Value = serde_json::from_str(found["CloudTrailEvent"].as_str().unwrap()).unwrap();
    assert_eq!(event["errorCode"], "AccessDenied");
    assert!(event["errorMessage"]
        .as_str()
        .unwrap()
        .contains("is not authorized to perform: iam:ListUsers"));
    let decision = &event["additionalEventData"]["authorizations"][0];
    assert_eq!(decision["action"], "iam:ListUsers");
    assert_eq!(decision["decision"], "implicitDeny");

    let (status, out) = server.lookup(alice, &by_name);
    assert_eq!(status, 403, "{out}");
    assert_eq!(out["__type"], "AccessDeniedException");
}

#[test]
fn simulate_principal_policy_answers_in_iams_shape() {
    let server = Server::start();
    let root = (ROOT_KEY, ROOT_SECRET);
    server.query(root, &[("Action", "CreateUser"), ("UserName", "bob")]);
    let policy = r#"{"Version":"2012-10-17","Statement":{"Sid":"Send","Effect":"Allow","Action":"ses:SendRawEmail","Resource":"*","Condition":{"StringEquals":{"ses:FromAddress":"bob@example.com"}}}}"#;
    let (status, body) = server.query(
        root,
        &[
            ("Action", "PutUserPolicy"),
            ("UserName", "bob"),
            ("PolicyName", "send"),
            ("PolicyDocument", policy),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.query(
        root,
        &[
            ("Action", "SimulatePrincipalPolicy"),
            ("PolicySourceArn", "arn:aws:iam::000000000000:user/bob"),
            ("ActionNames.member.1", "ses:SendRawEmail"),
            ("ActionNames.member.2", "iam:CreateUser"),
            ("ContextEntries.member.1.ContextKeyName", "ses:FromAddress"),
            (
                "ContextEntries.member.1.ContextKeyValues.member.1",
                "bob@example.com",
            ),
            ("ContextEntries.member.1.ContextKeyType", "string"),
        ],
    );
    assert_eq!(status, 200, "{body}");
    let first = xml_text(&body, "member");
    assert!(
        first.contains("<EvalActionName>ses:SendRawEmail</EvalActionName>"),
        "{body}"
    );
    assert!(
        body.contains("<EvalDecision>allowed</EvalDecision>"),
        "{body}"
    );
    assert!(body.contains("<SourcePolicyId>send</SourcePolicyId><SourcePolicyType>user</SourcePolicyType><StartPosition><Line>1</Line><Column>38</Column></StartPosition>"), "{body}");
    assert!(body.contains("<EvalActionName>iam:CreateUser</EvalActionName><EvalResourceName>*</EvalResourceName><EvalDecision>implicitDeny</EvalDecision><MatchedStatements></MatchedStatements><MissingContextValues></MissingContextValues>"), "{body}");
    assert!(body.contains("<IsTruncated>false</IsTruncated>"), "{body}");
}
