//! Holder PIN and PUK (IAS-ECC CHV SDOs, class 0x01): VERIFY, CHANGE REFERENCE DATA,
//! RESET RETRY COUNTER (ISO 7816-4:2013 §11.5.6-§11.5.10; rules of docs/card-layout.md
//! "Holder PIN and PUK").

use cps_apdu::{Command, Response, StatusWord};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::{IasEcc, status, tries_left_sw};
use crate::security::SecurityStatus;

/// Longest PIN value the card stores; comparisons run over this many bytes.
const MAX_PIN_LEN: usize = 16;

/// Security conditions of a CHV SDO, one per IAS-ECC CHV access-mode bit (research §3:
/// 0x40 CHANGE, 0x20 VERIFY, 0x10 RESET, 0x02 PUT, 0x01 GET; [real CPx] AM `F3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PinAcl {
    pub change: u8,
    pub verify: u8,
    pub reset: u8,
    pub put: u8,
    pub get: u8,
}

impl PinAcl {
    /// The `8C` value, AM `F3` as the real CPx card gives it (research §3: `8C 06 F3 00 00 13
    /// FF 00`); OpenSC ignores b8.
    pub fn compact(&self) -> [u8; 6] {
        [
            0xF3,
            self.change,
            self.verify,
            self.reset,
            self.put,
            self.get,
        ]
    }
}

/// A PIN object (holder PIN, PUK).
#[derive(Clone)]
pub(crate) struct Pin {
    pub reference: u8,
    value: Zeroizing<Vec<u8>>,
    pub min_len: usize,
    pub max_len: usize,
    pub max_tries: u8,
    pub tries_left: u8,
    /// Reference of the PIN that unblocks this one (the PUK of the holder PIN).
    pub unblocking_pin: Option<u8>,
    pub acl: PinAcl,
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pin")
            .field("reference", &self.reference)
            .field("tries_left", &self.tries_left)
            .finish_non_exhaustive()
    }
}

/// Why a candidate value is not a valid PIN for an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadFormat(pub &'static str);

impl Pin {
    /// A PIN object with its initial value (checked against the lengths).
    pub fn new(
        reference: u8,
        value: &[u8],
        (min_len, max_len): (usize, usize),
        max_tries: u8,
        unblocking_pin: Option<u8>,
        acl: PinAcl,
    ) -> Result<Self, BadFormat> {
        if min_len == 0 || min_len > max_len || max_len > MAX_PIN_LEN {
            return Err(BadFormat("lengths must satisfy 1 <= min <= max <= 16"));
        }
        if max_tries == 0 || max_tries > 15 {
            return Err(BadFormat("tries must be 1..=15 (63Cx carries 4 bits)"));
        }
        let mut pin = Pin {
            reference,
            value: Zeroizing::new(Vec::new()),
            min_len,
            max_len,
            max_tries,
            tries_left: max_tries,
            unblocking_pin,
            acl,
        };
        pin.value = pin.normalize(value)?;
        Ok(pin)
    }

    /// Checks a candidate value: trailing `FF` padding is ignored, then it must be
    /// `min_len..=max_len` ASCII digits (docs/card-layout.md: "4 ASCII digits (4..8
    /// accepted, no padding; trailing FF padding ignored)").
    pub fn normalize(&self, candidate: &[u8]) -> Result<Zeroizing<Vec<u8>>, BadFormat> {
        let end = candidate
            .iter()
            .rposition(|&b| b != 0xFF)
            .map_or(0, |i| i + 1);
        let digits = candidate.get(..end).unwrap_or(&[]);
        if digits.len() < self.min_len || digits.len() > self.max_len {
            return Err(BadFormat("wrong length"));
        }
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(BadFormat("not ASCII digits"));
        }
        Ok(Zeroizing::new(digits.to_vec()))
    }

    /// Length of the stored value (CHANGE REFERENCE DATA splits `old ‖ new` with it).
    pub fn stored_len(&self) -> usize {
        self.value.len()
    }

    pub fn is_blocked(&self) -> bool {
        self.tries_left == 0
    }

    /// Constant-time comparison of a normalized candidate with the stored value: both are
    /// padded to 16 bytes and compared in full, the lengths compared separately.
    fn matches(&self, candidate: &[u8]) -> bool {
        let mut a = Zeroizing::new([0xFFu8; MAX_PIN_LEN]);
        let mut b = Zeroizing::new([0xFFu8; MAX_PIN_LEN]);
        for (d, s) in a.iter_mut().zip(self.value.iter()) {
            *d = *s;
        }
        for (d, s) in b.iter_mut().zip(candidate.iter()) {
            *d = *s;
        }
        let same_len = (self.value.len() as u64).ct_eq(&(candidate.len() as u64));
        bool::from(a.ct_eq(&*b) & same_len)
    }

    /// Compares and updates the counter: `Ok` resets it, `Err(sw)` is `63Cx` after a
    /// decrement.
    fn check(&mut self, candidate: &[u8]) -> Result<(), StatusWord> {
        if self.matches(candidate) {
            self.tries_left = self.max_tries;
            Ok(())
        } else {
            self.tries_left = self.tries_left.saturating_sub(1);
            Err(tries_left_sw(self.tries_left))
        }
    }

    fn set_value(&mut self, value: Zeroizing<Vec<u8>>) {
        self.value = value;
        self.tries_left = self.max_tries;
    }
}

