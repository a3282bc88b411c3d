//! Request timestamps: parsing `X-Amz-Date` (ISO 8601 basic,
//! `20150830T123600Z`) and HTTP `Date` headers (`Sun, 30 Aug 2015 12:36:00 GMT`),
//! and formatting back to the ISO 8601 basic form used in the string to sign.
//!
//! Calendar arithmetic uses the proleptic Gregorian days-from-civil and
//! civil-from-days conversions, so no date/time crate is needed.

use std::fmt;

const SECONDS_PER_DAY: i64 = 86_400;

/// A point in time with one-second resolution, as carried by SigV4 requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmzDate {
    unix_seconds: i64,
}

impl AmzDate {
    /// The time `unix_seconds` seconds after 1970-01-01T00:00:00Z.
    pub fn from_unix_seconds(unix_seconds: i64) -> Self {
        AmzDate { unix_seconds }
    }

    /// Seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.unix_seconds
    }

    /// Parses the ISO 8601 basic format `yyyyMMdd'T'HHmmss'Z'`, exactly as
    /// SigV4 requires for `X-Amz-Date`. Returns `None` on anything else.
    pub fn parse_iso8601_basic(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let year = digits(bytes, 0, 4)?;
        let month = digits(bytes, 4, 2)?;
        let day = digits(bytes, 6, 2)?;
        let hour = digits(bytes, 9, 2)?;
        let minute = digits(bytes, 11, 2)?;
        let second = digits(bytes, 13, 2)?;
        from_fields(year, month, day, hour, minute, second, 0)
    }

    /// Parses an HTTP `Date` header in the RFC 7231 IMF-fixdate form
    /// (`Sun, 30 Aug 2015 12:36:00 GMT`), also accepting the RFC 2822 variants
    /// that clients produce: no weekday, a one-digit day, and a `UTC` or
    /// numeric `+hhmm`/`-hhmm` zone (botocore sends `-0000`).
    pub fn parse_http_date(text: &str) -> Option<Self> {
        let mut fields: Vec<&str> = text.split_ascii_whitespace().collect();
        if fields.first().is_some_and(|first| first.ends_with(',')) {
            fields.remove(0);
        }
        let [day, month, year, time, zone] = fields.as_slice() else {
            return None;
        };
        let day = small_number(day, 1, 2)?;
        let month = month_number(month)?;
        let year = small_number(year, 4, 4)?;
        let (hour, minute, second) = clock_time(time)?;
        let offset = zone_offset_seconds(zone)?;
        from_fields(year, month, day, hour, minute, second, offset)
    }

    /// The `yyyyMMdd` date stamp used in the credential scope.
    pub fn date_stamp(&self) -> String {
        let (year, month, day) = self.civil_date();
        format!("{year:04}{month:02}{day:02}")
    }

    fn civil_date(&self) -> (i64, i64, i64) {
        civil_from_days(self.unix_seconds.div_euclid(SECONDS_PER_DAY))
    }

    /// A new time `seconds` later (saturating, never overflowing).
    pub(crate) fn plus_seconds(&self, seconds: i64) -> Self {
        AmzDate::from_unix_seconds(self.unix_seconds.saturating_add(seconds))
    }
}

/// Formats as ISO 8601 basic, `20150830T123600Z`.
impl fmt::Display for AmzDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, month, day) = self.civil_date();
        let second_of_day = self.unix_seconds.rem_euclid(SECONDS_PER_DAY);
        let hour = second_of_day / 3600;
        let minute = second_of_day % 3600 / 60;
        let second = second_of_day % 60;
        write!(
            f,
            "{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z"
        )
    }
}

/// `count` ASCII digits starting at `start`, as a number.
fn digits(bytes: &[u8], start: usize, count: usize) -> Option<i64> {
    let slice = bytes.get(start..start.checked_add(count)?)?;
    let mut value: i64 = 0;
    for &byte in slice {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + i64::from(byte - b'0');
    }
    Some(value)
}

/// A number written with between `min_len` and `max_len` digits.
fn small_number(text: &str, min_len: usize, max_len: usize) -> Option<i64> {
    if text.len() < min_len || text.len() > max_len {
        return None;
    }
    digits(text.as_bytes(), 0, text.len())
}

fn month_number(name: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let index = MONTHS.iter().position(|month| *month == name)?;
    i64::try_from(index + 1).ok()
}

/// `HH:MM:SS`.
fn clock_time(text: &str) -> Option<(i64, i64, i64)> {
    let bytes = text.as_bytes();
    if bytes.len() != 8 || bytes[2] != b':' || bytes[5] != b':' {
        return None;
    }
    Some((
        digits(bytes, 0, 2)?,
        digits(bytes, 3, 2)?,
        digits(bytes, 6, 2)?,
    ))
}

