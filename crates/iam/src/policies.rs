//! Inline policies and managed-policy attachments of users, groups and roles (one
//! code path for the three), customer managed policies with versions, and
//! permissions boundaries.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, Group, ManagedPolicy, Permissions, PolicyVersion, Role, User};
use crate::{ids, managed, Iam, IamError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use store::Docs;

/// Users, groups and roles all carry permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntityKind {
    User,
    Group,
    Role,
}

impl EntityKind {
    fn table(self) -> &'static str {
        match self {
            EntityKind::User => table::USERS,
            EntityKind::Group => table::GROUPS,
            EntityKind::Role => table::ROLES,
        }
    }

    /// The word used in ARNs, actions and messages: `user`, `group`, `role`.
    pub fn word(self) -> &'static str {
        match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
        }
    }

    /// `User`, `Group`, `Role` as in action names (`iam:PutUserPolicy`).
    pub fn title(self) -> &'static str {
        match self {
            EntityKind::User => "User",
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
        }
    }
}

/// An entity that holds permissions.
trait Holder: Serialize + DeserializeOwned {
    fn permissions(&mut self) -> &mut Permissions;
    fn boundary(&mut self) -> Option<&mut Option<String>>;
    fn path(&self) -> &str;
    fn name(&self) -> &str;
}

/// Implements [`Holder`] for a record with `permissions`, `path` and `name` fields;
/// `$boundary` is the boundary accessor's body, with `$record` bound to `self`.
macro_rules! holder {
    ($t:ty, |$record:ident| $boundary:expr) => {
        impl Holder for $t {
            fn permissions(&mut self) -> &mut Permissions {
                &mut self.permissions
            }
            fn boundary(&mut self) -> Option<&mut Option<String>> {
                let $record = self;
                $boundary
            }
            fn path(&self) -> &str {
                &self.path
            }
            fn name(&self) -> &str {
                &self.name
            }
        }
    };
}

holder!(User, |user| Some(&mut user.boundary));
holder!(Role, |role| Some(&mut role.boundary));
holder!(Group, |_group| None);

