//! Identity and access: accounts, the organization (OUs, SCPs), users, groups, roles,
//! access keys, managed and inline policies, boundaries and STS sessions. It turns an
//! access key into a caller with the full set of policies that bear on its requests,
//! and authorizes actions with the policy engine. It knows nothing of HTTP or SMTP.

mod auth;
mod authorization_message;
pub mod decisions;
mod details;
mod error;
mod groups;
pub mod ids;
mod managed;
pub mod model;
pub mod org;
mod policies;
mod roles;
pub mod simulate;
mod sts;
mod tags;
mod users;

pub use auth::{Caller, CallerKind, Denial, RequestInfo};
pub use details::{AuthorizationDetails, PolicyEntities, PolicyUsage};
pub use error::IamError;
pub use model::Permissions;
pub use org::OrgTarget;
pub use policies::EntityKind;
pub use sts::Credentials;

use model::table;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use store::{Docs, MasterKey, Store};

/// The IAM service over a store. Cheap to share (`Arc`).
pub struct Iam {
    store: Store,
    key: MasterKey,
    /// Bumped after every committed change; cached callers of older generations are stale.
    generation: AtomicU64,
    callers: RwLock<HashMap<String, (u64, Arc<Caller>)>>,
    compiled: RwLock<HashMap<String, Arc<policy::Policy>>>,
}

impl Iam {
    pub fn new(store: Store, key: MasterKey) -> Iam {
        Iam {
            store,
            key,
            generation: AtomicU64::new(0),
            callers: RwLock::new(HashMap::new()),
            compiled: RwLock::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The key that seals secrets at rest, for services that keep their own (Easy
    /// DKIM private keys).
    pub fn master_key(&self) -> &MasterKey {
        &self.key
    }

    /// Runs `f` in a write transaction, commits, and invalidates cached callers.
    pub(crate) fn mutate<R>(
        &self,
        f: impl FnOnce(&mut Docs<'_>) -> Result<R, IamError>,
    ) -> Result<R, IamError> {
        let mut tx = self.store.write()?;
        let result = f(&mut tx)?;
        tx.commit()?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(result)
    }

    pub(crate) fn read<R>(
        &self,
        f: impl FnOnce(&mut Docs<'_>) -> Result<R, IamError>,
    ) -> Result<R, IamError> {
        let mut tx = self.store.read()?;
        f(&mut tx)
    }

    /// Stores a new user, group or role (`noun`), refusing a name the account already
    /// has: IAM names are unique per account, case-insensitively.
    pub(crate) fn insert_entity<T: serde::Serialize>(
        &self,
        table: &str,
        noun: &str,
        account: &str,
        name: &str,
        record: T,
    ) -> Result<T, IamError> {
        self.mutate(|tx| {
            let key = model::entity_key(account, name);
            if tx.get::<serde_json::Value>(table, &key)?.is_some() {
                return Err(IamError::EntityAlreadyExists(format!(
                    "{noun} with name {name} already exists."
                )));
            }
            tx.put(table, &key, &record)?;
            Ok(record)
        })
    }

    /// Creates the management account and its root access key on first start; does
    /// nothing when the account exists.
    pub fn bootstrap(
        &self,
        account_id: &str,
        access_key_id: &str,
        secret: &str,
    ) -> Result<(), IamError> {
        if self
            .read(|tx| Ok(tx.get::<model::Account>(table::ACCOUNTS, account_id)?))?
            .is_some()
        {
            return Ok(());
        }
        let sealed = self.key.seal(secret)?;
        self.mutate(|tx| {
            let account = model::Account {
                id: account_id.to_string(),
                name: "management".to_string(),
                email: format!("root@{account_id}.sesame.local"),
                joined_ms: ids::now_ms(),
                parent_id: None,
                joined_method: "MANAGEMENT".to_string(),
            };
            tx.put(table::ACCOUNTS, account_id, &account)?;
            let key = model::AccessKey {
                id: access_key_id.to_string(),
                account: account_id.to_string(),
                user: String::new(),
                secret: sealed,
                active: true,
                created_ms: ids::now_ms(),
            };
            tx.put(table::ACCESS_KEYS, access_key_id, &key)?;
            Ok(())
        })
    }

    /// Compiles a policy document once; later calls with the same text share it.
    pub(crate) fn compile(&self, document: &str) -> Result<Arc<policy::Policy>, IamError> {
        if let Some(p) = self
            .compiled
            .read()
            .ok()
            .and_then(|m| m.get(document).cloned())
        {
            return Ok(p);
        }
        let compiled = Arc::new(
            policy::Policy::parse(document)
                .map_err(|e| IamError::MalformedPolicyDocument(e.to_string()))?,
        );
        if let Ok(mut m) = self.compiled.write() {
            m.insert(document.to_string(), compiled.clone());
        }
        Ok(compiled)
    }
}
