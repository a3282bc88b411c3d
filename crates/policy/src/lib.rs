//! The IAM policy engine: policy grammar, validation, compilation and evaluation
//! with explained decisions. No I/O lives here.

pub mod json;
