//! When a card's certificates must be renewed.
//!
//! CPS4 cards live six years and their embedded certificates are renewed after three years by
//! remote update ("télé mise à jour", ANS CPS4 webinar, March 2025). A certificate is therefore
//! due for renewal when it expires within the caller's window, or when it reaches its third
//! anniversary even if it is valid longer.

use crate::cert::CpsCertificate;
use crate::time::UnixTime;

/// Age at which CPS4 certificates are renewed, in years.
pub const RENEWAL_AGE_YEARS: u16 = 3;

/// Why a certificate is due for renewal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RenewalReason {
    /// It expires within the window.
    ExpiresSoon,
    /// It has reached [`RENEWAL_AGE_YEARS`] (the CPS4 mid-life renewal).
    ThreeYearMark,
}

/// Renewal state of a certificate at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenewalStatus {
    /// Before notBefore.
    NotYetValid {
        /// Whole days until notBefore.
        days_until_valid: i64,
    },
    /// Valid and not due.
    Valid {
        /// Whole days until notAfter.
        days_left: i64,
    },
    /// Valid but to be renewed.
    RenewalDue {
        /// Whole days until notAfter.
        days_left: i64,
        /// Why.
        reason: RenewalReason,
    },
    /// After notAfter.
    Expired {
        /// Whole days since notAfter.
        days_ago: i64,
    },
}

/// The renewal status of `cert` at `now`, renewal being due `window_days` before notAfter or at
/// the three-year mark (whichever comes first; [`RenewalReason::ExpiresSoon`] wins when both
/// apply).
pub fn renewal_status(cert: &CpsCertificate, now: UnixTime, window_days: u32) -> RenewalStatus {
    let v = cert.validity();
    if now < v.not_before {
        return RenewalStatus::NotYetValid {
            days_until_valid: now.days_until(v.not_before),
        };
    }
    if now > v.not_after {
        return RenewalStatus::Expired {
            days_ago: v.not_after.days_until(now),
        };
    }
    let days_left = now.days_until(v.not_after);
    if days_left < i64::from(window_days) {
        return RenewalStatus::RenewalDue {
            days_left,
            reason: RenewalReason::ExpiresSoon,
        };
    }
    let mark = v.not_before.add_years(RENEWAL_AGE_YEARS);
    if mark.is_some_and(|m| now >= m) {
        return RenewalStatus::RenewalDue {
            days_left,
            reason: RenewalReason::ThreeYearMark,
        };
    }
    RenewalStatus::Valid { days_left }
}
