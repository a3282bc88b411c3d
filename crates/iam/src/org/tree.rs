//! The organization itself, its root and OUs, and walking the tree (children, parents).

use super::{
    check_length, check_parent_id, check_pattern, constraint, control_policies, fresh_id,
    invalid_input, is_account_id, is_ou_id, org_account, org_accounts, org_info, org_of_management,
    org_of_member, org_units, organization, ou_arn, ou_info, parent_arn, parent_exists,
    parent_not_found, put_organization, root_info, service_error, Node, OrgInfo, OuInfo, RootInfo,
    FULL_AWS_ACCESS, RCP_FULL_AWS_ACCESS, RCP_TYPE, SCP_TYPE,
};
use crate::auth::{Caller, RequestInfo};
use crate::model::{table, Account, ControlPolicy, OrgUnit, Organization};
use crate::{ids, Iam, IamError};
use store::Docs;

/// How deep OUs may nest under the root.
const MAX_OU_DEPTH: usize = 5;
const MAX_OUS: usize = 1000;

const FULL_AWS_ACCESS_CONTENT: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
const RCP_FULL_AWS_ACCESS_CONTENT: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}"#;

impl Iam {
    pub fn create_organization(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        feature_set: Option<&str>,
    ) -> Result<OrgInfo, IamError> {
        let feature_set = feature_set.unwrap_or("ALL");
        if feature_set != "ALL" && feature_set != "CONSOLIDATED_BILLING" {
            return Err(invalid_input(
                "INVALID_ENUM",
                "You specified an invalid value.",
            ));
        }
        self.org_allow(
            caller,
            info,
            "organizations:CreateOrganization",
            &["*"],
            None,
        )?;
        self.mutate(|tx| {
            if let Some(existing) = organization(tx)? {
                return Err(already_organized(tx, &existing, caller)?);
            }
            let org = Organization {
                id: format!("o-{}", ids::short_id(10)?),
                management_account_id: caller.account.clone(),
                root_id: format!("r-{}", ids::short_id(4)?),
                feature_set: feature_set.to_string(),
                enabled_policy_types: if feature_set == "ALL" {
                    vec![SCP_TYPE.to_string()]
                } else {
                    Vec::new()
                },
                created_ms: ids::now_ms(),
            };
            join_as_management(tx, &org)?;
            for p in aws_managed_policies(&org) {
                tx.put(table::CONTROL_POLICIES, &p.id, &p)?;
            }
            put_organization(tx, &org)?;
            org_info(tx, &org)
        })
    }

