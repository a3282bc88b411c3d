//! AWS Signature Version 4 for the server side of Sesame.
//!
//! This crate owns everything about SigV4 authentication for the non-S3 AWS
//! services Sesame emulates (ses/email, iam, sts, organizations, cloudtrail):
//!
//! - reading the credentials of a request from the `Authorization` header or
//!   from presigned `X-Amz-*` query parameters ([`parse_auth`]);
//! - verifying the signature, the request time and the payload hash
//!   ([`verify`]), with AWS's error codes and messages ([`SigV4Error`]);
//! - signing requests for the project's own tests and tools ([`sign`],
//!   [`presign`]), sharing the canonical-request code with verification;
//! - deriving SES SMTP passwords from secret keys ([`ses_smtp_password`]).
//!
//! It works on a plain request description ([`HttpRequest`]) and has no HTTP
//! framework dependency. Looking up secrets and sessions is the server's job:
//! parse, look the access key id up, then verify.
//!
//! ```
//! use sigv4::{parse_auth, sign, verify, HttpRequest, SigningParams};
//!
//! let params = SigningParams {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
//!     session_token: None,
//!     region: "us-east-1",
//!     service: "ses",
//!     unix_seconds: 1_440_938_160,
//! };
//! let body = b"Action=ListIdentities&Version=2010-12-01";
//! let unsigned = [
//!     ("Host", "localhost:4566"),
//!     ("Content-Type", "application/x-www-form-urlencoded"),
//! ];
//! let req = HttpRequest { method: "POST", path: "/", query: "", headers: &unsigned, body };
//! let added = sign(&req, &params).unwrap().to_vec();
//!
//! // What the server receives: the original headers plus the added ones.
//! let mut received: Vec<(&str, &str)> = unsigned.to_vec();
//! received.extend(added.iter().map(|(name, value)| (*name, value.as_str())));
//! let req = HttpRequest { headers: &received, ..req };
//! let auth = parse_auth(&req).unwrap();
//! assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
//! assert_eq!(auth.service, "ses");
//! verify(&req, &auth, params.secret_access_key, 1_440_938_160 + 60).unwrap();
//! ```

mod auth;
mod canonical;
mod crypto;
mod encoding;
mod error;
mod sign;
mod smtp;
mod time;
mod verify;

pub use auth::{parse_auth, ParsedAuth, MAX_PRESIGNED_EXPIRES_SECONDS};
pub use canonical::ALGORITHM;
pub use error::{MismatchDetails, MismatchReason, SigV4Error};
pub use sign::{presign, sign, AuthHeaders, SigningParams};
pub use smtp::ses_smtp_password;
pub use time::AmzDate;
pub use verify::{verify, MAX_CLOCK_SKEW_SECONDS, UNSIGNED_PAYLOAD};

/// A received HTTP request, independent of any HTTP library.
#[derive(Clone, Copy, Debug)]
pub struct HttpRequest<'a> {
    /// The method as received, e.g. `POST`.
    pub method: &'a str,
    /// The raw path as received, still percent-encoded as on the wire.
    pub path: &'a str,
    /// The raw query string without the `?`, possibly empty.
    pub query: &'a str,
    /// Headers as received: names in any case, a name may repeat. HTTP/2
    /// callers must pass `:authority` as `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub body: &'a [u8],
}

impl<'a> HttpRequest<'a> {
    /// Every value of header `name` (case-insensitive), in received order.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    }
}
