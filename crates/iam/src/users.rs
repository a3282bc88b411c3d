//! IAM users, their access keys and group membership.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, AccessKey, Group, User};
use crate::{ids, Iam, IamError};

/// An access key as the API reports it; the secret only at creation.
#[derive(Debug, Clone)]
pub struct AccessKeyInfo {
    pub user: String,
    pub id: String,
    pub active: bool,
    pub created_ms: i64,
    pub secret: Option<String>,
}

impl Iam {
    /// Authorizes an IAM action for the caller, with AWS's IAM-style denial.
    pub fn allow(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        action: &str,
        resource: &str,
    ) -> Result<(), IamError> {
        self.authorize(caller, action, resource, info, None, &[])
            .map(|_| ())
            .map_err(|d| IamError::AccessDenied {
                message: d.message,
                trace: d.trace,
                json_style: false,
            })
    }

    pub fn create_user(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        path: Option<&str>,
    ) -> Result<User, IamError> {
        validate_name(name, 64, "userName")?;
        let path = validate_path(path)?;
        let arn = model::iam_arn(&caller.account, "user", &path, name);
        self.allow(caller, info, "iam:CreateUser", &arn)?;
        let user = User {
            account: caller.account.clone(),
            name: name.to_string(),
            path,
            id: ids::unique_id("AIDA")?,
            created_ms: ids::now_ms(),
            permissions: Default::default(),
            boundary: None,
            groups: Vec::new(),
            tags: Vec::new(),
        };
        self.insert_entity(table::USERS, "User", &caller.account, name, user)
    }

