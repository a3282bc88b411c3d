//! Organization policies: enabling policy types in the root, creating and editing
//! policies (SCP and RCP content checked by the policy engine), and attaching them to
//! the root, OUs and accounts under AWS's rules (at least one SCP everywhere,
//! RCPFullAWSAccess permanent, at most five of a type per target).

use super::{
    check_pattern, constraint, control_policies, find_target, fresh_id, invalid_input,
    is_account_id, is_ou_id, is_policy_id, is_root_id, org_accounts, org_of_management, org_units,
    policy_arn, policy_info, put_organization, root_arn, root_info, service_error, target_arn,
    OrgTarget, PolicyInfo, RootInfo, TargetInfo, FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS, RCP_TYPE,
    SCP_TYPE,
};
use crate::auth::{Caller, RequestInfo};
use crate::model::{table, Account, ControlPolicy, OrgUnit, Organization};
use crate::{Iam, IamError};
use policy::validate::PolicyKind;
use store::Docs;

/// Every policy type the API names.
const POLICY_TYPES: &[&str] = &[
    SCP_TYPE,
    RCP_TYPE,
    "TAG_POLICY",
    "BACKUP_POLICY",
    "AISERVICES_OPT_OUT_POLICY",
    "CHATBOT_POLICY",
    "DECLARATIVE_POLICY_EC2",
    "SECURITYHUB_POLICY",
    "INSPECTOR_POLICY",
    "UPGRADE_ROLLOUT_POLICY",
    "BEDROCK_POLICY",
    "S3_POLICY",
    "NETWORK_SECURITY_DIRECTOR_POLICY",
];

/// Policies of one type attached to one target at most.
const MAX_ATTACHED: usize = 5;
/// Policies of one type in an organization at most.
const MAX_POLICIES: usize = 1000;
/// Largest SCP or RCP document, in characters.
const CONTROL_POLICY_LIMIT: usize = 5120;
/// Largest document of the other (management) policy types, in characters.
const OTHER_POLICY_LIMIT: usize = 10_000;

/// The parameters of CreatePolicy.
#[derive(Debug, Clone)]
pub struct NewPolicy<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub content: &'a str,
    pub kind: &'a str,
}

/// The parameters of UpdatePolicy; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
    pub content: Option<&'a str>,
}

