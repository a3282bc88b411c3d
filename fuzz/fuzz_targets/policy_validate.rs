//! Arbitrary bytes as a policy document: validation and compilation must never
//! panic, and must agree on whether the document is usable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::validate::{is_valid, validate, PolicyKind};
use policy::Policy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let findings = validate(text, None);
    for kind in [PolicyKind::Identity, PolicyKind::Resource] {
        validate(text, Some(kind));
    }
    for f in &findings {
        // Positions are 1-based and inside the text.
        assert!(f.at.line >= 1 && f.at.col >= 1, "{f}");
        assert!(f.at.offset <= text.len(), "{f}");
        let _ = f.to_string();
    }
    let compiled = Policy::parse(text);
    // A document the validator calls valid always compiles.
    if is_valid(&findings) {
        assert!(compiled.is_ok(), "valid but not compiled: {compiled:?}");
    }
});
