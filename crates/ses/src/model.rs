//! What SES keeps: identities with their policies, per-account settings, templates,
//! configuration sets with their event destinations, the suppression list, sending
//! statistics, sending events and accepted messages. Fields added after the first
//! release carry `#[serde(default)]` so older documents still load.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod table {
    pub const IDENTITIES: &str = "ses_identities";
    pub const ACCOUNTS: &str = "ses_accounts";
    pub const MESSAGES: &str = "ses_messages";
    pub const TEMPLATES: &str = "ses_templates";
    pub const CONFIG_SETS: &str = "ses_configuration_sets";
    pub const SUPPRESSED: &str = "ses_suppressed";
    pub const STATISTICS: &str = "ses_statistics";
    pub const EVENTS: &str = "ses_events";
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
    /// DKIM signing is on.
    pub dkim_enabled: bool,
    /// The three DKIM CNAME records were found in DNS.
    #[serde(default)]
    pub dkim_verified: bool,
    /// Sending authorization policies by name.
    pub policies: BTreeMap<String, String>,
    pub feedback_forwarding: bool,
    #[serde(default)]
    pub notifications: Notifications,
    /// When DNS was last consulted for this identity, and when it last succeeded.
    #[serde(default)]
    pub last_checked_ms: Option<i64>,
    #[serde(default)]
    pub last_success_ms: Option<i64>,
    pub created_ms: i64,
}

impl Identity {
    /// A new, unverified identity with fresh tokens.
    pub fn new(
        account: &str,
        region: &str,
        name: &str,
        kind: IdentityKind,
        verification_token: String,
        dkim_tokens: Vec<String>,
        now_ms: i64,
    ) -> Identity {
        Identity {
            account: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
            kind,
            verified: false,
            verification_token,
            dkim_tokens,
            dkim_enabled: false,
            dkim_verified: false,
            policies: BTreeMap::new(),
            feedback_forwarding: true,
            notifications: Notifications::default(),
            last_checked_ms: None,
            last_success_ms: None,
            created_ms: now_ms,
        }
    }

    pub fn arn(&self) -> String {
        [
            "arn:aws:ses:",
            &self.region,
            ":",
            &self.account,
            ":identity/",
            &self.name,
        ]
        .concat()
    }
}

/// The kinds of feedback an identity can publish to an SNS topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotificationType {
    Bounce,
    Complaint,
    Delivery,
}

impl NotificationType {
    pub fn parse(name: &str) -> Option<NotificationType> {
        match name {
            "Bounce" => Some(NotificationType::Bounce),
            "Complaint" => Some(NotificationType::Complaint),
            "Delivery" => Some(NotificationType::Delivery),
            _ => None,
        }
    }
}

/// An identity's SNS feedback topics and whether notifications carry the headers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notifications {
    pub bounce_topic: Option<String>,
    pub complaint_topic: Option<String>,
    pub delivery_topic: Option<String>,
    pub headers_in_bounce: bool,
    pub headers_in_complaint: bool,
    pub headers_in_delivery: bool,
}

impl Notifications {
    pub fn topic_mut(&mut self, kind: NotificationType) -> &mut Option<String> {
        match kind {
            NotificationType::Bounce => &mut self.bounce_topic,
            NotificationType::Complaint => &mut self.complaint_topic,
            NotificationType::Delivery => &mut self.delivery_topic,
        }
    }

    pub fn headers_mut(&mut self, kind: NotificationType) -> &mut bool {
        match kind {
            NotificationType::Bounce => &mut self.headers_in_bounce,
            NotificationType::Complaint => &mut self.headers_in_complaint,
            NotificationType::Delivery => &mut self.headers_in_delivery,
        }
    }
}

/// Why an address is on the suppression list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SuppressionReason {
    Bounce,
    Complaint,
}

impl SuppressionReason {
    pub fn parse(name: &str) -> Option<SuppressionReason> {
        match name {
            "BOUNCE" => Some(SuppressionReason::Bounce),
            "COMPLAINT" => Some(SuppressionReason::Complaint),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SuppressionReason::Bounce => "BOUNCE",
            SuppressionReason::Complaint => "COMPLAINT",
        }
    }
}

/// Sandbox, sending switch, suppression and the production access request of one
/// account in one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountSettings {
    pub production: bool,
    pub sending_enabled: bool,
    /// Quota raised by the operator (messages per 24 hours, messages per second).
    #[serde(default)]
    pub custom_quota: Option<(f64, f64)>,
    /// Reasons for which the account-level suppression list applies (both by default,
    /// as for accounts created since November 2019).
    #[serde(default = "all_reasons")]
    pub suppressed_reasons: Vec<SuppressionReason>,
    #[serde(default)]
    pub details: Option<AccountDetails>,
}

