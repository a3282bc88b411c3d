//! The errors of SigV4 authentication, each mapped to the AWS error code and
//! message text that AWS's own Query/JSON services answer with.
//!
//! Where the wording below is AWS's, it is reproduced as observed from AWS
//! responses; where AWS's exact wording is not known, the message is written
//! in AWS's style and marked "(wording ours)" on the constructor that builds it.

use std::fmt;

use crate::time::AmzDate;

/// Why a request failed SigV4 authentication.
///
/// `Display` is the message to put in the AWS error response and [`code`]
/// the AWS error code. Neither the secret access key nor the derived signing
/// key is ever held by, or printed from, this type.
///
/// [`code`]: SigV4Error::code
#[derive(Debug, thiserror::Error)]
pub enum SigV4Error {
    /// Neither an `Authorization` header nor presigned query parameters.
    #[error("Request is missing Authentication Token")]
    MissingAuthenticationToken,

    /// The `Authorization` header or the presigned parameters are malformed or
    /// incomplete, the algorithm is not `AWS4-HMAC-SHA256`, or `host` is not
    /// a signed header. The message is the full AWS-style explanation.
    #[error("{message}")]
    IncompleteSignature { message: String },

    /// The credential scope names a bad region, service, terminator or a date
    /// that is not the request's date. AWS answers these with the
    /// `SignatureDoesNotMatch` code and a specific message.
    #[error("{message}")]
    InvalidCredentialScope { message: String },

    /// The access key id is unknown (or the session token does not belong to
    /// it). Never produced by this crate: the server returns it after lookup.
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,

    /// The signature (or the claimed `x-amz-content-sha256`) does not match.
    /// The details carry the canonical request and string to sign for
    /// operators; they are in `Debug` output only, never in the message.
    #[error(
        "The request signature we calculated does not match the signature you provided. \
         Check your AWS Secret Access Key and signing method. \
         Consult the service documentation for details."
    )]
    SignatureDoesNotMatch(Box<MismatchDetails>),

    /// The request time is more than 15 minutes before the server's clock.
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - 15 min.)")]
    SignatureExpired {
        request_time: AmzDate,
        earliest: AmzDate,
        now: AmzDate,
    },

    /// The request time is more than 15 minutes after the server's clock.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + 15 min.)"
    )]
    SignatureNotYetCurrent {
        request_time: AmzDate,
        latest: AmzDate,
        now: AmzDate,
    },

    /// A presigned request used after `X-Amz-Date + X-Amz-Expires`.
    #[error("Request has expired.")]
    RequestExpired {
        request_time: AmzDate,
        expires_seconds: u64,
        now: AmzDate,
    },

    /// The session token has expired. Never produced by this crate: the
    /// server returns it after looking the session up.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
}

impl SigV4Error {
    /// The AWS error code (`<Code>` in Query/XML responses; JSON protocols
    /// append `Exception` where AWS does, which is the server's concern).
    pub fn code(&self) -> &'static str {
        match self {
            SigV4Error::MissingAuthenticationToken => "MissingAuthenticationToken",
            SigV4Error::IncompleteSignature { .. } => "IncompleteSignature",
            SigV4Error::InvalidClientTokenId => "InvalidClientTokenId",
            SigV4Error::InvalidCredentialScope { .. }
            | SigV4Error::SignatureDoesNotMatch(_)
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. } => "SignatureDoesNotMatch",
            SigV4Error::RequestExpired { .. } => "RequestExpired",
            SigV4Error::ExpiredToken => "ExpiredToken",
        }
    }

    /// The HTTP status AWS uses with [`code`](SigV4Error::code), per the AWS
    /// "common errors" reference (400 for malformed or expired requests, 403
    /// for authentication failures).
    pub fn http_status(&self) -> u16 {
        match self {
            SigV4Error::IncompleteSignature { .. }
            | SigV4Error::RequestExpired { .. }
            | SigV4Error::ExpiredToken => 400,
            SigV4Error::MissingAuthenticationToken
            | SigV4Error::InvalidClientTokenId
            | SigV4Error::InvalidCredentialScope { .. }
            | SigV4Error::SignatureDoesNotMatch(_)
            | SigV4Error::SignatureExpired { .. }
            | SigV4Error::SignatureNotYetCurrent { .. } => 403,
        }
    }

    pub(crate) fn incomplete(message: impl Into<String>) -> Self {
        SigV4Error::IncompleteSignature {
            message: message.into(),
        }
    }

    pub(crate) fn scope(message: impl Into<String>) -> Self {
        SigV4Error::InvalidCredentialScope {
            message: message.into(),
        }
    }

    /// AWS's message when the credential scope's region is not acceptable.
    pub fn invalid_region(region: &str) -> Self {
        Self::scope(format!(
            "Credential should be scoped to a valid region, not '{region}'. "
        ))
    }

    /// AWS's message when the credential scope names another service;
    /// `expected` is the service this endpoint answers for.
    pub fn invalid_service(expected: &str) -> Self {
        Self::scope(format!(
            "Credential should be scoped to correct service: '{expected}'. "
        ))
    }
}

/// Troubleshooting data for a signature mismatch: what the server computed.
/// Printed by `Debug` only. Contains no key material (the canonical request
/// can contain a signed `x-amz-security-token` header, as AWS's own
/// mismatch responses do).
#[derive(Clone, PartialEq, Eq)]
pub struct MismatchDetails {
    /// The canonical request the server computed.
    pub canonical_request: String,
    /// The string to sign the server computed.
    pub string_to_sign: String,
    /// Why verification failed.
    pub reason: MismatchReason,
}

/// The precise cause behind a `SignatureDoesNotMatch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MismatchReason {
    /// The provided signature differs from the computed one.
    SignatureDiffers,
    /// `x-amz-content-sha256` is neither the body's hash nor, for a presigned
    /// request, `UNSIGNED-PAYLOAD`.
    PayloadHashDiffers,
}

impl fmt::Debug for MismatchDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MismatchDetails {{ reason: {:?}, canonical_request:\n{}\n---\nstring_to_sign:\n{}\n}}",
            self.reason, self.canonical_request, self.string_to_sign
        )
    }
}