/// What to change on an entity.
enum Change<'a> {
    PutInline(&'a str, &'a str),
    DeleteInline(&'a str),
    Attach(&'a str),
    Detach(&'a str),
    Boundary(Option<&'a str>),
}

impl Iam {
    pub fn put_inline_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        name: &str,
        document: &str,
    ) -> Result<(), IamError> {
        crate::users::validate_name(name, 128, "policyName")?;
        self.check_document(document)?;
        self.change(
            caller,
            info,
            kind,
            entity,
            &format!("iam:Put{}Policy", kind.title()),
            Change::PutInline(name, document),
        )
    }

    pub fn delete_inline_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        name: &str,
    ) -> Result<(), IamError> {
        self.change(
            caller,
            info,
            kind,
            entity,
            &format!("iam:Delete{}Policy", kind.title()),
            Change::DeleteInline(name),
        )
    }

    pub fn attach_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        arn: &str,
    ) -> Result<(), IamError> {
        self.managed_policy(arn)?;
        self.change(
            caller,
            info,
            kind,
            entity,
            &format!("iam:Attach{}Policy", kind.title()),
            Change::Attach(arn),
        )
    }

    pub fn detach_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        arn: &str,
    ) -> Result<(), IamError> {
        self.change(
            caller,
            info,
            kind,
            entity,
            &format!("iam:Detach{}Policy", kind.title()),
            Change::Detach(arn),
        )
    }

    /// Sets (`Some`) or removes (`None`) the permissions boundary of a user or role.
    pub fn set_boundary(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        arn: Option<&str>,
    ) -> Result<(), IamError> {
        let verb = if arn.is_some() { "Put" } else { "Delete" };
        if let Some(arn) = arn {
            self.managed_policy(arn)?;
        }
        self.change(
            caller,
            info,
            kind,
            entity,
            &format!("iam:{verb}{}PermissionsBoundary", kind.title()),
            Change::Boundary(arn),
        )
    }

    /// Inline policy document of an entity.
    pub fn get_inline_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        name: &str,
    ) -> Result<String, IamError> {
        let perms = self.entity_permissions(
            caller,
            info,
            kind,
            entity,
            &format!("iam:Get{}Policy", kind.title()),
        )?;
        perms
            .inline
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "The {} policy with name {name} cannot be found.",
                    kind.word()
                ))
            })
    }

    /// Inline policy names and attached policy ARNs of an entity.
    pub fn list_entity_policies(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        attached: bool,
    ) -> Result<Permissions, IamError> {
        let action = if attached {
            format!("iam:ListAttached{}Policies", kind.title())
        } else {
            format!("iam:List{}Policies", kind.title())
        };
        self.entity_permissions(caller, info, kind, entity, &action)
    }

    fn entity_permissions(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        action: &str,
    ) -> Result<Permissions, IamError> {
        let key = model::entity_key(&caller.account, entity);
        let doc: Option<serde_json::Value> = self.read(|tx| Ok(tx.get(kind.table(), &key)?))?;
        let doc = doc.ok_or_else(|| not_found(kind, entity))?;
        let path = doc.get("path").and_then(|p| p.as_str()).unwrap_or("/");
        let name = doc.get("name").and_then(|p| p.as_str()).unwrap_or(entity);
        self.allow(
            caller,
            info,
            action,
            &model::iam_arn(&caller.account, kind.word(), path, name),
        )?;
        serde_json::from_value(doc.get("permissions").cloned().unwrap_or_default())
            .map_err(|e| IamError::Validation(e.to_string()))
    }

    fn change(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        action: &str,
        change: Change<'_>,
    ) -> Result<(), IamError> {
        match kind {
            EntityKind::User => {
                self.change_holder::<User>(caller, info, kind, entity, action, change)
            }
            EntityKind::Group => {
                self.change_holder::<Group>(caller, info, kind, entity, action, change)
            }
            EntityKind::Role => {
                self.change_holder::<Role>(caller, info, kind, entity, action, change)
            }
        }
    }

    fn change_holder<H: Holder>(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        entity: &str,
        action: &str,
        change: Change<'_>,
    ) -> Result<(), IamError> {
        let key = model::entity_key(&caller.account, entity);
        let current: H = self
            .read(|tx| Ok(tx.get::<H>(kind.table(), &key)?))?
            .ok_or_else(|| not_found(kind, entity))?;
        self.allow(
            caller,
            info,
            action,
            &model::iam_arn(&caller.account, kind.word(), current.path(), current.name()),
        )?;
        self.mutate(|tx| {
            let mut h: H = tx
                .get(kind.table(), &key)?
                .ok_or_else(|| not_found(kind, entity))?;
            apply(&mut h, kind, change)?;
            tx.put(kind.table(), &key, &h)?;
            Ok(())
        })
    }

    /// Rejects documents the engine cannot compile, with IAM's error.
    fn check_document(&self, document: &str) -> Result<(), IamError> {
        if document.len() > 10_240 {
            return Err(IamError::LimitExceeded(
                "Cannot exceed quota for PolicySize: 10240".into(),
            ));
        }
        let compiled = self.compile(document)?;
        if compiled.statements.iter().any(|st| st.principal.is_some()) {
            return Err(IamError::MalformedPolicyDocument(
                "Policy document should not specify a principal.".into(),
            ));
        }
        Ok(())
    }

    pub fn managed_policy(&self, arn: &str) -> Result<ManagedPolicy, IamError> {
        self.read(|tx| managed::find(tx, arn))?.ok_or_else(|| {
            IamError::NoSuchEntity(format!("Policy {arn} does not exist or is not attachable."))
        })
    }

    pub fn create_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        path: Option<&str>,
        document: &str,
        description: &str,
    ) -> Result<ManagedPolicy, IamError> {
        crate::users::validate_name(name, 128, "policyName")?;
        let path = crate::users::validate_path(path)?;
        let arn = model::iam_arn(&caller.account, "policy", &path, name);
        self.allow(caller, info, "iam:CreatePolicy", &arn)?;
        self.check_document(document)?;
        let now = ids::now_ms();
        let policy = ManagedPolicy {
            arn: arn.clone(),
            account: caller.account.clone(),
            name: name.to_string(),
            path,
            id: ids::unique_id("ANPA")?,
            description: description.to_string(),
            created_ms: now,
            updated_ms: now,
            default_version: "v1".into(),
            versions: vec![PolicyVersion {
                id: "v1".into(),
                document: document.to_string(),
                created_ms: now,
            }],
            next_version: 2,
        };
        self.mutate(|tx| {
            if tx.get::<ManagedPolicy>(table::POLICIES, &arn)?.is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "A policy called {name} already exists. Duplicate names are not allowed."
                )));
            }
            tx.put(table::POLICIES, &arn, &policy)?;
            Ok(policy)
        })
    }

    pub fn get_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
    ) -> Result<ManagedPolicy, IamError> {
        self.allow(caller, info, "iam:GetPolicy", arn)?;
        self.managed_policy(arn)
    }

    pub fn list_policies(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        scope: &str,
    ) -> Result<Vec<ManagedPolicy>, IamError> {
        self.allow(caller, info, "iam:ListPolicies", "*")?;
        let mut out = Vec::new();
        if scope != "Local" {
            out.extend(managed::all_aws_managed());
        }
        if scope != "AWS" {
            let prefix = format!("arn:aws:iam::{}:policy/", caller.account);
            out.extend(self.read(|tx| Ok(tx.scan::<ManagedPolicy>(table::POLICIES, &prefix)?))?);
        }
        Ok(out)
    }

    pub fn delete_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
    ) -> Result<(), IamError> {
        self.allow(caller, info, "iam:DeletePolicy", arn)?;
        self.mutate(|tx| {
            let policy = tx
                .get::<ManagedPolicy>(table::POLICIES, arn)?
                .filter(|p| p.account == caller.account);
            if policy.is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            if attachment_count(tx, &caller.account, arn)? > 0 {
                return Err(IamError::DeleteConflict(
                    "Cannot delete a policy attached to entities.".into(),
                ));
            }
            tx.delete(table::POLICIES, arn)?;
            Ok(())
        })
    }

    pub fn create_policy_version(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
        document: &str,
        set_default: bool,
    ) -> Result<PolicyVersion, IamError> {
        self.allow(caller, info, "iam:CreatePolicyVersion", arn)?;
        self.check_document(document)?;
        self.mutate(|tx| {
            let mut p = own_policy(tx, &caller.account, arn)?;
            if p.versions.len() >= 5 {
                return Err(IamError::LimitExceeded("A managed policy can have up to 5 versions. Before you create a new version, you must delete an existing version.".into()));
            }
            let version = PolicyVersion { id: format!("v{}", p.next_version), document: document.to_string(), created_ms: ids::now_ms() };
            p.next_version += 1;
            if set_default {
                p.default_version = version.id.clone();
            }
            p.updated_ms = version.created_ms;
            p.versions.push(version.clone());
            tx.put(table::POLICIES, arn, &p)?;
            Ok(version)
        })
    }

    pub fn set_default_policy_version(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
        version: &str,
    ) -> Result<(), IamError> {
        self.allow(caller, info, "iam:SetDefaultPolicyVersion", arn)?;
        self.mutate(|tx| {
            let mut p = own_policy(tx, &caller.account, arn)?;
            if !p.versions.iter().any(|v| v.id == version) {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version} does not exist or is not attachable."
                )));
            }
            p.default_version = version.to_string();
            tx.put(table::POLICIES, arn, &p)?;
            Ok(())
        })
    }

    pub fn delete_policy_version(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
        version: &str,
    ) -> Result<(), IamError> {
        self.allow(caller, info, "iam:DeletePolicyVersion", arn)?;
        self.mutate(|tx| {
            let mut p = own_policy(tx, &caller.account, arn)?;
            if p.default_version == version {
                return Err(IamError::DeleteConflict(
                    "Cannot delete the default version of a policy.".into(),
                ));
            }
            let before = p.versions.len();
            p.versions.retain(|v| v.id != version);
            if p.versions.len() == before {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version} does not exist or is not attachable."
                )));
            }
            tx.put(table::POLICIES, arn, &p)?;
            Ok(())
        })
    }

    pub fn get_policy_version(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        arn: &str,
        version: &str,
    ) -> Result<PolicyVersion, IamError> {
        self.allow(caller, info, "iam:GetPolicyVersion", arn)?;
        let p = self.managed_policy(arn)?;
        p.versions
            .into_iter()
            .find(|v| v.id == version)
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!(
                    "Policy {arn} version {version} does not exist or is not attachable."
                ))
            })
    }
}

