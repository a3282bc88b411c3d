//! Secrets at rest: sealed with ChaCha20-Poly1305 under a master key kept outside the
//! database (a 0600 key file in the data directory, or `SESAME_MASTER_KEY`).

use crate::{Result, StoreError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The key that seals secrets. Its bytes never leave this type (no Debug, no Display).
#[derive(Clone)]
pub struct MasterKey(Key);

/// A sealed secret: nonce and ciphertext, hex-encoded for JSON documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    nonce: String,
    ciphertext: String,
}

impl MasterKey {
    /// Reads `SESAME_MASTER_KEY` (64 hex digits) when given, else the key file in
    /// `data_dir`, creating it with mode 0600 on first use.
    pub fn load(data_dir: &Path, from_env: Option<&str>) -> Result<MasterKey> {
        if let Some(hex_key) = from_env {
            return MasterKey::from_hex(hex_key.trim()).ok_or_else(|| {
                StoreError::MasterKey("SESAME_MASTER_KEY must be 64 hex digits".into())
            });
        }
        let path = data_dir.join("master.key");
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => MasterKey::from_hex(text.trim()).ok_or_else(|| {
                StoreError::MasterKey(format!("{} is not 64 hex digits", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let bytes = random_bytes::<32>()?;
                write_private(&path, &hex(&bytes)).map_err(io)?;
                Ok(MasterKey(Key::from(bytes)))
            }
            Err(e) => Err(io(e)),
        }
    }

    fn from_hex(text: &str) -> Option<MasterKey> {
        let bytes: [u8; 32] = unhex(text)?.try_into().ok()?;
        Some(MasterKey(Key::from(bytes)))
    }

    pub fn seal(&self, secret: &str) -> Result<SealedSecret> {
        let nonce = random_bytes::<12>()?;
        let ciphertext = ChaCha20Poly1305::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), secret.as_bytes())
            .map_err(|_| StoreError::MasterKey("encryption failed".into()))?;
        Ok(SealedSecret {
            nonce: hex(&nonce),
            ciphertext: hex(&ciphertext),
        })
    }

    pub fn open(&self, sealed: &SealedSecret) -> Result<String> {
        let nonce: [u8; 12] = unhex(&sealed.nonce)
            .and_then(|n| n.try_into().ok())
            .ok_or(StoreError::Decrypt)?;
        let ciphertext = unhex(&sealed.ciphertext).ok_or(StoreError::Decrypt)?;
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| StoreError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| StoreError::Decrypt)
    }

    /// Seals `plain` into an opaque hex token bound to `purpose` (authenticated
    /// additional data): a token opens only with the same key and the same purpose,
    /// so tokens of one kind cannot be passed off as another or as sealed secrets.
    pub fn seal_token(&self, purpose: &str, plain: &str) -> Result<String> {
        let nonce = random_bytes::<12>()?;
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: purpose.as_bytes(),
        };
        let ciphertext = ChaCha20Poly1305::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), payload)
            .map_err(|_| StoreError::MasterKey("encryption failed".into()))?;
        Ok(format!("{}{}", hex(&nonce), hex(&ciphertext)))
    }

    /// Opens a token of [`MasterKey::seal_token`]; any change to it fails.
    pub fn open_token(&self, purpose: &str, token: &str) -> Result<String> {
        let bytes = unhex(token.trim()).ok_or(StoreError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(StoreError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let payload = Payload {
            msg: ciphertext,
            aad: purpose.as_bytes(),
        };
        let plain = ChaCha20Poly1305::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| StoreError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| StoreError::Decrypt)
    }
}

/// Cryptographically random bytes.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| StoreError::MasterKey(format!("no randomness: {e}")))?;
    Ok(buf)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::load(dir.path(), None).unwrap();
        let sealed = key.seal("wJalrXUtnFEMI/K7MDENG").unwrap();
        assert!(!sealed.ciphertext.contains("wJalr"));
        let again = MasterKey::load(dir.path(), None).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), "wJalrXUtnFEMI/K7MDENG");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        assert!(matches!(other.open(&sealed), Err(StoreError::Decrypt)));
    }

    #[test]
    fn tokens_open_only_unchanged_with_their_key_and_purpose() {
        let key = MasterKey::from_hex(&"22".repeat(32)).unwrap();
        let token = key
            .seal_token("authorization-message", "{\"allowed\":false}")
            .unwrap();
        assert!(!token.contains("allowed"));
        assert_eq!(
            key.open_token("authorization-message", &token).unwrap(),
            "{\"allowed\":false}"
        );
        assert!(key.open_token("other-purpose", &token).is_err());
        let other = MasterKey::from_hex(&"11".repeat(32)).unwrap();
        assert!(other.open_token("authorization-message", &token).is_err());
        let last = token.len() - 1;
        let flipped = if &token[last..] == "0" { "1" } else { "0" };
        let tampered = format!("{}{flipped}", &token[..last]);
        assert!(key.open_token("authorization-message", &tampered).is_err());
        assert!(key.open_token("authorization-message", "zz").is_err());
        assert!(key.open_token("authorization-message", "").is_err());
    }
}
