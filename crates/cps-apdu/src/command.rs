//! Command APDUs (ISO/IEC 7816-4:2020 §5.1): building, encoding and parsing.
//!
//! A command is a header (CLA INS P1 P2), an optional body (`Lc` + data) and an optional
//! expected-length field (`Le`). ISO 7816-4 defines four cases:
//!
//! | case | data | Le  |
//! |------|------|-----|
//! | 1    | no   | no  |
//! | 2    | no   | yes |
//! | 3    | yes  | no  |
//! | 4    | yes  | yes |
//!
//! and two encodings: *short* (Lc 1..=255, Le 1..=256 with `00` meaning 256) and *extended*
//! (a `00` marker then 2-byte Lc 1..=65535 and/or 2-byte Le 1..=65536 with `00 00` meaning 65536).
//!
//! In this crate `ne` is the number of expected response bytes, *Ne* in the standard: 1..=65536.
//! The encoded `Le` byte(s) are derived from it.

use alloc::vec::Vec;

use crate::ApduError;

/// Maximum data length of a short command (`Lc` is one byte, 1..=255).
pub const SHORT_MAX_LC: usize = 255;
/// Maximum Ne of a short command (`Le = 00` means 256).
pub const SHORT_MAX_NE: usize = 256;
/// Maximum data length of an extended command (`Lc` is two bytes, 1..=65535).
pub const EXTENDED_MAX_LC: usize = 65_535;
/// Maximum Ne of an extended command (`Le = 00 00` means 65536).
pub const EXTENDED_MAX_NE: usize = 65_536;

/// The ISO 7816-4 case of a command APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// No data, no Le.
    Case1,
    /// No data, Le present.
    Case2,
    /// Data, no Le.
    Case3,
    /// Data and Le.
    Case4,
}

/// Length-field encoding of a command APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// One-byte Lc / Le.
    Short,
    /// Two-byte Lc / Le after a `00` marker byte (ISO 7816-4 §5.1, "extended length").
    Extended,
}

/// A command APDU.
///
/// ```
/// use cps_apdu::Command;
/// // SELECT by AID, first occurrence, return FCI, Ne = 256.
/// let select = Command::new(0x00, 0xA4, 0x04, 0x00)
///     .with_data(&[0xA0, 0x00, 0x00, 0x00, 0x03])
///     .with_ne(256);
/// assert_eq!(select.to_bytes(), [0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x00, 0x03, 0x00]);
/// assert_eq!(cps_apdu::Command::parse(&select.to_bytes()).unwrap(), select);
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data field (empty for cases 1 and 2).
    pub data: Vec<u8>,
    /// Maximum number of response data bytes expected (Ne, 1..=65536), `None` when Le is absent.
    pub ne: Option<usize>,
}

impl Drop for Command {
    /// The data field may carry a PIN, a PUK or key material: wiped when the command goes.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.data);
    }
}

impl core::fmt::Debug for Command {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The data field may carry a PIN or key material: Debug prints its length only.
        // Use `data` explicitly (and a redacting recorder) when bytes are really needed.
        f.debug_struct("Command")
            .field("cla", &format_args!("{:02X}", self.cla))
            .field("ins", &format_args!("{:02X}", self.ins))
            .field("p1", &format_args!("{:02X}", self.p1))
            .field("p2", &format_args!("{:02X}", self.p2))
            .field("lc", &self.data.len())
            .field("ne", &self.ne)
            .finish()
    }
}

