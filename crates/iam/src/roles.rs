//! IAM roles and their trust policies.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, Role};
use crate::{ids, Iam, IamError};

impl Iam {
    #[allow(clippy::too_many_arguments)]
    pub fn create_role(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: &str,
        max_session_duration: Option<u32>,
    ) -> Result<Role, IamError> {
        crate::users::validate_name(name, 64, "roleName")?;
        let path = crate::users::validate_path(path)?;
        let arn = model::iam_arn(&caller.account, "role", &path, name);
        self.allow(caller, info, "iam:CreateRole", &arn)?;
        self.check_trust_policy(trust_policy)?;
        let max = max_session_duration.unwrap_or(3600);
        if !(3600..=43_200).contains(&max) {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{max}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
            )));
        }
        let role = Role {
            account: caller.account.clone(),
            name: name.to_string(),
            path,
            id: ids::unique_id("AROA")?,
            created_ms: ids::now_ms(),
            trust_policy: trust_policy.to_string(),
            description: description.to_string(),
            max_session_duration: max,
            permissions: Default::default(),
            boundary: None,
            tags: Vec::new(),
        };
        self.insert_role(role)
    }

    /// Stores a new role, refusing a duplicate name (case-insensitive).
    pub(crate) fn insert_role(&self, role: Role) -> Result<Role, IamError> {
        let (account, name) = (role.account.clone(), role.name.clone());
        self.insert_entity(table::ROLES, "Role", &account, &name, role)
    }

    pub fn get_role(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<Role, IamError> {
        let role = self.load_role(&caller.account, name)?;
        self.allow(caller, info, "iam:GetRole", &role_arn(&role))?;
        Ok(role)
    }

    pub fn list_roles(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        path_prefix: Option<&str>,
    ) -> Result<Vec<Role>, IamError> {
        self.allow(
            caller,
            info,
            "iam:ListRoles",
            &format!("arn:aws:iam::{}:role/", caller.account),
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let roles: Vec<Role> =
            self.read(|tx| Ok(tx.scan(table::ROLES, &format!("{}/", caller.account))?))?;
        Ok(roles
            .into_iter()
            .filter(|r| r.path.starts_with(prefix))
            .collect())
    }

    pub fn delete_role(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(), IamError> {
        let role = self.load_role(&caller.account, name)?;
        self.allow(caller, info, "iam:DeleteRole", &role_arn(&role))?;
        if !role.permissions.inline.is_empty() || !role.permissions.attached.is_empty() {
            return Err(IamError::DeleteConflict(
                "Cannot delete entity, must delete policies first.".into(),
            ));
        }
        self.mutate(|tx| {
            tx.delete(table::ROLES, &model::entity_key(&role.account, &role.name))?;
            Ok(())
        })
    }

    pub fn update_assume_role_policy(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        trust_policy: &str,
    ) -> Result<(), IamError> {
        let role = self.load_role(&caller.account, name)?;
        self.allow(caller, info, "iam:UpdateAssumeRolePolicy", &role_arn(&role))?;
        self.check_trust_policy(trust_policy)?;
        self.mutate(|tx| {
            let key = model::entity_key(&role.account, &role.name);
            let mut r: Role = tx.get(table::ROLES, &key)?.ok_or_else(|| no_role(name))?;
            r.trust_policy = trust_policy.to_string();
            tx.put(table::ROLES, &key, &r)?;
            Ok(())
        })
    }

    /// A trust policy must compile and name a principal in every statement.
    fn check_trust_policy(&self, document: &str) -> Result<(), IamError> {
        let compiled = self.compile(document)?;
        if compiled.statements.iter().any(|s| s.principal.is_none()) {
            return Err(IamError::MalformedPolicyDocument(
                "AssumeRolepolicy contains an invalid principal: every statement needs a Principal"
                    .into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn load_role(&self, account: &str, name: &str) -> Result<Role, IamError> {
        self.read(|tx| Ok(tx.get::<Role>(table::ROLES, &model::entity_key(account, name))?))?
            .ok_or_else(|| no_role(name))
    }
}

pub fn role_arn(r: &Role) -> String {
    model::iam_arn(&r.account, "role", &r.path, &r.name)
}

fn no_role(name: &str) -> IamError {
    IamError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}