impl Iam {
    /// Enables a policy type in the root. Enabling SCPs or RCPs attaches FullAWSAccess
    /// or RCPFullAWSAccess to the root, every OU and every account.
    pub fn enable_policy_type(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        root_id: &str,
        kind: &str,
    ) -> Result<RootInfo, IamError> {
        check_pattern(is_root_id(root_id))?;
        check_policy_type(kind)?;
        self.mutate(|tx| {
            let mut org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:EnablePolicyType",
                &[&root_arn_for(&org, root_id)],
                Some(kind),
            )?;
            check_root(&org, root_id)?;
            check_available(&org)?;
            if is_enabled(&org, kind) {
                return Err(service_error(
                    "PolicyTypeAlreadyEnabledException",
                    "The specified policy type is already enabled in the specified root.",
                ));
            }
            org.enabled_policy_types.push(kind.to_string());
            put_organization(tx, &org)?;
            if let Some(default) = default_policy(kind) {
                attach_everywhere(tx, &org, default)?;
            }
            Ok(root_info(&org))
        })
    }

    /// Disables a policy type in the root, detaching every policy of that type.
    pub fn disable_policy_type(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        root_id: &str,
        kind: &str,
    ) -> Result<RootInfo, IamError> {
        check_pattern(is_root_id(root_id))?;
        check_policy_type(kind)?;
        self.mutate(|tx| {
            let mut org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DisablePolicyType",
                &[&root_arn_for(&org, root_id)],
                Some(kind),
            )?;
            check_root(&org, root_id)?;
            if !is_enabled(&org, kind) {
                return Err(type_not_enabled());
            }
            org.enabled_policy_types.retain(|t| t != kind);
            put_organization(tx, &org)?;
            for mut p in control_policies(tx)? {
                if p.kind == kind && !p.targets.is_empty() {
                    p.targets.clear();
                    tx.put(table::CONTROL_POLICIES, &p.id.clone(), &p)?;
                }
            }
            Ok(root_info(&org))
        })
    }

    pub fn create_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        new: &NewPolicy<'_>,
    ) -> Result<PolicyInfo, IamError> {
        super::check_length(new.name, 1, 128)?;
        super::check_length(new.description, 0, 512)?;
        super::check_length(new.content, 1, usize::MAX)?;
        check_policy_type(new.kind)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:CreatePolicy",
                &["*"],
                Some(new.kind),
            )?;
            check_available(&org)?;
            check_content(new.kind, new.content)?;
            let all = control_policies(tx)?;
            if all.iter().any(|p| p.kind == new.kind && p.name == new.name) {
                return Err(duplicate_policy());
            }
            if all.iter().filter(|p| p.kind == new.kind).count() >= MAX_POLICIES {
                return Err(constraint(
                    "POLICY_NUMBER_LIMIT_EXCEEDED",
                    "You attempted to exceed the number of policies that you can have in an organization.",
                ));
            }
            let id = fresh_id("p-", 8, |id| Ok(all.iter().any(|p| p.id == id)))?;
            let p = ControlPolicy {
                id: id.clone(),
                name: new.name.to_string(),
                description: new.description.to_string(),
                kind: new.kind.to_string(),
                content: new.content.to_string(),
                aws_managed: false,
                targets: Vec::new(),
            };
            tx.put(table::CONTROL_POLICIES, &id, &p)?;
            Ok(policy_info(&org, &p))
        })
    }

    pub fn update_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
        update: &PolicyUpdate<'_>,
    ) -> Result<PolicyInfo, IamError> {
        check_policy_id(policy_id)?;
        if let Some(name) = update.name {
            super::check_length(name, 1, 128)?;
        }
        if let Some(description) = update.description {
            super::check_length(description, 0, 512)?;
        }
        if let Some(content) = update.content {
            super::check_length(content, 1, usize::MAX)?;
        }
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            let mut p = load_policy(tx, policy_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:UpdatePolicy",
                &[&policy_arn(&org, &p)],
                Some(&p.kind),
            )?;
            if p.aws_managed {
                return Err(immutable_policy());
            }
            if let Some(name) = update.name {
                let taken = control_policies(tx)?
                    .iter()
                    .any(|q| q.kind == p.kind && q.name == name && q.id != p.id);
                if taken {
                    return Err(duplicate_policy());
                }
                p.name = name.to_string();
            }
            if let Some(description) = update.description {
                p.description = description.to_string();
            }
            if let Some(content) = update.content {
                check_content(&p.kind, content)?;
                p.content = content.to_string();
            }
            tx.put(table::CONTROL_POLICIES, &p.id, &p)?;
            Ok(policy_info(&org, &p))
        })
    }

    /// Deletes a customer managed policy that is attached nowhere.
    pub fn delete_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
    ) -> Result<(), IamError> {
        check_policy_id(policy_id)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            let p = load_policy(tx, policy_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:DeletePolicy",
                &[&policy_arn(&org, &p)],
                Some(&p.kind),
            )?;
            if p.aws_managed {
                return Err(immutable_policy());
            }
            if !p.targets.is_empty() {
                return Err(service_error(
                    "PolicyInUseException",
                    "The policy is attached to one or more entities. You must detach it from all roots, OUs, and accounts before performing this operation.",
                ));
            }
            tx.delete(table::CONTROL_POLICIES, &p.id)?;
            Ok(())
        })
    }

    pub fn describe_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
    ) -> Result<PolicyInfo, IamError> {
        check_policy_id(policy_id)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            let p = load_policy(tx, policy_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:DescribePolicy",
                &[&policy_arn(&org, &p)],
                Some(&p.kind),
            )?;
            Ok(policy_info(&org, &p))
        })
    }

    /// Policies of one type, AWS managed ones first, then by name.
    pub fn list_org_policies(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: &str,
    ) -> Result<Vec<PolicyInfo>, IamError> {
        check_policy_type(kind)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListPolicies",
                &["*"],
                Some(kind),
            )?;
            Ok(sorted(control_policies(tx)?, &org, |p| p.kind == kind))
        })
    }

    pub fn attach_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
        target_id: &str,
    ) -> Result<(), IamError> {
        check_policy_id(policy_id)?;
        check_target_id(target_id)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            let mut p = load_policy(tx, policy_id)?;
            let target = load_target(tx, &org, target_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:AttachPolicy",
                &[&policy_arn(&org, &p), &target_arn(&org, target.id())],
                Some(&p.kind),
            )?;
            if !is_enabled(&org, &p.kind) {
                return Err(type_not_enabled());
            }
            if p.targets.iter().any(|t| t == target_id) {
                return Err(service_error(
                    "DuplicatePolicyAttachmentException",
                    "The selected policy is already attached to the specified target.",
                ));
            }
            if attached_count(tx, &p.kind, target_id)? >= MAX_ATTACHED {
                return Err(constraint(
                    "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                    "You attempted to exceed the number of policies of a certain type that can be attached to an entity at one time.",
                ));
            }
            p.targets.push(target_id.to_string());
            tx.put(table::CONTROL_POLICIES, &p.id, &p)?;
            Ok(())
        })
    }

    /// Detaches a policy. Every root, OU and account keeps at least one SCP, and
    /// RCPFullAWSAccess cannot be detached.
    pub fn detach_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
        target_id: &str,
    ) -> Result<(), IamError> {
        check_policy_id(policy_id)?;
        check_target_id(target_id)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            let mut p = load_policy(tx, policy_id)?;
            let target = load_target(tx, &org, target_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:DetachPolicy",
                &[&policy_arn(&org, &p), &target_arn(&org, target.id())],
                Some(&p.kind),
            )?;
            if !p.targets.iter().any(|t| t == target_id) {
                return Err(service_error(
                    "PolicyNotAttachedException",
                    "The policy isn't attached to the specified target in the specified root.",
                ));
            }
            if p.id == RCP_FULL_AWS_ACCESS {
                return Err(invalid_input(
                    "NON_DETACHABLE_POLICY",
                    "You can't detach this Amazon Web Services Managed Policy.",
                ));
            }
            if p.kind == SCP_TYPE && attached_count(tx, SCP_TYPE, target_id)? <= 1 {
                return Err(constraint(
                    "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED",
                    "You attempted to detach a policy from an entity that would cause the entity to have fewer than the minimum number of policies of a certain type required.",
                ));
            }
            p.targets.retain(|t| t != target_id);
            tx.put(table::CONTROL_POLICIES, &p.id, &p)?;
            Ok(())
        })
    }

    pub fn list_org_policies_for_target(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        target_id: &str,
        kind: &str,
    ) -> Result<Vec<PolicyInfo>, IamError> {
        check_target_id(target_id)?;
        check_policy_type(kind)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            let target = load_target(tx, &org, target_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListPoliciesForTarget",
                &[&target_arn(&org, target.id())],
                Some(kind),
            )?;
            Ok(sorted(control_policies(tx)?, &org, |p| {
                p.kind == kind && p.targets.iter().any(|t| t == target_id)
            }))
        })
    }

    pub fn list_targets_for_org_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        policy_id: &str,
    ) -> Result<Vec<TargetInfo>, IamError> {
        check_policy_id(policy_id)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            let p = load_policy(tx, policy_id)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListTargetsForPolicy",
                &[&policy_arn(&org, &p)],
                Some(&p.kind),
            )?;
            let mut out = Vec::new();
            for id in &p.targets {
                if let Some(t) = target_info(tx, &org, id)? {
                    out.push(t);
                }
            }
            Ok(out)
        })
    }
}

