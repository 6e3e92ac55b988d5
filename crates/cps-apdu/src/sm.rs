//! Secure-messaging framing (ISO/IEC 7816-4:2020 §10), with the cryptography supplied by the
//! caller through [`SmCrypto`].
//!
//! This module knows the *shape* of protected APDUs, not the keys: IAS-ECC, ICAO 9303 BAC or
//! PACE, or a remote-update channel each implement [`SmCrypto`] with their own algorithms
//! and send-sequence counters. Host side: [`wrap_command`] and [`unwrap_response`]; card
//! side (simulated cards): [`unwrap_command`] and [`wrap_response`].
//!
//! Data objects used (ISO 7816-4:2020 §10.2, Table 60 / ICAO Doc 9303 part 11 §9.8.6):
//!
//! | tag | content |
//! |-----|---------|
//! | `87` | padding-content indicator `01` ‖ cryptogram (even INS) |
//! | `85` | cryptogram, no indicator (odd INS: the plain data is BER-TLV) |
//! | `81` | plain value, not encrypted (accepted when unwrapping, never produced) |
//! | `97` | Le of the unprotected command (1 byte, `00` = 256; 2 bytes, `0000` = 65536) |
//! | `99` | processing status (SW1 SW2), mandatory in responses |
//! | `8E` | cryptographic checksum (MAC), last object, mandatory |
//!
//! **Padding** is ISO/IEC 9797-1 method 2 (`80` then `00`s up to the block size, always at
//! least one byte) and is done here, not by [`SmCrypto`]: the plain data is padded before
//! [`SmCrypto::encrypt`] and unpadded after [`SmCrypto::decrypt`]; MAC inputs are padded
//! before [`SmCrypto::mac`] / [`SmCrypto::verify_mac`].
//!
//! **MAC input**, following ICAO Doc 9303 part 11 §9.8.6 (worked example in Appendix D.4)
//! and IAS-ECC:
//!
//! - command: `pad( pad(CLA* INS P1 P2) ‖ DO85/87 ‖ DO97 )`, where `CLA*` is the protected
//!   class byte (header authenticated);
//! - response: `pad( DO81/85/87 ‖ DO99 )`, i.e. every byte before `8E`, as received.
//!
//! A send-sequence counter, when the protocol has one, is the implementation's business: it
//! advances it in [`SmCrypto::start_message`] and prepends it to the MAC input (ICAO does
//! `MAC(SSC ‖ input)`; the SSC is one block long so the padding is unchanged).

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::tlv::{self, Tag};
use crate::{ApduError, Command, EXTENDED_MAX_LC, EXTENDED_MAX_NE, Response, StatusWord};

/// `87`: padding-content indicator then cryptogram (ISO 7816-4 Table 60).
pub const TAG_CRYPTOGRAM_PI: Tag = Tag(0x87);
/// `85`: cryptogram of BER-TLV data, no indicator (odd INS).
pub const TAG_CRYPTOGRAM: Tag = Tag(0x85);
/// `81`: plain value.
pub const TAG_PLAIN: Tag = Tag(0x81);
/// `97`: Le.
pub const TAG_LE: Tag = Tag(0x97);
/// `99`: processing status.
pub const TAG_STATUS: Tag = Tag(0x99);
/// `8E`: cryptographic checksum.
pub const TAG_MAC: Tag = Tag(0x8E);
/// Padding-content indicator "padded per ISO/IEC 9797-1 method 2" (ISO 7816-4 Table 61).
pub const PADDING_INDICATOR: u8 = 0x01;

/// The cryptography behind secure messaging.
///
/// Implementations keep their own session state (keys, send-sequence counter, IV chaining).
/// The framing calls, for each protected APDU:
///
/// - [`wrap_command`] / [`wrap_response`]: `start_message`, then `encrypt` (only when there
///   is data), then `mac`;
/// - [`unwrap_response`] / [`unwrap_command`]: `start_message`, then `verify_mac`, then
///   `decrypt` (only when the MAC verified and there is a cryptogram).
///
/// [`unwrap_response`] calls nothing for a plain error answer (no data, an error status):
/// the card refused the command before secure messaging applied, and ISO 7816-4 / ICAO
/// protocols end the session then.
pub trait SmCrypto {
    /// Cipher block size in bytes (8 for 3DES, 16 for AES), used for padding. Must not be 0.
    fn block_size(&self) -> usize;

    /// Called once at the start of every APDU protected or checked, before any other method:
    /// advance a send-sequence counter or derive a per-message IV here. Does nothing by
    /// default.
    fn start_message(&mut self) {}

    /// Encrypts `padded`, the plain data already padded to the block size by the framing.
    fn encrypt(&mut self, padded: &[u8]) -> Vec<u8>;

    /// Decrypts a cryptogram (a non-empty multiple of the block size, checked by the
    /// framing); the framing removes the padding afterwards.
    fn decrypt(&mut self, cryptogram: &[u8]) -> Result<Vec<u8>, SmError>;

