//! SES errors. Each kind has its v1 (Query) code and its v2 (REST) exception name.

#[derive(Debug, thiserror::Error)]
pub enum SesError {
    #[error("{0}")]
    MessageRejected(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{message}")]
    AccessDenied { message: String, trace: Vec<String> },
    #[error("{0}")]
    Throttling(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidPolicy(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("Email sending is disabled for your entire Amazon SES account.")]
    AccountSendingPaused,
    #[error("Email sending is disabled for the configuration set {0}.")]
    ConfigurationSetSendingPaused(String),
    #[error("Configuration set <{0}> does not exist.")]
    ConfigurationSetDoesNotExist(String),
    #[error("Template {0} does not exist.")]
    TemplateDoesNotExist(String),
    #[error(transparent)]
    Iam(#[from] iam::IamError),
    #[error("internal error: {0}")]
    Store(#[from] store::StoreError),
}

impl SesError {
    /// The v1 Query API error code.
    pub fn v1_code(&self) -> &'static str {
        match self {
            SesError::MessageRejected(_) => "MessageRejected",
            SesError::InvalidParameter(_) => "InvalidParameterValue",
            SesError::AccessDenied { .. } => "AccessDenied",
            SesError::Throttling(_) => "Throttling",
            SesError::NotFound(_) => "NotFoundException",
            SesError::AlreadyExists(_) => "AlreadyExists",
            SesError::InvalidPolicy(_) => "InvalidPolicy",
            SesError::LimitExceeded(_) => "LimitExceeded",
            SesError::AccountSendingPaused => "AccountSendingPausedException",
            SesError::ConfigurationSetSendingPaused(_) => "ConfigurationSetSendingPausedException",
            SesError::ConfigurationSetDoesNotExist(_) => "ConfigurationSetDoesNotExist",
            SesError::TemplateDoesNotExist(_) => "TemplateDoesNotExist",
            SesError::Iam(e) => e.code(),
            SesError::Store(_) => "InternalFailure",
        }
    }

    /// The v2 REST API exception name.
    pub fn v2_code(&self) -> &'static str {
        match self {
            SesError::MessageRejected(_) => "MessageRejected",
            SesError::InvalidParameter(_)
            | SesError::InvalidPolicy(_)
            | SesError::TemplateDoesNotExist(_) => "BadRequestException",
            SesError::AccessDenied { .. } => "AccessDeniedException",
            SesError::Throttling(_) => "TooManyRequestsException",
            SesError::NotFound(_) | SesError::ConfigurationSetDoesNotExist(_) => {
                "NotFoundException"
            }
            SesError::AlreadyExists(_) => "AlreadyExistsException",
            SesError::LimitExceeded(_) => "LimitExceededException",
            SesError::AccountSendingPaused | SesError::ConfigurationSetSendingPaused(_) => {
                "SendingPausedException"
            }
            SesError::Iam(e) => e.code(),
            SesError::Store(_) => "InternalServiceErrorException",
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            SesError::AccessDenied { .. } => 403,
            SesError::NotFound(_) | SesError::ConfigurationSetDoesNotExist(_) => 404,
            SesError::AlreadyExists(_) => 409,
            SesError::Throttling(_) => 429,
            SesError::Iam(e) => e.status(),
            SesError::Store(_) => 500,
            _ => 400,
        }
    }

    /// The decision trace of an authorization denial.
    pub fn trace(&self) -> &[String] {
        match self {
            SesError::AccessDenied { trace, .. } => trace,
            SesError::Iam(iam::IamError::AccessDenied { trace, .. }) => trace,
            _ => &[],
        }
    }
}