    /// A user by name; `None` means the caller itself (for a user caller).
    pub fn get_user(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: Option<&str>,
    ) -> Result<User, IamError> {
        let name = match name {
            Some(n) => n.to_string(),
            None if caller.kind == crate::CallerKind::User => caller.user_name.clone(),
            None => {
                return Err(IamError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                ))
            }
        };
        let user = self.load_user(&caller.account, &name)?;
        self.allow(caller, info, "iam:GetUser", &user_arn(&user))?;
        Ok(user)
    }

    pub fn list_users(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        path_prefix: Option<&str>,
    ) -> Result<Vec<User>, IamError> {
        self.allow(
            caller,
            info,
            "iam:ListUsers",
            &format!("arn:aws:iam::{}:user/", caller.account),
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let users: Vec<User> =
            self.read(|tx| Ok(tx.scan(table::USERS, &format!("{}/", caller.account))?))?;
        Ok(users
            .into_iter()
            .filter(|u| u.path.starts_with(prefix))
            .collect())
    }

    pub fn delete_user(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(), IamError> {
        let user = self.load_user(&caller.account, name)?;
        self.allow(caller, info, "iam:DeleteUser", &user_arn(&user))?;
        self.mutate(|tx| {
            let keys: Vec<AccessKey> = tx.scan(table::ACCESS_KEYS, "")?;
            let has_keys = keys.iter().any(|k| k.account == user.account && k.user == user.name);
            if has_keys || !user.permissions.inline.is_empty() || !user.permissions.attached.is_empty() || !user.groups.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies, access keys and group memberships first.".into(),
                ));
            }
            tx.delete(table::USERS, &model::entity_key(&user.account, &user.name))?;
            Ok(())
        })
    }

    pub fn create_access_key(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: Option<&str>,
    ) -> Result<AccessKeyInfo, IamError> {
        let owner = self.key_owner(caller, info, user, "iam:CreateAccessKey")?;
        let secret = ids::secret_access_key()?;
        let key = AccessKey {
            id: ids::access_key_id("AKIA")?,
            account: caller.account.clone(),
            user: owner.clone(),
            secret: self.key.seal(&secret)?,
            active: true,
            created_ms: ids::now_ms(),
        };
        self.mutate(|tx| {
            let existing: Vec<AccessKey> = tx.scan(table::ACCESS_KEYS, "")?;
            let count = existing
                .iter()
                .filter(|k| k.account == key.account && k.user == owner)
                .count();
            if count >= 2 {
                return Err(IamError::LimitExceeded(
                    "Cannot exceed quota for AccessKeysPerUser: 2".into(),
                ));
            }
            tx.put(table::ACCESS_KEYS, &key.id, &key)?;
            Ok(())
        })?;
        Ok(AccessKeyInfo {
            user: owner,
            id: key.id,
            active: true,
            created_ms: key.created_ms,
            secret: Some(secret),
        })
    }

    pub fn list_access_keys(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: Option<&str>,
    ) -> Result<Vec<AccessKeyInfo>, IamError> {
        let owner = self.key_owner(caller, info, user, "iam:ListAccessKeys")?;
        let keys: Vec<AccessKey> = self.read(|tx| Ok(tx.scan(table::ACCESS_KEYS, "")?))?;
        Ok(keys
            .into_iter()
            .filter(|k| k.account == caller.account && k.user == owner)
            .map(|k| AccessKeyInfo {
                user: k.user,
                id: k.id,
                active: k.active,
                created_ms: k.created_ms,
                secret: None,
            })
            .collect())
    }

    pub fn update_access_key(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: Option<&str>,
        id: &str,
        active: bool,
    ) -> Result<(), IamError> {
        let owner = self.key_owner(caller, info, user, "iam:UpdateAccessKey")?;
        self.mutate(|tx| {
            let mut key = owned_key(tx, &caller.account, &owner, id)?;
            key.active = active;
            tx.put(table::ACCESS_KEYS, id, &key)?;
            Ok(())
        })
    }

    pub fn delete_access_key(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: Option<&str>,
        id: &str,
    ) -> Result<(), IamError> {
        let owner = self.key_owner(caller, info, user, "iam:DeleteAccessKey")?;
        self.mutate(|tx| {
            owned_key(tx, &caller.account, &owner, id)?;
            tx.delete(table::ACCESS_KEYS, id)?;
            Ok(())
        })
    }

    /// The user whose keys an access-key call addresses (the caller itself by default),
    /// authorized for `action`.
    fn key_owner(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: Option<&str>,
        action: &str,
    ) -> Result<String, IamError> {
        match user {
            Some(name) => {
                let u = self.load_user(&caller.account, name)?;
                self.allow(caller, info, action, &user_arn(&u))?;
                Ok(u.name)
            }
            None if caller.kind == crate::CallerKind::Root => Ok(String::new()),
            None => {
                self.allow(caller, info, action, &caller.arn)?;
                Ok(caller.user_name.clone())
            }
        }
    }

    pub(crate) fn load_user(&self, account: &str, name: &str) -> Result<User, IamError> {
        self.read(|tx| Ok(tx.get::<User>(table::USERS, &model::entity_key(account, name))?))?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The user with name {name} cannot be found."))
            })
    }

    pub fn create_group(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
        path: Option<&str>,
    ) -> Result<Group, IamError> {
        validate_name(name, 128, "groupName")?;
        let path = validate_path(path)?;
        self.allow(
            caller,
            info,
            "iam:CreateGroup",
            &model::iam_arn(&caller.account, "group", &path, name),
        )?;
        let group = Group {
            account: caller.account.clone(),
            name: name.to_string(),
            path,
            id: ids::unique_id("AGPA")?,
            created_ms: ids::now_ms(),
            permissions: Default::default(),
        };
        self.insert_entity(table::GROUPS, "Group", &caller.account, name, group)
    }

    pub fn add_user_to_group(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        group: &str,
        user: &str,
    ) -> Result<(), IamError> {
        let g = self.load_group(&caller.account, group)?;
        self.allow(
            caller,
            info,
            "iam:AddUserToGroup",
            &model::iam_arn(&g.account, "group", &g.path, &g.name),
        )?;
        self.mutate(|tx| {
            let key = model::entity_key(&caller.account, user);
            let mut u = tx.get::<User>(table::USERS, &key)?.ok_or_else(|| {
                IamError::NoSuchEntity(format!("The user with name {user} cannot be found."))
            })?;
            if !u.groups.iter().any(|x| x.eq_ignore_ascii_case(&g.name)) {
                u.groups.push(g.name.clone());
            }
            tx.put(table::USERS, &key, &u)?;
            Ok(())
        })
    }

    pub fn remove_user_from_group(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        group: &str,
        user: &str,
    ) -> Result<(), IamError> {
        let g = self.load_group(&caller.account, group)?;
        self.allow(
            caller,
            info,
            "iam:RemoveUserFromGroup",
            &model::iam_arn(&g.account, "group", &g.path, &g.name),
        )?;
        self.mutate(|tx| {
            let key = model::entity_key(&caller.account, user);
            let mut u = tx.get::<User>(table::USERS, &key)?.ok_or_else(|| {
                IamError::NoSuchEntity(format!("The user with name {user} cannot be found."))
            })?;
            u.groups.retain(|x| !x.eq_ignore_ascii_case(&g.name));
            tx.put(table::USERS, &key, &u)?;
            Ok(())
        })
    }

    pub(crate) fn load_group(&self, account: &str, name: &str) -> Result<Group, IamError> {
        self.read(|tx| Ok(tx.get::<Group>(table::GROUPS, &model::entity_key(account, name))?))?
            .ok_or_else(|| {
                IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
            })
    }
}

pub fn user_arn(u: &User) -> String {
    model::iam_arn(&u.account, "user", &u.path, &u.name)
}

fn owned_key(
    tx: &mut store::Docs<'_>,
    account: &str,
    owner: &str,
    id: &str,
) -> Result<AccessKey, IamError> {
    tx.get::<AccessKey>(table::ACCESS_KEYS, id)?
        .filter(|k| k.account == account && k.user == owner)
        .ok_or_else(|| {
            IamError::NoSuchEntity(format!("The Access Key with id {id} cannot be found."))
        })
}

/// IAM names: `[\w+=,.@-]+` up to `max` characters.
pub(crate) fn validate_name(name: &str, max: usize, field: &str) -> Result<(), IamError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c);
    if name.is_empty() || name.len() > max || !name.chars().all(ok_char) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )));
    }
    Ok(())
}

/// Paths: `/` or `/a/b/`.
pub(crate) fn validate_path(path: Option<&str>) -> Result<String, IamError> {
    let path = path.unwrap_or("/");
    let ok = path.starts_with('/')
        && path.ends_with('/')
        && path.len() <= 512
        && path.chars().all(|c| ('!'..='~').contains(&c));
    if !ok {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{path}' at 'path' failed to satisfy constraint: Member must satisfy regular expression pattern: (\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)"
        )));
    }
    Ok(path.to_string())
}
