//! SHA-256, HMAC-SHA256 (RFC 2104), the SigV4 signing-key chain and the
//! constant-time signature comparison.
//!
//! HMAC is written out here on top of `sha2` because the construction is a
//! few lines and, unlike a keyed-MAC constructor that returns a `Result`, it
//! has no failure path at all. It is checked against the RFC 4231 vectors.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::encoding::hex_lower;

const BLOCK_SIZE: usize = 64;

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lowercase hex SHA-256 of `data`, as used for payload and request hashes.
pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&sha256(data))
}

/// HMAC-SHA256 of `message` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block_key = [0u8; BLOCK_SIZE];
    if key.len() > BLOCK_SIZE {
        block_key[..32].copy_from_slice(&sha256(key));
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block_key.map(|byte| byte ^ 0x36));
    inner.update(message);
    let inner_hash = inner.finalize();

    let mut outer = Sha256::new();
    outer.update(block_key.map(|byte| byte ^ 0x5c));
    outer.update(inner_hash);
    outer.finalize().into()
}

/// The derived SigV4 signing key. Deliberately has no `Debug`, `Display` or
/// `Clone`: it must never end up in logs or errors.
pub(crate) struct SigningKey([u8; 32]);

impl SigningKey {
    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    pub(crate) fn derive(secret_access_key: &str, date: &str, region: &str, service: &str) -> Self {
        let mut seed = Vec::with_capacity(4 + secret_access_key.len());
        seed.extend_from_slice(b"AWS4");
        seed.extend_from_slice(secret_access_key.as_bytes());
        let k_date = hmac_sha256(&seed, date.as_bytes());
        let k_region = hmac_sha256(&k_date, region.as_bytes());
        let k_service = hmac_sha256(&k_region, service.as_bytes());
        SigningKey(hmac_sha256(&k_service, b"aws4_request"))
    }

    /// The hex signature of a string to sign.
    pub(crate) fn sign_hex(&self, string_to_sign: &str) -> String {
        hex_lower(&hmac_sha256(&self.0, string_to_sign.as_bytes()))
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// Compares two signatures without an early exit on the first differing byte.
pub(crate) fn signatures_equal(expected: &str, provided: &str) -> bool {
    expected.as_bytes().ct_eq(provided.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn hmac_matches_rfc4231_test_case_1() {
        let key = [0x0b; 20];
        assert_eq!(
            hex_lower(&hmac_sha256(&key, b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_test_case_2() {
        assert_eq!(
            hex_lower(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn hmac_matches_rfc4231_test_case_6_with_a_key_longer_than_a_block() {
        let key = [0xaa; 131];
        let message = b"Test Using Larger Than Block-Size Key - Hash Key First";
        assert_eq!(
            hex_lower(&hmac_sha256(&key, message)),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// AWS's documented signing-key example (IAM, 20150830, us-east-1).
    #[test]
    fn signing_key_matches_the_documented_iam_example() {
        let key = SigningKey::derive(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20150830",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            key.bytes().to_vec(),
            from_hex("c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        );
    }

    #[test]
    fn signature_comparison() {
        assert!(signatures_equal("abcd", "abcd"));
        assert!(!signatures_equal("abcd", "abce"));
        assert!(!signatures_equal("abcd", "abc"));
        assert!(!signatures_equal("abcd", ""));
    }
}
