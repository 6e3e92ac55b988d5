//! Holder PIN ("code porteur") and PUK ("code de déblocage"): validated, zeroizing secrets.
//!
//! Formats (docs/card-layout.md, "Holder PIN and PUK"): the PIN is 4 to 8 ASCII digits sent
//! as they are (no padding: the AODF has no needs-padding flag); the PUK is 8 ASCII digits.
//! Both are checked **before** any APDU, so that a typing mistake never spends a try.
//!
//! The values are never compared on the host, never printed (`Debug` shows `<redacted>`) and
//! wiped from memory when dropped.

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Shortest PIN the card accepts (AODF minLength 4).
pub const PIN_MIN_LEN: usize = 4;
/// Longest PIN the card accepts (AODF maxLength / storedLength 8).
pub const PIN_MAX_LEN: usize = 8;
/// Length of the PUK (AODF min = max = 8).
pub const PUK_LEN: usize = 8;

fn digits(what: &'static str, value: &[u8], min: usize, max: usize) -> Result<Zeroizing<Vec<u8>>> {
    let reason = if min == max {
        "it must be exactly 8 ASCII digits"
    } else {
        "it must be 4 to 8 ASCII digits"
    };
    if value.len() < min || value.len() > max || !value.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidPinFormat { what, reason });
    }
    Ok(Zeroizing::new(value.to_vec()))
}

/// The holder PIN: 4 to 8 ASCII digits, wiped on drop, never printed.
///
/// ```
/// use cps_iasecc::Pin;
/// assert!(Pin::new("1234").is_ok());
/// assert!(Pin::new("12a4").is_err());
/// assert!(Pin::new("123").is_err());
/// assert_eq!(format!("{:?}", Pin::new("1234").unwrap()), "Pin(<redacted>)");
/// ```
#[derive(Clone)]
pub struct Pin(Zeroizing<Vec<u8>>);

impl Pin {
    /// Validates a PIN typed by the holder.
    pub fn new(pin: &str) -> Result<Self> {
        Self::from_bytes(pin.as_bytes())
    }

    /// Validates a PIN given as ASCII bytes.
    pub fn from_bytes(pin: &[u8]) -> Result<Self> {
        digits("PIN", pin, PIN_MIN_LEN, PIN_MAX_LEN).map(Pin)
    }

    /// Number of digits.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false` (a valid PIN has at least 4 digits); present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

/// The PUK (unblocking code): 8 ASCII digits, wiped on drop, never printed.
#[derive(Clone)]
pub struct Puk(Zeroizing<Vec<u8>>);

impl Puk {
    /// Validates a PUK typed by the holder.
    pub fn new(puk: &str) -> Result<Self> {
        Self::from_bytes(puk.as_bytes())
    }

    /// Validates a PUK given as ASCII bytes.
    pub fn from_bytes(puk: &[u8]) -> Result<Self> {
        digits("PUK", puk, PUK_LEN, PUK_LEN).map(Puk)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Puk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Puk(<redacted>)")
    }
}

/// The state of a PIN or PUK, read without spending a try (VERIFY with no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinStatus {
    /// Verified in this card session (`9000`).
    Verified,
    /// Not verified; this many tries left (`63Cx`).
    RetriesLeft(u8),
    /// Blocked (`6983`, or `63C0`).
    Blocked,
}

impl std::fmt::Display for PinStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinStatus::Verified => f.write_str("verified"),
            PinStatus::RetriesLeft(n) => write!(f, "not verified, {n} tries left"),
            PinStatus::Blocked => f.write_str("blocked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        for ok in ["1234", "00000000", "98765"] {
            assert_eq!(Pin::new(ok).unwrap().len(), ok.len());
        }
        for bad in ["", "123", "123456789", "12 4", "١٢٣٤", "abcd", "1234\n"] {
            let e = Pin::new(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidPinFormat { what: "PIN", .. }));
            assert!(!e.to_string().contains(bad) || bad.is_empty());
        }
        assert!(Puk::new("12345678").is_ok());
        for bad in ["1234567", "123456789", "1234567a"] {
            assert!(matches!(
                Puk::new(bad),
                Err(Error::InvalidPinFormat { what: "PUK", .. })
            ));
        }
        assert_eq!(
            format!("{:?}", Puk::new("12345678").unwrap()),
            "Puk(<redacted>)"
        );
    }
}
