//! Easy DKIM: one RSA-2048 key pair per domain identity, the private key sealed at
//! rest with the store's master key, selector = the identity's first DKIM token
//! (SES publishes `TOKEN._domainkey.DOMAIN CNAME TOKEN.dkim.amazonses.com`; the
//! record at the end of that chain is `v=DKIM1; k=rsa; p=PUBLIC`). Every message
//! whose sending identity is that domain or an address under it is signed with
//! `d=DOMAIN; s=TOKEN`, whoever sent it (delegates included).

use base64::Engine as _;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{DkimSigner, Done};
use serde::{Deserialize, Serialize};
use ses::model::{scoped_key, table, Identity, IdentityKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::{MasterKey, SealedSecret, Store};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

/// Table of DKIM keys, keyed like identities (`ACCOUNT/REGION/domain`).
pub const TABLE: &str = "delivery_dkim_keys";

/// Headers signed when present (RFC 6376 §5.4.1).
const SIGNED_HEADERS: &[&str] = &[
    "From",
    "Reply-To",
    "Subject",
    "Date",
    "To",
    "Cc",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "In-Reply-To",
    "References",
];

#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    #[error("DKIM key generation failed")]
    Generate,
    #[error("the stored DKIM key of {0} is unusable")]
    BadKey(String),
    #[error("DKIM signing failed: {0}")]
    Sign(String),
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
    /// The name of the public key record.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record published at [`StoredKey::record_name`].
    pub fn record_text(&self) -> String {
        format!("v=DKIM1; k=rsa; p={}", self.public_key)
    }
}

/// The key of a domain identity, created on first use.
pub fn ensure_key(
    store: &Store,
    master: &MasterKey,
    identity: &Identity,
) -> Result<Arc<StoredKey>, DkimError> {
    let key = scoped_key(
        &identity.account,
        &identity.region,
        &identity.name.to_ascii_lowercase(),
    );
    if let Some(existing) = store.snapshot()?.get::<StoredKey>(TABLE, &key)? {
        return Ok(existing);
    }
    let pair = mail_auth::dkim::generate::DkimKeyPair::generate_rsa(2048)
        .map_err(|_| DkimError::Generate)?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let fresh = StoredKey {
        domain: identity.name.to_ascii_lowercase(),
        selector: identity
            .dkim_tokens
            .first()
            .cloned()
            .unwrap_or_else(|| "sesame".into()),
        public_key: b64.encode(pair.public_key()),
        private_key: master.seal(&b64.encode(pair.private_key()))?,
        created_ms: now_ms(),
    };
    let mut tx = store.write()?;
    // Another task may have won the race; the first key stays.
    if let Some(existing) = tx.get::<StoredKey>(TABLE, &key)? {
        return Ok(Arc::new(existing));
    }
    tx.put(TABLE, &key, &fresh)?;
    tx.commit()?;
    Ok(Arc::new(fresh))
}

/// Creates the missing key pairs of all domain identities; returns how many.
pub fn ensure_all_keys(store: &Store, master: &MasterKey) -> Result<usize, DkimError> {
    let identities: Vec<Identity> = store.read()?.scan(table::IDENTITIES, "")?;
    let mut created = 0;
    for identity in identities.iter().filter(|i| i.kind == IdentityKind::Domain) {
        let key = scoped_key(
            &identity.account,
            &identity.region,
            &identity.name.to_ascii_lowercase(),
        );
        if store.read()?.get::<StoredKey>(TABLE, &key)?.is_none() {
            ensure_key(store, master, identity)?;
            created += 1;
        }
    }
    Ok(created)
}