    pub fn describe_organization(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<OrgInfo, IamError> {
        self.read(|tx| {
            let org = org_of_member(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DescribeOrganization",
                &["*"],
                None,
            )?;
            org_info(tx, &org)
        })
    }

    /// Deletes the organization once no member account is left; its OUs, policies and
    /// account-creation records go with it.
    pub fn delete_organization(&self, caller: &Caller, info: &RequestInfo) -> Result<(), IamError> {
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(caller, info, "organizations:DeleteOrganization", &["*"], None)?;
            let accounts = org_accounts(tx)?;
            if accounts.iter().any(|a| a.id != org.management_account_id) {
                return Err(service_error(
                    "OrganizationNotEmptyException",
                    "The organization isn't empty. To delete an organization, you must first remove all accounts except the management account.",
                ));
            }
            for ou in org_units(tx)? {
                tx.delete(table::OUS, &ou.id)?;
            }
            for p in control_policies(tx)? {
                tx.delete(table::CONTROL_POLICIES, &p.id)?;
            }
            let requests: Vec<crate::model::CreateAccountRequest> =
                tx.scan(table::CREATE_ACCOUNT_REQUESTS, "")?;
            for r in requests {
                tx.delete(table::CREATE_ACCOUNT_REQUESTS, &r.id)?;
            }
            for mut a in accounts {
                a.parent_id = None;
                tx.put(table::ACCOUNTS, &a.id.clone(), &a)?;
            }
            tx.delete(table::ORG, super::ORG_KEY)?;
            Ok(())
        })
    }

    pub fn list_roots(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<Vec<RootInfo>, IamError> {
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(caller, info, "organizations:ListRoots", &["*"], None)?;
            Ok(vec![root_info(&org)])
        })
    }

    pub fn create_organizational_unit(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        parent_id: &str,
        name: &str,
    ) -> Result<OuInfo, IamError> {
        check_parent_id(parent_id)?;
        check_length(name, 1, 128)?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:CreateOrganizationalUnit",
                &[&parent_arn(&org, parent_id)],
                None,
            )?;
            if !parent_exists(tx, &org, parent_id)? {
                return Err(parent_not_found());
            }
            let units = org_units(tx)?;
            if depth(&org, &units, parent_id) >= MAX_OU_DEPTH {
                return Err(constraint(
                    "OU_DEPTH_LIMIT_EXCEEDED",
                    "You attempted to create an OU tree that is too many levels deep.",
                ));
            }
            if units.len() >= MAX_OUS {
                return Err(constraint(
                    "OU_NUMBER_LIMIT_EXCEEDED",
                    "You attempted to exceed the number of OUs that you can have in an organization.",
                ));
            }
            if units
                .iter()
                .any(|u| u.parent_id == parent_id && u.name == name)
            {
                return Err(duplicate_ou());
            }
            let suffix = org.root_id.trim_start_matches("r-");
            let id = fresh_id(&format!("ou-{suffix}-"), 8, |id| {
                Ok(units.iter().any(|u| u.id == id))
            })?;
            let ou = OrgUnit {
                id: id.clone(),
                name: name.to_string(),
                parent_id: parent_id.to_string(),
            };
            tx.put(table::OUS, &id, &ou)?;
            attach_defaults(tx, &org, &id)?;
            ou_info(tx, &org, &ou)
        })
    }

    pub fn describe_organizational_unit(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        ou_id: &str,
    ) -> Result<OuInfo, IamError> {
        check_pattern(is_ou_id(ou_id))?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DescribeOrganizationalUnit",
                &[&ou_arn(&org, ou_id)],
                None,
            )?;
            let ou = load_ou(tx, ou_id)?;
            ou_info(tx, &org, &ou)
        })
    }

    /// Renames an OU; without a name it changes nothing and reports the OU.
    pub fn update_organizational_unit(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        ou_id: &str,
        name: Option<&str>,
    ) -> Result<OuInfo, IamError> {
        check_pattern(is_ou_id(ou_id))?;
        if let Some(name) = name {
            check_length(name, 1, 128)?;
        }
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:UpdateOrganizationalUnit",
                &[&ou_arn(&org, ou_id)],
                None,
            )?;
            let mut ou = load_ou(tx, ou_id)?;
            if let Some(name) = name {
                let taken = org_units(tx)?
                    .iter()
                    .any(|u| u.parent_id == ou.parent_id && u.name == name && u.id != ou.id);
                if taken {
                    return Err(duplicate_ou());
                }
                ou.name = name.to_string();
                tx.put(table::OUS, &ou.id, &ou)?;
            }
            ou_info(tx, &org, &ou)
        })
    }

    /// Deletes an empty OU and its policy attachments.
    pub fn delete_organizational_unit(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        ou_id: &str,
    ) -> Result<(), IamError> {
        check_pattern(is_ou_id(ou_id))?;
        self.mutate(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:DeleteOrganizationalUnit",
                &[&ou_arn(&org, ou_id)],
                None,
            )?;
            let ou = load_ou(tx, ou_id)?;
            let has_units = org_units(tx)?.iter().any(|u| u.parent_id == ou.id);
            let has_accounts = org_accounts(tx)?
                .iter()
                .any(|a| a.parent_id.as_deref() == Some(&ou.id));
            if has_units || has_accounts {
                return Err(service_error(
                    "OrganizationalUnitNotEmptyException",
                    "The specified OU is not empty. Move all accounts to another root or to other OUs, remove all child OUs, and try the operation again.",
                ));
            }
            detach_all_from(tx, &ou.id)?;
            tx.delete(table::OUS, &ou.id)?;
            Ok(())
        })
    }

    pub fn list_organizational_units_for_parent(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        parent_id: &str,
    ) -> Result<Vec<OuInfo>, IamError> {
        check_parent_id(parent_id)?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListOrganizationalUnitsForParent",
                &[&parent_arn(&org, parent_id)],
                None,
            )?;
            if !parent_exists(tx, &org, parent_id)? {
                return Err(parent_not_found());
            }
            let mut out = Vec::new();
            for ou in org_units(tx)?.iter().filter(|u| u.parent_id == parent_id) {
                out.push(ou_info(tx, &org, ou)?);
            }
            out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    /// Accounts or OUs directly under a root or OU (`child_type` `ACCOUNT` or
    /// `ORGANIZATIONAL_UNIT`).
    pub fn list_children(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        parent_id: &str,
        child_type: &str,
    ) -> Result<Vec<Node>, IamError> {
        check_parent_id(parent_id)?;
        if child_type != "ACCOUNT" && child_type != "ORGANIZATIONAL_UNIT" {
            return Err(invalid_input(
                "INVALID_ENUM",
                "You specified an invalid value.",
            ));
        }
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListChildren",
                &[&parent_arn(&org, parent_id)],
                None,
            )?;
            if !parent_exists(tx, &org, parent_id)? {
                return Err(parent_not_found());
            }
            let ids: Vec<String> = if child_type == "ACCOUNT" {
                org_accounts(tx)?
                    .into_iter()
                    .filter(|a| a.parent_id.as_deref() == Some(parent_id))
                    .map(|a| a.id)
                    .collect()
            } else {
                org_units(tx)?
                    .into_iter()
                    .filter(|u| u.parent_id == parent_id)
                    .map(|u| u.id)
                    .collect()
            };
            let kind = if child_type == "ACCOUNT" {
                "ACCOUNT"
            } else {
                "ORGANIZATIONAL_UNIT"
            };
            Ok(ids.into_iter().map(|id| Node { id, kind }).collect())
        })
    }

    /// The root or OU directly above an account or OU.
    pub fn list_parents(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        child_id: &str,
    ) -> Result<Vec<Node>, IamError> {
        check_pattern(is_account_id(child_id) || is_ou_id(child_id))?;
        self.read(|tx| {
            let org = org_of_management(tx, caller)?;
            self.org_allow(
                caller,
                info,
                "organizations:ListParents",
                &[&super::target_arn(&org, child_id)],
                None,
            )?;
            let parent = if is_account_id(child_id) {
                org_account(tx, child_id)?.and_then(|a| a.parent_id)
            } else {
                tx.get::<OrgUnit>(table::OUS, child_id)?
                    .map(|u| u.parent_id)
            };
            let parent = parent.ok_or_else(|| {
                service_error(
                    "ChildNotFoundException",
                    "We can't find an organizational unit (OU) or Amazon Web Services account with the ChildId that you specified.",
                )
            })?;
            let kind = if parent == org.root_id {
                "ROOT"
            } else {
                "ORGANIZATIONAL_UNIT"
            };
            Ok(vec![Node { id: parent, kind }])
        })
    }
}

