//! `iam-loadgen`: a closed-loop load generator for AWS Query APIs (STS, IAM).
//!
//! `--concurrency` clients each hold one keep-alive HTTP/1.1 connection and send one
//! SigV4-signed request at a time, for `--warmup` plus `--duration` seconds; requests
//! started during the measured window count. Prints requests/s and latency
//! percentiles (one JSON line with `--json`).
//!
//! Every request carries a valid signature for the second it is sent in: each
//! client signs with the workspace's `sigv4` crate and reuses the result while the
//! clock stays in the same second (the canonical request is identical then, so a
//! fresh signature would be byte-for-byte the same).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::Request;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage: iam-loadgen --endpoint http://HOST:PORT --action ACTION [options]

  --action get-caller-identity | simulate-principal-policy
  --concurrency N           concurrent connections, one request in flight each (64)
  --duration SECONDS        measured time (10)
  --warmup SECONDS          unmeasured time first (2)
  --threads N               client runtime threads (1)
  --access-key-id ID        (or AWS_ACCESS_KEY_ID)
  --secret-access-key KEY   (or AWS_SECRET_ACCESS_KEY)
  --region REGION           (us-east-1)
  --policy-source-arn ARN   principal for simulate-principal-policy
  --simulate-action NAME    an action to simulate; repeatable (iam:ListUsers, iam:CreateUser)
  --json                    print one JSON object instead of text
";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    GetCallerIdentity,
    SimulatePrincipalPolicy,
    /// SES v1 SendEmail of a message of `--body-bytes` from `--from` to `--to`.
    SendEmail,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::GetCallerIdentity => "GetCallerIdentity",
            Action::SimulatePrincipalPolicy => "SimulatePrincipalPolicy",
            Action::SendEmail => "SendEmail",
        }
    }

    fn service(self) -> &'static str {
        match self {
            Action::GetCallerIdentity => "sts",
            Action::SimulatePrincipalPolicy => "iam",
            Action::SendEmail => "ses",
        }
    }
}

struct Config {
    host: String,
    action: Action,
    concurrency: usize,
    duration: Duration,
    warmup: Duration,
    threads: usize,
    access_key_id: String,
    secret: String,
    region: String,
    policy_source_arn: String,
    simulate_actions: Vec<String>,
    from: String,
    to: String,
    body_bytes: usize,
    json: bool,
}

fn parse_args() -> Result<Config, String> {
    let mut args = std::env::args().skip(1);
    let mut endpoint = None;
    let mut action = None;
    let mut cfg = Config {
        host: String::new(),
        action: Action::GetCallerIdentity,
        concurrency: 64,
        duration: Duration::from_secs(10),
        warmup: Duration::from_secs(2),
        threads: 1,
        access_key_id: std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
        secret: std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        region: "us-east-1".into(),
        policy_source_arn: String::new(),
        simulate_actions: Vec::new(),
        from: String::new(),
        to: String::new(),
        body_bytes: 2048,
        json: false,
    };
    let seconds = |v: String| -> Result<Duration, String> {
        v.parse::<f64>()
            .ok()
            .filter(|s| *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("not a number of seconds: {v}"))
    };
    let count = |v: String| -> Result<usize, String> {
        v.parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("not a positive integer: {v}"))
    };
    while let Some(flag) = args.next() {
        if flag == "--json" {
            cfg.json = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value),
            "--action" => {
                action = Some(match value.as_str() {
                    "get-caller-identity" | "GetCallerIdentity" => Action::GetCallerIdentity,
                    "simulate-principal-policy" | "SimulatePrincipalPolicy" => {
                        Action::SimulatePrincipalPolicy
                    }
                    "send-email" | "SendEmail" => Action::SendEmail,
                    other => return Err(format!("unknown action {other}")),
                })
            }
            "--concurrency" => cfg.concurrency = count(value)?,
            "--duration" => cfg.duration = seconds(value)?,
            "--warmup" => cfg.warmup = seconds(value)?,
            "--threads" => cfg.threads = count(value)?,
            "--access-key-id" => cfg.access_key_id = value,
            "--secret-access-key" => cfg.secret = value,
            "--region" => cfg.region = value,
            "--policy-source-arn" => cfg.policy_source_arn = value,
            "--simulate-action" => cfg.simulate_actions.push(value),
            "--from" => cfg.from = value,
            "--to" => cfg.to = value,
            "--body-bytes" => cfg.body_bytes = count(value)?,
            other => return Err(format!("unknown option {other}")),
        }
    }
    let endpoint = endpoint.ok_or("--endpoint is required")?;
    cfg.host = endpoint
        .strip_prefix("http://")
        .ok_or("--endpoint must be http://HOST:PORT")?
        .trim_end_matches('/')
        .to_string();
    cfg.action = action.ok_or("--action is required")?;
    if cfg.access_key_id.is_empty() || cfg.secret.is_empty() {
        return Err("credentials: --access-key-id/--secret-access-key or AWS_* variables".into());
    }
    if cfg.action == Action::SendEmail && (cfg.from.is_empty() || cfg.to.is_empty()) {
        return Err("send-email needs --from and --to".into());
    }
    if cfg.action == Action::SimulatePrincipalPolicy && cfg.policy_source_arn.is_empty() {
        return Err("simulate-principal-policy needs --policy-source-arn".into());
    }
    if cfg.simulate_actions.is_empty() {
        cfg.simulate_actions = vec!["iam:ListUsers".into(), "iam:CreateUser".into()];
    }
    Ok(cfg)
}