fn all_reasons() -> Vec<SuppressionReason> {
    vec![SuppressionReason::Bounce, SuppressionReason::Complaint]
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            production: false,
            sending_enabled: true,
            custom_quota: None,
            suppressed_reasons: all_reasons(),
            details: None,
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

/// What PutAccountDetails recorded: the production access request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountDetails {
    pub mail_type: String,
    pub website_url: String,
    pub contact_language: Option<String>,
    pub use_case_description: Option<String>,
    pub additional_contact_email_addresses: Vec<String>,
    pub production_access_requested: bool,
    /// `PENDING` until the operator grants production access (`GRANTED`).
    pub review_status: Option<String>,
    pub case_id: Option<String>,
    pub updated_ms: i64,
}

/// A recipient the send pipeline dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressedRecipient {
    pub address: String,
    pub reason: SuppressionReason,
}

/// An accepted message, as kept by the capture store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    pub message_id: String,
    /// The sending (delegate's) account: quotas, statistics and reputation are its.
    pub account: String,
    pub region: String,
    pub source: String,
    /// Envelope recipients still to be delivered (suppressed ones removed).
    pub destination: Vec<String>,
    pub raw: crate::RawMessage,
    pub created_ms: i64,
    pub from_identity: String,
    pub configuration_set: Option<String>,
    /// Recipients not delivered because of the account-level suppression list.
    #[serde(default)]
    pub suppressed: Vec<SuppressedRecipient>,
    /// Message tags given with the send (name, value).
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The IAM identity that sent it (user name, role session or `root`).
    #[serde(default)]
    pub caller_identity: String,
    /// The client's IP address.
    #[serde(default)]
    pub source_ip: String,
}

/// Who Sesame's own mail (verification messages, auto-replies, forwarded feedback) is
/// for and from, within an account and region.
pub struct OwnMail {
    pub message_id: String,
    pub account: String,
    pub region: String,
    /// The envelope sender (empty for the null sender `<>`).
    pub source: String,
    pub to: String,
    pub created_ms: i64,
}

impl StoredMessage {
    /// Sesame's own mail: no sending identity (so it is never counted as the
    /// account's sending nor routed as its events), no configuration set.
    pub fn own(mail: OwnMail, raw: crate::RawMessage) -> StoredMessage {
        StoredMessage {
            message_id: mail.message_id,
            account: mail.account,
            region: mail.region,
            source: mail.source,
            destination: vec![mail.to],
            raw,
            created_ms: mail.created_ms,
            from_identity: String::new(),
            configuration_set: None,
            suppressed: Vec::new(),
            tags: Vec::new(),
            caller_identity: String::new(),
            source_ip: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub name: String,
    pub subject: Option<String>,
    pub html: Option<String>,
    pub text: Option<String>,
    pub created_ms: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationSet {
    pub name: String,
    pub sending_enabled: bool,
    pub created_ms: i64,
    #[serde(default)]
    pub event_destinations: Vec<EventDestination>,
    #[serde(default)]
    pub options: ConfigurationSetOptions,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// The v2 option groups of a configuration set, kept as given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigurationSetOptions {
    pub custom_redirect_domain: Option<String>,
    pub https_policy: Option<String>,
    pub tls_policy: Option<String>,
    pub sending_pool_name: Option<String>,
    pub max_delivery_seconds: Option<i64>,
    pub reputation_metrics_enabled: bool,
    /// When set, overrides the account's suppressed reasons for mail sent with this set.
    pub suppressed_reasons: Option<Vec<SuppressionReason>>,
}

/// Sending events, as SES names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventType {
    Send,
    Reject,
    Bounce,
    Complaint,
    Delivery,
    Open,
    Click,
    RenderingFailure,
    DeliveryDelay,
    Subscription,
}

const EVENT_NAMES: [(EventType, &str, &str); 10] = [
    (EventType::Send, "send", "SEND"),
    (EventType::Reject, "reject", "REJECT"),
    (EventType::Bounce, "bounce", "BOUNCE"),
    (EventType::Complaint, "complaint", "COMPLAINT"),
    (EventType::Delivery, "delivery", "DELIVERY"),
    (EventType::Open, "open", "OPEN"),
    (EventType::Click, "click", "CLICK"),
    (
        EventType::RenderingFailure,
        "renderingFailure",
        "RENDERING_FAILURE",
    ),
    (EventType::DeliveryDelay, "deliveryDelay", "DELIVERY_DELAY"),
    (EventType::Subscription, "subscription", "SUBSCRIPTION"),
];

impl EventType {
    /// From the v1 name (`renderingFailure`).
    pub fn from_v1(name: &str) -> Option<EventType> {
        EVENT_NAMES.iter().find(|e| e.1 == name).map(|e| e.0)
    }

    /// From the v2 name (`RENDERING_FAILURE`).
    pub fn from_v2(name: &str) -> Option<EventType> {
        EVENT_NAMES.iter().find(|e| e.2 == name).map(|e| e.0)
    }

    pub fn v1_name(self) -> &'static str {
        EVENT_NAMES.iter().find(|e| e.0 == self).map_or("", |e| e.1)
    }

    pub fn v2_name(self) -> &'static str {
        EVENT_NAMES.iter().find(|e| e.0 == self).map_or("", |e| e.2)
    }
}

