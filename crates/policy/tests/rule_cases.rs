//! Every case of `tests/cases/rules.json` (documented IAM rules beyond the shared
//! sample: RCPs, SCP scope, boundaries, session policies, principals, NotPrincipal,
//! condition operators, variables) must get the documented decision and, where
//! given, the documented deciding layer.

mod common;

#[test]
fn rule_cases_decide_as_aws_documents() {
    common::check_case_file("rules.json");
}
