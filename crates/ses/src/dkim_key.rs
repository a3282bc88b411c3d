//! Easy DKIM key pairs: one RSA-2048 pair per domain identity, generated when the
//! identity is created and stored beside it, the private key sealed with the store's
//! master key. The selector is the identity's first DKIM token, so the records the
//! identity reports (`TOKEN._domainkey.DOMAIN CNAME TOKEN.dkim.amazonses.com`) lead
//! to this key's `v=DKIM1; k=rsa; p=PUBLIC` record. Signing lives in `delivery`.

use crate::model::{scoped_key, Identity};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{Docs, MasterKey, SealedSecret, Store};

/// Table of DKIM keys, keyed like identities (`ACCOUNT/REGION/domain`).
pub const TABLE: &str = "delivery_dkim_keys";

/// RSA modulus size of Easy DKIM keys (SES's default, `RSA_2048_BIT`).
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum DkimKeyError {
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("DKIM key generation failed")]
    Generate,
}

/// A domain identity's key pair as stored. Debug output never shows the key.
#[derive(Clone, Serialize, Deserialize)]
pub struct StoredKey {
    pub domain: String,
    pub selector: String,
    /// Base64 of the PKCS#1 DER public key (the `p=` tag).
    pub public_key: String,
    /// Base64 of the PKCS#1 DER private key, sealed.
    pub private_key: SealedSecret,
    pub created_ms: i64,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .finish_non_exhaustive()
    }
}

impl StoredKey {
    /// A fresh key pair for a domain identity (about a tenth of a second optimised:
    /// call it off the async threads).
    pub fn generate(identity: &Identity, master: &MasterKey) -> Result<StoredKey, DkimKeyError> {
        let pair = mail_auth::dkim::generate::DkimKeyPair::generate_rsa(KEY_BITS)
            .map_err(|_| DkimKeyError::Generate)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        Ok(StoredKey {
            domain: identity.name.to_ascii_lowercase(),
            selector: selector(identity),
            public_key: b64.encode(pair.public_key()),
            private_key: master.seal(&b64.encode(pair.private_key()))?,
            created_ms: iam::ids::now_ms(),
        })
    }

    /// The name of the public key record.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record published at [`StoredKey::record_name`].
    pub fn record_text(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", self.public_key)
    }
}

/// The selector of an identity's key: its first DKIM token.
fn selector(identity: &Identity) -> String {
    identity
        .dkim_tokens
        .first()
        .cloned()
        .unwrap_or_else(|| "sesame".into())
}

/// Store key of the key pair of a domain identity.
pub fn key_of(identity: &Identity) -> String {
    scoped_key(
        &identity.account,
        &identity.region,
        &identity.name.to_ascii_lowercase(),
    )
}

/// The stored key pair of a domain identity, if it has one.
pub fn load(store: &Store, identity: &Identity) -> Result<Option<Arc<StoredKey>>, DkimKeyError> {
    Ok(store.snapshot()?.get(TABLE, &key_of(identity))?)
}

/// Writes `key` for `identity` inside the caller's transaction.
pub(crate) fn put(tx: &mut Docs<'_>, identity: &Identity, key: &StoredKey) -> store::Result<()> {
    tx.put(TABLE, &key_of(identity), key)
}

/// The key pair of a domain identity, generated now when it has none: the repair
/// for identities created before keys were made with the identity (or imported
/// without them).
pub fn ensure(
    store: &Store,
    master: &MasterKey,
    identity: &Identity,
) -> Result<Arc<StoredKey>, DkimKeyError> {
    if let Some(existing) = load(store, identity)? {
        return Ok(existing);
    }
    let fresh = StoredKey::generate(identity, master)?;
    let mut tx = store.write()?;
    // Another task may have won the race; the first key stays.
    if let Some(existing) = tx.get::<StoredKey>(TABLE, &key_of(identity))? {
        return Ok(Arc::new(existing));
    }
    put(&mut tx, identity, &fresh)?;
    tx.commit()?;
    tracing::info!(domain = %fresh.domain, "DKIM key pair created for an identity that had none");
    Ok(Arc::new(fresh))
}
