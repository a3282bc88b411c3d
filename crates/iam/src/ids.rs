//! Identifiers and clocks in AWS's formats: access key ids (AKIA/ASIA), unique ids
//! (AIDA user, AROA role, AGPA group, ANPA policy), secrets, session tokens, request
//! ids, and ISO 8601 timestamps.

use crate::IamError;

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE62: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random<const N: usize>() -> Result<[u8; N], IamError> {
    store::random_bytes::<N>().map_err(IamError::Store)
}

fn encode(bytes: &[u8], alphabet: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| char::from(alphabet[usize::from(*b) % alphabet.len()]))
        .collect()
}

/// An access key id: a 4-letter prefix (AKIA, ASIA) and 16 upper-case base32 characters.
pub fn access_key_id(prefix: &str) -> Result<String, IamError> {
    Ok(format!("{prefix}{}", encode(&random::<16>()?, BASE32)))
}

/// A unique id of a user, role, group or policy: a 4-letter prefix (AIDA, AROA, AGPA,
/// ANPA) and 17 upper-case base32 characters, 21 in all as AWS's.
pub fn unique_id(prefix: &str) -> Result<String, IamError> {
    Ok(format!("{prefix}{}", encode(&random::<17>()?, BASE32)))
}

/// A 40-character secret access key.
pub fn secret_access_key() -> Result<String, IamError> {
    let mut s = encode(&random::<40>()?, BASE62);
    s.replace_range(10..11, "/");
    Ok(s)
}

/// An opaque session token.
pub fn session_token() -> Result<String, IamError> {
    Ok(format!("FwoGZXIvYXdzE{}", encode(&random::<96>()?, BASE62)))
}

/// A request id in AWS's UUID form.
pub fn request_id() -> String {
    uuid_text(&unique_bytes::<16>())
}

/// Random bytes for ids that must be unique, not secret (request, event and message
/// ids): from the thread's generator, seeded by the operating system, without a
/// system call per id. Keys, secrets and tokens take `store::random_bytes`.
pub fn unique_bytes<const N: usize>() -> [u8; N] {
    use rand::Rng;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// 16 bytes as lower-case hex in the UUID grouping (8-4-4-4-12).
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

/// A lower-case id of `len` characters from `[a-z0-9]` (organization ids and the like).
pub fn short_id(len: usize) -> Result<String, IamError> {
    let bytes = random::<32>()?;
    Ok(encode(
        &bytes[..len.min(32)],
        b"abcdefghijklmnopqrstuvwxyz0123456789",
    ))
}

/// A 12-digit account id.
pub fn account_id() -> Result<String, IamError> {
    let bytes = random::<12>()?;
    Ok(bytes.iter().map(|b| char::from(b'0' + b % 10)).collect())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2025-03-01T10:00:00Z` for epoch milliseconds.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let mut out = String::with_capacity(20);
    let fields = [
        (y, 4, '-'),
        (m, 2, '-'),
        (d, 2, 'T'),
        (rem / 3600, 2, ':'),
        (rem % 3600 / 60, 2, ':'),
        (rem % 60, 2, 'Z'),
    ];
    for (value, width, then) in fields {
        push_padded(&mut out, value, width);
        out.push(then);
    }
    out
}

/// `value` in decimal, zero-padded to `width` digits (as `{value:0width$}` formats it).
fn push_padded(out: &mut String, value: i64, width: u32) {
    match u32::try_from(value) {
        Ok(v) if v < 10u32.pow(width) => {
            for place in (0..width).rev() {
                out.push(char::from(b'0' + (v / 10u32.pow(place) % 10) as u8));
            }
        }
        _ => out.push_str(&format!("{value:0width$}", width = width as usize)),
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(iso8601(1_740_823_200_000), "2025-03-01T10:00:00Z");
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(-1), "1969-12-31T23:59:59Z");
        assert_eq!(iso8601(253_402_300_800_000), "10000-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_404_323_277), "2026-11-23T03:25:23Z");
        let id = access_key_id("AKIA").unwrap();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("AKIA"));
        assert_eq!(unique_id("AIDA").unwrap().len(), 21);
        assert_eq!(secret_access_key().unwrap().len(), 40);
        assert_eq!(request_id().len(), 36);
        assert_eq!(account_id().unwrap().len(), 12);
    }

    #[test]
    fn request_ids_are_fresh_uuid_text() {
        let bytes: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
        assert_eq!(uuid_text(&bytes), "00112233-4455-6677-8899-aabbccddeeff");
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 1000);
        let from_other_thread = std::thread::spawn(request_id).join().unwrap();
        assert!(!ids.contains(&from_other_thread));
    }
}