fn own_policy(tx: &mut Docs<'_>, account: &str, arn: &str) -> Result<ManagedPolicy, IamError> {
    tx.get::<ManagedPolicy>(table::POLICIES, arn)?
        .filter(|p| p.account == account)
        .ok_or_else(|| IamError::NoSuchEntity(format!("Policy {arn} was not found.")))
}

/// How many users, groups and roles of `account` have `arn` attached or as boundary.
fn attachment_count(tx: &mut Docs<'_>, account: &str, arn: &str) -> Result<usize, IamError> {
    let prefix = format!("{account}/");
    let users: Vec<User> = tx.scan(table::USERS, &prefix)?;
    let groups: Vec<Group> = tx.scan(table::GROUPS, &prefix)?;
    let roles: Vec<Role> = tx.scan(table::ROLES, &prefix)?;
    let holds = |p: &Permissions, b: Option<&String>| {
        p.attached.iter().any(|a| a == arn) || b.is_some_and(|b| b == arn)
    };
    Ok(users
        .iter()
        .filter(|u| holds(&u.permissions, u.boundary.as_ref()))
        .count()
        + groups
            .iter()
            .filter(|g| holds(&g.permissions, None))
            .count()
        + roles
            .iter()
            .filter(|r| holds(&r.permissions, r.boundary.as_ref()))
            .count())
}

