//! Client-side signing, for the project's own tests, tools and benchmarks.
//! It builds the canonical request with the same code as verification.

use std::fmt;

use crate::auth::MAX_PRESIGNED_EXPIRES_SECONDS;
use crate::canonical::{
    canonical_request, credential_scope, string_to_sign, CanonicalInput, ALGORITHM,
};
use crate::crypto::{sha256_hex, SigningKey};
use crate::encoding::uri_encode;
use crate::error::SigV4Error;
use crate::time::AmzDate;
use crate::HttpRequest;

/// Who signs, for which scope, and when.
#[derive(Clone, Copy)]
pub struct SigningParams<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    /// The signing time, in seconds since the Unix epoch.
    pub unix_seconds: i64,
}

/// Redacts the secret access key and session token.
impl fmt::Debug for SigningParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningParams")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .field("service", &self.service)
            .field("unix_seconds", &self.unix_seconds)
            .finish()
    }
}

/// The headers a signed request must carry, in addition to its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthHeaders {
    /// The `Authorization` header value.
    pub authorization: String,
    /// The `X-Amz-Date` header value.
    pub x_amz_date: String,
    /// The `X-Amz-Security-Token` header value, for session credentials.
    pub x_amz_security_token: Option<String>,
}

impl AuthHeaders {
    /// The headers as `(name, value)` pairs, ready to add to a request.
    pub fn to_vec(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("authorization", self.authorization.clone()),
            ("x-amz-date", self.x_amz_date.clone()),
        ];
        if let Some(token) = &self.x_amz_security_token {
            headers.push(("x-amz-security-token", token.clone()));
        }
        headers
    }
}

/// Headers the signer sets itself; any the caller passes are ignored.
const SIGNER_HEADERS: [&str; 3] = ["authorization", "x-amz-date", "x-amz-security-token"];

/// Signs `req` with an `Authorization` header, signing every header of the
/// request (which must include `host`) plus `x-amz-date` and, for session
/// credentials, `x-amz-security-token`. The payload hash is the body's
/// SHA-256, or the request's own `x-amz-content-sha256` value if it has one.
pub fn sign(req: &HttpRequest<'_>, params: &SigningParams<'_>) -> Result<AuthHeaders, SigV4Error> {
    let time = AmzDate::from_unix_seconds(params.unix_seconds);
    let amz_date = time.to_string();
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(name, _)| !SIGNER_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)))
        .copied()
        .collect();
    headers.push(("x-amz-date", &amz_date));
    if let Some(token) = params.session_token {
        headers.push(("x-amz-security-token", token));
    }
    let signing_req = HttpRequest {
        headers: &headers,
        ..*req
    };
    let signed_headers = signed_header_names(&headers)?;
    let payload = payload_hash(req);
    let signature = signature(
        &signing_req,
        params,
        &time,
        &CanonicalInput {
            signed_headers: &signed_headers,
            payload_hash: &payload,
            presigned: false,
        },
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{}, SignedHeaders={}, Signature={signature}",
        params.access_key_id,
        scope_of(params, &time),
        signed_headers.join(";"),
    );
    Ok(AuthHeaders {
        authorization,
        x_amz_date: amz_date,
        x_amz_security_token: params.session_token.map(str::to_owned),
    })
}

/// Presigns `req`: returns the complete query string to send (the request's
/// own query followed by the `X-Amz-*` parameters and `X-Amz-Signature`).
/// Every header of the request is signed and must then be sent; `host` is
/// required. The payload hash is as for [`sign`] (botocore, too, signs the
/// body's hash in presigned URLs for non-S3 services).
pub fn presign(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
    expires_seconds: u64,
) -> Result<String, SigV4Error> {
    if expires_seconds > MAX_PRESIGNED_EXPIRES_SECONDS {
        return Err(SigV4Error::incomplete(
            "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
        ));
    }
    let time = AmzDate::from_unix_seconds(params.unix_seconds);
    let signed_headers = signed_header_names(req.headers)?;
    let query = presigned_query(req.query, params, &time, expires_seconds, &signed_headers);
    let signing_req = HttpRequest {
        query: &query,
        ..*req
    };
    let payload = payload_hash(req);
    let signature = signature(
        &signing_req,
        params,
        &time,
        &CanonicalInput {
            signed_headers: &signed_headers,
            payload_hash: &payload,
            presigned: true,
        },
    );
    Ok(format!("{query}&X-Amz-Signature={signature}"))
}

/// The request's query with the presigning parameters appended.
fn presigned_query(
    original: &str,
    params: &SigningParams<'_>,
    time: &AmzDate,
    expires_seconds: u64,
    signed_headers: &[String],
) -> String {
    let credential = format!("{}/{}", params.access_key_id, scope_of(params, time));
    let mut auth_params = vec![
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        ("X-Amz-Credential", credential),
        ("X-Amz-Date", time.to_string()),
        ("X-Amz-Expires", expires_seconds.to_string()),
        ("X-Amz-SignedHeaders", signed_headers.join(";")),
    ];
    if let Some(token) = params.session_token {
        auth_params.push(("X-Amz-Security-Token", token.to_owned()));
    }
    let mut parts: Vec<String> = Vec::new();
    if !original.is_empty() {
        parts.push(original.to_owned());
    }
    for (name, value) in auth_params {
        parts.push(format!("{name}={}", uri_encode(value.as_bytes(), false)));
    }
    parts.join("&")
}

/// The request's own `x-amz-content-sha256` value if it has one (e.g.
/// `UNSIGNED-PAYLOAD`), else the body's SHA-256.
fn payload_hash(req: &HttpRequest<'_>) -> String {
    match req.header_values("x-amz-content-sha256").next() {
        Some(value) => value.trim().to_owned(),
        None => sha256_hex(req.body),
    }
}

fn scope_of(params: &SigningParams<'_>, time: &AmzDate) -> String {
    credential_scope(&time.date_stamp(), params.region, params.service)
}

fn signature(
    req: &HttpRequest<'_>,
    params: &SigningParams<'_>,
    time: &AmzDate,
    input: &CanonicalInput<'_>,
) -> String {
    let canonical = canonical_request(req, input);
    let to_sign = string_to_sign(time, &scope_of(params, time), &canonical);
    let key = SigningKey::derive(
        params.secret_access_key,
        &time.date_stamp(),
        params.region,
        params.service,
    );
    key.sign_hex(&to_sign)
}

/// Lowercase, sorted, de-duplicated names of all headers except
/// `authorization`; `host` must be among them.
fn signed_header_names(headers: &[(&str, &str)]) -> Result<Vec<String>, SigV4Error> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .filter(|name| name != "authorization")
        .collect();
    names.sort();
    names.dedup();
    if !names.iter().any(|name| name == "host") {
        return Err(SigV4Error::incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    Ok(names)
}
