//! Secure-messaging framing (ISO/IEC 7816-4:2020 §10), with the cryptography supplied by the
//! caller through [`SmCrypto`].
//!
//! This module knows the *shape* of protected APDUs, not the keys: IAS-ECC, DESFire's ISO
//! mode or a remote-update channel each implement [`SmCrypto`] with their own algorithms
//! and send-sequence counters.
//!
//! Data objects used (ISO 7816-4 Table 60):
//!
//! | tag | content |
//! |-----|---------|
//! | `87` | padding-content indicator `01` ‖ cryptogram (even INS) |
//! | `85` | cryptogram, no indicator (odd INS: the data is BER-TLV) |
//! | `81` | plain value (response data not encrypted) |
//! | `97` | Le (1 byte, `00` = 256; 2 bytes for extended) |
//! | `99` | processing status (SW1 SW2) |
//! | `8E` | cryptographic checksum (MAC) |
//!
//! The MAC covers the padded protected header (`CLA|0C INS P1 P2`) then the padded
//! concatenation of the data objects before `8E`, in the way of ICAO Doc 9303 part 11 §9.8
//! and IAS-ECC v1.0.1 §7. Padding is ISO/IEC 9797-1 method 2 (`80 00 …`) to the block size.

use alloc::vec::Vec;
use core::fmt;

use crate::tlv::{self, Tag};
use crate::{ApduError, Command, Response, StatusWord};

/// The cryptography behind secure messaging.
///
/// Implementations keep their own session state (keys, send-sequence counter or IV
/// chaining). [`wrap_command`] calls `encrypt` then `mac`; [`unwrap_response`] calls
/// `verify_mac` before `decrypt`, in that order, once each per APDU.
pub trait SmCrypto {
    /// Cipher block size in bytes (8 for 3DES, 16 for AES), used for padding.
    fn block_size(&self) -> usize;
    /// Encrypts data already padded to the block size.
    fn encrypt(&mut self, padded: &[u8]) -> Vec<u8>;
    /// Decrypts a cryptogram; the framing removes the padding afterwards.
    fn decrypt(&mut self, cryptogram: &[u8]) -> Result<Vec<u8>, SmError>;
    /// Computes the MAC of `input` (already padded by the framing).
    fn mac(&mut self, input: &[u8]) -> Vec<u8>;
    /// Checks a MAC received from the card. Implementations must compare in constant time
    /// (e.g. with `subtle::ConstantTimeEq`).
    fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool;
}

/// What is wrong with a protected response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmError {
    /// No `8E` data object.
    MissingMac,
    /// The MAC does not verify: the response was altered or the session is out of step.
    MacMismatch,
    /// No `99` processing status with a successful outer status word.
    MissingStatus,
    /// A data object of the wrong length or an unexpected tag.
    Malformed(&'static str),
    /// ISO 9797-1 method-2 padding is missing or wrong.
    BadPadding,
    /// The `87` padding-content indicator is not `01`.
    BadPaddingIndicator,
    /// The decryption itself failed.
    DecryptFailed,
}

impl fmt::Display for SmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmError::MissingMac => f.write_str("response has no MAC (8E)"),
            SmError::MacMismatch => f.write_str("response MAC does not verify"),
            SmError::MissingStatus => f.write_str("response has no processing status (99)"),
            SmError::Malformed(what) => write!(f, "malformed data object: {what}"),
            SmError::BadPadding => f.write_str("bad ISO 9797-1 padding"),
            SmError::BadPaddingIndicator => f.write_str("padding-content indicator is not 01"),
            SmError::DecryptFailed => f.write_str("decryption failed"),
        }
    }
}

impl From<SmError> for ApduError {
    fn from(e: SmError) -> Self {
        ApduError::SecureMessaging(e)
    }
}

/// ISO/IEC 9797-1 padding method 2: `80` then `00` up to a multiple of `block`.
pub fn pad(data: &[u8], block: usize) -> Vec<u8> {
    let block = block.max(1);
    let mut out = Vec::with_capacity(data.len() + block);
    out.extend_from_slice(data);
    out.push(0x80);
    while out.len() % block != 0 {
        out.push(0x00);
    }
    out
}

/// Removes ISO/IEC 9797-1 method-2 padding.
pub fn unpad(data: &[u8]) -> Result<&[u8], SmError> {
    let end = data
        .iter()
        .rposition(|&b| b != 0x00)
        .ok_or(SmError::BadPadding)?;
    match data.get(end) {
        Some(0x80) => data.get(..end).ok_or(SmError::BadPadding),
        _ => Err(SmError::BadPadding),
    }
}