/// Why CreateOrganization fails when an organization exists already.
fn already_organized(
    tx: &mut Docs<'_>,
    org: &Organization,
    caller: &Caller,
) -> Result<IamError, IamError> {
    if caller.account == org.management_account_id || org_account(tx, &caller.account)?.is_some() {
        return Ok(service_error(
            "AlreadyInOrganizationException",
            "The AWS account is already a member of an organization.",
        ));
    }
    // One Sesame store holds one organization.
    Ok(constraint(
        "ACCOUNT_NUMBER_LIMIT_EXCEEDED",
        "This Sesame server already hosts an organization; add accounts to it with CreateAccount.",
    ))
}

/// Puts the management account in the root as of now.
fn join_as_management(tx: &mut Docs<'_>, org: &Organization) -> Result<(), IamError> {
    let id = &org.management_account_id;
    let mut account = tx
        .get::<Account>(table::ACCOUNTS, id)?
        .unwrap_or_else(|| Account {
            id: id.clone(),
            name: "management".to_string(),
            email: format!("root@{id}.sesame.local"),
            joined_ms: org.created_ms,
            parent_id: None,
            joined_method: "MANAGEMENT".to_string(),
        });
    account.parent_id = Some(org.root_id.clone());
    account.joined_ms = org.created_ms;
    tx.put(table::ACCOUNTS, id, &account)?;
    Ok(())
}

