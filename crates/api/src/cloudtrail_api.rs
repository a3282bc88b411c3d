//! CloudTrail's JSON 1.1 API over the audit trail.

use crate::protocol::{ApiError, Call, Reply};
use crate::server::AppState;

pub fn handle(
    _state: &AppState,
    call: &Call,
    _body: &serde_json::Value,
) -> Result<Reply, ApiError> {
    Err(ApiError::new(
        400,
        "UnknownOperationException",
        format!("Unknown operation {}", call.action),
    ))
}