/// The domain identity that signs mail sent through `identity_arn`: the identity
/// itself when it is a domain, else the owner's domain identity of the address's
/// domain or one of its parents.
pub fn signing_identity(
    store: &Store,
    identity_arn: &str,
) -> Result<Option<Arc<Identity>>, DkimError> {
    let Some((account, region, name)) = parse_identity_arn(identity_arn) else {
        return Ok(None);
    };
    let mut domain = name
        .rsplit_once('@')
        .map_or(name.as_str(), |(_, d)| d)
        .to_ascii_lowercase();
    let snapshot = store.snapshot()?;
    loop {
        let key = scoped_key(&account, &region, &domain);
        if let Some(identity) = snapshot.get::<Identity>(table::IDENTITIES, &key)? {
            if identity.kind == IdentityKind::Domain {
                return Ok(Some(identity));
            }
        }
        match domain.split_once('.') {
            Some((_, parent)) if parent.contains('.') => domain = parent.to_string(),
            _ => return Ok(None),
        }
    }
}

/// `arn:aws:ses:REGION:ACCOUNT:identity/NAME` → (account, region, name).
pub(crate) fn parse_identity_arn(arn: &str) -> Option<(String, String, String)> {
    let mut parts = arn.splitn(6, ':');
    let (_arn, _aws, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("identity/")?;
    (service == "ses").then(|| (account.to_string(), region.to_string(), name.to_string()))
}

type Signer = DkimSigner<RsaKey<Sha256>, Done>;

/// Signing keys ready to use, by public key. Opening and checking an RSA private key
/// costs about as much as a signature, so each key pair is made ready once.
#[derive(Default)]
pub struct Signers {
    by_public_key: Mutex<HashMap<String, Arc<Signer>>>,
}

impl Signers {
    /// `message` (CRLF line ends) with a `DKIM-Signature` header in front.
    pub fn sign(
        &self,
        message: &[u8],
        key: &StoredKey,
        master: &MasterKey,
    ) -> Result<Vec<u8>, DkimError> {
        let signer = self.signer(key, master)?;
        signed(message, &signer)
    }

    fn signer(&self, key: &StoredKey, master: &MasterKey) -> Result<Arc<Signer>, DkimError> {
        let mut ready = self.by_public_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(signer) = ready.get(&key.public_key) {
            return Ok(signer.clone());
        }
        let signer = Arc::new(signer(key, master)?);
        ready.insert(key.public_key.clone(), signer.clone());
        Ok(signer)
    }
}

/// `message` (CRLF line ends) with a `DKIM-Signature` header in front.
pub fn sign(message: &[u8], key: &StoredKey, master: &MasterKey) -> Result<Vec<u8>, DkimError> {
    signed(message, &signer(key, master)?)
}

fn signer(key: &StoredKey, master: &MasterKey) -> Result<Signer, DkimError> {
    let der_b64 = master.open(&key.private_key)?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(der_b64.trim())
        .map_err(|_| DkimError::BadKey(key.domain.clone()))?;
    let rsa = RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs1(PrivatePkcs1KeyDer::from(der)))
        .map_err(|_| DkimError::BadKey(key.domain.clone()))?;
    Ok(DkimSigner::from_key(rsa)
        .domain(key.domain.clone())
        .selector(key.selector.clone())
        .headers(SIGNED_HEADERS.iter().copied())
        .header_canonicalization(mail_auth::dkim::Canonicalization::Relaxed)
        .body_canonicalization(mail_auth::dkim::Canonicalization::Relaxed))
}

fn signed(message: &[u8], signer: &Signer) -> Result<Vec<u8>, DkimError> {
    let signature = signer
        .sign(message)
        .map_err(|e| DkimError::Sign(e.to_string()))?;
    let mut out = signature.to_header().into_bytes();
    out.extend_from_slice(message);
    Ok(out)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_identity_arns() {
        assert_eq!(
            parse_identity_arn("arn:aws:ses:us-east-1:111122223333:identity/example.com"),
            Some((
                "111122223333".into(),
                "us-east-1".into(),
                "example.com".into()
            ))
        );
        assert_eq!(parse_identity_arn("arn:aws:iam::1:user/x"), None);
    }
}
