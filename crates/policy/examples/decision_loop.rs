//! Decides one benchmark scenario N times without a trace, for instruction counts
//! that do not depend on the machine's load (see `bench/policy-instructions.sh`):
//! `decision_loop delegate|hundred N`.

use policy::{evaluate, Outcome, PolicySet, Request};
use std::hint::black_box;

#[path = "../benches/scenario.rs"]
mod scenario;

#[inline(never)]
fn decide(set: &PolicySet, req: &Request) -> Outcome {
    evaluate(black_box(set), black_box(req)).outcome
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (set, req) = match args.next().as_deref() {
        Some("delegate") => (
            scenario::delegate_send_policies(),
            scenario::delegate_send_request(),
        ),
        Some("hundred") => (
            scenario::hundred_policies(),
            scenario::same_account_request(),
        ),
        _ => {
            eprintln!("usage: decision_loop delegate|hundred N");
            std::process::exit(2);
        }
    };
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let allowed = (0..n)
        .filter(|_| decide(&set, &req) == Outcome::Allowed)
        .count();
    assert_eq!(allowed, n, "every decision of the scenario allows");
}