/// RFC 3986 percent-encoding for form values.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn request_body(cfg: &Config) -> String {
    match cfg.action {
        Action::GetCallerIdentity => "Action=GetCallerIdentity&Version=2011-06-15".into(),
        Action::SimulatePrincipalPolicy => {
            let mut body = format!(
                "Action=SimulatePrincipalPolicy&Version=2010-05-08&PolicySourceArn={}",
                form_encode(&cfg.policy_source_arn)
            );
            for (i, a) in cfg.simulate_actions.iter().enumerate() {
                let _ = write!(body, "&ActionNames.member.{}={}", i + 1, form_encode(a));
            }
            body
        }
        Action::SendEmail => {
            let line = "The quick brown fox jumps over the lazy dog. 0123456789\n";
            let text: String = line.chars().cycle().take(cfg.body_bytes).collect();
            format!(
                "Action=SendEmail&Version=2010-12-01&Source={}&Destination.ToAddresses.member.1={}&Message.Subject.Data=Benchmark&Message.Body.Text.Data={}",
                form_encode(&cfg.from),
                form_encode(&cfg.to),
                form_encode(&text)
            )
        }
    }
}

const CONTENT_TYPE: &str = "application/x-www-form-urlencoded; charset=utf-8";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn sign(cfg: &Config, body: &[u8], unix_seconds: i64) -> Vec<(&'static str, String)> {
    let unsigned = [("host", cfg.host.as_str()), ("content-type", CONTENT_TYPE)];
    let req = sigv4::HttpRequest {
        method: "POST",
        path: "/",
        query: "",
        headers: &unsigned,
        body,
    };
    let params = sigv4::SigningParams {
        access_key_id: &cfg.access_key_id,
        secret_access_key: &cfg.secret,
        session_token: None,
        region: &cfg.region,
        service: cfg.action.service(),
        unix_seconds,
    };
    sigv4::sign(&req, &params)
        .unwrap_or_else(|e| panic!("cannot sign: {e}"))
        .to_vec()
}

#[derive(Default)]
struct Stats {
    ok: u64,
    http_errors: u64,
    transport_errors: u64,
    reconnects: u64,
    latencies_us: Vec<u32>,
    first_error: Option<String>,
    /// A 200 response without the action's result element (not the API we meant).
    wrong_body: Option<String>,
}

