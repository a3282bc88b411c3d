//! The IAM policy engine: it owns the policy grammar, validation, compilation and
//! evaluation of every policy type (identity, resource-based, permissions boundary,
//! session, SCP, RCP) with AWS's logic, decision traces and AWS-worded messages.
//! No I/O lives here: callers hand in text and get decisions back.
//!
//! Flow: [`json`] text → [`grammar`] document with positions → [`policy::Policy`]
//! (compiled once) → [`eval::evaluate`] against an [`eval::Request`].

pub mod arn;
pub mod condition;
pub mod context;
pub mod eval;
pub mod explain;
pub mod grammar;
pub mod json;
pub mod lint;
pub mod message;
pub mod pattern;
pub mod policy;
pub mod principal;
pub mod simulation;
pub mod trace;
pub mod validate;
pub mod value;

pub use context::Context;
pub use eval::{
    evaluate, evaluate_matched, evaluate_traced, Decision, Layer, Outcome, PolicySet, Request,
    StatementRef,
};
pub use policy::{Policy, PolicyError};
pub use principal::Principal;
