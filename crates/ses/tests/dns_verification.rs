//! Domain verification against a real DNS server: dnsmasq on a loopback port serves
//! the `_amazonses` TXT record of one domain and the DKIM CNAME records of another.
//! Needs the `dnsmasq` binary (Debian package `dnsmasq-base`, installed by scripts/test).

mod common;

use common::{info, world_with};
use ses::dns::Resolver;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A dnsmasq child process, stopped when dropped.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The dnsmasq binary (Debian package `dnsmasq-base`, installed by `scripts/test`).
fn dnsmasq_binary() -> String {
    ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(str::to_string)
        .expect(
            "dnsmasq is not installed: install the Debian package dnsmasq-base (scripts/test does)",
        )
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts dnsmasq with `records` (`--txt-record=…`, `--cname=…` arguments) and waits
/// until it answers.
fn start_dnsmasq(binary: &str, records: &[String]) -> Dnsmasq {
    for _ in 0..5 {
        let port = free_port();
        let child = Command::new(binary)
            .args([
                "--no-daemon",
                "--keep-in-foreground",
                &format!("--port={port}"),
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--user=root",
                "-z",
                "--local=/example/",
                "--txt-record=ready.example,ok",
            ])
            .args(records)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dnsmasq starts");
        let mut server = Dnsmasq {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let resolver = Resolver::new(server.addr).with_timeout(Duration::from_millis(300));
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(server.child.try_wait(), Ok(Some(_))) {
                break;
            }
            if resolver.txt("ready.example").is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("dnsmasq did not start");
}

#[test]
fn domains_are_verified_by_txt_token_or_dkim_cnames() {
    let binary = dnsmasq_binary();
    // Identities first (their tokens go into the zone), with a resolver pointing at
    // a port where nothing answers yet: checks fail quietly.
    let dead = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let w = world_with(|ses| {
        ses.with_resolver(Resolver::new(dead).with_timeout(Duration::from_millis(200)))
    });
    let i = &info();
    let txt = w.ses.verify_domain(&w.owner, i, "txt.example").unwrap();
    let dkim = w.ses.verify_domain(&w.owner, i, "dkim.example").unwrap();
    let wrong = w.ses.verify_domain(&w.owner, i, "wrong.example").unwrap();
    assert_eq!(
        w.ses.verify_pending_domains().unwrap(),
        0,
        "DNS down: nothing verified"
    );
    let pending = w
        .ses
        .get_identity(
            &w.owner,
            i,
            "ses:GetIdentityVerificationAttributes",
            "txt.example",
        )
        .unwrap()
        .unwrap();
    assert!(!pending.verified);
    assert!(pending.last_checked_ms.is_some());

    let mut records = vec![
        format!(
            "--txt-record=_amazonses.txt.example,{}",
            txt.verification_token
        ),
        "--txt-record=_amazonses.wrong.example,not-the-token".to_string(),
    ];
    for token in &dkim.dkim_tokens {
        records.push(format!(
            "--host-record={token}.dkim.amazonses.com,127.0.0.2"
        ));
        records.push(format!(
            "--cname={token}._domainkey.dkim.example,{token}.dkim.amazonses.com"
        ));
    }
    let server = start_dnsmasq(&binary, &records);
    let resolver = Resolver::new(server.addr).with_timeout(Duration::from_secs(2));
    let found = resolver.txt("_amazonses.txt.example").unwrap();
    assert_eq!(found, std::slice::from_ref(&txt.verification_token));
    assert!(
        resolver.txt("nothing.example").unwrap().is_empty(),
        "NXDOMAIN is empty"
    );

    // The same store, now with the live server.
    let w = common::World {
        ses: ses::Ses::new(store_of(&w), w.iam.clone(), "http://sesame.test".into())
            .with_resolver(resolver),
        ..w
    };
    std::thread::sleep(Duration::from_millis(1100));
    let on_demand = w
        .ses
        .get_identity(
            &w.owner,
            i,
            "ses:GetIdentityVerificationAttributes",
            "txt.example",
        )
        .unwrap()
        .unwrap();
    assert!(
        on_demand.verified,
        "TXT token found when the status is read"
    );
    assert!(!on_demand.dkim_verified);

    assert_eq!(
        w.ses.verify_pending_domains().unwrap(),
        1,
        "the DKIM domain"
    );
    let by_dkim = w
        .ses
        .get_identity(&w.owner, i, "ses:GetEmailIdentity", "dkim.example")
        .unwrap()
        .unwrap();
    assert!(by_dkim.verified && by_dkim.dkim_verified && by_dkim.dkim_enabled);
    let still = w
        .ses
        .get_identity(&w.owner, i, "ses:GetEmailIdentity", &wrong.name)
        .unwrap()
        .unwrap();
    assert!(
        !still.verified,
        "a TXT record with another token does not verify"
    );
    drop(server);
}

fn store_of(w: &common::World) -> store::Store {
    w.iam.store().clone()
}
