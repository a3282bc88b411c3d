//! Arbitrary bytes as a message at the feedback listener: the DSN/ARF parser never
//! panics and a parsed report is consistent; the VERP reader never panics either.
#![no_main]

use delivery::report::{self, Report};
use delivery::verp::Verp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match report::parse(data) {
        Ok(Report::Dsn(dsn)) => {
            // A DSN is only returned with at least one complete recipient block.
            assert!(!dsn.recipients.is_empty());
            for r in &dsn.recipients {
                assert_eq!(r.action, r.action.to_ascii_lowercase());
            }
        }
        Ok(Report::Arf(arf)) => {
            assert_eq!(arf.feedback_type, arf.feedback_type.to_ascii_lowercase());
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Verp::with_key([1u8; 32], "bounce.example").parse(text);
    }
});