/// Protects a command: CLA gets bits `0C`, the data goes into `87` (or `85` for odd INS),
/// Le into `97`, and a MAC `8E` closes the data field.
pub fn wrap_command(cmd: &Command, crypto: &mut dyn SmCrypto) -> Result<Command, ApduError> {
    cmd.validate()?;
    let bs = crypto.block_size();
    let cla = cmd.cla | 0x0C;
    let mut dos = Vec::new();
    if !cmd.data.is_empty() {
        let crypt = crypto.encrypt(&pad(&cmd.data, bs));
        if cmd.ins & 1 == 0 {
            let mut v = Vec::with_capacity(crypt.len() + 1);
            v.push(0x01);
            v.extend_from_slice(&crypt);
            dos.extend_from_slice(&tlv::encode(Tag(0x87), &v));
        } else {
            dos.extend_from_slice(&tlv::encode(Tag(0x85), &crypt));
        }
    }
    if let Some(ne) = cmd.ne {
        let le: Vec<u8> = if ne <= 256 {
            alloc::vec![(ne & 0xFF) as u8]
        } else {
            ((ne & 0xFFFF) as u16).to_be_bytes().to_vec()
        };
        dos.extend_from_slice(&tlv::encode(Tag(0x97), &le));
    }
    let mut mac_input = pad(&[cla, cmd.ins, cmd.p1, cmd.p2], bs);
    if !dos.is_empty() {
        mac_input.extend_from_slice(&pad(&dos, bs));
    }
    let mac = crypto.mac(&mac_input);
    dos.extend_from_slice(&tlv::encode(Tag(0x8E), &mac));
    let ne = if dos.len() > crate::SHORT_MAX_LC || cmd.ne.is_some_and(|n| n > 256) {
        crate::EXTENDED_MAX_NE
    } else {
        crate::SHORT_MAX_NE
    };
    Ok(Command {
        cla,
        ins: cmd.ins,
        p1: cmd.p1,
        p2: cmd.p2,
        data: dos,
        ne: Some(ne),
    })
}