    /// Computes the MAC of `input` (already padded by the framing).
    fn mac(&mut self, input: &[u8]) -> Vec<u8>;

    /// Checks a MAC received from the other side. Implementations **must** compare in
    /// constant time (e.g. `subtle::ConstantTimeEq`), and must refuse a MAC of the wrong
    /// length (also a truncated one).
    fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool;
}

/// What is wrong with a protected APDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmError {
    /// No `8E` data object.
    #[error("no MAC (8E) data object")]
    MissingMac,
    /// The MAC does not verify: the APDU was altered or the session is out of step.
    #[error("MAC does not verify")]
    MacMismatch,
    /// A response without the `99` processing status.
    #[error("response has no processing status (99)")]
    MissingStatus,
    /// The status word outside the protected data is neither `9000` nor the one in `99`.
    #[error("outer status word {outer} differs from the protected one {inner}")]
    StatusMismatch {
        /// The unprotected SW1 SW2.
        outer: StatusWord,
        /// The processing status in `99`.
        inner: StatusWord,
    },
    /// A data object appears twice (or two data-carrying objects `81`/`85`/`87`).
    #[error("data object {0} appears more than once")]
    DuplicateObject(Tag),
    /// A data object not expected in this direction.
    #[error("unexpected data object {0}")]
    UnexpectedObject(Tag),
    /// A data object after the MAC.
    #[error("data object after the MAC (8E)")]
    ObjectAfterMac,
    /// A `97` or `99` object of the wrong length.
    #[error("data object {tag} has a wrong length ({len})")]
    BadLength {
        /// The tag.
        tag: Tag,
        /// Its value length.
        len: usize,
    },
    /// A cryptogram that is empty or not a multiple of the block size.
    #[error("cryptogram of {0} bytes is not a whole number of blocks")]
    BadCryptogramLength(usize),
    /// The `87` padding-content indicator is not `01` (or is missing).
    #[error("padding-content indicator {0:02X} is not 01")]
    BadPaddingIndicator(u8),
    /// ISO/IEC 9797-1 method-2 padding missing or wrong after decryption.
    #[error("bad ISO/IEC 9797-1 padding")]
    BadPadding,
    /// The decryption itself failed.
    #[error("decryption failed")]
    DecryptFailed,
    /// [`unwrap_command`] on a command whose CLA does not announce secure messaging.
    #[error("CLA does not announce secure messaging")]
    NotProtected,
    /// A class byte this framing cannot protect (further interindustry `4x`–`7x`, whose
    /// secure-messaging indication is a different bit, RFU `2x`/`3x`, or `FF`).
    #[error("class byte {0:02X} cannot be protected by this framing")]
    UnsupportedClass(u8),
    /// The protected data would exceed the extended-length maximum.
    #[error("protected APDU would be {0} bytes long, too long")]
    TooLong(usize),
    /// [`SmCrypto::block_size`] returned 0.
    #[error("cipher block size of 0")]
    ZeroBlockSize,
}

impl SmError {
    /// The status word a card answers for this error (ISO 7816-4 Table 6): `6987` when
    /// expected objects are missing, `6988` when they are incorrect.
    pub fn status_word(&self) -> StatusWord {
        match self {
            SmError::MissingMac | SmError::MissingStatus | SmError::NotProtected => {
                StatusWord::SM_OBJECTS_MISSING
            }
            _ => StatusWord::SM_OBJECTS_INCORRECT,
        }
    }
}

impl From<SmError> for ApduError {
    fn from(e: SmError) -> Self {
        ApduError::SecureMessaging(e)
    }
}

/// The status word a card answers when [`unwrap_command`] fails: see
/// [`SmError::status_word`]; malformed BER-TLV gives `6988`, anything else `6700`.
pub fn card_status(err: &ApduError) -> StatusWord {
    match err {
        ApduError::SecureMessaging(e) => e.status_word(),
        ApduError::Tlv { .. } => StatusWord::SM_OBJECTS_INCORRECT,
        _ => StatusWord::WRONG_LENGTH,
    }
}

/// ISO/IEC 9797-1 padding method 2: `80` then `00` up to a multiple of `block` (always adds
/// at least one byte; a `block` of 0 is taken as 1).
pub fn pad(data: &[u8], block: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + block.max(1));
    out.extend_from_slice(data);
    pad_in_place(&mut out, block);
    out
}

fn pad_in_place(buf: &mut Vec<u8>, block: usize) {
    let block = block.max(1);
    buf.push(0x80);
    let rem = buf.len() % block;
    if rem != 0 {
        buf.resize(buf.len() + block - rem, 0x00);
    }
}

/// Removes ISO/IEC 9797-1 method-2 padding: trailing `00`s then one `80`.
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

/// Whether CLA announces secure messaging per ISO 7816-4 §10 with the header authenticated
/// (bits 4-3 = `11`, ISO 7816-4 Table 2), as this framing produces.
pub fn is_protected(cla: u8) -> bool {
    cla & 0x0C == 0x0C && class_supported(cla)
}

