//! Tags of users and roles. They feed `aws:PrincipalTag/…` of the tagged principal's
//! own requests; tagging is authorized with `aws:RequestTag/…` and `aws:TagKeys`.

use crate::auth::{Caller, RequestInfo};
use crate::model::{self, table, Role, User};
use crate::{EntityKind, Iam, IamError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Most tags one user or role may carry.
const MAX_TAGS: usize = 50;
const TAG_PATTERN: &str = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]";

/// A taggable entity.
trait Tagged: Serialize + DeserializeOwned {
    fn tags(&mut self) -> &mut Vec<(String, String)>;
    fn arn(&self) -> String;
}

impl Tagged for User {
    fn tags(&mut self) -> &mut Vec<(String, String)> {
        &mut self.tags
    }
    fn arn(&self) -> String {
        crate::users::user_arn(self)
    }
}

impl Tagged for Role {
    fn tags(&mut self) -> &mut Vec<(String, String)> {
        &mut self.tags
    }
    fn arn(&self) -> String {
        crate::roles::role_arn(self)
    }
}

/// What to do with an entity's tags.
enum TagChange<'a> {
    Add(&'a [(String, String)]),
    Remove(&'a [String]),
}

impl Iam {
    /// TagUser / TagRole: adds tags, replacing the value of a key already present
    /// (keys compare case-insensitively).
    pub fn tag_entity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
        tags: &[(String, String)],
    ) -> Result<(), IamError> {
        validate_tags(tags)?;
        self.change_tags(caller, info, kind, name, TagChange::Add(tags))
    }

    /// UntagUser / UntagRole: removes the named keys; absent keys are ignored.
    pub fn untag_entity(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
        keys: &[String],
    ) -> Result<(), IamError> {
        for (i, key) in keys.iter().enumerate() {
            validate_key(key, &format!("tagKeys.{}.member", i + 1))?;
        }
        self.change_tags(caller, info, kind, name, TagChange::Remove(keys))
    }

    /// ListUserTags / ListRoleTags.
    pub fn list_entity_tags(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        let action = format!("iam:List{}Tags", kind.title());
        match kind {
            EntityKind::User => self.read_tags::<User>(caller, info, kind, name, &action),
            EntityKind::Role => self.read_tags::<Role>(caller, info, kind, name, &action),
            EntityKind::Group => Err(not_taggable()),
        }
    }

    fn read_tags<T: Tagged>(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
        action: &str,
    ) -> Result<Vec<(String, String)>, IamError> {
        let mut entity: T = self.load_tagged(&caller.account, kind, name)?;
        self.allow(caller, info, action, &entity.arn())?;
        Ok(entity.tags().clone())
    }

    fn change_tags(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
        change: TagChange<'_>,
    ) -> Result<(), IamError> {
        match kind {
            EntityKind::User => self.change_tags_of::<User>(caller, info, kind, name, change),
            EntityKind::Role => self.change_tags_of::<Role>(caller, info, kind, name, change),
            EntityKind::Group => Err(not_taggable()),
        }
    }

    fn change_tags_of<T: Tagged>(
        &self,
        caller: &Caller,
        info: &RequestInfo,
        kind: EntityKind,
        name: &str,
        change: TagChange<'_>,
    ) -> Result<(), IamError> {
        let current: T = self.load_tagged(&caller.account, kind, name)?;
        let (action, context) = match &change {
            TagChange::Add(tags) => (format!("iam:Tag{}", kind.title()), tag_context(tags)),
            TagChange::Remove(keys) => (
                format!("iam:Untag{}", kind.title()),
                vec![("aws:TagKeys".to_string(), keys.to_vec())],
            ),
        };
        let extra: Vec<(&str, Vec<String>)> = context
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        self.authorize(caller, &action, &current.arn(), info, None, &extra)
            .map_err(|d| IamError::AccessDenied {
                message: d.message,
                trace: d.trace,
                json_style: false,
            })?;
        self.mutate(|tx| {
            let key = model::entity_key(&caller.account, name);
            let mut entity: T = tx
                .get(kind_table(kind), &key)?
                .ok_or_else(|| not_found(kind, name))?;
            apply(entity.tags(), &change)?;
            tx.put(kind_table(kind), &key, &entity)?;
            Ok(())
        })
    }

    fn load_tagged<T: Tagged>(
        &self,
        account: &str,
        kind: EntityKind,
        name: &str,
    ) -> Result<T, IamError> {
        let key = model::entity_key(account, name);
        self.read(|tx| Ok(tx.get::<T>(kind_table(kind), &key)?))?
            .ok_or_else(|| not_found(kind, name))
    }
}

