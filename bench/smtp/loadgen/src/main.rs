//! Closed-loop SMTP load generator. `--sessions` connections each run EHLO, optionally
//! AUTH PLAIN, then MAIL/RCPT/DATA back to back (one command at a time, like
//! Postfix's `smtp-source -d`), for `--warmup` + `--duration` seconds or until
//! `--messages` have been accepted in total. Counts messages whose DATA got a 2xx
//! reply; prints one JSON object.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Args {
    addr: String,
    sessions: usize,
    size: usize,
    warmup: f64,
    duration: f64,
    messages: u64,
    from: String,
    to: String,
    auth: Option<(String, String)>,
}

struct Counters {
    measuring: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicU64,
    accepted_total: AtomicU64,
    refused: AtomicU64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: String::new(),
        sessions: 32,
        size: 10 * 1024,
        warmup: 2.0,
        duration: 10.0,
        messages: 0,
        from: "bench@bench.example".into(),
        to: "sink@bench.example".into(),
        auth: None,
    };
    let (mut user, mut password) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<f64>().map_err(|_| format!("{flag}: not a number"));
        match flag.as_str() {
            "--addr" => args.addr = value()?,
            "--sessions" => args.sessions = number(value()?)? as usize,
            "--size" => args.size = number(value()?)? as usize,
            "--warmup" => args.warmup = number(value()?)?,
            "--duration" => args.duration = number(value()?)?,
            "--messages" => args.messages = number(value()?)? as u64,
            "--from" => args.from = value()?,
            "--to" => args.to = value()?,
            "--user" => user = Some(value()?),
            "--password" => password = Some(value()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.addr.is_empty() {
        return Err("--addr HOST:PORT is required".into());
    }
    args.auth = user.zip(password);
    Ok(args)
}

/// A message of about `size` bytes: headers, then 76-character lines of text.
fn message(size: usize, from: &str, to: &str) -> Vec<u8> {
    let mut m = format!("From: {from}\r\nTo: {to}\r\nSubject: load test\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n").into_bytes();
    let line = [b'x'; 76];
    while m.len() + 78 <= size {
        m.extend_from_slice(&line);
        m.extend_from_slice(b"\r\n");
    }
    m.extend_from_slice(b".\r\n");
    m
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(if i <= chunk.len() { T[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

type Conn = BufReader<TcpStream>;

/// Reads one (possibly multi-line) reply; returns its code.
async fn reply(conn: &mut Conn) -> std::io::Result<u16> {
    loop {
        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("bad reply {line:?}"))
            });
        }
    }
}

async fn command(conn: &mut Conn, line: &str) -> std::io::Result<u16> {
    conn.get_mut().write_all(line.as_bytes()).await?;
    conn.get_mut().write_all(b"\r\n").await?;
    reply(conn).await
}

fn expect(code: u16, want: u16, what: &str) -> std::io::Result<()> {
    if code / 100 == want / 100 {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("{what}: {code}")))
    }
}

async fn session(args: Arc<Args>, data: Arc<Vec<u8>>, counters: Arc<Counters>) -> std::io::Result<()> {
    let stream = TcpStream::connect(&args.addr).await?;
    stream.set_nodelay(true)?;
    let mut conn = BufReader::new(stream);
    expect(reply(&mut conn).await?, 220, "greeting")?;
    expect(command(&mut conn, "EHLO loadgen.example").await?, 250, "EHLO")?;
    if let Some((user, password)) = &args.auth {
        let token = base64(format!("\0{user}\0{password}").as_bytes());
        expect(command(&mut conn, &format!("AUTH PLAIN {token}")).await?, 235, "AUTH")?;
    }
    while !counters.stop.load(Ordering::Relaxed) {
        expect(command(&mut conn, &format!("MAIL FROM:<{}>", args.from)).await?, 250, "MAIL")?;
        expect(command(&mut conn, &format!("RCPT TO:<{}>", args.to)).await?, 250, "RCPT")?;
        expect(command(&mut conn, "DATA").await?, 354, "DATA")?;
        conn.get_mut().write_all(&data).await?;
        if reply(&mut conn).await? / 100 == 2 {
            let total = counters.accepted_total.fetch_add(1, Ordering::Relaxed) + 1;
            if counters.measuring.load(Ordering::Relaxed) {
                counters.accepted.fetch_add(1, Ordering::Relaxed);
            }
            if args.messages > 0 && total >= args.messages {
                counters.stop.store(true, Ordering::Relaxed);
            }
        } else {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            command(&mut conn, "RSET").await?;
        }
    }
    let _ = command(&mut conn, "QUIT").await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("smtp-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let data = Arc::new(message(args.size, &args.from, &args.to));
    let counters = Arc::new(Counters {
        measuring: AtomicBool::new(args.messages > 0),
        stop: AtomicBool::new(false),
        accepted: AtomicU64::new(0),
        accepted_total: AtomicU64::new(0),
        refused: AtomicU64::new(0),
    });
    let start = Instant::now();
    let tasks: Vec<_> = (0..args.sessions)
        .map(|_| tokio::spawn(session(args.clone(), data.clone(), counters.clone())))
        .collect();
    let elapsed = if args.messages > 0 {
        for t in tasks {
            report_error(t.await);
        }
        start.elapsed()
    } else {
        tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
        counters.measuring.store(true, Ordering::Relaxed);
        let measured = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
        counters.measuring.store(false, Ordering::Relaxed);
        let elapsed = measured.elapsed();
        counters.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            report_error(t.await);
        }
        elapsed
    };
    let accepted = counters.accepted.load(Ordering::Relaxed);
    println!(
        "{{\"accepted\": {accepted}, \"refused\": {}, \"seconds\": {:.3}, \"per_second\": {:.1}, \"message_bytes\": {}}}",
        counters.refused.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        accepted as f64 / elapsed.as_secs_f64(),
        data.len() - 3,
    );
}

fn report_error(joined: Result<std::io::Result<()>, tokio::task::JoinError>) {
    match joined {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("smtp-loadgen: session failed: {e}"),
        Err(e) => eprintln!("smtp-loadgen: session panicked: {e}"),
    }
}