/// First interindustry class (`000x xxxx`, Table 2) or proprietary (`1xxx xxxx`), not `FF`.
fn class_supported(cla: u8) -> bool {
    (cla & 0xE0 == 0 || cla & 0x80 != 0) && cla != 0xFF
}

/// The protected CLA: bits 4-3 set to `11` (ISO 7816-4 Table 2: "secure messaging according
/// to clause 10, command header authenticated"). Proprietary classes get the same bits, as
/// IAS-ECC and EMV do.
pub fn protected_cla(cla: u8) -> Result<u8, SmError> {
    let p = cla | 0x0C;
    if class_supported(cla) && p != 0xFF {
        Ok(p)
    } else {
        Err(SmError::UnsupportedClass(cla))
    }
}

fn block_size(crypto: &dyn SmCrypto) -> Result<usize, SmError> {
    match crypto.block_size() {
        0 => Err(SmError::ZeroBlockSize),
        n => Ok(n),
    }
}

/// Appends the data object carrying encrypted `plain` (87 for even INS, 85 for odd INS).
fn push_cryptogram(out: &mut Vec<u8>, plain: &[u8], ins: u8, bs: usize, crypto: &mut dyn SmCrypto) {
    let padded = Zeroizing::new(pad(plain, bs));
    let crypt = crypto.encrypt(&padded);
    if ins & 1 == 0 {
        let mut v = Vec::with_capacity(crypt.len() + 1);
        v.push(PADDING_INDICATOR);
        v.extend_from_slice(&crypt);
        tlv::encode_into(out, TAG_CRYPTOGRAM_PI, &v);
    } else {
        tlv::encode_into(out, TAG_CRYPTOGRAM, &crypt);
    }
}

/// The data objects of a protected APDU, as found.
#[derive(Default)]
struct Objects<'a> {
    body: Option<(Tag, &'a [u8])>,
    le: Option<&'a [u8]>,
    status: Option<StatusWord>,
    mac: Option<&'a [u8]>,
    /// Bytes before `8E`: what the MAC covers.
    covered: &'a [u8],
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Command,
    Response,
}

fn parse_objects(data: &[u8], dir: Direction) -> Result<Objects<'_>, ApduError> {
    let mut o = Objects::default();
    for obj in tlv::Iter::new(data) {
        let obj = obj?;
        if o.mac.is_some() {
            return Err(SmError::ObjectAfterMac.into());
        }
        match obj.tag {
            TAG_MAC => {
                o.mac = Some(obj.value);
                o.covered = data.get(..obj.offset).unwrap_or(&[]);
            }
            TAG_CRYPTOGRAM_PI | TAG_CRYPTOGRAM | TAG_PLAIN => {
                if o.body.is_some() {
                    return Err(SmError::DuplicateObject(obj.tag).into());
                }
                o.body = Some((obj.tag, obj.value));
            }
            TAG_STATUS if dir == Direction::Response => {
                if o.status.is_some() {
                    return Err(SmError::DuplicateObject(obj.tag).into());
                }
                let sw: [u8; 2] = obj.value.try_into().map_err(|_| SmError::BadLength {
                    tag: obj.tag,
                    len: obj.value.len(),
                })?;
                o.status = Some(StatusWord::from(sw));
            }
            TAG_LE if dir == Direction::Command => {
                if o.le.is_some() {
                    return Err(SmError::DuplicateObject(obj.tag).into());
                }
                if !(1..=2).contains(&obj.value.len()) {
                    return Err(SmError::BadLength {
                        tag: obj.tag,
                        len: obj.value.len(),
                    }
                    .into());
                }
                o.le = Some(obj.value);
            }
            other => return Err(SmError::UnexpectedObject(other).into()),
        }
    }
    Ok(o)
}

/// Decrypts (or copies) the data-carrying object, after the MAC has been verified.
fn open_body(
    body: Option<(Tag, &[u8])>,
    bs: usize,
    crypto: &mut dyn SmCrypto,
) -> Result<Vec<u8>, SmError> {
    let crypt = match body {
        None => return Ok(Vec::new()),
        Some((TAG_PLAIN, plain)) => return Ok(plain.to_vec()),
        Some((TAG_CRYPTOGRAM_PI, value)) => {
            let (&indicator, crypt) = value.split_first().ok_or(SmError::BadPaddingIndicator(0))?;
            if indicator != PADDING_INDICATOR {
                return Err(SmError::BadPaddingIndicator(indicator));
            }
            crypt
        }
        Some((_, crypt)) => crypt,
    };
    if crypt.is_empty() || crypt.len() % bs != 0 {
        return Err(SmError::BadCryptogramLength(crypt.len()));
    }
    let plain = Zeroizing::new(crypto.decrypt(crypt)?);
    Ok(unpad(&plain)?.to_vec())
}

/// `pad( pad(header) ‖ objects )`: the command MAC input.
fn command_mac_input(header: [u8; 4], objects: &[u8], bs: usize) -> Vec<u8> {
    let mut m = pad(&header, bs);
    m.extend_from_slice(objects);
    pad_in_place(&mut m, bs);
    m
}

