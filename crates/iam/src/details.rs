//! Account-wide reports: GetAccountAuthorizationDetails (every user, group, role and
//! managed policy with their relationships), ListEntitiesForPolicy and
//! GetAccountSummary.

use crate::auth::{Caller, RequestInfo};
use crate::model::{table, AccessKey, Group, ManagedPolicy, Permissions, Role, User};
use crate::{managed, Iam, IamError};
use store::Docs;

/// The entity types of GetAccountAuthorizationDetails' `Filter` and
/// ListEntitiesForPolicy's `EntityFilter`.
pub const ENTITY_TYPES: &[&str] = &[
    "User",
    "Role",
    "Group",
    "LocalManagedPolicy",
    "AWSManagedPolicy",
];

/// A managed policy with how many entities use it.
#[derive(Debug, Clone)]
pub struct PolicyUsage {
    pub policy: ManagedPolicy,
    pub attachment_count: usize,
    pub boundary_count: usize,
}

/// GetAccountAuthorizationDetails' result.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationDetails {
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub roles: Vec<Role>,
    pub policies: Vec<PolicyUsage>,
}

/// ListEntitiesForPolicy's result: (name, id) of each entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyEntities {
    pub users: Vec<(String, String)>,
    pub groups: Vec<(String, String)>,
    pub roles: Vec<(String, String)>,
}

/// Every user, group and role of an account.
struct Entities {
    users: Vec<User>,
    groups: Vec<Group>,
    roles: Vec<Role>,
}

impl Entities {
    fn load(tx: &mut Docs<'_>, account: &str) -> Result<Entities, IamError> {
        let prefix = format!("{account}/");
        Ok(Entities {
            users: tx.scan(table::USERS, &prefix)?,
            groups: tx.scan(table::GROUPS, &prefix)?,
            roles: tx.scan(table::ROLES, &prefix)?,
        })
    }

    /// (attachments, boundary uses) of a managed policy.
    fn usage(&self, arn: &str) -> (usize, usize) {
        let attached = |p: &Permissions| p.attached.iter().any(|a| a == arn);
        let bounds = |b: &Option<String>| b.as_deref() == Some(arn);
        let attachments = self
            .users
            .iter()
            .filter(|u| attached(&u.permissions))
            .count()
            + self
                .groups
                .iter()
                .filter(|g| attached(&g.permissions))
                .count()
            + self
                .roles
                .iter()
                .filter(|r| attached(&r.permissions))
                .count();
        let boundaries = self.users.iter().filter(|u| bounds(&u.boundary)).count()
            + self.roles.iter().filter(|r| bounds(&r.boundary)).count();
        (attachments, boundaries)
    }
}

impl Iam {
    /// Users, groups, roles and managed policies of the caller's account, limited to
    /// the entity types in `filter` (all when empty). Customer managed policies are
    /// all listed; AWS managed ones only when something in the account uses them.
    pub fn authorization_details(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        filter: &[String],
    ) -> Result<AuthorizationDetails, IamError> {
        self.allow(caller, info, "iam:GetAccountAuthorizationDetails", "*")?;
        for f in filter {
            check_entity_type(f, "filter")?;
        }
        let wants = |t: &str| filter.is_empty() || filter.iter().any(|f| f == t);
        let (entities, local) = self.read(|tx| {
            let prefix = format!("arn:aws:iam::{}:policy/", caller.account);
            Ok((
                Entities::load(tx, &caller.account)?,
                tx.scan::<ManagedPolicy>(table::POLICIES, &prefix)?,
            ))
        })?;
        let mut policies = Vec::new();
        let mut add = |policy: ManagedPolicy, only_used: bool| {
            let (attachment_count, boundary_count) = entities.usage(&policy.arn);
            if !only_used || attachment_count + boundary_count > 0 {
                policies.push(PolicyUsage {
                    policy,
                    attachment_count,
                    boundary_count,
                });
            }
        };
        if wants("AWSManagedPolicy") {
            managed::all_aws_managed()
                .into_iter()
                .for_each(|p| add(p, true));
        }
        if wants("LocalManagedPolicy") {
            local.into_iter().for_each(|p| add(p, false));
        }
        let Entities {
            users,
            groups,
            roles,
        } = entities;
        Ok(AuthorizationDetails {
            users: if wants("User") { users } else { Vec::new() },
            groups: if wants("Group") { groups } else { Vec::new() },
            roles: if wants("Role") { roles } else { Vec::new() },
            policies,
        })
    }