fn check_policy_type(kind: &str) -> Result<(), IamError> {
    if POLICY_TYPES.contains(&kind) {
        Ok(())
    } else {
        Err(invalid_input(
            "INVALID_ENUM_POLICY_TYPE",
            "You specified an invalid policy type string.",
        ))
    }
}

fn check_policy_id(id: &str) -> Result<(), IamError> {
    if is_policy_id(id) {
        Ok(())
    } else {
        Err(invalid_input(
            "INVALID_SYNTAX_POLICY_ID",
            "You specified an invalid policy ID.",
        ))
    }
}

fn check_target_id(id: &str) -> Result<(), IamError> {
    if is_root_id(id) || is_ou_id(id) || is_account_id(id) {
        Ok(())
    } else {
        Err(invalid_input(
            "INVALID_PATTERN_TARGET_ID",
            "You specified a policy target ID that doesn't match the required pattern.",
        ))
    }
}

/// The ARN of the root the caller named (which may not be this organization's).
fn root_arn_for(org: &Organization, root_id: &str) -> String {
    if root_id == org.root_id {
        root_arn(org)
    } else {
        super::parent_arn(org, root_id)
    }
}

fn check_root(org: &Organization, root_id: &str) -> Result<(), IamError> {
    if root_id == org.root_id {
        Ok(())
    } else {
        Err(service_error(
            "RootNotFoundException",
            "We can't find a root with the RootId that you specified.",
        ))
    }
}

/// Policies need all features; a consolidated-billing organization has none.
fn check_available(org: &Organization) -> Result<(), IamError> {
    if org.feature_set == "ALL" {
        Ok(())
    } else {
        Err(service_error(
            "PolicyTypeNotAvailableForOrganizationException",
            "You can't use the specified policy type with the feature set currently enabled for this organization.",
        ))
    }
}

fn is_enabled(org: &Organization, kind: &str) -> bool {
    org.enabled_policy_types.iter().any(|t| t == kind)
}

fn type_not_enabled() -> IamError {
    service_error(
        "PolicyTypeNotEnabledException",
        "This operation can be performed only for enabled policy types.",
    )
}

fn duplicate_policy() -> IamError {
    service_error(
        "DuplicatePolicyException",
        "A policy with the same name already exists.",
    )
}

fn immutable_policy() -> IamError {
    invalid_input(
        "IMMUTABLE_POLICY",
        "You specified a policy that is managed by Amazon Web Services and can't be modified.",
    )
}

