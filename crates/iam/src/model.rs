//! The records IAM, STS and Organizations keep, as stored documents.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use store::SealedSecret;

/// Store tables.
pub mod table {
    pub const ACCOUNTS: &str = "accounts";
    pub const ORG: &str = "org";
    pub const OUS: &str = "ous";
    pub const CONTROL_POLICIES: &str = "control_policies";
    pub const CREATE_ACCOUNT_REQUESTS: &str = "create_account_requests";
    pub const USERS: &str = "users";
    pub const GROUPS: &str = "groups";
    pub const ROLES: &str = "roles";
    pub const ACCESS_KEYS: &str = "access_keys";
    pub const POLICIES: &str = "policies";
    pub const SESSIONS: &str = "sessions";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub email: String,
    pub joined_ms: i64,
    /// The organization root or OU the account sits in (members only).
    pub parent_id: Option<String>,
    /// How the account joined: `CREATED` or `INVITED`; the management account: `MANAGEMENT`.
    pub joined_method: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: String,
    pub management_account_id: String,
    pub root_id: String,
    pub feature_set: String,
    /// Policy types enabled on the root (`SERVICE_CONTROL_POLICY`, `RESOURCE_CONTROL_POLICY`).
    pub enabled_policy_types: Vec<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgUnit {
    pub id: String,
    pub name: String,
    pub parent_id: String,
}

/// An SCP or RCP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlPolicy {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub content: String,
    pub aws_managed: bool,
    /// Roots, OUs and accounts it is attached to.
    pub targets: Vec<String>,
}

/// One CreateAccount request and how it ended (`CreateAccountStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateAccountRequest {
    pub id: String,
    pub account_name: String,
    /// `SUCCEEDED` or `FAILED` (requests complete synchronously).
    pub state: String,
    pub requested_ms: i64,
    pub completed_ms: i64,
    pub account_id: Option<String>,
    pub failure_reason: Option<String>,
}

/// Inline policies by name, and attached managed policies by ARN.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Permissions {
    pub inline: BTreeMap<String, String>,
    pub attached: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub permissions: Permissions,
    pub boundary: Option<String>,
    pub groups: Vec<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub permissions: Permissions,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Role {
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub created_ms: i64,
    pub trust_policy: String,
    pub description: String,
    pub max_session_duration: u32,
    pub permissions: Permissions,
    pub boundary: Option<String>,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessKey {
    pub id: String,
    pub account: String,
    /// Empty for the account's root user.
    pub user: String,
    pub secret: SealedSecret,
    pub active: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created_ms: i64,
}

/// A customer managed policy (account id) or an AWS managed one (account `aws`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub arn: String,
    pub account: String,
    pub name: String,
    pub path: String,
    pub id: String,
    pub description: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    pub next_version: u32,
}

impl ManagedPolicy {
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

/// Temporary credentials from STS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub access_key_id: String,
    pub secret: SealedSecret,
    pub token: SealedSecret,
    pub account: String,
    /// For AssumeRole: the role's name and session name. For GetSessionToken: the user.
    pub role: Option<String>,
    pub session_name: String,
    pub user: Option<String>,
    pub expires_ms: i64,
    pub session_policy: Option<String>,
}

/// ARN of a user, group, role or policy with its path.
pub fn iam_arn(account: &str, kind: &str, path: &str, name: &str) -> String {
    format!("arn:aws:iam::{account}:{kind}{path}{name}")
}

/// Store key of an account-scoped entity: IAM names are unique case-insensitively.
pub fn entity_key(account: &str, name: &str) -> String {
    format!("{account}/{}", name.to_ascii_lowercase())
}