/// Checks and opens a protected response; returns the plain response (data and the status
/// word from `99`).
///
/// A response with no data and an error status word is returned unchanged: the card refused
/// the command before secure messaging applied (e.g. `6987`, `6988`).
pub fn unwrap_response(resp: &Response, crypto: &mut dyn SmCrypto) -> Result<Response, ApduError> {
    if resp.data.is_empty() && !resp.sw.is_ok_or_warning() {
        return Ok(resp.clone());
    }
    let mut covered_end = 0usize;
    let mut mac = None;
    let mut status = None;
    let mut body: Option<(Tag, &[u8])> = None;
    let mut offset = 0usize;
    for obj in tlv::Iter::new(&resp.data) {
        let obj = obj?;
        let encoded_len = obj.encode().len();
        match obj.tag.0 {
            0x8E => {
                if mac.is_some() {
                    return Err(SmError::Malformed("two MACs").into());
                }
                mac = Some(obj.value);
                covered_end = offset;
            }
            _ if mac.is_some() => {
                return Err(SmError::Malformed("data object after the MAC").into());
            }
            0x99 => {
                let sw: [u8; 2] = obj
                    .value
                    .try_into()
                    .map_err(|_| SmError::Malformed("99 must hold 2 bytes"))?;
                status = Some(StatusWord::from(sw));
            }
            0x87 | 0x85 | 0x81 => {
                if body.is_some() {
                    return Err(SmError::Malformed("two data objects").into());
                }
                body = Some((obj.tag, obj.value));
            }
            _ => return Err(SmError::Malformed("unexpected tag").into()),
        }
        offset += encoded_len;
    }
    let mac = mac.ok_or(SmError::MissingMac)?;
    let covered = resp
        .data
        .get(..covered_end)
        .ok_or(SmError::Malformed("MAC position"))?;
    let mac_input = pad(covered, crypto.block_size());
    if !crypto.verify_mac(&mac_input, mac) {
        return Err(SmError::MacMismatch.into());
    }
    let sw = status.ok_or(SmError::MissingStatus)?;
    let data = match body {
        None => Vec::new(),
        Some((Tag(0x81), plain)) => plain.to_vec(),
        Some((Tag(0x87), value)) => {
            let (&indicator, crypt) = value.split_first().ok_or(SmError::Malformed("empty 87"))?;
            if indicator != 0x01 {
                return Err(SmError::BadPaddingIndicator.into());
            }
            let plain = crypto.decrypt(crypt)?;
            unpad(&plain)?.to_vec()
        }
        Some((_, crypt)) => {
            let plain = crypto.decrypt(crypt)?;
            unpad(&plain)?.to_vec()
        }
    };
    Ok(Response { data, sw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A toy cipher for framing tests only: XOR with a key byte; MAC = 4-byte sum/xor checksum
    /// mixed with a counter, like a send-sequence counter.
    struct Toy {
        key: u8,
        ssc: u32,
    }

    impl Toy {
        fn checksum(&self, input: &[u8]) -> Vec<u8> {
            let mut acc = self.ssc.wrapping_mul(2_654_435_761);
            for (i, &b) in input.iter().enumerate() {
                acc = acc.rotate_left(5) ^ u32::from(b) ^ (i as u32);
            }
            acc.to_be_bytes().to_vec()
        }
    }

    impl SmCrypto for Toy {
        fn block_size(&self) -> usize {
            8
        }
        fn encrypt(&mut self, padded: &[u8]) -> Vec<u8> {
            padded.iter().map(|b| b ^ self.key).collect()
        }
        fn decrypt(&mut self, c: &[u8]) -> Result<Vec<u8>, SmError> {
            if c.len() % 8 != 0 {
                return Err(SmError::DecryptFailed);
            }
            Ok(c.iter().map(|b| b ^ self.key).collect())
        }
        fn mac(&mut self, input: &[u8]) -> Vec<u8> {
            self.ssc += 1;
            self.checksum(input)
        }
        fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool {
            self.ssc += 1;
            self.checksum(input) == mac
        }
    }

    /// The card side of the toy channel, built with the same framing pieces.
    fn card_response(data: &[u8], sw: StatusWord, crypto: &mut Toy) -> Response {
        let mut dos = Vec::new();
        if !data.is_empty() {
            let mut v = vec![0x01];
            v.extend(crypto.encrypt(&pad(data, 8)));
            dos.extend(tlv::encode(Tag(0x87), &v));
        }
        dos.extend(tlv::encode(Tag(0x99), &sw.to_bytes()));
        let mac = crypto.mac(&pad(&dos, 8));
        dos.extend(tlv::encode(Tag(0x8E), &mac));
        Response::success(dos)
    }

    #[test]
    fn padding() {
        assert_eq!(pad(&[1, 2, 3], 8), [1, 2, 3, 0x80, 0, 0, 0, 0]);
        assert_eq!(pad(&[0; 8], 8).len(), 16);
        assert_eq!(unpad(&[1, 2, 0x80, 0, 0]).unwrap(), [1, 2]);
        assert_eq!(unpad(&[0, 0]), Err(SmError::BadPadding));
        assert_eq!(unpad(&[1, 2, 3]), Err(SmError::BadPadding));
    }

    #[test]
    fn wrap_shape() {
        let mut host = Toy { key: 0x5A, ssc: 0 };
        let cmd = Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(16);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(w.cla, 0x0C);
        // 97 01 10 then 8E 04 <mac>.
        assert_eq!(&w.data[..3], &[0x97, 0x01, 0x10]);
        assert_eq!(&w.data[3..5], &[0x8E, 0x04]);
        assert_eq!(w.ne, Some(256));
        let cmd = Command::new(0x00, 0xD6, 0x00, 0x00).with_data(&[1, 2, 3]);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(&w.data[..3], &[0x87, 0x09, 0x01]);
        // Odd INS: 85 without indicator.
        let cmd = Command::new(0x00, 0xCB, 0x3F, 0xFF).with_data(&[0x4D, 0x00]);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(&w.data[..2], &[0x85, 0x08]);
    }

    #[test]
    fn response_round_trip_and_tamper_detection() {
        let mut card = Toy { key: 0x33, ssc: 0 };
        let mut host = Toy { key: 0x33, ssc: 0 };
        let protected = card_response(b"holder data", StatusWord::SUCCESS, &mut card);
        let plain = unwrap_response(&protected, &mut host).unwrap();
        assert_eq!(plain.data, b"holder data");
        assert_eq!(plain.sw, StatusWord::SUCCESS);

        // Every single-byte change is refused (MAC, structure or padding).
        let mut card = Toy { key: 0x33, ssc: 10 };
        let good = card_response(b"x", StatusWord(0x6282), &mut card);
        for i in 0..good.data.len() {
            let mut bad = good.clone();
            bad.data[i] ^= 0x01;
            let mut host = Toy { key: 0x33, ssc: 10 };
            assert!(
                unwrap_response(&bad, &mut host).is_err(),
                "byte {i} flip accepted"
            );
        }
        let mut host = Toy { key: 0x33, ssc: 10 };
        assert_eq!(
            unwrap_response(&good, &mut host).unwrap().sw,
            StatusWord(0x6282)
        );
        // Replaying the same response with the counter moved on fails.
        assert!(matches!(
            unwrap_response(&good, &mut host),
            Err(ApduError::SecureMessaging(SmError::MacMismatch))
        ));
    }

    #[test]
    fn missing_objects() {
        let mut host = Toy { key: 0, ssc: 0 };
        let no_mac = Response::success(tlv::encode(Tag(0x99), &[0x90, 0x00]));
        assert!(matches!(
            unwrap_response(&no_mac, &mut host),
            Err(ApduError::SecureMessaging(SmError::MissingMac))
        ));
        // MAC present and valid but no 99.
        let mut card = Toy { key: 0, ssc: 0 };
        let mac = card.mac(&pad(&[], 8));
        let only_mac = Response::success(tlv::encode(Tag(0x8E), &mac));
        let mut host = Toy { key: 0, ssc: 0 };
        assert!(matches!(
            unwrap_response(&only_mac, &mut host),
            Err(ApduError::SecureMessaging(SmError::MissingStatus))
        ));
        // An unprotected refusal passes through.
        let refused = Response::status(StatusWord::SM_OBJECTS_INCORRECT);
        assert_eq!(unwrap_response(&refused, &mut host).unwrap(), refused);
    }
}