/// The policy attached everywhere while its type is enabled.
fn default_policy(kind: &str) -> Option<&'static str> {
    match kind {
        SCP_TYPE => Some(FULL_AWS_ACCESS),
        RCP_TYPE => Some(RCP_FULL_AWS_ACCESS),
        _ => None,
    }
}

/// Checks a policy document against its type: size, then grammar. SCPs are
/// identity-style (no Principal); RCPs name a Principal; other types must be JSON objects.
fn check_content(kind: &str, content: &str) -> Result<(), IamError> {
    let limit = if kind == SCP_TYPE || kind == RCP_TYPE {
        CONTROL_POLICY_LIMIT
    } else {
        OTHER_POLICY_LIMIT
    };
    if content.chars().count() > limit {
        return Err(constraint(
            "POLICY_CONTENT_LIMIT_EXCEEDED",
            "You attempted to create a policy that is larger than the maximum size.",
        ));
    }
    let valid = match kind {
        SCP_TYPE => is_valid_policy(content, PolicyKind::Identity),
        RCP_TYPE => is_valid_policy(content, PolicyKind::Resource),
        _ => serde_json::from_str::<serde_json::Value>(content).is_ok_and(|v| v.is_object()),
    };
    if valid {
        Ok(())
    } else {
        Err(service_error(
            "MalformedPolicyDocumentException",
            "The provided policy document does not meet the requirements of the specified policy type.",
        ))
    }
}

fn is_valid_policy(content: &str, kind: PolicyKind) -> bool {
    policy::Policy::parse(content).is_ok()
        && policy::validate::is_valid(&policy::validate::validate(content, Some(kind)))
}

fn load_policy(tx: &mut Docs<'_>, id: &str) -> Result<ControlPolicy, IamError> {
    tx.get::<ControlPolicy>(table::CONTROL_POLICIES, id)?
        .ok_or_else(|| {
            service_error(
                "PolicyNotFoundException",
                "We can't find a policy with the PolicyId that you specified.",
            )
        })
}

fn load_target(tx: &mut Docs<'_>, org: &Organization, id: &str) -> Result<OrgTarget, IamError> {
    find_target(tx, org, id)?.ok_or_else(|| {
        service_error(
            "TargetNotFoundException",
            "We can't find a root, OU, account, or policy with the TargetId that you specified.",
        )
    })
}

/// How many policies of `kind` are attached to `target`.
fn attached_count(tx: &mut Docs<'_>, kind: &str, target: &str) -> Result<usize, IamError> {
    Ok(control_policies(tx)?
        .iter()
        .filter(|p| p.kind == kind && p.targets.iter().any(|t| t == target))
        .count())
}

/// Attaches policy `id` to the root, every OU and every account.
fn attach_everywhere(tx: &mut Docs<'_>, org: &Organization, id: &str) -> Result<(), IamError> {
    let Some(mut p) = tx.get::<ControlPolicy>(table::CONTROL_POLICIES, id)? else {
        return Ok(());
    };
    let mut targets = vec![org.root_id.clone()];
    targets.extend(org_units(tx)?.into_iter().map(|u| u.id));
    targets.extend(org_accounts(tx)?.into_iter().map(|a| a.id));
    for t in targets {
        if !p.targets.contains(&t) {
            p.targets.push(t);
        }
    }
    tx.put(table::CONTROL_POLICIES, id, &p)?;
    Ok(())
}

fn sorted(
    all: Vec<ControlPolicy>,
    org: &Organization,
    keep: impl Fn(&ControlPolicy) -> bool,
) -> Vec<PolicyInfo> {
    let mut kept: Vec<ControlPolicy> = all.into_iter().filter(|p| keep(p)).collect();
    kept.sort_by(|a, b| {
        b.aws_managed
            .cmp(&a.aws_managed)
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    kept.iter().map(|p| policy_info(org, p)).collect()
}

/// A target as ListTargetsForPolicy shows it; `None` when it no longer exists.
fn target_info(
    tx: &mut Docs<'_>,
    org: &Organization,
    id: &str,
) -> Result<Option<TargetInfo>, IamError> {
    let Some(target) = find_target(tx, org, id)? else {
        return Ok(None);
    };
    let name = match &target {
        OrgTarget::Root(_) => super::ROOT_NAME.to_string(),
        OrgTarget::Unit(_) => tx
            .get::<OrgUnit>(table::OUS, id)?
            .map(|u| u.name)
            .unwrap_or_default(),
        OrgTarget::Account(_) => tx
            .get::<Account>(table::ACCOUNTS, id)?
            .map(|a| a.name)
            .unwrap_or_default(),
    };
    Ok(Some(TargetInfo {
        id: id.to_string(),
        arn: target_arn(org, id),
        name,
        kind: target.kind(),
    }))
}