/// Protects a command (host side).
///
/// CLA gets bits `0C` ([`protected_cla`]); the data goes encrypted into `87` (even INS) or
/// `85` (odd INS); Ne, when present, into `97`; a MAC `8E` closes the data field. The
/// protected command asks for the maximum: Le = `00` (Ne 256), or `00 00` (Ne 65536) when it
/// needs extended length (protected data over 255 bytes, or an original Ne over 256).
///
/// Without extended length, choose Ne so that the protected *response* (data padded to a
/// block, plus about 16 bytes of `87`, `99` and `8E` headers and MAC) fits in 256 bytes.
pub fn wrap_command(cmd: &Command, crypto: &mut dyn SmCrypto) -> Result<Command, ApduError> {
    cmd.validate()?;
    let cla = protected_cla(cmd.cla)?;
    let bs = block_size(crypto)?;
    crypto.start_message();
    let mut dos = Vec::new();
    if !cmd.data.is_empty() {
        push_cryptogram(&mut dos, &cmd.data, cmd.ins, bs, crypto);
    }
    if let Some(ne) = cmd.ne {
        // Le as in the unprotected command: one byte up to 256 (00 = 256), else two bytes
        // (00 00 = 65536); validate() bounded ne to 1..=65536.
        let le = (ne & 0xFFFF) as u16;
        if ne <= crate::SHORT_MAX_NE {
            tlv::encode_into(&mut dos, TAG_LE, &[le as u8]);
        } else {
            tlv::encode_into(&mut dos, TAG_LE, &le.to_be_bytes());
        }
    }
    let mac = crypto.mac(&command_mac_input([cla, cmd.ins, cmd.p1, cmd.p2], &dos, bs));
    tlv::encode_into(&mut dos, TAG_MAC, &mac);
    if dos.len() > EXTENDED_MAX_LC {
        return Err(SmError::TooLong(dos.len()).into());
    }
    let ne = if dos.len() > crate::SHORT_MAX_LC || cmd.ne.is_some_and(|n| n > crate::SHORT_MAX_NE) {
        EXTENDED_MAX_NE
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

/// Checks and opens a protected response (host side); returns the plain response: the
/// decrypted data and the status word from `99`.
///
/// The MAC is verified before anything is decrypted. The outer status word must be `9000`
/// or equal to the one in `99`.
///
/// A response with no data and an *error* status word (anything but `9000`, `61xx` and the
/// `62xx`/`63xx` warnings) is returned unchanged, without calling `crypto`: the card
/// refused the command before secure messaging applied (`6987`, `6988`, or a card that
/// answers errors in plain, as many ICAO chips do); the caller should treat the session as
/// ended. Success and warnings must be authenticated: an empty `9000` or `63C2` is refused
/// ([`SmError::MissingMac`]), so that stripping the protected objects cannot turn a
/// failure into a success or fake a PIN try counter.
pub fn unwrap_response(resp: &Response, crypto: &mut dyn SmCrypto) -> Result<Response, ApduError> {
    if resp.data.is_empty() && !resp.sw.is_ok_or_warning() {
        return Ok(resp.clone());
    }
    let bs = block_size(crypto)?;
    crypto.start_message();
    let o = parse_objects(&resp.data, Direction::Response)?;
    let mac = o.mac.ok_or(SmError::MissingMac)?;
    if !crypto.verify_mac(&pad(o.covered, bs), mac) {
        return Err(SmError::MacMismatch.into());
    }
    let sw = o.status.ok_or(SmError::MissingStatus)?;
    if !resp.sw.is_success() && resp.sw != sw {
        return Err(SmError::StatusMismatch {
            outer: resp.sw,
            inner: sw,
        }
        .into());
    }
    let data = open_body(o.body, bs, crypto)?;
    Ok(Response { data, sw })
}

/// Checks and opens a protected command (card side): verifies the MAC, decrypts the data,
/// restores Ne from `97` (absent `97`: no Le) and clears the secure-messaging bits of CLA.
///
/// On error the card answers [`card_status`] of it (`6987` / `6988`).
pub fn unwrap_command(cmd: &Command, crypto: &mut dyn SmCrypto) -> Result<Command, ApduError> {
    if !is_protected(cmd.cla) {
        return Err(SmError::NotProtected.into());
    }
    let bs = block_size(crypto)?;
    crypto.start_message();
    let o = parse_objects(&cmd.data, Direction::Command)?;
    let mac = o.mac.ok_or(SmError::MissingMac)?;
    if !crypto.verify_mac(&command_mac_input(cmd.header(), o.covered, bs), mac) {
        return Err(SmError::MacMismatch.into());
    }
    let ne = match o.le {
        None => None,
        Some(&[0]) => Some(crate::SHORT_MAX_NE),
        Some(&[n]) => Some(usize::from(n)),
        Some(&[0, 0]) => Some(EXTENDED_MAX_NE),
        Some(&[a, b]) => Some(usize::from(u16::from_be_bytes([a, b]))),
        Some(other) => {
            return Err(SmError::BadLength {
                tag: TAG_LE,
                len: other.len(),
            }
            .into());
        }
    };
    let data = open_body(o.body, bs, crypto)?;
    Ok(Command {
        cla: cmd.cla & !0x0C,
        ins: cmd.ins,
        p1: cmd.p1,
        p2: cmd.p2,
        data,
        ne,
    })
}

/// Protects a response (card side) to a command with instruction `ins`: data encrypted into
/// `87` (even INS) or `85` (odd INS), the status word into `99`, then the MAC `8E`. The outer
/// status word repeats the protected one.
pub fn wrap_response(
    resp: &Response,
    ins: u8,
    crypto: &mut dyn SmCrypto,
) -> Result<Response, ApduError> {
    let bs = block_size(crypto)?;
    crypto.start_message();
    let mut dos = Vec::new();
    if !resp.data.is_empty() {
        push_cryptogram(&mut dos, &resp.data, ins, bs, crypto);
    }
    tlv::encode_into(&mut dos, TAG_STATUS, &resp.sw.to_bytes());
    let mac = crypto.mac(&pad(&dos, bs));
    tlv::encode_into(&mut dos, TAG_MAC, &mac);
    if dos.len() > EXTENDED_MAX_NE {
        return Err(SmError::TooLong(dos.len()).into());
    }
    Ok(Response {
        data: dos,
        sw: resp.sw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A toy cipher for framing tests only — no security at all: XOR with a key byte; MAC =
    /// 4-byte rotate/xor checksum mixed with a counter that `start_message` advances, like a
    /// send-sequence counter.
    #[derive(Clone)]
    struct Toy {
        key: u8,
        ssc: u32,
        log: Vec<&'static str>,
    }

    fn toy(key: u8, ssc: u32) -> Toy {
        Toy {
            key,
            ssc,
            log: Vec::new(),
        }
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
        fn start_message(&mut self) {
            self.ssc += 1;
            self.log.push("start");
        }
        fn encrypt(&mut self, padded: &[u8]) -> Vec<u8> {
            assert_eq!(padded.len() % 8, 0);
            self.log.push("encrypt");
            padded.iter().map(|b| b ^ self.key).collect()
        }
        fn decrypt(&mut self, c: &[u8]) -> Result<Vec<u8>, SmError> {
            assert_eq!(c.len() % 8, 0);
            self.log.push("decrypt");
            Ok(c.iter().map(|b| b ^ self.key).collect())
        }
        fn mac(&mut self, input: &[u8]) -> Vec<u8> {
            assert_eq!(input.len() % 8, 0);
            self.log.push("mac");
            self.checksum(input)
        }
        fn verify_mac(&mut self, input: &[u8], mac: &[u8]) -> bool {
            assert_eq!(input.len() % 8, 0);
            self.log.push("verify");
            // Test code: a plain comparison is fine here; real implementations use subtle.
            self.checksum(input) == mac
        }
    }

    fn sm_err(r: Result<impl core::fmt::Debug, ApduError>) -> SmError {
        match r {
            Err(ApduError::SecureMessaging(e)) => e,
            other => panic!("expected an SM error, got {other:?}"),
        }
    }

    #[test]
    fn padding() {
        assert_eq!(pad(&[1, 2, 3], 8), [1, 2, 3, 0x80, 0, 0, 0, 0]);
        assert_eq!(pad(&[0; 8], 8).len(), 16);
        assert_eq!(pad(&[], 8), [0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(pad(&[1; 15], 16).len(), 16);
        assert_eq!(pad(&[1], 0), [1, 0x80]);
        assert_eq!(unpad(&[1, 2, 0x80, 0, 0]).unwrap(), [1, 2]);
        assert_eq!(unpad(&[0x80]).unwrap(), [] as [u8; 0]);
        assert_eq!(unpad(&[0, 0]), Err(SmError::BadPadding));
        assert_eq!(unpad(&[]), Err(SmError::BadPadding));
        assert_eq!(unpad(&[1, 2, 3]), Err(SmError::BadPadding));
    }

    #[test]
    fn class_bytes() {
        assert_eq!(protected_cla(0x00), Ok(0x0C));
        assert_eq!(protected_cla(0x03), Ok(0x0F));
        assert_eq!(protected_cla(0x10), Ok(0x1C));
        assert_eq!(protected_cla(0x80), Ok(0x8C));
        assert_eq!(protected_cla(0x40), Err(SmError::UnsupportedClass(0x40)));
        assert_eq!(protected_cla(0x20), Err(SmError::UnsupportedClass(0x20)));
        assert_eq!(protected_cla(0xF3), Err(SmError::UnsupportedClass(0xF3)));
        assert!(is_protected(0x0C) && is_protected(0x1D) && is_protected(0x8C));
        assert!(!is_protected(0x00) && !is_protected(0x08) && !is_protected(0x4C));
    }

    #[test]
    fn wrap_shape() {
        let mut host = toy(0x5A, 0);
        let cmd = Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(16);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(host.log, ["start", "mac"]);
        assert_eq!(w.cla, 0x0C);
        // 97 01 10 then 8E 04 <mac>.
        assert_eq!(&w.data[..3], &[0x97, 0x01, 0x10]);
        assert_eq!(&w.data[3..5], &[0x8E, 0x04]);
        assert_eq!(w.ne, Some(256));
        // The MAC covers pad(pad(header) ‖ 97 01 10).
        let check = toy(0x5A, 1);
        let expect = check.checksum(&[
            0x0C, 0xB0, 0, 0, 0x80, 0, 0, 0, 0x97, 0x01, 0x10, 0x80, 0, 0, 0, 0,
        ]);
        assert_eq!(&w.data[5..], &expect[..]);

        let cmd = Command::new(0x00, 0xD6, 0x00, 0x00).with_data(&[1, 2, 3]);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(&w.data[..3], &[0x87, 0x09, 0x01]);
        assert_eq!(
            &w.data[3..11],
            &[
                1 ^ 0x5A,
                2 ^ 0x5A,
                3 ^ 0x5A,
                0x80 ^ 0x5A,
                0x5A,
                0x5A,
                0x5A,
                0x5A
            ]
        );
        // Odd INS: 85 without indicator.
        let cmd = Command::new(0x00, 0xCB, 0x3F, 0xFF).with_data(&[0x4D, 0x00]);
        let w = wrap_command(&cmd, &mut host).unwrap();
        assert_eq!(&w.data[..2], &[0x85, 0x08]);
        // Case 1: only the MAC, over the padded header plus a full padding block.
        let mut host = toy(0, 0);
        let w = wrap_command(&Command::new(0x00, 0x44, 0, 0), &mut host).unwrap();
        let check = toy(0, 1);
        let expect = check.checksum(&[0x0C, 0x44, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(w.data, [&[0x8E, 0x04][..], &expect].concat());
        // Extended: Ne above 256 goes into a two-byte 97 and the wrapper asks for 65536.
        let w = wrap_command(&Command::new(0x00, 0xB0, 0, 0).with_ne(65_536), &mut host).unwrap();
        assert_eq!(&w.data[..4], &[0x97, 0x02, 0x00, 0x00]);
        assert_eq!(w.ne, Some(65_536));
        let w = wrap_command(
            &Command::new(0x00, 0xD6, 0, 0).with_data(&[7; 300]),
            &mut host,
        )
        .unwrap();
        assert_eq!(w.ne, Some(65_536));
        assert!(w.to_bytes().len() > 300);
    }

    #[test]
    fn command_round_trip_through_the_card() {
        let cmds = [
            Command::new(0x00, 0x44, 0x00, 0x00),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(0xDF),
            Command::new(0x00, 0xB0, 0x00, 0x00).with_ne(256),
            Command::new(0x00, 0xB1, 0x00, 0x00)
                .with_data(&[0x54, 0x02, 0x01, 0x00])
                .with_ne(65_536),
            Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234\xFF\xFF\xFF\xFF"),
            Command::new(0x01, 0x2A, 0x9E, 0x9A)
                .with_data(&[0x90; 32])
                .with_ne(1000),
            Command::new(0x80, 0xCA, 0x01, 0x02).with_data(&[0; 5000]),
        ];
        for (i, cmd) in cmds.iter().enumerate() {
            let mut host = toy(0x21, i as u32);
            let mut card = toy(0x21, i as u32);
            let wrapped = wrap_command(cmd, &mut host).unwrap();
            // Through the wire and back.
            let received = Command::parse(&wrapped.to_bytes()).unwrap();
            let opened = unwrap_command(&received, &mut card).unwrap();
            assert_eq!(&opened, cmd, "{i}");
            assert_eq!(card.ssc, host.ssc);
        }
    }

    #[test]
    fn response_round_trip_and_tamper_detection() {
        let mut card = toy(0x33, 0);
        let mut host = toy(0x33, 0);
        let protected =
            wrap_response(&Response::success(b"holder data".to_vec()), 0xB0, &mut card).unwrap();
        assert_eq!(card.log, ["start", "encrypt", "mac"]);
        assert_eq!(&protected.data[..3], &[0x87, 0x11, 0x01]);
        let plain = unwrap_response(&protected, &mut host).unwrap();
        assert_eq!(host.log, ["start", "verify", "decrypt"]);
        assert_eq!(plain.data, b"holder data");
        assert_eq!(plain.sw, StatusWord::SUCCESS);

        // Every single-bit change of the data field is refused (MAC, structure or padding).
        let mut card = toy(0x33, 10);
        let good = wrap_response(
            &Response::new(b"x".to_vec(), StatusWord(0x6282)),
            0xB0,
            &mut card,
        )
        .unwrap();
        assert_eq!(good.sw, StatusWord(0x6282));
        for i in 0..good.data.len() {
            for bit in 0..8 {
                let mut bad = good.clone();
                bad.data[i] ^= 1 << bit;
                let mut host = toy(0x33, 10);
                assert!(
                    unwrap_response(&bad, &mut host).is_err(),
                    "byte {i} bit {bit} flip accepted"
                );
            }
        }
        // Truncations too.
        for n in 0..good.data.len() {
            let mut bad = good.clone();
            bad.data.truncate(n);
            let mut host = toy(0x33, 10);
            assert!(
                unwrap_response(&bad, &mut host).is_err(),
                "truncated to {n}"
            );
        }
        let mut host = toy(0x33, 10);
        let opened = unwrap_response(&good, &mut host).unwrap();
        assert_eq!(opened.sw, StatusWord(0x6282));
        assert_eq!(opened.data, b"x");
        // Replaying the same response with the counter moved on fails.
        assert_eq!(
            sm_err(unwrap_response(&good, &mut host)),
            SmError::MacMismatch
        );
        // Odd INS: 85.
        let mut card = toy(1, 0);
        let r = wrap_response(&Response::success(vec![0x53, 0x00]), 0xCB, &mut card).unwrap();
        assert_eq!(&r.data[..2], &[0x85, 0x08]);
        let mut host = toy(1, 0);
        assert_eq!(unwrap_response(&r, &mut host).unwrap().data, [0x53, 0x00]);
    }

    /// Builds a response whose objects are `dos` followed by a valid MAC.
    fn with_mac(dos: &[u8], sw: StatusWord, ssc: u32) -> Response {
        let mut card = toy(0, ssc);
        card.start_message();
        let mac = card.mac(&pad(dos, 8));
        let mut data = dos.to_vec();
        data.extend(tlv::encode(TAG_MAC, &mac));
        Response::new(data, sw)
    }

    #[test]
    fn missing_or_wrong_objects() {
        let ok99 = tlv::encode(TAG_STATUS, &[0x90, 0x00]);
        let mut host = toy(0, 0);
        let no_mac = Response::success(ok99.clone());
        assert_eq!(
            sm_err(unwrap_response(&no_mac, &mut host)),
            SmError::MissingMac
        );
        assert_eq!(SmError::MissingMac.status_word(), StatusWord(0x6987));
        // An empty 9000 must not pass as success, nor a plain warning as a try counter.
        for sw in [0x9000, 0x63C2, 0x6282] {
            assert_eq!(
                sm_err(unwrap_response(
                    &Response::status(StatusWord(sw)),
                    &mut toy(0, 0)
                )),
                SmError::MissingMac
            );
        }
        // MAC present and valid but no 99.
        let only_mac = with_mac(&[], StatusWord::SUCCESS, 0);
        assert_eq!(
            sm_err(unwrap_response(&only_mac, &mut toy(0, 0))),
            SmError::MissingStatus
        );
        // 99 disagreeing with a non-9000 outer status word.
        let r = with_mac(
            &tlv::encode(TAG_STATUS, &[0x6A, 0x82]),
            StatusWord(0x6A88),
            0,
        );
        assert_eq!(
            sm_err(unwrap_response(&r, &mut toy(0, 0))),
            SmError::StatusMismatch {
                outer: StatusWord(0x6A88),
                inner: StatusWord(0x6A82)
            }
        );
        // The same with outer 9000 or outer = 99 is fine: the status comes from 99.
        for outer in [StatusWord::SUCCESS, StatusWord(0x6A82)] {
            let r = with_mac(&tlv::encode(TAG_STATUS, &[0x6A, 0x82]), outer, 0);
            let plain = unwrap_response(&r, &mut toy(0, 0)).unwrap();
            assert_eq!(plain.sw, StatusWord(0x6A82));
            assert!(plain.data.is_empty());
        }
        // 99 of the wrong length, twice, after the MAC; a 97 in a response.
        let bad = [
            (
                tlv::encode(TAG_STATUS, &[0x90]),
                SmError::BadLength {
                    tag: TAG_STATUS,
                    len: 1,
                },
            ),
            (
                [ok99.clone(), ok99.clone()].concat(),
                SmError::DuplicateObject(TAG_STATUS),
            ),
            (
                [tlv::encode(TAG_LE, &[0]), ok99.clone()].concat(),
                SmError::UnexpectedObject(TAG_LE),
            ),
            (
                [
                    tlv::encode(TAG_PLAIN, &[1]),
                    tlv::encode(TAG_CRYPTOGRAM, &[0; 8]),
                    ok99.clone(),
                ]
                .concat(),
                SmError::DuplicateObject(TAG_CRYPTOGRAM),
            ),
            (
                [tlv::encode(TAG_CRYPTOGRAM_PI, &[0x02; 9]), ok99.clone()].concat(),
                SmError::BadPaddingIndicator(0x02),
            ),
            (
                [tlv::encode(TAG_CRYPTOGRAM_PI, &[0x01; 8]), ok99.clone()].concat(),
                SmError::BadCryptogramLength(7),
            ),
            (
                [tlv::encode(TAG_CRYPTOGRAM_PI, &[]), ok99.clone()].concat(),
                SmError::BadPaddingIndicator(0),
            ),
            (
                [tlv::encode(TAG_CRYPTOGRAM_PI, &[0x01; 9]), ok99.clone()].concat(),
                SmError::BadPadding,
            ),
        ];
        for (dos, expect) in bad {
            let r = with_mac(&dos, StatusWord::SUCCESS, 0);
            assert_eq!(sm_err(unwrap_response(&r, &mut toy(0, 0))), expect);
            assert_eq!(expect.status_word(), StatusWord(0x6988));
        }
        let mut after = with_mac(&ok99, StatusWord::SUCCESS, 0);
        after.data.extend(&ok99);
        assert_eq!(
            sm_err(unwrap_response(&after, &mut toy(0, 0))),
            SmError::ObjectAfterMac
        );
        // A plain 81 is accepted.
        let r = with_mac(
            &[tlv::encode(TAG_PLAIN, b"pub"), ok99.clone()].concat(),
            StatusWord::SUCCESS,
            0,
        );
        assert_eq!(unwrap_response(&r, &mut toy(0, 0)).unwrap().data, b"pub");
        // Malformed BER-TLV is a TLV error.
        assert!(matches!(
            unwrap_response(&Response::success(vec![0x99, 0x05, 0x90]), &mut toy(0, 0)),
            Err(ApduError::Tlv { .. })
        ));
        // An unprotected refusal passes through without touching the session.
        let refused = Response::status(StatusWord::SM_OBJECTS_INCORRECT);
        let mut host = toy(0, 0);
        assert_eq!(unwrap_response(&refused, &mut host).unwrap(), refused);
        assert!(host.log.is_empty());
    }

    #[test]
    fn mac_covers_the_bytes_as_received() {
        // A non-minimal length (99 81 02) is covered as sent, not as re-encoded.
        let dos = [0x99, 0x81, 0x02, 0x90, 0x00];
        let r = with_mac(&dos, StatusWord::SUCCESS, 0);
        assert_eq!(
            unwrap_response(&r, &mut toy(0, 0)).unwrap().sw,
            StatusWord::SUCCESS
        );
    }

    #[test]
    fn card_side_errors() {
        let mut card = toy(0, 0);
        let plain = Command::new(0x00, 0xB0, 0, 0).with_ne(4);
        let e = unwrap_command(&plain, &mut card).unwrap_err();
        assert_eq!(e, ApduError::SecureMessaging(SmError::NotProtected));
        assert_eq!(card_status(&e), StatusWord::SM_OBJECTS_MISSING);

        let mut host = toy(0, 0);
        let good = wrap_command(&plain, &mut host).unwrap();
        // Flip any byte of the header or data field: refused with 6987/6988.
        let bytes = good.to_bytes();
        for i in 0..bytes.len() - 1 {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let Ok(cmd) = Command::parse(&bad) else {
                continue;
            };
            let mut card = toy(0, 0);
            match unwrap_command(&cmd, &mut card) {
                Ok(c) => panic!("byte {i} flip accepted: {c:?}"),
                Err(e) => assert!(
                    matches!(card_status(&e).0, 0x6987 | 0x6988),
                    "byte {i}: {e}"
                ),
            }
        }
        // 97 of three bytes; 99 in a command; no MAC.
        let mut host = toy(0, 0);
        for (dos, expect) in [
            (
                tlv::encode(TAG_LE, &[0, 1, 0]),
                SmError::BadLength {
                    tag: TAG_LE,
                    len: 3,
                },
            ),
            (
                tlv::encode(TAG_STATUS, &[0x90, 0]),
                SmError::UnexpectedObject(TAG_STATUS),
            ),
        ] {
            let mut data = dos.clone();
            data.extend(tlv::encode(TAG_MAC, &host.mac(&[])));
            let cmd = Command::new(0x0C, 0xB0, 0, 0).with_data(&data);
            assert_eq!(sm_err(unwrap_command(&cmd, &mut toy(0, 0))), expect);
        }
        let cmd = Command::new(0x0C, 0xB0, 0, 0).with_data(&[0x97, 0x01, 0x04]);
        assert_eq!(
            sm_err(unwrap_command(&cmd, &mut toy(0, 0))),
            SmError::MissingMac
        );
        // Not a whole block.
        struct Zero;
        impl SmCrypto for Zero {
            fn block_size(&self) -> usize {
                0
            }
            fn encrypt(&mut self, p: &[u8]) -> Vec<u8> {
                p.to_vec()
            }
            fn decrypt(&mut self, c: &[u8]) -> Result<Vec<u8>, SmError> {
                Ok(c.to_vec())
            }
            fn mac(&mut self, _: &[u8]) -> Vec<u8> {
                Vec::new()
            }
            fn verify_mac(&mut self, _: &[u8], _: &[u8]) -> bool {
                false
            }
        }
        assert_eq!(
            sm_err(wrap_command(&plain, &mut Zero)),
            SmError::ZeroBlockSize
        );
    }
}
