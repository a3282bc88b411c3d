//! Arbitrary bytes as one SMTP command line (lossily decoded, as the listener reads
//! lines): parsing never panics, and what it accepts is well-formed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp::command::{parse, Command};

fuzz_target!(|data: &[u8]| {
    let line = String::from_utf8_lossy(data);
    match parse(&line) {
        Ok(Command::Mail { from, params }) => {
            assert!(!from.contains(['<', '>', ' ']), "MAIL path {from:?}");
            assert!(params.iter().all(|p| !p.is_empty() && !p.contains(' ')));
        }
        Ok(Command::Rcpt { to }) => {
            assert!(
                !to.is_empty() && !to.contains(['<', '>', ' ']),
                "RCPT path {to:?}"
            );
        }
        Ok(Command::Ehlo(host) | Command::Helo(host)) => assert!(!host.is_empty()),
        Ok(Command::Auth { mechanism, .. }) => {
            assert!(!mechanism.is_empty());
            assert_eq!(mechanism, mechanism.to_ascii_uppercase());
        }
        Ok(_) | Err(_) => {}
    }
});
