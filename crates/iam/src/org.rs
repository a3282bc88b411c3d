//! Organizations: the organization, its root and OUs, member accounts, and the service
//! control policies that filter what member accounts may do.

use crate::model::{table, Account, ControlPolicy, OrgUnit, Organization};
use crate::{Iam, IamError};
use std::sync::Arc;
use store::Docs;

/// Where a control policy can be attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgTarget {
    Root(String),
    Unit(String),
    Account(String),
}

/// What the organization means for one account's requests.
pub(crate) struct Membership {
    pub org_id: Option<String>,
    /// SCP levels (root, each OU down the path, the account), when SCPs apply.
    pub scps: Option<Vec<Vec<Arc<policy::Policy>>>>,
}

pub(crate) const SCP_TYPE: &str = "SERVICE_CONTROL_POLICY";
const ORG_KEY: &str = "org";

pub(crate) fn organization(tx: &mut Docs<'_>) -> Result<Option<Organization>, IamError> {
    Ok(tx.get::<Organization>(table::ORG, ORG_KEY)?)
}

/// The organization and SCP levels for `account`. SCPs never restrict the management
/// account, and apply only once the SCP policy type is enabled.
pub(crate) fn membership(
    iam: &Iam,
    tx: &mut Docs<'_>,
    account: &str,
) -> Result<Membership, IamError> {
    let Some(org) = organization(tx)? else {
        return Ok(Membership {
            org_id: None,
            scps: None,
        });
    };
    let Some(acct) = tx.get::<Account>(table::ACCOUNTS, account)? else {
        return Ok(Membership {
            org_id: None,
            scps: None,
        });
    };
    let is_member = acct.parent_id.is_some() || account == org.management_account_id;
    if !is_member {
        return Ok(Membership {
            org_id: None,
            scps: None,
        });
    }
    let applies = account != org.management_account_id
        && org.enabled_policy_types.iter().any(|t| t == SCP_TYPE);
    let scps = if applies {
        let mut levels = Vec::new();
        for target in path_to(tx, &org, &acct)? {
            levels.push(control_policies_for(iam, tx, &target)?);
        }
        Some(levels)
    } else {
        None
    };
    Ok(Membership {
        org_id: Some(org.id),
        scps,
    })
}

/// Targets from the root down to the account: root, OUs, account.
fn path_to(tx: &mut Docs<'_>, org: &Organization, acct: &Account) -> Result<Vec<String>, IamError> {
    let mut chain = vec![acct.id.clone()];
    let mut parent = acct.parent_id.clone();
    let mut guard = 0;
    while let Some(p) = parent {
        chain.push(p.clone());
        if p == org.root_id || guard > 10 {
            break;
        }
        guard += 1;
        parent = tx.get::<OrgUnit>(table::OUS, &p)?.map(|ou| ou.parent_id);
    }
    chain.reverse();
    Ok(chain)
}

fn control_policies_for(
    iam: &Iam,
    tx: &mut Docs<'_>,
    target: &str,
) -> Result<Vec<Arc<policy::Policy>>, IamError> {
    let all: Vec<ControlPolicy> = tx.scan(table::CONTROL_POLICIES, "")?;
    all.iter()
        .filter(|p| p.kind == SCP_TYPE && p.targets.iter().any(|t| t == target))
        .map(|p| {
            Ok(Arc::new(
                (*iam.compile(&p.content)?).clone().with_name(p.id.clone()),
            ))
        })
        .collect()
}