/// The zone's offset east of UTC, in seconds.
fn zone_offset_seconds(zone: &str) -> Option<i64> {
    if zone == "GMT" || zone == "UTC" || zone == "Z" {
        return Some(0);
    }
    let bytes = zone.as_bytes();
    let sign = match bytes.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    if bytes.len() != 5 {
        return None;
    }
    let hours = digits(bytes, 1, 2)?;
    let minutes = digits(bytes, 3, 2)?;
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Builds a time from validated calendar fields; `offset` is the zone's
/// offset east of UTC in seconds.
fn from_fields(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    offset: i64,
) -> Option<AmzDate> {
    let valid = (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour <= 23
        && minute <= 59
        && second <= 59;
    if !valid {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let local = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    Some(AmzDate::from_unix_seconds(local - offset))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date. Years are shifted to
/// start in March so the leap day is the last day of the shifted year; 400-year
/// eras of 146 097 days then make the arithmetic exact.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year.rem_euclid(400);
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day) of a day number.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2015-08-30T12:36:00Z, the AWS test-suite request time.
    const SUITE_TIME: i64 = 1_440_938_160;

    #[test]
    fn parses_and_formats_the_suite_time() {
        let time = AmzDate::parse_iso8601_basic("20150830T123600Z").unwrap();
        assert_eq!(time.unix_seconds(), SUITE_TIME);
        assert_eq!(time.to_string(), "20150830T123600Z");
        assert_eq!(time.date_stamp(), "20150830");
    }

    #[test]
    fn epoch_and_leap_days() {
        assert_eq!(
            AmzDate::from_unix_seconds(0).to_string(),
            "19700101T000000Z"
        );
        let leap = AmzDate::parse_iso8601_basic("20000229T235959Z").unwrap();
        assert_eq!(leap.unix_seconds(), 951_868_799);
        assert_eq!(leap.plus_seconds(1).to_string(), "20000301T000000Z");
        assert!(AmzDate::parse_iso8601_basic("19000229T000000Z").is_none());
        assert!(AmzDate::parse_iso8601_basic("20240229T000000Z").is_some());
        let before_epoch = AmzDate::from_unix_seconds(-1);
        assert_eq!(before_epoch.to_string(), "19691231T235959Z");
    }

    #[test]
    fn round_trips_across_many_days() {
        for days in (-800_000..800_000).step_by(997) {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn rejects_malformed_iso_times() {
        for text in [
            "",
            "20150830T123600",
            "20150830t123600Z",
            "20150830T123600Z ",
            "2015083OT123600Z",
            "20151330T123600Z",
            "20150832T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "+0150830T123600Z",
            "2015-08-30T12:36:00Z",
            "２0150830T123600Z",
        ] {
            assert!(AmzDate::parse_iso8601_basic(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn parses_http_dates() {
        for text in [
            "Sun, 30 Aug 2015 12:36:00 GMT",
            "Sun, 30 Aug 2015 12:36:00 -0000",
            "30 Aug 2015 12:36:00 UTC",
            "Sun, 30 Aug 2015 14:36:00 +0200",
        ] {
            let time = AmzDate::parse_http_date(text).unwrap();
            assert_eq!(time.unix_seconds(), SUITE_TIME, "{text}");
        }
        let one_digit = AmzDate::parse_http_date("Tue, 1 Sep 2015 00:00:00 GMT").unwrap();
        assert_eq!(one_digit.to_string(), "20150901T000000Z");
    }

    #[test]
    fn rejects_malformed_http_dates() {
        for text in [
            "",
            "Sun, 30 Aug 2015 12:36:00",
            "Sun, 30 Foo 2015 12:36:00 GMT",
            "Sun, 31 Sep 2015 12:36:00 GMT",
            "Sun, 30 Aug 15 12:36:00 GMT",
            "Sun, 30 Aug 2015 12-36-00 GMT",
            "Sun, 30 Aug 2015 12:36:00 +02",
            "Sun, 30 Aug 2015 12:36:00 +2400",
            "Sun, 30 Aug 2015 12:36:00 GMT extra",
        ] {
            assert!(AmzDate::parse_http_date(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn extreme_times_format_without_panicking() {
        for seconds in [i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1] {
            let time = AmzDate::from_unix_seconds(seconds);
            let _ = time.to_string();
            let _ = time.date_stamp();
            let _ = time.plus_seconds(900);
            let _ = time.plus_seconds(-900);
        }
    }
}