fn apply<H: Holder>(h: &mut H, kind: EntityKind, change: Change<'_>) -> Result<(), IamError> {
    match change {
        Change::PutInline(name, doc) => {
            h.permissions()
                .inline
                .insert(name.to_string(), doc.to_string());
        }
        Change::DeleteInline(name) => {
            if h.permissions().inline.remove(name).is_none() {
                return Err(IamError::NoSuchEntity(format!(
                    "The {} policy with name {name} cannot be found.",
                    kind.word()
                )));
            }
        }
        Change::Attach(arn) => {
            let attached = &mut h.permissions().attached;
            if !attached.iter().any(|a| a == arn) {
                if attached.len() >= 10 {
                    return Err(IamError::LimitExceeded(format!(
                        "Cannot exceed quota for PoliciesPer{}: 10",
                        kind.title()
                    )));
                }
                attached.push(arn.to_string());
            }
        }
        Change::Detach(arn) => {
            let attached = &mut h.permissions().attached;
            let before = attached.len();
            attached.retain(|a| a != arn);
            if attached.len() == before {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
        }
        Change::Boundary(arn) => match h.boundary() {
            Some(b) => *b = arn.map(str::to_string),
            None => {
                return Err(IamError::InvalidInput(
                    "Groups cannot have permissions boundaries.".into(),
                ))
            }
        },
    }
    Ok(())
}

fn not_found(kind: EntityKind, name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} with name {name} cannot be found.",
        kind.word()
    ))
}