    /// The users, groups and roles a managed policy is attached to (or is the
    /// permissions boundary of, with `usage` = `PermissionsBoundary`).
    pub fn entities_for_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
        entity_filter: Option<&str>,
        path_prefix: Option<&str>,
        usage: Option<&str>,
    ) -> Result<PolicyEntities, IamError> {
        self.allow(caller, info, "iam:ListEntitiesForPolicy", arn)?;
        if let Some(f) = entity_filter {
            check_entity_type(f, "entityFilter")?;
        }
        let boundary = match usage {
            None | Some("PermissionsPolicy") => false,
            Some("PermissionsBoundary") => true,
            Some(other) => {
                return Err(IamError::Validation(format!(
                    "1 validation error detected: Value '{other}' at 'policyUsageFilter' failed to satisfy constraint: Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]"
                )))
            }
        };
        let entities = self.read(|tx| {
            let visible = managed::find(tx, arn)?
                .is_some_and(|p| p.account == "aws" || p.account == caller.account);
            if !visible {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} does not exist or is not attachable."
                )));
            }
            Entities::load(tx, &caller.account)
        })?;
        let prefix = path_prefix.unwrap_or("/");
        let wants = |t: &str| entity_filter.is_none_or(|f| f == t);
        let holds = |p: &Permissions, b: &Option<String>| {
            if boundary {
                b.as_deref() == Some(arn)
            } else {
                p.attached.iter().any(|a| a == arn)
            }
        };
        let mut out = PolicyEntities::default();
        if wants("User") {
            out.users = entities
                .users
                .iter()
                .filter(|u| u.path.starts_with(prefix) && holds(&u.permissions, &u.boundary))
                .map(|u| (u.name.clone(), u.id.clone()))
                .collect();
        }
        if wants("Group") && !boundary {
            out.groups = entities
                .groups
                .iter()
                .filter(|g| g.path.starts_with(prefix) && holds(&g.permissions, &None))
                .map(|g| (g.name.clone(), g.id.clone()))
                .collect();
        }
        if wants("Role") {
            out.roles = entities
                .roles
                .iter()
                .filter(|r| r.path.starts_with(prefix) && holds(&r.permissions, &r.boundary))
                .map(|r| (r.name.clone(), r.id.clone()))
                .collect();
        }
        Ok(out)
    }

    /// GetAccountSummary's `SummaryMap`: entity counts and IAM's quotas.
    pub fn account_summary(
        &self,
        caller: &Caller,
        info: &RequestInfo,
    ) -> Result<Vec<(&'static str, i64)>, IamError> {
        self.allow(caller, info, "iam:GetAccountSummary", "*")?;
        let (entities, local, keys) = self.read(|tx| {
            let prefix = format!("arn:aws:iam::{}:policy/", caller.account);
            Ok((
                Entities::load(tx, &caller.account)?,
                tx.scan::<ManagedPolicy>(table::POLICIES, &prefix)?,
                tx.scan::<AccessKey>(table::ACCESS_KEYS, "")?,
            ))
        })?;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let versions: usize = local.iter().map(|p| p.versions.len()).sum();
        let root_keys = keys
            .iter()
            .any(|k| k.account == caller.account && k.user.is_empty());
        Ok(vec![
            ("Users", count(entities.users.len())),
            ("UsersQuota", 5000),
            ("Groups", count(entities.groups.len())),
            ("GroupsQuota", 300),
            ("Roles", count(entities.roles.len())),
            ("RolesQuota", 1000),
            ("Policies", count(local.len())),
            ("PoliciesQuota", 1500),
            ("PolicyVersionsInUse", count(versions)),
            ("PolicyVersionsInUseQuota", 10000),
            ("VersionsPerPolicyQuota", 5),
            ("PolicySizeQuota", 6144),
            ("UserPolicySizeQuota", 2048),
            ("GroupPolicySizeQuota", 5120),
            ("RolePolicySizeQuota", 10240),
            ("AssumeRolePolicySizeQuota", 2048),
            ("GroupsPerUserQuota", 10),
            ("AttachedPoliciesPerUserQuota", 10),
            ("AttachedPoliciesPerGroupQuota", 10),
            ("AttachedPoliciesPerRoleQuota", 10),
            ("AccessKeysPerUserQuota", 2),
            ("AccountAccessKeysPresent", i64::from(root_keys)),
            ("AccountMFAEnabled", 0),
            ("MFADevices", 0),
            ("MFADevicesInUse", 0),
            ("ServerCertificates", 0),
            ("ServerCertificatesQuota", 20),
            ("InstanceProfiles", 0),
            ("InstanceProfilesQuota", 1000),
            ("Providers", 0),
            ("GlobalEndpointTokenVersion", 1),
        ])
    }
}

fn check_entity_type(value: &str, field: &str) -> Result<(), IamError> {
    if ENTITY_TYPES.contains(&value) {
        return Ok(());
    }
    Err(IamError::Validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy enum value set: [{}]",
        ENTITY_TYPES.join(", ")
    )))
}
