//! Every case of `tests/cases/visible.json` (the shared authorization sample) must get
//! the documented decision and, where given, the documented deciding layer.

mod common;

#[test]
fn visible_cases_decide_as_aws_documents() {
    common::check_case_file("visible.json");
}
