//! Every case of `tests/cases/visible.json` (the shared authorization sample) must get
//! the documented decision and, where given, the documented deciding layer.

use policy::simulation::read_all;
use policy::{evaluate, evaluate_traced};

#[test]
fn visible_cases_decide_as_aws_documents() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/cases/visible.json"
    );
    let text = std::fs::read_to_string(path).expect("read visible.json");
    let expected: Vec<serde_json::Value> = serde_json::from_str(&text).expect("parse visible.json");
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