fn apply(tags: &mut Vec<(String, String)>, change: &TagChange<'_>) -> Result<(), IamError> {
    match change {
        TagChange::Add(new) => {
            for (key, value) in new.iter() {
                match tags.iter_mut().find(|(k, _)| k.eq_ignore_ascii_case(key)) {
                    Some(existing) => existing.1 = value.clone(),
                    None => tags.push((key.clone(), value.clone())),
                }
            }
            if tags.len() > MAX_TAGS {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for TagsPerEntity: {MAX_TAGS}"
                )));
            }
        }
        TagChange::Remove(keys) => {
            tags.retain(|(k, _)| !keys.iter().any(|r| r.eq_ignore_ascii_case(k)));
        }
    }
    Ok(())
}

/// `aws:RequestTag/KEY` for every tag and `aws:TagKeys` for all keys.
fn tag_context(tags: &[(String, String)]) -> Vec<(String, Vec<String>)> {
    let mut context: Vec<(String, Vec<String>)> = tags
        .iter()
        .map(|(k, v)| (format!("aws:RequestTag/{k}"), vec![v.clone()]))
        .collect();
    context.push((
        "aws:TagKeys".to_string(),
        tags.iter().map(|(k, _)| k.clone()).collect(),
    ));
    context
}

fn validate_tags(tags: &[(String, String)]) -> Result<(), IamError> {
    if tags.is_empty() {
        return Err(IamError::Validation(
            "1 validation error detected: Value '[]' at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 1".into(),
        ));
    }
    if tags.len() > MAX_TAGS {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to {MAX_TAGS}"
        )));
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        validate_key(key, &format!("tags.{}.member.key", i + 1))?;
        let value_ok = value.chars().count() <= 256 && value.chars().all(tag_char);
        if !value_ok {
            return Err(IamError::Validation(format!(
                "1 validation error detected: Value '{value}' at 'tags.{}.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}*",
                i + 1
            )));
        }
        let duplicate = tags[..i].iter().any(|(k, _)| k.eq_ignore_ascii_case(key));
        if duplicate {
            return Err(IamError::InvalidInput(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.".into(),
            ));
        }
    }
    Ok(())
}

fn validate_key(key: &str, field: &str) -> Result<(), IamError> {
    let len = key.chars().count();
    if len == 0 || len > 128 || !key.chars().all(tag_char) {
        return Err(IamError::Validation(format!(
            "1 validation error detected: Value '{key}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {TAG_PATTERN}+"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(IamError::InvalidInput(format!(
            "Tag key {key} uses the reserved prefix aws:."
        )));
    }
    Ok(())
}

/// Letters, separators (spaces), numbers and `_ . : / = + - @`.
fn tag_char(c: char) -> bool {
    c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c)
}

fn kind_table(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::User => table::USERS,
        EntityKind::Group => table::GROUPS,
        EntityKind::Role => table::ROLES,
    }
}

fn not_found(kind: EntityKind, name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} with name {name} cannot be found.",
        kind.word()
    ))
}

fn not_taggable() -> IamError {
    IamError::InvalidInput("Groups cannot be tagged.".into())
}