async fn connect(host: &str) -> std::io::Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(host).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn client(cfg: Arc<Config>, body: Bytes, measure_from: Instant, end: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut sender: Option<SendRequest<Full<Bytes>>> = None;
    let mut signed: (i64, Vec<(&'static str, String)>) = (i64::MIN, Vec::new());
    let result_tag = format!("<{}Result", cfg.action.name());
    let mut validated = false;
    while Instant::now() < end {
        let s = match sender.as_mut() {
            Some(s) => s,
            None => match connect(&cfg.host).await {
                Ok(s) => {
                    stats.reconnects += 1;
                    sender.insert(s)
                }
                Err(e) => {
                    stats.transport_errors += 1;
                    stats
                        .first_error
                        .get_or_insert_with(|| format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let now_s = unix_now();
        if signed.0 != now_s {
            signed = (now_s, sign(&cfg, &body, now_s));
        }
        let mut req = Request::post("/")
            .header("host", cfg.host.as_str())
            .header("content-type", CONTENT_TYPE)
            .header("content-length", body.len());
        for (name, value) in &signed.1 {
            req = req.header(*name, value.as_str());
        }
        let req = req
            .body(Full::new(body.clone()))
            .unwrap_or_else(|e| panic!("cannot build the request: {e}"));
        let started = Instant::now();
        let measured = started >= measure_from;
        if s.ready().await.is_err() {
            sender = None;
            continue;
        }
        match s.send_request(req).await {
            Ok(resp) => {
                let status = resp.status();
                let close = resp
                    .headers()
                    .get(hyper::header::CONNECTION)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
                let collected = resp.into_body().collect().await;
                let elapsed = started.elapsed();
                match collected {
                    Ok(b) => {
                        let b = b.to_bytes();
                        if status == 200 && !validated {
                            validated = true;
                            if !String::from_utf8_lossy(&b).contains(&result_tag) {
                                stats.wrong_body.get_or_insert_with(|| {
                                    String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned()
                                });
                            }
                        }
                        if measured {
                            stats
                                .latencies_us
                                .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
                            if status == 200 {
                                stats.ok += 1;
                            } else {
                                stats.http_errors += 1;
                            }
                        }
                        if status != 200 {
                            stats.first_error.get_or_insert_with(|| {
                                format!(
                                    "HTTP {status}: {}",
                                    String::from_utf8_lossy(&b[..b.len().min(300)])
                                )
                            });
                        }
                    }
                    Err(e) => {
                        if measured {
                            stats.transport_errors += 1;
                        }
                        stats
                            .first_error
                            .get_or_insert_with(|| format!("body: {e}"));
                        sender = None;
                        continue;
                    }
                }
                if close {
                    sender = None;
                }
            }
            Err(e) => {
                if measured {
                    stats.transport_errors += 1;
                }
                stats
                    .first_error
                    .get_or_insert_with(|| format!("send: {e}"));
                sender = None;
            }
        }
    }
    stats
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

fn main() -> ExitCode {
    let cfg = match parse_args() {
        Ok(c) => Arc::new(c),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("iam-loadgen: {e}");
            }
            eprint!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.threads)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot start the runtime: {e}"));
    let body = Bytes::from(request_body(&cfg));
    let (stats, measured_for) = runtime.block_on(async {
        let start = Instant::now();
        let measure_from = start + cfg.warmup;
        let end = measure_from + cfg.duration;
        let tasks: Vec<_> = (0..cfg.concurrency)
            .map(|_| tokio::spawn(client(cfg.clone(), body.clone(), measure_from, end)))
            .collect();
        let mut all = Vec::with_capacity(tasks.len());
        for t in tasks {
            all.push(
                t.await
                    .unwrap_or_else(|e| panic!("client task failed: {e}")),
            );
        }
        (all, end.saturating_duration_since(measure_from))
    });

    let mut latencies: Vec<u32> = Vec::new();
    let (mut ok, mut http_errors, mut transport_errors, mut reconnects) = (0u64, 0u64, 0u64, 0u64);
    let mut first_error = None;
    let mut wrong_body = None;
    for s in stats {
        ok += s.ok;
        http_errors += s.http_errors;
        transport_errors += s.transport_errors;
        reconnects += s.reconnects;
        latencies.extend(s.latencies_us);
        first_error = first_error.or(s.first_error);
        wrong_body = wrong_body.or(s.wrong_body);
    }
    latencies.sort_unstable();
    let seconds = measured_for.as_secs_f64();
    let rps = ok as f64 / seconds;
    let (p50, p90, p99, max) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0),
    );
    if cfg.json {
        println!(
            "{{\"action\":\"{}\",\"endpoint\":\"http://{}\",\"concurrency\":{},\"seconds\":{seconds:.3},\
             \"ok\":{ok},\"http_errors\":{http_errors},\"transport_errors\":{transport_errors},\
             \"connections_opened\":{reconnects},\"rps\":{rps:.1},\"p50_ms\":{p50:.3},\"p90_ms\":{p90:.3},\
             \"p99_ms\":{p99:.3},\"max_ms\":{max:.3}}}",
            cfg.action.name(),
            cfg.host,
            cfg.concurrency,
        );
    } else {
        println!(
            "{} http://{} concurrency={} measured={seconds:.1}s\n  ok={ok} http_errors={http_errors} \
             transport_errors={transport_errors} connections_opened={reconnects}\n  \
             requests/s={rps:.1} p50={p50:.3}ms p90={p90:.3}ms p99={p99:.3}ms max={max:.3}ms",
            cfg.action.name(),
            cfg.host,
            cfg.concurrency
        );
    }
    if let Some(e) = &first_error {
        eprintln!("iam-loadgen: first error: {e}");
    }
    if let Some(b) = &wrong_body {
        eprintln!(
            "iam-loadgen: a 200 response lacked the {}Result element: {b}",
            cfg.action.name()
        );
        return ExitCode::from(1);
    }
    if ok == 0 {
        eprintln!("iam-loadgen: no successful request");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