impl IasEcc {
    /// The PIN a P2 names: its reference; on ChipDoc also the same with b8 set (ISO 7816-4
    /// Table 65, "specific reference data": Cryptolib unblocks the CPS4 PIN with
    /// `2C 03 <ref|80>`, `card-cps4.c` `cps4_build_pin_apdu`). On IAS-ECC b8 names a local
    /// PIN, which the CPS3 does not have.
    fn pin_index(&self, reference: u8) -> Option<usize> {
        let exact = self.pins.iter().position(|p| p.reference == reference);
        if self.dialect == crate::profile::Dialect::Chipdoc {
            exact.or_else(|| {
                self.pins
                    .iter()
                    .position(|p| p.reference == reference & 0x7F)
            })
        } else {
            exact
        }
    }

    /// VERIFY (`00 20 P1 P2`, ISO 7816-4 §11.5.6).
    pub(super) fn verify(&mut self, cmd: &Command, sec: &mut SecurityStatus) -> Response {
        let Some(i) = self.pin_index(cmd.p2) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let Some(pin) = self.pins.get_mut(i) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        match cmd.p1 {
            0x00 => {}
            // ISO 7816-4 §11.5.6: P1 = FF with no data resets the verification status.
            0xFF if cmd.data.is_empty() => {
                sec.unverify(pin.reference);
                return status(StatusWord::SUCCESS);
            }
            0xFF => return status(StatusWord::WRONG_LENGTH),
            _ => return status(StatusWord::INCORRECT_P1P2),
        }
        if !sec.satisfies(pin.acl.verify) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if cmd.data.is_empty() {
            // Status query: never spends a try (research §3 step 1).
            return status(if pin.is_blocked() {
                StatusWord::AUTH_METHOD_BLOCKED
            } else if sec.is_verified(pin.reference) {
                StatusWord::SUCCESS
            } else {
                tries_left_sw(pin.tries_left)
            });
        }
        if pin.is_blocked() {
            return status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        let Ok(candidate) = pin.normalize(&cmd.data) else {
            // Refused without spending a try.
            return status(StatusWord::WRONG_DATA);
        };
        match pin.check(&candidate) {
            Ok(()) => {
                sec.set_verified(pin.reference);
                status(StatusWord::SUCCESS)
            }
            Err(sw) => {
                sec.unverify(pin.reference);
                status(sw)
            }
        }
    }

    /// CHANGE REFERENCE DATA (`00 24 P1 P2`, ISO 7816-4 §11.5.7): P1 = 00 `old ‖ new` (split
    /// by the stored PIN's length), P1 = 01 `new` after VERIFY.
    pub(super) fn change_reference_data(
        &mut self,
        cmd: &Command,
        sec: &mut SecurityStatus,
    ) -> Response {
        let Some(pin) = self.pin_index(cmd.p2).and_then(|i| self.pins.get_mut(i)) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if cmd.p1 > 0x01 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        if !sec.satisfies(pin.acl.change) {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        if pin.is_blocked() {
            return status(StatusWord::AUTH_METHOD_BLOCKED);
        }
        if cmd.p1 == 0x01 {
            // New value only: after VERIFY of this PIN, or after the PUK that may reset it
            // was verified (Cryptolib's CPS4 unblock: `2C 03` then `24 01 <ref> <new>`).
            if !sec.is_verified(pin.reference) && !sec.satisfies(pin.acl.reset) {
                return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
            }
            let Ok(new) = pin.normalize(&cmd.data) else {
                return status(StatusWord::WRONG_DATA);
            };
            pin.set_value(new);
            return status(StatusWord::SUCCESS);
        }
        let split = pin.stored_len();
        let (Some(old), Some(new)) = (cmd.data.get(..split), cmd.data.get(split..)) else {
            return status(StatusWord::WRONG_DATA);
        };
        let Ok(new) = pin.normalize(new) else {
            return status(StatusWord::WRONG_DATA);
        };
        match pin.check(old) {
            Ok(()) => {
                pin.set_value(new);
                sec.set_verified(pin.reference);
                status(StatusWord::SUCCESS)
            }
            Err(sw) => {
                sec.unverify(pin.reference);
                status(sw)
            }
        }
    }

    /// RESET RETRY COUNTER (`00 2C P1 P2`, ISO 7816-4 §11.5.10): P1 = 00 `PUK ‖ new`, 01
    /// `PUK`, 02 `new` and 03 (no data) after the PUK was verified.
    pub(super) fn reset_retry_counter(
        &mut self,
        cmd: &Command,
        sec: &mut SecurityStatus,
    ) -> Response {
        let Some(i) = self.pin_index(cmd.p2) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        let Some(pin) = self.pins.get(i) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        if cmd.p1 > 0x03 {
            return status(StatusWord::INCORRECT_P1P2);
        }
        let reset_sc = pin.acl.reset;
        let pin_ref = pin.reference;
        if reset_sc == crate::fs::SC_NEVER {
            return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
        }
        let new_value = match cmd.p1 {
            0x00 | 0x01 => {
                let Some(puk_index) = pin.unblocking_pin.and_then(|r| self.pin_index(r)) else {
                    return status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                let Some(puk) = self.pins.get(puk_index) else {
                    return status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                if puk.is_blocked() {
                    return status(StatusWord::AUTH_METHOD_BLOCKED);
                }
                let split = if cmd.p1 == 0x00 {
                    puk.stored_len()
                } else {
                    cmd.data.len()
                };
                let (Some(puk_part), Some(new_part)) =
                    (cmd.data.get(..split), cmd.data.get(split..))
                else {
                    return status(StatusWord::WRONG_DATA);
                };
                let new_value = if cmd.p1 == 0x00 {
                    match self.pins.get(i).map(|p| p.normalize(new_part)) {
                        Some(Ok(v)) => Some(v),
                        _ => return status(StatusWord::WRONG_DATA),
                    }
                } else {
                    None
                };
                let Some(puk) = self.pins.get_mut(puk_index) else {
                    return status(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                let Ok(candidate) = puk.normalize(puk_part) else {
                    return status(StatusWord::WRONG_DATA);
                };
                if let Err(sw) = puk.check(&candidate) {
                    sec.unverify(puk.reference);
                    return status(sw);
                }
                new_value
            }
            _ => {
                if !sec.satisfies(reset_sc) {
                    return status(StatusWord::SECURITY_STATUS_NOT_SATISFIED);
                }
                if cmd.p1 == 0x03 {
                    if !cmd.data.is_empty() {
                        return status(StatusWord::WRONG_LENGTH);
                    }
                    None
                } else {
                    match self.pins.get(i).map(|p| p.normalize(&cmd.data)) {
                        Some(Ok(v)) => Some(v),
                        _ => return status(StatusWord::WRONG_DATA),
                    }
                }
            }
        };
        let Some(pin) = self.pins.get_mut(i) else {
            return status(StatusWord::REFERENCED_DATA_NOT_FOUND);
        };
        match new_value {
            Some(v) => pin.set_value(v),
            None => pin.tries_left = pin.max_tries,
        }
        sec.unverify(pin_ref);
        status(StatusWord::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl() -> PinAcl {
        PinAcl {
            change: 0,
            verify: 0,
            reset: 0x13,
            put: 0xFF,
            get: 0,
        }
    }

    #[test]
    fn formats_and_comparison() {
        let p = Pin::new(1, b"1234", (4, 8), 3, Some(2), acl()).unwrap();
        assert_eq!(p.stored_len(), 4);
        assert!(p.normalize(b"123").is_err());
        assert!(p.normalize(b"123456789").is_err());
        assert!(p.normalize(b"12a4").is_err());
        assert_eq!(&**p.normalize(b"1234\xFF\xFF\xFF\xFF").unwrap(), b"1234");
        assert!(p.matches(b"1234"));
        assert!(!p.matches(b"12345"));
        assert!(!p.matches(b"1235"));
        assert!(Pin::new(1, b"12", (4, 8), 3, None, acl()).is_err());
        assert!(Pin::new(1, b"1234", (4, 8), 0, None, acl()).is_err());
        assert!(!format!("{p:?}").contains("1234"));
        assert_eq!(acl().compact(), [0xF3, 0x00, 0x00, 0x13, 0xFF, 0x00]);
    }
}
