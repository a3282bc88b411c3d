//! Authenticating a request: SigV4 (header or presigned query), the access key's
//! caller, and its session token.

use crate::protocol::ApiError;
use iam::{Caller, Iam};
use sigv4::{HttpRequest, ParsedAuth};
use std::sync::Arc;

/// Verifies the request's signature and returns its caller and credential scope.
pub fn authenticate(
    iam: &Iam,
    req: &HttpRequest<'_>,
    now_ms: i64,
) -> Result<(Arc<Caller>, ParsedAuth), (ApiError, String)> {
    let auth = sigv4::parse_auth(req).map_err(|e| (ApiError::from(e), String::new()))?;
    let akid = auth.access_key_id.clone();
    let fail = |e: ApiError| (e, akid.clone());
    let caller = iam
        .caller(&auth.access_key_id)
        .map_err(|e| fail(e.into()))?;
    sigv4::verify(req, &auth, caller.secret(), now_ms / 1000).map_err(|e| fail(e.into()))?;
    caller
        .check_session_token(auth.session_token.as_deref(), now_ms)
        .map_err(|e| fail(e.into()))?;
    Ok((caller, auth))
}
