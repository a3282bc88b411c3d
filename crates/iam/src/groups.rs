//! Reading and deleting IAM groups, and a user's groups.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, Group, User};
use crate::{Iam, IamError};

impl Iam {
    /// A group and its members.
    pub fn get_group(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(Group, Vec<User>), IamError> {
        let group = self.load_group(&caller.account, name)?;
        self.allow(caller, info, "iam:GetGroup", &group_arn(&group))?;
        let users: Vec<User> =
            self.read(|tx| Ok(tx.scan(table::USERS, &format!("{}/", caller.account))?))?;
        let members = users
            .into_iter()
            .filter(|u| is_member(u, &group.name))
            .collect();
        Ok((group, members))
    }

    pub fn list_groups(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        path_prefix: Option<&str>,
    ) -> Result<Vec<Group>, IamError> {
        self.allow(
            caller,
            info,
            "iam:ListGroups",
            &format!("arn:aws:iam::{}:group/", caller.account),
        )?;
        let prefix = path_prefix.unwrap_or("/");
        let groups: Vec<Group> =
            self.read(|tx| Ok(tx.scan(table::GROUPS, &format!("{}/", caller.account))?))?;
        Ok(groups
            .into_iter()
            .filter(|g| g.path.starts_with(prefix))
            .collect())
    }

    /// The groups a user belongs to, in the order it joined them.
    pub fn list_groups_for_user(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        user: &str,
    ) -> Result<Vec<Group>, IamError> {
        let u = self.load_user(&caller.account, user)?;
        self.allow(
            caller,
            info,
            "iam:ListGroupsForUser",
            &crate::users::user_arn(&u),
        )?;
        self.read(|tx| {
            let mut groups = Vec::new();
            for name in &u.groups {
                let key = model::entity_key(&u.account, name);
                if let Some(g) = tx.get::<Group>(table::GROUPS, &key)? {
                    groups.push(g);
                }
            }
            Ok(groups)
        })
    }

    /// Deletes a group that has no members and no policies, as IAM requires.
    pub fn delete_group(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        name: &str,
    ) -> Result<(), IamError> {
        let group = self.load_group(&caller.account, name)?;
        self.allow(caller, info, "iam:DeleteGroup", &group_arn(&group))?;
        self.mutate(|tx| {
            let key = model::entity_key(&group.account, &group.name);
            let current = tx.get::<Group>(table::GROUPS, &key)?.ok_or_else(|| {
                IamError::NoSuchEntity(format!("The group with name {name} cannot be found."))
            })?;
            let users: Vec<User> = tx.scan(table::USERS, &format!("{}/", group.account))?;
            if users.iter().any(|u| is_member(u, &current.name)) {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must remove users from group first.".into(),
                ));
            }
            let perms = &current.permissions;
            if !perms.inline.is_empty() || !perms.attached.is_empty() {
                return Err(IamError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
            tx.delete(table::GROUPS, &key)?;
            Ok(())
        })
    }
}

pub fn group_arn(g: &Group) -> String {
    model::iam_arn(&g.account, "group", &g.path, &g.name)
}

fn is_member(u: &User, group: &str) -> bool {
    u.groups.iter().any(|g| g.eq_ignore_ascii_case(group))
}
