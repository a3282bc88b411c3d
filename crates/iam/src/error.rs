//! IAM, STS and Organizations errors with AWS's codes, HTTP statuses and messages.

/// An error a caller sees, in AWS's vocabulary. `code()` is the AWS error code.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("{0}")]
    NoSuchEntity(String),
    #[error("{0}")]
    EntityAlreadyExists(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    DeleteConflict(String),
    /// An authorization denial; the message is AWS's wording for the service.
    #[error("{message}")]
    AccessDenied {
        message: String,
        trace: Vec<String>,
        /// `AccessDenied` (Query APIs) or `AccessDeniedException` (JSON APIs).
        json_style: bool,
    },
    /// Organizations and other JSON services name their own errors.
    #[error("{message}")]
    Service {
        code: &'static str,
        message: String,
        status: u16,
    },
    /// A JSON service error that also names a machine-readable `Reason`
    /// (Organizations' InvalidInputException and ConstraintViolationException).
    #[error("{message}")]
    WithReason {
        code: &'static str,
        message: String,
        reason: &'static str,
    },
    #[error("The security token included in the request is invalid.")]
    InvalidClientTokenId,
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("internal error: {0}")]
    Store(#[from] store::StoreError),
}

impl IamError {
    pub fn code(&self) -> &'static str {
        match self {
            IamError::NoSuchEntity(_) => "NoSuchEntity",
            IamError::EntityAlreadyExists(_) => "EntityAlreadyExists",
            IamError::MalformedPolicyDocument(_) => "MalformedPolicyDocument",
            IamError::InvalidInput(_) => "InvalidInput",
            IamError::Validation(_) => "ValidationError",
            IamError::LimitExceeded(_) => "LimitExceeded",
            IamError::DeleteConflict(_) => "DeleteConflict",
            IamError::AccessDenied {
                json_style: true, ..
            } => "AccessDeniedException",
            IamError::AccessDenied { .. } => "AccessDenied",
            IamError::Service { code, .. } | IamError::WithReason { code, .. } => code,
            IamError::InvalidClientTokenId => "InvalidClientTokenId",
            IamError::ExpiredToken => "ExpiredToken",
            IamError::Store(_) => "ServiceFailure",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            IamError::NoSuchEntity(_) => 404,
            IamError::EntityAlreadyExists(_)
            | IamError::LimitExceeded(_)
            | IamError::DeleteConflict(_) => 409,
            IamError::AccessDenied { .. } | IamError::InvalidClientTokenId => 403,
            IamError::Service { status, .. } => *status,
            IamError::Store(_) => 500,
            _ => 400,
        }
    }

    /// Sender (the caller's fault) or Receiver (ours), for Query error responses.
    pub fn is_sender_fault(&self) -> bool {
        self.status() < 500
    }

    /// The `Reason` member of the error, when the service defines one.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            IamError::WithReason { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
