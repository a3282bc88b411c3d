//! The AWS-compatible HTTP endpoint: it owns the wire protocols (Query/XML, JSON 1.1),
//! SigV4 authentication of every request, dispatch by service and action, AWS's error
//! shapes, and the audit record of every call. Business rules live in the services.

mod audit;
mod auth;
mod cloudtrail_api;
mod iam_api;
mod iam_details_api;
mod internal;
mod metrics_api;
mod org_api;
mod protocol;
mod server;
mod ses_v1_api;
mod ses_v2_api;
mod simulate_api;
mod sts_api;
mod xml;

pub use audit::Auditor;
pub use server::{serve, AppState};