/// Where a configuration set publishes the events it matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDestination {
    pub name: String,
    pub enabled: bool,
    pub matching_event_types: Vec<EventType>,
    pub target: EventTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventTarget {
    Sns {
        topic_arn: String,
    },
    KinesisFirehose {
        iam_role_arn: String,
        delivery_stream_arn: String,
    },
    CloudWatch {
        dimensions: Vec<CloudWatchDimension>,
    },
    EventBridge {
        event_bus_arn: String,
    },
    Pinpoint {
        application_arn: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudWatchDimension {
    pub name: String,
    /// `MESSAGE_TAG`, `EMAIL_HEADER` or `LINK_TAG`.
    pub source: DimensionSource,
    pub default_value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DimensionSource {
    MessageTag,
    EmailHeader,
    LinkTag,
}

impl DimensionSource {
    pub fn from_v1(name: &str) -> Option<DimensionSource> {
        match name {
            "messageTag" => Some(DimensionSource::MessageTag),
            "emailHeader" => Some(DimensionSource::EmailHeader),
            "linkTag" => Some(DimensionSource::LinkTag),
            _ => None,
        }
    }

    pub fn from_v2(name: &str) -> Option<DimensionSource> {
        match name {
            "MESSAGE_TAG" => Some(DimensionSource::MessageTag),
            "EMAIL_HEADER" => Some(DimensionSource::EmailHeader),
            "LINK_TAG" => Some(DimensionSource::LinkTag),
            _ => None,
        }
    }

    pub fn v1_name(self) -> &'static str {
        match self {
            DimensionSource::MessageTag => "messageTag",
            DimensionSource::EmailHeader => "emailHeader",
            DimensionSource::LinkTag => "linkTag",
        }
    }

    pub fn v2_name(self) -> &'static str {
        match self {
            DimensionSource::MessageTag => "MESSAGE_TAG",
            DimensionSource::EmailHeader => "EMAIL_HEADER",
            DimensionSource::LinkTag => "LINK_TAG",
        }
    }
}

/// An address on an account's suppression list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuppressedDestination {
    pub email_address: String,
    pub reason: SuppressionReason,
    pub last_update_ms: i64,
    pub message_id: Option<String>,
    pub feedback_id: Option<String>,
}

/// Sending activity of one account in one region during one 15-minute interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendDataPoint {
    /// Start of the interval.
    pub timestamp_ms: i64,
    pub delivery_attempts: u64,
    pub bounces: u64,
    pub complaints: u64,
    pub rejects: u64,
}

/// Something that happened to an accepted message, kept for event publishing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendingEvent {
    pub event_type: EventType,
    pub message_id: String,
    /// The sending account (the delegate's, under sending authorization).
    pub account: String,
    pub region: String,
    pub configuration_set: Option<String>,
    pub recipients: Vec<String>,
    /// Free text: the rendering error, the bounce sub-type, …
    pub detail: String,
    pub created_ms: i64,
}

/// (region, account, identity name) of `arn:aws:ses:REGION:ACCOUNT:identity/NAME`.
pub fn identity_arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let [_, _, service, region, account, resource] = policy::arn::split(arn)?;
    let name = resource.strip_prefix("identity/")?;
    (service == "ses").then_some((region, account, name))
}

/// Store key of a per-account, per-region document.
pub fn scoped_key(account: &str, region: &str, name: &str) -> String {
    [account, "/", region, "/", name].concat()
}

#[cfg(test)]
mod tests {
    use super::identity_arn_parts;

    #[test]
    fn identity_arns_split_into_region_account_and_name() {
        assert_eq!(
            identity_arn_parts("arn:aws:ses:us-east-1:111122223333:identity/a@example.com"),
            Some(("us-east-1", "111122223333", "a@example.com"))
        );
        assert_eq!(identity_arn_parts("arn:aws:iam::1:user/x"), None);
        assert_eq!(
            identity_arn_parts("arn:aws:ses:us-east-1:1:configuration-set/x"),
            None
        );
        assert_eq!(identity_arn_parts("not an arn"), None);
    }
}
