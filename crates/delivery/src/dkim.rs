//! Easy DKIM signing: every message whose sending identity is a domain identity
//! with signing on, or an address under it, is signed with that domain's key pair
//! (`d=DOMAIN; s=TOKEN`, see [`ses::dkim_key`], where keys are made with the
//! identity), whoever sent it (delegates included).

use base64::Engine as _;
use mail_auth::common::crypto::{RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{DkimSigner, Done};
use ses::model::{identity_arn_parts, scoped_key, table, Identity, IdentityKind};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use store::{MasterKey, Store};
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs1KeyDer};

pub use ses::dkim_key::{StoredKey, TABLE};

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
    #[error("DKIM key: {0}")]
    Key(#[from] ses::dkim_key::DkimKeyError),
    #[error("the stored DKIM key of {0} is unusable")]
    BadKey(String),
    #[error("DKIM signing failed: {0}")]
    Sign(String),
}

/// The domain identity that signs mail sent through `identity_arn`: the identity
/// itself when it is a domain, else the owner's domain identity of the address's
/// domain or one of its parents — the most specific one, and only while its
/// signing is on (SetIdentityDkimEnabled / PutEmailIdentityDkimAttributes).
pub fn signing_identity(
    store: &Store,
    identity_arn: &str,
) -> Result<Option<Arc<Identity>>, DkimError> {
    let Some((region, account, name)) = identity_arn_parts(identity_arn) else {
        return Ok(None);
    };
    let mut domain = name
        .rsplit_once('@')
        .map_or(name, |(_, d)| d)
        .to_ascii_lowercase();
    let snapshot = store.snapshot()?;
    loop {
        let key = scoped_key(account, region, &domain);
        if let Some(identity) = snapshot.get::<Identity>(table::IDENTITIES, &key)? {
            if identity.kind == IdentityKind::Domain {
                return Ok(Some(identity).filter(|i| i.dkim_enabled));
            }
        }
        match domain.split_once('.') {
            Some((_, parent)) if parent.contains('.') => domain = parent.to_string(),
            _ => return Ok(None),
        }
    }
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
        let signature = signer
            .sign(message)
            .map_err(|e| DkimError::Sign(e.to_string()))?;
        let mut out = signature.to_header().into_bytes();
        out.extend_from_slice(message);
        Ok(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(identity: &Identity) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let backend = store::SqliteBackend::open(dir.path()).unwrap();
        let store = Store::new(std::sync::Arc::new(backend));
        let mut tx = store.write().unwrap();
        let key = scoped_key(&identity.account, &identity.region, &identity.name);
        tx.put(table::IDENTITIES, &key, identity).unwrap();
        tx.commit().unwrap();
        (dir, store)
    }

    #[test]
    fn only_a_domain_with_signing_on_signs() {
        let mut domain = Identity::new(
            "111122223333",
            "us-east-1",
            "example.com",
            IdentityKind::Domain,
            "token".into(),
            vec!["sel".into()],
            0,
        );
        domain.dkim_enabled = true;
        let (_dir, store) = store_with(&domain);
        let address = "arn:aws:ses:us-east-1:111122223333:identity/news@mail.example.com";
        let signer = signing_identity(&store, address).unwrap().unwrap();
        assert_eq!(signer.name, "example.com");

        domain.dkim_enabled = false;
        let (_dir, store) = store_with(&domain);
        assert!(signing_identity(&store, address).unwrap().is_none());
        let itself = "arn:aws:ses:us-east-1:111122223333:identity/example.com";
        assert!(signing_identity(&store, itself).unwrap().is_none());
    }
}
