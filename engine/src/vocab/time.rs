//! Times and time ranges as users write them: an RFC 3339 instant (`2026-12-01T09:00:00Z`), a
//! UTC date (`2026-12-01`, its midnight), or an age (`30m`, `24h`, `7d`: that long
//! before now).

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, Time};

/// The forms a time may take, for error messages.
pub const TIME_FORMS: &str = "an RFC 3339 time (2026-12-01T09:00:00Z), a date (2026-12-01) or an age (30m, 24h, 7d)";

/// A time that is none of [`TIME_FORMS`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{value}` is not a time: use {TIME_FORMS}")]
pub struct BadTime {
    pub value: String,
}

/// `[since_ms, until_ms)` in Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub since_ms: u64,
    pub until_ms: u64,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RangeError {
    #[error(transparent)]
    BadTime(#[from] BadTime),
    #[error("`since` must be before `until`")]
    Empty,
}

impl TimeRange {
    /// The range from `since` (default: 7 days ago) to `until` (default: now).
    ///
    /// # Errors
    /// [`RangeError`] for a malformed time or an empty range.
    pub fn parse(since: Option<&str>, until: Option<&str>, now_ms: u64) -> Result<TimeRange, RangeError> {
        let since_ms = since.map_or(Ok(now_ms.saturating_sub(7 * DAY_MS)), |s| parse_time(s, now_ms))?;
        let until_ms = until.map_or(Ok(now_ms.saturating_add(1)), |s| parse_time(s, now_ms))?;
        if since_ms >= until_ms {
            return Err(RangeError::Empty);
        }
        Ok(TimeRange { since_ms, until_ms })
    }
}

pub const DAY_MS: u64 = 24 * 3600 * 1000;

/// One time in any of [`TIME_FORMS`], in Unix milliseconds.
///
/// # Errors
/// [`BadTime`] otherwise.
pub fn parse_time(value: &str, now_ms: u64) -> Result<u64, BadTime> {
    match age_ms(value) {
        Some(age) => Ok(now_ms.saturating_sub(age?)),
        None => parse_instant(value),
    }
}

/// A time in the future: an age from now (`90d`) or an RFC 3339 time or date.
///
/// # Errors
/// [`BadTime`] otherwise.
pub fn parse_future(value: &str, now_ms: u64) -> Result<u64, BadTime> {
    match age_ms(value) {
        Some(age) => Ok(now_ms.saturating_add(age?)),
        None => parse_instant(value),
    }
}

/// `Some` when `value` has the form of an age (digits and one of `s`, `m`, `h`, `d`),
/// with its milliseconds, or the error when the unit is not one of those.
fn age_ms(value: &str) -> Option<Result<u64, BadTime>> {
    let v = value.trim();
    let bad = || BadTime {
        value: value.to_owned(),
    };
    let (n, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .filter(|&i| i > 0 && i == v.len() - 1)
        .map(|i| v.split_at(i))?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => DAY_MS,
        _ => return Some(Err(bad())),
    };
    Some(n.parse::<u64>().map(|n| n.saturating_mul(unit_ms)).map_err(|_| bad()))
}

fn parse_instant(value: &str) -> Result<u64, BadTime> {
    let v = value.trim();
    let bad = || BadTime {
        value: value.to_owned(),
    };
    let instant = if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        t
    } else {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let date = Date::parse(v, &format).map_err(|_| bad())?;
        date.with_time(Time::MIDNIGHT).assume_utc()
    };
    u64::try_from(instant.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad())
}

/// The UTC date of `at_ms`, `YYYY-MM-DD`.
pub fn day_of(at_ms: u64) -> String {
    let nanos = i128::from(at_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).map_or_else(
        |_| "invalid".to_owned(),
        |t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        },
    )
}

/// `at_ms` as RFC 3339 (UTC).
pub fn rfc3339(at_ms: u64) -> String {
    let nanos = i128::from(at_ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_796_287_439_000; // 2026-12-03T08:43:59Z

    #[test]
    fn every_form_parses() {
        assert_eq!(parse_time("2026-12-01T00:00:00Z", NOW).unwrap(), 1_796_083_200_000);
        assert_eq!(parse_time("2026-12-01", NOW).unwrap(), 1_796_083_200_000);
        assert_eq!(parse_time("7d", NOW).unwrap(), NOW - 7 * DAY_MS);
        assert_eq!(parse_time("90m", NOW).unwrap(), NOW - 90 * 60_000);
        assert_eq!(day_of(NOW), "2026-12-03");
        assert_eq!(rfc3339(1_796_083_200_000), "2026-12-01T00:00:00Z");
    }

    #[test]
    fn malformed_times_and_empty_ranges_are_refused() {
        for bad in ["yesterday", "7w", "d", "2026-13-01", "", "-3d"] {
            let e = parse_time(bad, NOW).unwrap_err();
            assert!(e.to_string().contains("RFC 3339"), "{bad}: {e}");
        }
        assert_eq!(TimeRange::parse(Some("1d"), Some("2d"), NOW), Err(RangeError::Empty));
        let r = TimeRange::parse(None, None, NOW).unwrap();
        assert_eq!((r.since_ms, r.until_ms), (NOW - 7 * DAY_MS, NOW + 1));
    }
}