impl Command {
    /// A case-1 command (header only).
    pub const fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            ne: None,
        }
    }

    /// Sets the data field.
    #[must_use]
    pub fn with_data(mut self, data: &[u8]) -> Self {
        self.data = data.to_vec();
        self
    }

    /// Sets Ne, the maximum number of response bytes expected (1..=65536).
    #[must_use]
    pub fn with_ne(mut self, ne: usize) -> Self {
        self.ne = Some(ne);
        self
    }

    /// Clears Le (no response data expected).
    #[must_use]
    pub fn without_le(mut self) -> Self {
        self.ne = None;
        self
    }

    /// The ISO 7816-4 case of this command.
    pub fn case(&self) -> Case {
        match (self.data.is_empty(), self.ne.is_some()) {
            (true, false) => Case::Case1,
            (true, true) => Case::Case2,
            (false, false) => Case::Case3,
            (false, true) => Case::Case4,
        }
    }

    /// Whether the data and Ne fit a short encoding.
    pub fn fits_short(&self) -> bool {
        self.data.len() <= SHORT_MAX_LC && self.ne.is_none_or(|ne| ne <= SHORT_MAX_NE)
    }

    /// The encoding [`Command::to_bytes`] uses: short when it fits, extended otherwise.
    pub fn natural_encoding(&self) -> Encoding {
        if self.fits_short() {
            Encoding::Short
        } else {
            Encoding::Extended
        }
    }

    /// Checks the length fields: data ≤ 65535 bytes, Ne in 1..=65536.
    pub fn validate(&self) -> Result<(), ApduError> {
        if self.data.len() > EXTENDED_MAX_LC {
            return Err(ApduError::DataTooLong {
                len: self.data.len(),
                max: EXTENDED_MAX_LC,
            });
        }
        match self.ne {
            Some(0) => Err(ApduError::InvalidNe { ne: 0 }),
            Some(ne) if ne > EXTENDED_MAX_NE => Err(ApduError::InvalidNe { ne }),
            _ => Ok(()),
        }
    }

    /// Encodes with the smallest encoding that fits (short, else extended).
    ///
    /// An out-of-range command (see [`Command::validate`]) is clamped: data beyond 65535 bytes
    /// cannot be expressed, so use [`Command::encode`] when the command comes from untrusted input.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        // Clamp rather than panic for the infallible convenience form.
        let ne = self.ne.map(|n| n.clamp(1, EXTENDED_MAX_NE));
        let data = self.data.get(..EXTENDED_MAX_LC).unwrap_or(&self.data);
        let enc = if data.len() <= SHORT_MAX_LC && ne.is_none_or(|n| n <= SHORT_MAX_NE) {
            Encoding::Short
        } else {
            Encoding::Extended
        };
        write_apdu(&mut out, self.header(), data, ne, enc);
        out
    }

    /// Encodes with the given encoding, or fails if the command does not fit it.
    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, ApduError> {
        self.validate()?;
        if encoding == Encoding::Short && !self.fits_short() {
            return Err(ApduError::DoesNotFitShort {
                lc: self.data.len(),
                ne: self.ne,
            });
        }
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        write_apdu(&mut out, self.header(), &self.data, self.ne, encoding);
        Ok(out)
    }

    /// The four header bytes.
    pub fn header(&self) -> [u8; 4] {
        [self.cla, self.ins, self.p1, self.p2]
    }

    fn encoded_len_hint(&self) -> usize {
        4 + 3 + self.data.len() + 3
    }

    /// Parses a command APDU as received by a card (ISO 7816-4 §5.1 case decoding).
    ///
    /// Every valid short and extended form is accepted. A case-4 command sent over T=0 without
    /// its Le byte arrives as case 3 and parses as such (`ne == None`); a card answering such a
    /// command may still return data (directly or through `61xx`).
    pub fn parse(bytes: &[u8]) -> Result<Self, ApduError> {
        let (header, body) = match bytes.split_first_chunk::<4>() {
            Some(split) => split,
            None => return Err(ApduError::TooShort { len: bytes.len() }),
        };
        let [cla, ins, p1, p2] = *header;
        let mut cmd = Command::new(cla, ins, p1, p2);
        match body {
            // Case 1.
            [] => {}
            // Case 2S.
            [le] => cmd.ne = Some(short_ne(*le)),
            // Extended length marker.
            [0x00, rest @ ..] if !rest.is_empty() => match rest {
                // Case 2E.
                [le1, le2] => cmd.ne = Some(extended_ne(*le1, *le2)),
                [lc1, lc2, tail @ ..] => {
                    let lc = usize::from(u16::from_be_bytes([*lc1, *lc2]));
                    if lc == 0 {
                        return Err(ApduError::ZeroLc);
                    }
                    if tail.len() == lc {
                        // Case 3E.
                        cmd.data = tail.to_vec();
                    } else if tail.len() == lc + 2 {
                        // Case 4E.
                        let (data, le) = tail.split_at(lc);
                        cmd.data = data.to_vec();
                        if let [le1, le2] = le {
                            cmd.ne = Some(extended_ne(*le1, *le2));
                        }
                    } else {
                        return Err(ApduError::LengthMismatch {
                            lc,
                            body: tail.len(),
                        });
                    }
                }
                _ => return Err(ApduError::TruncatedExtendedLength { len: bytes.len() }),
            },
            // Short Lc.
            [lc, tail @ ..] => {
                let lc = usize::from(*lc);
                if tail.len() == lc {
                    // Case 3S.
                    cmd.data = tail.to_vec();
                } else if tail.len() == lc + 1 {
                    // Case 4S.
                    let (data, le) = tail.split_at(lc);
                    cmd.data = data.to_vec();
                    if let [le] = le {
                        cmd.ne = Some(short_ne(*le));
                    }
                } else {
                    return Err(ApduError::LengthMismatch {
                        lc,
                        body: tail.len(),
                    });
                }
            }
        }
        Ok(cmd)
    }

    /// Whether CLA announces command chaining (ISO 7816-4 §5.4.1: b5 of an interindustry CLA).
    pub fn is_chained(&self) -> bool {
        self.cla & 0x10 != 0
    }

    /// Whether the CLA byte is interindustry (b8 = 0) rather than proprietary.
    pub fn is_interindustry(&self) -> bool {
        self.cla & 0x80 == 0
    }
}

