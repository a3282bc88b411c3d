//! What SES keeps: identities with their policies, per-account settings, templates,
//! configuration sets, the suppression list and accepted messages.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod table {
    pub const IDENTITIES: &str = "ses_identities";
    pub const ACCOUNTS: &str = "ses_accounts";
    pub const MESSAGES: &str = "ses_messages";
    pub const TEMPLATES: &str = "ses_templates";
    pub const CONFIG_SETS: &str = "ses_configuration_sets";
    pub const SUPPRESSED: &str = "ses_suppressed";
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityKind {
    EmailAddress,
    Domain,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    pub account: String,
    pub region: String,
    /// As created; domains and the domain part of addresses compare case-insensitively.
    pub name: String,
    pub kind: IdentityKind,
    pub verified: bool,
    /// The `_amazonses` TXT token of a domain identity.
    pub verification_token: String,
    pub dkim_tokens: Vec<String>,
    pub dkim_enabled: bool,
    /// Sending authorization policies by name.
    pub policies: BTreeMap<String, String>,
    pub feedback_forwarding: bool,
    pub created_ms: i64,
}

impl Identity {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:ses:{}:{}:identity/{}",
            self.region, self.account, self.name
        )
    }
}

/// Sandbox, sending switch and quotas of one account in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub production: bool,
    pub sending_enabled: bool,
    /// Quota raised by the operator (messages per 24 hours, messages per second).
    #[serde(default)]
    pub custom_quota: Option<(f64, f64)>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            production: false,
            sending_enabled: true,
            custom_quota: None,
        }
    }
}

impl AccountSettings {
    /// (messages per 24 hours, messages per second)
    pub fn quota(&self) -> (f64, f64) {
        if let Some(custom) = self.custom_quota {
            custom
        } else if self.production {
            (50_000.0, 14.0)
        } else {
            (200.0, 1.0)
        }
    }
}

/// An accepted message, as kept by the capture store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub message_id: String,
    pub account: String,
    pub region: String,
    pub source: String,
    pub destination: Vec<String>,
    pub raw: String,
    pub created_ms: i64,
    pub from_identity: String,
    pub configuration_set: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationSet {
    pub name: String,
    pub sending_enabled: bool,
    pub created_ms: i64,
}

/// Store key of a per-account, per-region document.
pub fn scoped_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}
