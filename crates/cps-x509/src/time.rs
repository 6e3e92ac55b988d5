//! A small UTC timestamp type: seconds since the Unix epoch, with the calendar conversions the
//! certificate profile needs (no time-zone database, no big time crate; `der`'s `DateTime` does
//! the civil-calendar arithmetic).

use core::fmt;
use core::time::Duration;

use der::DateTime;

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// A point in time, UTC, as seconds since 1970-01-01T00:00:00Z.
///
/// Certificates carry times from 1970 to 9999 (RFC 5280 §4.1.2.5 with `der`'s lower bound);
/// comparisons and differences work on the whole `i64` range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The instant `secs` seconds after the Unix epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs)
    }

    /// Seconds since the Unix epoch.
    pub const fn secs(self) -> i64 {
        self.0
    }

    /// The current system time (clamped to the epoch if the clock is before 1970).
    pub fn now() -> Self {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self(secs)
    }

    /// A UTC calendar date and time; `None` if it does not exist or lies outside 1970..=9999.
    pub fn from_ymd_hms(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Option<Self> {
        let dt = DateTime::new(year, month, day, hour, minute, second).ok()?;
        i64::try_from(dt.unix_duration().as_secs()).ok().map(Self)
    }

    /// Midnight UTC at the start of a calendar date.
    pub fn from_ymd(year: u16, month: u8, day: u8) -> Option<Self> {
        Self::from_ymd_hms(year, month, day, 0, 0, 0)
    }

    /// Parses `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let num = |r: core::ops::Range<usize>| -> Option<u16> {
            let s = text.get(r)?;
            if s.bytes().all(|c| c.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            }
        };
        let sep = |i: usize, c: u8| b.get(i) == Some(&c);
        if !(sep(4, b'-') && sep(7, b'-')) {
            return None;
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (mo, d) = (u8::try_from(mo).ok()?, u8::try_from(d).ok()?);
        match b.len() {
            10 => Self::from_ymd(y, mo, d),
            20 if sep(10, b'T') && sep(13, b':') && sep(16, b':') && sep(19, b'Z') => {
                let h = u8::try_from(num(11..13)?).ok()?;
                let mi = u8::try_from(num(14..16)?).ok()?;
                let s = u8::try_from(num(17..19)?).ok()?;
                Self::from_ymd_hms(y, mo, d, h, mi, s)
            }
            _ => None,
        }
    }

    /// The calendar date and time, if the instant lies in 1970..=9999.
    pub fn to_date_time(self) -> Option<DateTime> {
        let secs = u64::try_from(self.0).ok()?;
        DateTime::from_unix_duration(Duration::from_secs(secs)).ok()
    }

    /// `YYYY-MM-DD`, or the raw second count if the instant is outside 1970..=9999.
    pub fn date(self) -> String {
        match self.to_date_time() {
            Some(dt) => format!("{:04}-{:02}-{:02}", dt.year(), dt.month(), dt.day()),
            None => format!("@{}", self.0),
        }
    }

    /// The same instant `years` calendar years later (29 February maps to 28 February in a
    /// non-leap target year); `None` outside 1970..=9999.
    pub fn add_years(self, years: u16) -> Option<Self> {
        let dt = self.to_date_time()?;
        let year = dt.year().checked_add(years)?;
        let mut day = dt.day();
        if dt.month() == 2 && day == 29 && !is_leap(year) {
            day = 28;
        }
        Self::from_ymd_hms(year, dt.month(), day, dt.hour(), dt.minutes(), dt.seconds())
    }

    /// The same instant `secs` seconds later, saturating.
    pub const fn add_secs(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }

    /// Whole days from `self` to `later` (floor; negative if `later` is earlier).
    pub fn days_until(self, later: UnixTime) -> i64 {
        later.0.saturating_sub(self.0).div_euclid(SECONDS_PER_DAY)
    }
}

fn is_leap(year: u16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

impl fmt::Display for UnixTime {
    /// RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_date_time() {
            Some(dt) => write!(
                f,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                dt.year(),
                dt.month(),
                dt.day(),
                dt.hour(),
                dt.minutes(),
                dt.seconds()
            ),
            None => write!(f, "@{}", self.0),
        }
    }
}

/// A certificate's validity period (RFC 5280 §4.1.2.5): valid at `t` iff
/// `not_before <= t <= not_after`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Validity {
    /// First instant of validity.
    pub not_before: UnixTime,
    /// Last instant of validity (inclusive).
    pub not_after: UnixTime,
}

impl Validity {
    /// Whether `at` falls inside the period.
    pub fn contains(&self, at: UnixTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// `years` calendar years starting at `not_before`, ending one second before the
    /// anniversary (e.g. 2025-07-01T00:00:00Z + 3 years → not after 2028-06-30T23:59:59Z).
    pub fn years_from(not_before: UnixTime, years: u16) -> Option<Self> {
        let end = not_before.add_years(years)?.add_secs(-1);
        Some(Self {
            not_before,
            not_after: end,
        })
    }
}

/// Converts an X.509 `Time` into a [`UnixTime`].
pub(crate) fn from_x509_time(t: &x509_cert::time::Time) -> UnixTime {
    let secs = t.to_unix_duration().as_secs();
    UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// Encodes a [`UnixTime`] as RFC 5280 requires: UTCTime through 2049, GeneralizedTime from 2050.
pub(crate) fn to_x509_time(t: UnixTime) -> Option<x509_cert::time::Time> {
    use der::asn1::{GeneralizedTime, UtcTime};
    let dt = t.to_date_time()?;
    if dt.year() < 2050 {
        UtcTime::from_date_time(dt)
            .ok()
            .map(x509_cert::time::Time::UtcTime)
    } else {
        Some(x509_cert::time::Time::GeneralTime(
            GeneralizedTime::from_date_time(dt),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        let t = UnixTime::from_ymd(2027, 1, 15).unwrap();
        assert_eq!(t.date(), "2027-01-15");
        assert_eq!(t.to_string(), "2027-01-15T00:00:00Z");
        assert_eq!(UnixTime::parse("2027-01-15"), Some(t));
        assert_eq!(
            UnixTime::parse("2027-01-15T23:59:59Z"),
            Some(t.add_secs(86_399))
        );
        assert_eq!(UnixTime::parse("2027-02-30"), None);
        assert_eq!(UnixTime::parse("2027-1-15"), None);
        assert_eq!(UnixTime::parse("+027-01-15"), None);
        let v = Validity::years_from(UnixTime::from_ymd(2025, 7, 1).unwrap(), 3).unwrap();
        assert_eq!(v.not_after.to_string(), "2028-06-30T23:59:59Z");
        let leap = UnixTime::from_ymd(2024, 2, 29).unwrap();
        assert_eq!(leap.add_years(3).unwrap().date(), "2027-02-28");
        assert_eq!(UnixTime::from_secs(-5).date(), "@-5");
        assert_eq!(t.days_until(t.add_secs(-1)), -1);
    }
}
