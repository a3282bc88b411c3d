//! Arbitrary text as simulation documents: reading, evaluating (with and without a
//! trace) and wording the denial must never panic, and both evaluations agree.
#![no_main]

use libfuzzer_sys::fuzz_target;
use policy::simulation::read_all;
use policy::{evaluate, evaluate_traced, message};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for (_, item) in read_all(text) {
        let Ok(sim) = item else { continue };
        let decision = evaluate(&sim.policies, &sim.request);
        let (traced, trace) = evaluate_traced(&sim.policies, &sim.request);
        assert_eq!(decision, traced, "traced and untraced decisions differ");
        assert!(!trace.lines.is_empty());
        let denial = message::iam_denial(&sim.request, &decision);
        assert_eq!(denial.is_some(), !decision.is_allowed());
    }
});
