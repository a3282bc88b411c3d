//! Organizations: the organization, its root and OUs, member accounts, and the control
//! policies (SCPs, RCPs and the other policy types) attached to them. `membership()`
//! turns the tree into the SCP levels that filter what a member account's principals
//! may do; `rcp_levels()` does the same for the resources of a member account.
//!
//! Submodules hold the operations: `tree` (organization, root, OUs, children and
//! parents), `accounts` (CreateAccount and friends, MoveAccount) and `policies` (policy
//! types, policies, attachments). This file holds what they share: ids, ARNs, errors,
//! access checks and the views the API renders.

mod accounts;
mod policies;
mod tree;

use crate::auth::{Caller, RequestInfo};
use crate::model::{table, Account, ControlPolicy, OrgUnit, Organization};
use crate::{ids, Iam, IamError};
use std::sync::Arc;
use store::Docs;

pub use crate::model::CreateAccountRequest;
pub use accounts::NewAccount;
pub use policies::{NewPolicy, PolicyUpdate};

/// Where a control policy can be attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgTarget {
    Root(String),
    Unit(String),
    Account(String),
}

impl OrgTarget {
    pub fn id(&self) -> &str {
        match self {
            OrgTarget::Root(id) | OrgTarget::Unit(id) | OrgTarget::Account(id) => id,
        }
    }

    /// `TargetType` as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            OrgTarget::Root(_) => "ROOT",
            OrgTarget::Unit(_) => "ORGANIZATIONAL_UNIT",
            OrgTarget::Account(_) => "ACCOUNT",
        }
    }
}

/// SCP/RCP levels: root first, then each OU down the path, then the account.
pub type Levels = Vec<Vec<Arc<policy::Policy>>>;

/// What the organization means for one account's requests.
pub(crate) struct Membership {
    pub org_id: Option<String>,
    /// SCP levels, when SCPs apply to the account's principals.
    pub scps: Option<Levels>,
}

pub const SCP_TYPE: &str = "SERVICE_CONTROL_POLICY";
pub const RCP_TYPE: &str = "RESOURCE_CONTROL_POLICY";
/// The AWS managed SCP attached to every root, OU and account while SCPs are enabled.
pub const FULL_AWS_ACCESS: &str = "p-FullAWSAccess";
/// The AWS managed RCP attached to every root, OU and account while RCPs are enabled.
pub const RCP_FULL_AWS_ACCESS: &str = "p-RCPFullAWSAccess";
/// The store key of the (single) organization record.
pub const ORG_KEY: &str = "org";
const ROOT_NAME: &str = "Root";

