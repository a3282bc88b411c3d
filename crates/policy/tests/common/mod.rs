//! Shared by the case-file tests: runs a JSON array of simulation documents with
//! `expected` answers (the format of `tests/cases/README.md`) through the engine.

use policy::simulation::read_all;
use policy::{evaluate, evaluate_traced};

/// Reads `tests/cases/NAME` from the workspace root and checks every case: the
/// decision, the deciding layer where given, and that the traced and untraced
/// evaluations agree. Panics with every failing case and its trace.
pub fn check_case_file(name: &str) {
    let path = format!("{}/../../tests/cases/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let expected: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {path}: {e}"));
    let items = read_all(&text);
    assert_eq!(items.len(), expected.len());
    assert!(!items.is_empty());
    let mut failures = Vec::new();
    for ((name, item), case) in items.into_iter().zip(&expected) {
        let sim = item.unwrap_or_else(|e| panic!("{name:?}: {e}"));
        let decision = evaluate(&sim.policies, &sim.request);
        let (traced, trace) = evaluate_traced(&sim.policies, &sim.request);
        assert_eq!(
            decision, traced,
            "{name:?}: traced and untraced decisions differ"
        );
        let want = &case["expected"];
        let got_by = decision.denied_by.map(|l| l.as_str());
        let decision_ok = want["decision"].as_str() == Some(decision.outcome.as_str());
        let by_ok = want.get("deniedBy").is_none_or(|b| b.as_str() == got_by);
        if !(decision_ok && by_ok) {
            failures.push(format!(
                "{}: want {} got {} by {:?}\n  {}",
                name.unwrap_or_default(),
                want,
                decision.outcome.as_str(),
                got_by,
                trace.lines.join("\n  ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
