//! SES SMTP password derivation from an IAM secret access key.
//!
//! AWS documents the algorithm: a SigV4-style HMAC chain over the fixed date
//! `11111111`, the region, service `ses` and terminator `aws4_request`, then
//! the message `SendRawEmail`; the result is prefixed with version byte `0x04`
//! and Base64-encoded.

use crate::crypto::hmac_sha256;
use crate::encoding::base64_standard;

const DATE: &[u8] = b"11111111";
const SERVICE: &[u8] = b"ses";
const TERMINAL: &[u8] = b"aws4_request";
const MESSAGE: &[u8] = b"SendRawEmail";
const VERSION: u8 = 0x04;

/// The SES SMTP password for `secret_access_key` in `region`.
pub fn ses_smtp_password(secret_access_key: &str, region: &str) -> String {
    let mut seed = Vec::with_capacity(4 + secret_access_key.len());
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&seed, DATE);
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, SERVICE);
    let k_terminal = hmac_sha256(&k_service, TERMINAL);
    let k_message = hmac_sha256(&k_terminal, MESSAGE);

    let mut password = Vec::with_capacity(1 + k_message.len());
    password.push(VERSION);
    password.extend_from_slice(&k_message);
    base64_standard(&password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_shape() {
        let password = ses_smtp_password("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1");
        // 33 bytes -> 44 Base64 characters, no padding; 0x04 prefix -> "B".
        assert_eq!(password.len(), 44);
        assert!(password.starts_with('B'));
        assert_ne!(
            password,
            ses_smtp_password("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1")
        );
    }
}