/// The organization as CreateOrganization and DescribeOrganization report it.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgInfo {
    pub id: String,
    pub arn: String,
    pub feature_set: String,
    pub management_account_id: String,
    pub management_account_arn: String,
    pub management_account_email: String,
    /// Policy types enabled in the root.
    pub policy_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RootInfo {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub policy_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OuInfo {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// `o-…/r-…/ou-…/` down to this OU.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub id: String,
    pub arn: String,
    pub email: String,
    pub name: String,
    /// `CREATED` or `INVITED` (the management account counts as invited).
    pub joined_method: String,
    pub joined_ms: i64,
    /// `o-…/r-…/[ou-…/]ACCOUNT/`.
    pub path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInfo {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub description: String,
    pub kind: String,
    pub aws_managed: bool,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    pub id: String,
    pub arn: String,
    pub name: String,
    /// `ROOT`, `ORGANIZATIONAL_UNIT` or `ACCOUNT`.
    pub kind: &'static str,
}

/// A child or parent in the tree: its id and `ACCOUNT`, `ORGANIZATIONAL_UNIT` or `ROOT`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: String,
    pub kind: &'static str,
}

// ---- errors -------------------------------------------------------------------------

fn service_error(code: &'static str, message: &str) -> IamError {
    IamError::Service {
        code,
        message: message.to_string(),
        status: 400,
    }
}

fn invalid_input(reason: &'static str, message: &str) -> IamError {
    IamError::WithReason {
        code: "InvalidInputException",
        message: message.to_string(),
        reason,
    }
}

fn constraint(reason: &'static str, message: &str) -> IamError {
    IamError::WithReason {
        code: "ConstraintViolationException",
        message: message.to_string(),
        reason,
    }
}

fn not_in_use() -> IamError {
    service_error(
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
}

/// What a member account hears when it calls an operation only the management account may.
fn no_permission() -> IamError {
    IamError::AccessDenied {
        message: "You don't have permissions to access this resource.".to_string(),
        trace: vec!["only the organization's management account may call this operation".into()],
        json_style: true,
    }
}

fn parent_not_found() -> IamError {
    service_error(
        "ParentNotFoundException",
        "We can't find a root or OU with the ParentId that you specified.",
    )
}

fn account_not_found() -> IamError {
    service_error(
        "AccountNotFoundException",
        "You specified an account that doesn't exist.",
    )
}

// ---- input patterns -------------------------------------------------------------------

fn lower_alnum(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_root_id(id: &str) -> bool {
    id.strip_prefix("r-")
        .is_some_and(|rest| lower_alnum(rest, 4, 32))
}

fn is_ou_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("ou-") else {
        return false;
    };
    match rest.split_once('-') {
        Some((root, unit)) => lower_alnum(root, 4, 32) && lower_alnum(unit, 8, 32),
        None => false,
    }
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

fn is_policy_id(id: &str) -> bool {
    id.strip_prefix("p-").is_some_and(|rest| {
        (8..=128).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

fn bad_pattern() -> IamError {
    invalid_input(
        "INVALID_PATTERN",
        "You provided a value that doesn't match the required pattern.",
    )
}

/// A root or OU id.
fn check_parent_id(id: &str) -> Result<(), IamError> {
    if is_root_id(id) || is_ou_id(id) {
        Ok(())
    } else {
        Err(bad_pattern())
    }
}

fn check_pattern(ok: bool) -> Result<(), IamError> {
    if ok {
        Ok(())
    } else {
        Err(bad_pattern())
    }
}

/// A string parameter's length, with AWS's reasons for too short and too long.
fn check_length(value: &str, min: usize, max: usize) -> Result<(), IamError> {
    let n = value.chars().count();
    if n < min {
        return Err(invalid_input(
            "MIN_LENGTH_EXCEEDED",
            "You provided a string parameter that is shorter than allowed.",
        ));
    }
    if n > max {
        return Err(invalid_input(
            "MAX_LENGTH_EXCEEDED",
            "You provided a string parameter that is longer than allowed.",
        ));
    }
    Ok(())
}

// ---- ARNs -------------------------------------------------------------------------------

fn scoped_arn(org: &Organization, kind: &str, rest: &str) -> String {
    format!(
        "arn:aws:organizations::{}:{kind}/{}/{rest}",
        org.management_account_id, org.id
    )
}

pub fn organization_arn(org: &Organization) -> String {
    format!(
        "arn:aws:organizations::{}:organization/{}",
        org.management_account_id, org.id
    )
}

pub fn root_arn(org: &Organization) -> String {
    scoped_arn(org, "root", &org.root_id)
}

pub fn ou_arn(org: &Organization, ou_id: &str) -> String {
    scoped_arn(org, "ou", ou_id)
}

pub fn account_arn(org: &Organization, account_id: &str) -> String {
    scoped_arn(org, "account", account_id)
}

/// `arn:aws:organizations::MGMT:policy/o-…/service_control_policy/p-…`, or the
/// `aws` account's form for AWS managed policies.
pub fn policy_arn(org: &Organization, p: &ControlPolicy) -> String {
    let kind = p.kind.to_ascii_lowercase();
    if p.aws_managed {
        format!("arn:aws:organizations::aws:policy/{kind}/{}", p.id)
    } else {
        scoped_arn(org, "policy", &format!("{kind}/{}", p.id))
    }
}

/// ARN of a root or OU by id.
fn parent_arn(org: &Organization, id: &str) -> String {
    if id == org.root_id || is_root_id(id) {
        scoped_arn(org, "root", id)
    } else {
        ou_arn(org, id)
    }
}

/// ARN of a root, OU or account by id.
fn target_arn(org: &Organization, id: &str) -> String {
    if is_account_id(id) {
        account_arn(org, id)
    } else {
        parent_arn(org, id)
    }
}

// ---- the store -----------------------------------------------------------------------

fn organization(tx: &mut Docs<'_>) -> Result<Option<Organization>, IamError> {
    Ok(tx.get::<Organization>(table::ORG, ORG_KEY)?)
}

fn put_organization(tx: &mut Docs<'_>, org: &Organization) -> Result<(), IamError> {
    Ok(tx.put(table::ORG, ORG_KEY, org)?)
}

/// An account that belongs to the organization (the management account included).
fn org_account(tx: &mut Docs<'_>, id: &str) -> Result<Option<Account>, IamError> {
    Ok(tx
        .get::<Account>(table::ACCOUNTS, id)?
        .filter(|a| a.parent_id.is_some()))
}

/// Every account of the organization, oldest first.
fn org_accounts(tx: &mut Docs<'_>) -> Result<Vec<Account>, IamError> {
    let mut all: Vec<Account> = tx.scan(table::ACCOUNTS, "")?;
    all.retain(|a| a.parent_id.is_some());
    all.sort_by(|a, b| a.joined_ms.cmp(&b.joined_ms).then(a.id.cmp(&b.id)));
    Ok(all)
}

fn org_units(tx: &mut Docs<'_>) -> Result<Vec<OrgUnit>, IamError> {
    Ok(tx.scan(table::OUS, "")?)
}

fn control_policies(tx: &mut Docs<'_>) -> Result<Vec<ControlPolicy>, IamError> {
    Ok(tx.scan(table::CONTROL_POLICIES, "")?)
}

/// Whether `id` names the root or an existing OU.
fn parent_exists(tx: &mut Docs<'_>, org: &Organization, id: &str) -> Result<bool, IamError> {
    if id == org.root_id {
        return Ok(true);
    }
    Ok(is_ou_id(id) && tx.get::<OrgUnit>(table::OUS, id)?.is_some())
}

/// The root, OU or account that `id` names, if it exists in the organization.
fn find_target(
    tx: &mut Docs<'_>,
    org: &Organization,
    id: &str,
) -> Result<Option<OrgTarget>, IamError> {
    if id == org.root_id {
        return Ok(Some(OrgTarget::Root(id.to_string())));
    }
    if is_ou_id(id) && tx.get::<OrgUnit>(table::OUS, id)?.is_some() {
        return Ok(Some(OrgTarget::Unit(id.to_string())));
    }
    if is_account_id(id) && org_account(tx, id)?.is_some() {
        return Ok(Some(OrgTarget::Account(id.to_string())));
    }
    Ok(None)
}

/// A fresh id `prefix` + `len` characters that `taken` does not know yet.
fn fresh_id(
    prefix: &str,
    len: usize,
    mut taken: impl FnMut(&str) -> Result<bool, IamError>,
) -> Result<String, IamError> {
    loop {
        let id = format!("{prefix}{}", ids::short_id(len)?);
        if !taken(&id)? {
            return Ok(id);
        }
    }
}

// ---- access ---------------------------------------------------------------------------

/// The organization the caller's account belongs to.
fn org_of_member(tx: &mut Docs<'_>, caller: &Caller) -> Result<Organization, IamError> {
    let org = organization(tx)?.ok_or_else(not_in_use)?;
    if caller.account == org.management_account_id || org_account(tx, &caller.account)?.is_some() {
        Ok(org)
    } else {
        Err(not_in_use())
    }
}

/// The organization, when the caller belongs to its management account.
fn org_of_management(tx: &mut Docs<'_>, caller: &Caller) -> Result<Organization, IamError> {
    let org = org_of_member(tx, caller)?;
    if caller.account != org.management_account_id {
        return Err(no_permission());
    }
    Ok(org)
}

impl Iam {
    /// Authorizes `organizations:<Op>` on each resource, with the policy type as the
    /// `organizations:PolicyType` condition key where the operation has one. Every
    /// organization resource belongs to the management account, AWS managed policies
    /// (`arn:aws:organizations::aws:policy/…`) included, so the requests are never
    /// cross-account.
    fn org_allow(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        resources: &[&str],
        policy_type: Option<&str>,
    ) -> Result<(), IamError> {
        let mut context = crate::auth::request_context(caller, info);
        if let Some(t) = policy_type {
            context.insert("organizations:PolicyType", vec![t.to_string()]);
        }
        for resource in resources {
            let request = policy::Request::new(
                caller.principal.clone(),
                action,
                resource,
                Some(caller.account.clone()),
                context.clone(),
            );
            if policy::evaluate(&caller.policies, &request).is_allowed() {
                continue;
            }
            let (decision, trace) = policy::evaluate_traced(&caller.policies, &request);
            return Err(IamError::AccessDenied {
                message: policy::message::iam_denial(&request, &decision).unwrap_or_default(),
                trace: trace.lines,
                json_style: true,
            });
        }
        Ok(())
    }

    /// The RCP levels that bear on requests to resources of `account`: `None` unless
    /// the account is a member (not the management account) and RCPs are enabled.
    pub fn rcp_levels(&self, account: &str) -> Result<Option<Levels>, IamError> {
        self.read(|tx| {
            let Some(org) = organization(tx)? else {
                return Ok(None);
            };
            let Some(acct) = org_account(tx, account)? else {
                return Ok(None);
            };
            if !policies_apply(&org, &acct.id, RCP_TYPE) {
                return Ok(None);
            }
            levels(self, tx, &org, &acct, RCP_TYPE).map(Some)
        })
    }

    /// The target of each policy level of `account`, in the order of [`Levels`]: the
    /// root, its OUs down to the account's parent, then the account itself. Empty
    /// when the account is in no organization.
    pub fn level_targets(&self, account: &str) -> Result<Vec<String>, IamError> {
        self.read(|tx| {
            let Some(org) = organization(tx)? else {
                return Ok(Vec::new());
            };
            let Some(acct) = org_account(tx, account)? else {
                return Ok(Vec::new());
            };
            let mut targets = chain(tx, &org, acct.parent_id.as_deref().unwrap_or(&org.root_id))?;
            targets.push(acct.id);
            Ok(targets)
        })
    }
}

// ---- views -------------------------------------------------------------------------------

/// `o-…/r-…/ou-…/` down to and including the root or OU `parent_id`.
fn path_of(tx: &mut Docs<'_>, org: &Organization, parent_id: &str) -> Result<String, IamError> {
    let mut path = format!("{}/", org.id);
    for id in chain(tx, org, parent_id)? {
        path.push_str(&id);
        path.push('/');
    }
    Ok(path)
}

/// The root and OUs from the root down to `parent_id` (inclusive).
fn chain(tx: &mut Docs<'_>, org: &Organization, parent_id: &str) -> Result<Vec<String>, IamError> {
    let mut ids = Vec::new();
    let mut current = Some(parent_id.to_string());
    // OUs nest at most five deep; the bound only guards against a corrupt store.
    while let Some(id) = current.take() {
        if ids.len() > 8 {
            break;
        }
        if id != org.root_id {
            current = tx.get::<OrgUnit>(table::OUS, &id)?.map(|ou| ou.parent_id);
        }
        ids.push(id);
    }
    ids.reverse();
    Ok(ids)
}

fn org_info(tx: &mut Docs<'_>, org: &Organization) -> Result<OrgInfo, IamError> {
    let email = tx
        .get::<Account>(table::ACCOUNTS, &org.management_account_id)?
        .map(|a| a.email)
        .unwrap_or_default();
    Ok(OrgInfo {
        id: org.id.clone(),
        arn: organization_arn(org),
        feature_set: org.feature_set.clone(),
        management_account_id: org.management_account_id.clone(),
        management_account_arn: account_arn(org, &org.management_account_id),
        management_account_email: email,
        policy_types: org.enabled_policy_types.clone(),
    })
}

fn root_info(org: &Organization) -> RootInfo {
    RootInfo {
        id: org.root_id.clone(),
        arn: root_arn(org),
        name: ROOT_NAME.to_string(),
        policy_types: org.enabled_policy_types.clone(),
    }
}

fn ou_info(tx: &mut Docs<'_>, org: &Organization, ou: &OrgUnit) -> Result<OuInfo, IamError> {
    Ok(OuInfo {
        id: ou.id.clone(),
        arn: ou_arn(org, &ou.id),
        name: ou.name.clone(),
        path: path_of(tx, org, &ou.id)?,
    })
}

fn account_info(
    tx: &mut Docs<'_>,
    org: &Organization,
    acct: &Account,
) -> Result<AccountInfo, IamError> {
    let parent = acct.parent_id.as_deref().unwrap_or(&org.root_id);
    let joined_method = if acct.joined_method == "CREATED" {
        "CREATED"
    } else {
        "INVITED"
    };
    Ok(AccountInfo {
        id: acct.id.clone(),
        arn: account_arn(org, &acct.id),
        email: acct.email.clone(),
        name: acct.name.clone(),
        joined_method: joined_method.to_string(),
        joined_ms: acct.joined_ms,
        path: format!("{}{}/", path_of(tx, org, parent)?, acct.id),
    })
}

fn policy_info(org: &Organization, p: &ControlPolicy) -> PolicyInfo {
    PolicyInfo {
        id: p.id.clone(),
        arn: policy_arn(org, p),
        name: p.name.clone(),
        description: p.description.clone(),
        kind: p.kind.clone(),
        aws_managed: p.aws_managed,
        content: p.content.clone(),
    }
}

// ---- what the organization means for authorization ---------------------------------------

/// Whether policies of `kind` bear on `account`: enabled in the root, and never for the
/// management account.
fn policies_apply(org: &Organization, account: &str, kind: &str) -> bool {
    account != org.management_account_id && org.enabled_policy_types.iter().any(|t| t == kind)
}

/// The organization and SCP levels for `account`. SCPs never restrict the management
/// account, and apply only once the SCP policy type is enabled.
pub(crate) fn membership(
    iam: &Iam,
    tx: &mut Docs<'_>,
    account: &str,
) -> Result<Membership, IamError> {
    let outside = Membership {
        org_id: None,
        scps: None,
    };
    let Some(org) = organization(tx)? else {
        return Ok(outside);
    };
    let Some(acct) = org_account(tx, account)? else {
        return Ok(outside);
    };
    let scps = if policies_apply(&org, account, SCP_TYPE) {
        Some(levels(iam, tx, &org, &acct, SCP_TYPE)?)
    } else {
        None
    };
    Ok(Membership {
        org_id: Some(org.id),
        scps,
    })
}

/// Policies of `kind` at each level from the root down to the account.
fn levels(
    iam: &Iam,
    tx: &mut Docs<'_>,
    org: &Organization,
    acct: &Account,
    kind: &str,
) -> Result<Levels, IamError> {
    let mut targets = chain(tx, org, acct.parent_id.as_deref().unwrap_or(&org.root_id))?;
    targets.push(acct.id.clone());
    let all: Vec<ControlPolicy> = control_policies(tx)?
        .into_iter()
        .filter(|p| p.kind == kind)
        .collect();
    targets
        .iter()
        .map(|target| {
            all.iter()
                .filter(|p| p.targets.iter().any(|t| t == target))
                .map(|p| compiled(iam, p))
                .collect()
        })
        .collect()
}

fn compiled(iam: &Iam, p: &ControlPolicy) -> Result<Arc<policy::Policy>, IamError> {
    Ok(Arc::new(
        (*iam.compile(&p.content)?).clone().with_name(p.id.clone()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_patterns() {
        assert!(is_root_id("r-ab12"));
        assert!(!is_root_id("r-AB12"));
        assert!(!is_root_id("r-ab1"));
        assert!(is_ou_id("ou-ab12-abcdefgh"));
        assert!(!is_ou_id("ou-ab12-abcdefg"));
        assert!(!is_ou_id("ou-ab12"));
        assert!(is_account_id("123456789012"));
        assert!(!is_account_id("12345678901a"));
        assert!(is_policy_id("p-FullAWSAccess"));
        assert!(is_policy_id("p-ab12cd34"));
        assert!(!is_policy_id("p-short"));
    }

    #[test]
    fn arns() {
        let org = Organization {
            id: "o-abcdefghij".into(),
            management_account_id: "111111111111".into(),
            root_id: "r-ab12".into(),
            feature_set: "ALL".into(),
            enabled_policy_types: vec![],
            created_ms: 0,
        };
        assert_eq!(
            organization_arn(&org),
            "arn:aws:organizations::111111111111:organization/o-abcdefghij"
        );
        assert_eq!(
            account_arn(&org, "222222222222"),
            "arn:aws:organizations::111111111111:account/o-abcdefghij/222222222222"
        );
        assert_eq!(
            parent_arn(&org, "r-ab12"),
            "arn:aws:organizations::111111111111:root/o-abcdefghij/r-ab12"
        );
        let p = ControlPolicy {
            id: "p-ab12cd34".into(),
            name: "n".into(),
            description: String::new(),
            kind: SCP_TYPE.into(),
            content: String::new(),
            aws_managed: false,
            targets: vec![],
        };
        assert_eq!(
            policy_arn(&org, &p),
            "arn:aws:organizations::111111111111:policy/o-abcdefghij/service_control_policy/p-ab12cd34"
        );
    }
}
