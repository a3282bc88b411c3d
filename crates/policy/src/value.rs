//! Typed values of conditions: dates (ISO 8601 or epoch seconds), IP ranges, numbers
//! and booleans, parsed the same way for policy values and request values.

use std::net::IpAddr;

/// Parses a date as AWS does: W3C ISO 8601 (`2025-01-01`, `2025-01-01T00:00Z`,
/// `2025-01-01T00:00:00.000+02:00`, no zone = UTC) or epoch seconds. Returns epoch
/// milliseconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok()?.checked_mul(1000);
    }
    parse_iso8601(s)
}

fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let year = digits(b, 0, 4)?;
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut millis = days_from_civil(year, month, day) * 86_400_000;
    if b.len() == 10 {
        return Some(millis);
    }
    if !matches!(b.get(10), Some(b'T' | b't')) {
        return None;
    }
    let hour = digits(b, 11, 2)?;
    if b.get(13) != Some(&b':') {
        return None;
    }
    let minute = digits(b, 14, 2)?;
    let mut i = 16;
    let mut second = 0;
    if b.get(i) == Some(&b':') {
        second = digits(b, i + 1, 2)?;
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let frac = s.get(start..i).filter(|f| !f.is_empty())?;
            let ms: String = frac.chars().chain("000".chars()).take(3).collect();
            millis += ms.parse::<i64>().ok()?;
        }
    }
    if hour > 24 || minute > 59 || second > 60 || (hour == 24 && (minute | second) != 0) {
        return None;
    }
    millis += (hour * 3600 + minute * 60 + second) * 1000;
    let offset = parse_zone(b.get(i..)?)?;
    Some(millis - offset * 60_000)
}

/// Minutes east of UTC for `Z`, `+hh:mm`, `+hhmm`, `+hh`, or nothing (UTC).
fn parse_zone(b: &[u8]) -> Option<i64> {
    match b.first() {
        None => Some(0),
        Some(b'Z' | b'z') if b.len() == 1 => Some(0),
        Some(&sign @ (b'+' | b'-')) => {
            let hours = digits(b, 1, 2)?;
            let minutes = match b.len() {
                3 => 0,
                5 => digits(b, 3, 2)?,
                6 if b[3] == b':' => digits(b, 4, 2)?,
                _ => return None,
            };
            let total = hours * 60 + minutes;
            Some(if sign == b'-' { -total } else { total })
        }
        _ => None,
    }
}

fn digits(b: &[u8], start: usize, len: usize) -> Option<i64> {
    let part = b.get(start..start + len)?;
    part.iter().try_fold(0i64, |acc, d| {
        d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
    })
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An IPv4 or IPv6 range; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Option<Cidr> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                (a, Some(p.parse::<u8>().ok()?))
            }
            Some(_) => return None,
            None => (s, None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Cidr { network, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same_prefix(
                u128::from(u32::from(n)) << 96,
                u128::from(u32::from(a)) << 96,
                self.prefix,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                same_prefix(u128::from(n), u128::from(a), self.prefix)
            }
            _ => false,
        }
    }
}

fn same_prefix(a: u128, b: u128, prefix: u8) -> bool {
    prefix == 0 || (a ^ b) >> (128 - u32::from(prefix)) == 0
}

/// Parses a request or policy IP address (no range).
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.trim().parse().ok()
}

/// Parses a number as IAM numeric operators do (integers and decimals).
pub fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim();
    let valid = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    valid
        .then(|| s.parse::<f64>().ok())
        .flatten()
        .filter(|n| n.is_finite())
}

/// `true`/`false`, case-insensitive.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = parse_date("2025-01-01T00:00:00Z").unwrap();
        assert_eq!(d, 1_735_689_600_000);
        assert_eq!(parse_date("2025-01-01T00:00Z"), Some(d));
        assert_eq!(parse_date("2025-01-01"), Some(d));
        assert_eq!(parse_date("1735689600"), Some(d));
        assert_eq!(parse_date("2025-01-01T02:00:00+02:00"), Some(d));
        assert_eq!(parse_date("2025-01-01T00:00:00.250Z"), Some(d + 250));
        assert_eq!(parse_date("2024-02-29"), Some(1_709_164_800_000));
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "yesterday",
            "2025-01-01T",
            "",
            "2025-01-01T25:00Z",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse("203.0.113.0/24").unwrap();
        assert!(c.contains(parse_ip("203.0.113.200").unwrap()));
        assert!(!c.contains(parse_ip("198.51.100.7").unwrap()));
        let host = Cidr::parse("203.0.113.7").unwrap();
        assert!(host.contains(parse_ip("203.0.113.7").unwrap()));
        assert!(!host.contains(parse_ip("203.0.113.8").unwrap()));
        let v6 = Cidr::parse("2001:db8:1234::/48").unwrap();
        assert!(v6.contains(parse_ip("2001:db8:1234:5678::1").unwrap()));
        assert!(!v6.contains(parse_ip("203.0.113.7").unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains(parse_ip("1.2.3.4").unwrap()));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("10.0.0/8").is_none());
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_number("300"), Some(300.0));
        assert_eq!(parse_number("1.5"), Some(1.5));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }
}