/// FullAWSAccess (attached to the root and the management account when SCPs start
/// enabled) and RCPFullAWSAccess.
fn aws_managed_policies(org: &Organization) -> [ControlPolicy; 2] {
    let scp_targets = if org.enabled_policy_types.iter().any(|t| t == SCP_TYPE) {
        vec![org.root_id.clone(), org.management_account_id.clone()]
    } else {
        Vec::new()
    };
    [
        ControlPolicy {
            id: FULL_AWS_ACCESS.to_string(),
            name: "FullAWSAccess".to_string(),
            description: "Allows access to every operation".to_string(),
            kind: SCP_TYPE.to_string(),
            content: FULL_AWS_ACCESS_CONTENT.to_string(),
            aws_managed: true,
            targets: scp_targets,
        },
        ControlPolicy {
            id: RCP_FULL_AWS_ACCESS.to_string(),
            name: "RCPFullAWSAccess".to_string(),
            description: "Allows access to every operation".to_string(),
            kind: RCP_TYPE.to_string(),
            content: RCP_FULL_AWS_ACCESS_CONTENT.to_string(),
            aws_managed: true,
            targets: Vec::new(),
        },
    ]
}

/// The default policy of each enabled SCP/RCP type, for a new OU or account.
pub(super) fn attach_defaults(
    tx: &mut Docs<'_>,
    org: &Organization,
    target: &str,
) -> Result<(), IamError> {
    for (kind, id) in [(SCP_TYPE, FULL_AWS_ACCESS), (RCP_TYPE, RCP_FULL_AWS_ACCESS)] {
        if !org.enabled_policy_types.iter().any(|t| t == kind) {
            continue;
        }
        if let Some(mut p) = tx.get::<ControlPolicy>(table::CONTROL_POLICIES, id)? {
            if !p.targets.iter().any(|t| t == target) {
                p.targets.push(target.to_string());
                tx.put(table::CONTROL_POLICIES, id, &p)?;
            }
        }
    }
    Ok(())
}

/// Removes `target` from every policy's attachments.
fn detach_all_from(tx: &mut Docs<'_>, target: &str) -> Result<(), IamError> {
    for mut p in control_policies(tx)? {
        if p.targets.iter().any(|t| t == target) {
            p.targets.retain(|t| t != target);
            tx.put(table::CONTROL_POLICIES, &p.id.clone(), &p)?;
        }
    }
    Ok(())
}

/// How many OUs deep `parent_id` is (the root is 0).
fn depth(org: &Organization, units: &[OrgUnit], parent_id: &str) -> usize {
    let mut depth = 0;
    let mut current = parent_id;
    while current != org.root_id && depth <= MAX_OU_DEPTH {
        match units.iter().find(|u| u.id == current) {
            Some(u) => {
                depth += 1;
                current = &u.parent_id;
            }
            None => break,
        }
    }
    depth
}

fn load_ou(tx: &mut Docs<'_>, ou_id: &str) -> Result<OrgUnit, IamError> {
    tx.get::<OrgUnit>(table::OUS, ou_id)?.ok_or_else(|| {
        service_error(
            "OrganizationalUnitNotFoundException",
            "We can't find an OU with the OrganizationalUnitId that you specified.",
        )
    })
}

fn duplicate_ou() -> IamError {
    service_error(
        "DuplicateOrganizationalUnitException",
        "An OU with the same name already exists.",
    )
}