fn short_ne(le: u8) -> usize {
    if le == 0 { 256 } else { usize::from(le) }
}

fn extended_ne(le1: u8, le2: u8) -> usize {
    match u16::from_be_bytes([le1, le2]) {
        0 => 65_536,
        n => usize::from(n),
    }
}

fn write_apdu(out: &mut Vec<u8>, header: [u8; 4], data: &[u8], ne: Option<usize>, enc: Encoding) {
    out.extend_from_slice(&header);
    match enc {
        Encoding::Short => {
            if !data.is_empty() {
                out.push(data.len() as u8);
                out.extend_from_slice(data);
            }
            if let Some(ne) = ne {
                // 256 encodes as 00.
                out.push((ne & 0xFF) as u8);
            }
        }
        Encoding::Extended => {
            if !data.is_empty() {
                out.push(0x00);
                out.extend_from_slice(&(data.len() as u16).to_be_bytes());
                out.extend_from_slice(data);
            }
            if let Some(ne) = ne {
                if data.is_empty() {
                    // Case 2E: marker then two bytes.
                    out.push(0x00);
                }
                // 65536 encodes as 00 00.
                out.extend_from_slice(&((ne & 0xFFFF) as u16).to_be_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex::decode as h;

    #[test]
    fn all_short_cases_round_trip() {
        // Examples shaped after ISO 7816-4 §5.1 (Table 5/Table 6).
        let cases: &[(&str, Case, usize, Option<usize>)] = &[
            ("00A40000", Case::Case1, 0, None),
            ("00B0000000", Case::Case2, 0, Some(256)),
            ("00B0000010", Case::Case2, 0, Some(16)),
            ("00A4020C023F00", Case::Case3, 2, None),
            ("00A4040007A000000063504B00", Case::Case4, 7, Some(256)),
        ];
        for (hexs, case, lc, ne) in cases {
            let bytes = h(hexs).unwrap();
            let cmd = Command::parse(&bytes).unwrap();
            assert_eq!(cmd.case(), *case, "{hexs}");
            assert_eq!(cmd.data.len(), *lc, "{hexs}");
            assert_eq!(cmd.ne, *ne, "{hexs}");
            assert_eq!(cmd.to_bytes(), bytes, "{hexs}");
        }
    }

    #[test]
    fn extended_cases() {
        // Case 2E, Ne = 65536.
        let c = Command::parse(&h("00B00000000000").unwrap()).unwrap();
        assert_eq!(c.ne, Some(65_536));
        assert_eq!(c.case(), Case::Case2);
        assert_eq!(c.to_bytes(), h("00B00000000000").unwrap());
        // Case 2E, Ne = 257 cannot be short.
        let c = Command::new(0, 0xB0, 0, 0).with_ne(257);
        assert_eq!(c.to_bytes(), h("00B00000000101").unwrap());
        // Case 3E with 300 bytes, no Le: the form OpenSC sends for long UPDATE BINARY.
        let data = [0x5Au8; 300];
        let c = Command::new(0, 0xD6, 0, 0).with_data(&data);
        let bytes = c.to_bytes();
        assert_eq!(&bytes[..7], &h("00D6000000012C").unwrap()[..]);
        assert_eq!(bytes.len(), 7 + 300);
        assert_eq!(Command::parse(&bytes).unwrap(), c);
        // Case 4E with Le = 00 00.
        let c = Command::new(0, 0x2A, 0x9E, 0x9A)
            .with_data(&data)
            .with_ne(65_536);
        let bytes = c.to_bytes();
        assert_eq!(&bytes[bytes.len() - 2..], &[0, 0]);
        assert_eq!(Command::parse(&bytes).unwrap(), c);
        // Short data but Ne > 256 forces extended for both fields.
        let c = Command::new(0, 0x2A, 0x9E, 0x9A)
            .with_data(&[1, 2, 3])
            .with_ne(512);
        assert_eq!(
            c.to_bytes(),
            h("002A9E9A000003010203 0200".replace(' ', "")).unwrap()
        );
    }

    #[test]
    fn short_encoding_refused_when_too_long() {
        let c = Command::new(0, 0xD6, 0, 0).with_data(&[0u8; 256]);
        assert!(matches!(
            c.encode(Encoding::Short),
            Err(ApduError::DoesNotFitShort { lc: 256, .. })
        ));
        assert!(c.encode(Encoding::Extended).is_ok());
        // A short command can always be forced to extended.
        let c = Command::new(0, 0xB0, 0, 0).with_ne(16);
        assert_eq!(
            c.encode(Encoding::Extended).unwrap(),
            h("00B00000000010").unwrap()
        );
    }

    #[test]
    fn invalid_lengths_are_typed_errors() {
        assert!(matches!(
            Command::parse(&[]),
            Err(ApduError::TooShort { len: 0 })
        ));
        assert!(matches!(
            Command::parse(&[0, 0xA4, 0]),
            Err(ApduError::TooShort { len: 3 })
        ));
        // Lc says 5, 3 bytes follow.
        assert!(matches!(
            Command::parse(&h("00A4040005A00000").unwrap()),
            Err(ApduError::LengthMismatch { lc: 5, body: 3 })
        ));
        // Extended marker with only one more byte.
        assert!(matches!(
            Command::parse(&h("00B000000001").unwrap()),
            Err(ApduError::TruncatedExtendedLength { .. })
        ));
        // Extended Lc = 0 is not allowed.
        assert!(matches!(
            Command::parse(&h("00B0000000000001").unwrap()),
            Err(ApduError::ZeroLc)
        ));
        assert!(matches!(
            Command::new(0, 0, 0, 0).with_ne(0).encode(Encoding::Short),
            Err(ApduError::InvalidNe { ne: 0 })
        ));
        assert!(matches!(
            Command::new(0, 0, 0, 0).with_ne(65_537).validate(),
            Err(ApduError::InvalidNe { ne: 65_537 })
        ));
    }

    #[test]
    fn t0_case4_without_le_parses_as_case3() {
        // OpenSC over T=0 sends SELECT with P2=04 and no Le.
        let c = Command::parse(&h("00A40904043F002F01").unwrap()).unwrap();
        assert_eq!(c.case(), Case::Case3);
        assert_eq!(c.data, h("3F002F01").unwrap());
    }

    #[test]
    fn debug_does_not_print_data() {
        let c = Command::new(0, 0x20, 0, 1).with_data(b"1234");
        let s = alloc::format!("{c:?}");
        assert!(!s.contains("31") && !s.contains("1234"), "{s}");
    }
}
