//! VERP return paths: outbound mail leaves with `MAIL FROM:<bounces+TOKEN@DOMAIN>`,
//! where TOKEN names the message (its accept time and a digest of its id) and the
//! recipient (its position in the message's destination), and carries an HMAC tag,
//! so a report to an address we did not hand out is recognised as forged.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use store::{MasterKey, Store};

/// The local-part prefix of every return path.
pub const PREFIX: &str = "bounces+";

/// Store table of the tagging key (sealed by the master key).
const TABLE: &str = "verp_key";

const BODY_LEN: usize = 11;
const TAG_LEN: usize = 8;

/// What a valid token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub created_ms: i64,
    /// The first bytes of SHA-256 of the message id.
    pub digest: [u8; 4],
    /// Index of the recipient in the message's destination.
    pub recipient: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerpError {
    #[error("not a bounce address of this server")]
    NotOurs,
    #[error("malformed bounce address token")]
    Malformed,
    #[error("bounce address token failed authentication")]
    Forged,
}

/// The key that tags tokens and the domain of return paths.
#[derive(Clone)]
pub struct Verp {
    key: [u8; 32],
    pub domain: String,
}

impl Verp {
    /// Loads the tagging key from the store, creating it on first use.
    pub fn load(
        store: &Store,
        master: &MasterKey,
        domain: &str,
    ) -> Result<Verp, store::StoreError> {
        let mut tx = store.write()?;
        let sealed: Option<store::SealedSecret> = tx.get(TABLE, "key")?;
        let hex_key = match sealed {
            Some(s) => master.open(&s)?,
            None => {
                let fresh = hex(&store::random_bytes::<32>()?);
                tx.put(TABLE, "key", &master.seal(&fresh)?)?;
                tx.commit()?;
                fresh
            }
        };
        let mut key = [0u8; 32];
        for (slot, byte) in key.iter_mut().zip(unhex(&hex_key).unwrap_or_default()) {
            *slot = byte;
        }
        Ok(Verp {
            key,
            domain: domain.to_ascii_lowercase(),
        })
    }

    /// Return paths under a given key (tests, fuzzing).
    pub fn with_key(key: [u8; 32], domain: &str) -> Verp {
        Verp {
            key,
            domain: domain.into(),
        }
    }

    /// The return path for recipient number `recipient` of a message.
    pub fn return_path(&self, created_ms: i64, message_id: &str, recipient: usize) -> String {
        let token = Token {
            created_ms,
            digest: digest(message_id),
            recipient: u8::try_from(recipient).unwrap_or(u8::MAX),
        };
        let body = encode(&token);
        let tag = self.tag(&body);
        format!("{PREFIX}{}{}@{}", hex(&body), hex(&tag), self.domain)
    }

    /// Reads and authenticates the token of a return path.
    pub fn parse(&self, address: &str) -> Result<Token, VerpError> {
        let address = address.trim().trim_start_matches('<').trim_end_matches('>');
        let (local, domain) = address.rsplit_once('@').ok_or(VerpError::NotOurs)?;
        let prefix_len = PREFIX.len();
        let has_prefix = local
            .get(..prefix_len)
            .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX));
        if !domain.eq_ignore_ascii_case(&self.domain) || !has_prefix {
            return Err(VerpError::NotOurs);
        }
        let bytes = unhex(&local[prefix_len..]).ok_or(VerpError::Malformed)?;
        if bytes.len() != BODY_LEN + TAG_LEN {
            return Err(VerpError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = self.mac();
        mac.update(body);
        mac.verify_truncated_left(tag)
            .map_err(|_| VerpError::Forged)?;
        Ok(decode(body))
    }

    /// Whether `message_id` is the message a token names.
    pub fn names(token: &Token, created_ms: i64, message_id: &str) -> bool {
        token.created_ms == created_ms && token.digest == digest(message_id)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"))
    }

    fn tag(&self, body: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = self.mac();
        mac.update(body);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }
}

fn digest(message_id: &str) -> [u8; 4] {
    let full = Sha256::digest(message_id.as_bytes());
    [full[0], full[1], full[2], full[3]]
}

fn encode(token: &Token) -> [u8; BODY_LEN] {
    let mut out = [0u8; BODY_LEN];
    out[..6].copy_from_slice(&token.created_ms.to_be_bytes()[2..]);
    out[6..10].copy_from_slice(&token.digest);
    out[10] = token.recipient;
    out
}

fn decode(body: &[u8]) -> Token {
    let mut ms = [0u8; 8];
    ms[2..].copy_from_slice(&body[..6]);
    Token {
        created_ms: i64::from_be_bytes(ms),
        digest: [body[6], body[7], body[8], body[9]],
        recipient: body[10],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verp() -> Verp {
        Verp::with_key([7u8; 32], "bounce.example.net")
    }

    #[test]
    fn round_trip_names_message_and_recipient() {
        let v = verp();
        let id = "0100018c00000000-abc-000000";
        let path = v.return_path(1_700_000_000_123, id, 3);
        let local = path.split('@').next().unwrap();
        assert!(local.len() <= 64, "a local part is at most 64 octets");
        let token = v.parse(&path.to_ascii_uppercase()).unwrap();
        assert_eq!(token.recipient, 3);
        assert!(Verp::names(&token, 1_700_000_000_123, id));
        assert!(!Verp::names(&token, 1_700_000_000_123, "other"));
    }

    #[test]
    fn forged_and_foreign_tokens_are_refused() {
        let v = verp();
        let path = v.return_path(5, "m", 0);
        let mut forged = path.clone().into_bytes();
        forged[PREFIX.len()] = if forged[PREFIX.len()] == b'0' {
            b'1'
        } else {
            b'0'
        };
        let forged = String::from_utf8(forged).unwrap();
        assert_eq!(v.parse(&forged), Err(VerpError::Forged));
        let other = Verp::with_key([8u8; 32], "bounce.example.net");
        assert_eq!(other.parse(&path), Err(VerpError::Forged));
        assert_eq!(
            v.parse("bounces+zz@bounce.example.net"),
            Err(VerpError::Malformed)
        );
        assert_eq!(
            v.parse("bounces+00@bounce.example.net"),
            Err(VerpError::Malformed)
        );
        assert_eq!(
            v.parse("postmaster@bounce.example.net"),
            Err(VerpError::NotOurs)
        );
        assert_eq!(
            v.parse(&path.replace("bounce.example.net", "x.org")),
            Err(VerpError::NotOurs)
        );
        assert_eq!(v.parse("no-at-sign"), Err(VerpError::NotOurs));
    }
}
