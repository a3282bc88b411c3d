//! Evaluation speed. Scenario "SES delegate send": a 3-level SCP chain (FullAWSAccess
//! plus one conditional deny), 3 identity policies with 10 statements, a permissions
//! boundary, and a 5-statement sending authorization policy with conditions on
//! ses:Recipients, ses:FromAddress and aws:SourceIp. Also 100 policies × 20 statements,
//! and each with the trace on. Policies are compiled once, outside the timed loop.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use policy::{evaluate, evaluate_traced, Outcome};
use scenario::{
    delegate_send_policies, delegate_send_request, hundred_policies, same_account_request,
};

mod scenario;

fn benches(c: &mut Criterion) {
    let set = delegate_send_policies();
    let req = delegate_send_request();
    assert_eq!(evaluate(&set, &req).outcome, Outcome::Allowed);
    c.bench_function("ses_delegate_send", |b| {
        b.iter(|| evaluate(black_box(&set), black_box(&req)))
    });
    c.bench_function("ses_delegate_send_traced", |b| {
        b.iter(|| evaluate_traced(black_box(&set), black_box(&req)))
    });

    let big = hundred_policies();
    let req = same_account_request();
    assert_eq!(evaluate(&big, &req).outcome, Outcome::Allowed);
    c.bench_function("100_policies_x_20_statements", |b| {
        b.iter(|| evaluate(black_box(&big), black_box(&req)))
    });
    c.bench_function("100_policies_x_20_statements_traced", |b| {
        b.iter(|| evaluate_traced(black_box(&big), black_box(&req)))
    });
}

criterion_group!(evaluation, benches);
criterion_main!(evaluation);
