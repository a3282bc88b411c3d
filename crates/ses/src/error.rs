//! SES errors. Each kind has its v1 (Query) code and its v2 (REST) exception name,
//! and an HTTP status in each API (v1 reports every client fault as 400).

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
    /// A request that conflicts with one still under way (v2 `ConflictException`).
    #[error("{0}")]
    Conflict(String),
    #[error("Email sending is disabled for your entire Amazon SES account.")]
    AccountSendingPaused,
    #[error("Email sending is disabled for the configuration set {0}.")]
    ConfigurationSetSendingPaused(String),
    #[error("Configuration set <{0}> does not exist.")]
    ConfigurationSetDoesNotExist(String),
    #[error("Configuration set <{0}> already exists.")]
    ConfigurationSetAlreadyExists(String),
    #[error("{0}")]
    InvalidConfigurationSet(String),
    #[error("Event destination {name} does not exist in configuration set {set}.")]
    EventDestinationDoesNotExist { set: String, name: String },
    #[error("Event destination {name} already exists in configuration set {set}.")]
    EventDestinationAlreadyExists { set: String, name: String },
    /// An event destination whose target is malformed; `code` is the v1 code
    /// (`InvalidSNSDestination`, `InvalidFirehoseDestination`, `InvalidCloudWatchDestination`).
    #[error("{message}")]
    InvalidEventDestination { code: &'static str, message: String },
    #[error("{0}")]
    InvalidSnsTopic(String),
    #[error("Template {0} does not exist.")]
    TemplateDoesNotExist(String),
    #[error("Template {0} already exists.")]
    TemplateAlreadyExists(String),
    #[error("{0}")]
    InvalidTemplate(String),
    #[error("{0}")]
    InvalidRenderingParameter(String),
    #[error("{0}")]
    MissingRenderingAttribute(String),
    #[error(transparent)]
    Iam(#[from] iam::IamError),
    #[error("internal error: {0}")]
    Store(#[from] store::StoreError),
    /// A server-side failure that is not the store's.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

impl From<crate::dkim_key::DkimKeyError> for SesError {
    fn from(e: crate::dkim_key::DkimKeyError) -> SesError {
        match e {
            crate::dkim_key::DkimKeyError::Store(e) => SesError::Store(e),
            crate::dkim_key::DkimKeyError::Generate => {
                SesError::Internal("DKIM key generation failed")
            }
        }
    }
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
            SesError::AlreadyExists(_) | SesError::TemplateAlreadyExists(_) => "AlreadyExists",
            SesError::InvalidPolicy(_) => "InvalidPolicy",
            SesError::LimitExceeded(_) => "LimitExceeded",
            SesError::Conflict(_) => "InvalidParameterValue",
            SesError::AccountSendingPaused => "AccountSendingPausedException",
            SesError::ConfigurationSetSendingPaused(_) => "ConfigurationSetSendingPausedException",
            SesError::ConfigurationSetDoesNotExist(_) => "ConfigurationSetDoesNotExist",
            SesError::ConfigurationSetAlreadyExists(_) => "ConfigurationSetAlreadyExists",
            SesError::InvalidConfigurationSet(_) => "InvalidConfigurationSet",
            SesError::EventDestinationDoesNotExist { .. } => "EventDestinationDoesNotExist",
            SesError::EventDestinationAlreadyExists { .. } => "EventDestinationAlreadyExists",
            SesError::InvalidEventDestination { code, .. } => code,
            SesError::InvalidSnsTopic(_) => "InvalidSnsTopic",
            SesError::TemplateDoesNotExist(_) => "TemplateDoesNotExist",
            SesError::InvalidTemplate(_) => "InvalidTemplate",
            SesError::InvalidRenderingParameter(_) => "InvalidRenderingParameter",
            SesError::MissingRenderingAttribute(_) => "MissingRenderingAttribute",
            SesError::Iam(e) => e.code(),
            SesError::Store(_) | SesError::Internal(_) => "InternalFailure",
        }
    }

    /// The v2 REST API exception name.
    pub fn v2_code(&self) -> &'static str {
        match self {
            SesError::MessageRejected(_) => "MessageRejected",
            SesError::InvalidParameter(_)
            | SesError::InvalidPolicy(_)
            | SesError::InvalidConfigurationSet(_)
            | SesError::InvalidEventDestination { .. }
            | SesError::InvalidSnsTopic(_)
            | SesError::InvalidTemplate(_)
            | SesError::InvalidRenderingParameter(_)
            | SesError::MissingRenderingAttribute(_) => "BadRequestException",
            SesError::AccessDenied { .. } => "AccessDeniedException",
            SesError::Throttling(_) => "TooManyRequestsException",
            SesError::NotFound(_)
            | SesError::ConfigurationSetDoesNotExist(_)
            | SesError::EventDestinationDoesNotExist { .. }
            | SesError::TemplateDoesNotExist(_) => "NotFoundException",
            SesError::AlreadyExists(_)
            | SesError::TemplateAlreadyExists(_)
            | SesError::ConfigurationSetAlreadyExists(_)
            | SesError::EventDestinationAlreadyExists { .. } => "AlreadyExistsException",
            SesError::LimitExceeded(_) => "LimitExceededException",
            SesError::Conflict(_) => "ConflictException",
            SesError::AccountSendingPaused | SesError::ConfigurationSetSendingPaused(_) => {
                "SendingPausedException"
            }
            SesError::Iam(e) => e.code(),
            SesError::Store(_) | SesError::Internal(_) => "InternalServiceErrorException",
        }
    }

    /// The HTTP status of the v1 Query error: 400 for every client fault but denials.
    pub fn v1_status(&self) -> u16 {
        match self {
            SesError::AccessDenied { .. } => 403,
            SesError::Iam(e) => e.status(),
            SesError::Store(_) | SesError::Internal(_) => 500,
            _ => 400,
        }
    }

    /// The HTTP status of the v2 REST error, as the v2 service model declares it.
    pub fn v2_status(&self) -> u16 {
        match self.v2_code() {
            "AccessDeniedException" => 403,
            "NotFoundException" => 404,
            "ConflictException" => 409,
            "TooManyRequestsException" => 429,
            "InternalServiceErrorException" => 500,
            _ => match self {
                SesError::Iam(e) => e.status(),
                _ => 400,
            },
        }
    }

    /// The status both APIs agreed on before they were told apart (v2's).
    pub fn status(&self) -> u16 {
        self.v2_status()
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
