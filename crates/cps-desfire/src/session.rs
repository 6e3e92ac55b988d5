//! Secure messaging after authentication, for both ends of the link.
//!
//! Every session type offers the four operations of one command/response pair:
//!
//! | | host | card |
//! |---|---|---|
//! | command | `seal_command` | `open_command` |
//! | response | `open_response` | `seal_response` |
//!
//! so a simulated card reuses exactly the code the client runs, and a test can push a command
//! through `seal_command` → `open_command` and a response through `seal_response` →
//! `open_response`.
//!
//! - [`D40Session`] (after legacy `0A`): 4-byte MACs, `data || CRC16` enciphered in "send mode",
//!   IV zero for every message (notes §5.1; libfreefare/PM3 D40 code, no public vector).
//! - [`Ev1Session`] (after `1A`/`AA`): one running IV; CMAC over every command (appended only
//!   in MAC mode), 8-byte CMAC over every `00` response, `data || CRC32` zero-padded and
//!   enciphered (notes §5.2; checked against the real-card traces).
//! - [`Ev2Session`] (after `71`/`77`): TI and CmdCtr, MACt (odd bytes of the CMAC), IVc/IVr,
//!   ISO 9797-1 M2 padding (notes §5.3; AN12196, AN12343).
//!
//! MACs are compared in constant time ([`subtle`]). A MAC, CRC or padding failure is an
//! [`SmError`]; the caller must then drop the session, as the card does.

use alloc::vec::Vec;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::{
    Block, Cipher, CryptoError, Key, KeyType, crc16_a, crc32_desfire, crc32_update, ct_eq,
    pad_iso9797_m2, pad_zero, unpad_iso9797_m2,
};
use crate::frame::DesfireStatus;

/// The communication mode of a file or command (file option byte bits 1..0; notes §7):
/// `00` plain, `01` MACed, `11` fully enciphered, `10` counts as plain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommMode {
    /// No protection (EV1 still MACs the response while authenticated).
    Plain,
    /// MAC appended.
    Mac,
    /// Enciphered (and, in EV2, MACed).
    Full,
}

impl CommMode {
    /// From a file's option / communication-settings byte (bits 1..0).
    pub const fn from_option(byte: u8) -> Self {
        match byte & 0x03 {
            0x01 => CommMode::Mac,
            0x03 => CommMode::Full,
            _ => CommMode::Plain,
        }
    }

    /// The bits 1..0 of the communication-settings byte.
    pub const fn bits(self) -> u8 {
        match self {
            CommMode::Plain => 0x00,
            CommMode::Mac => 0x01,
            CommMode::Full => 0x03,
        }
    }
}

/// How a command is protected once a session exists: the command families of DESFire,
/// mapped to each generation's rules by [`Protection::ev1`], [`Protection::ev2`] and
/// [`Protection::d40`].
///
/// The EV2 mapping of management commands (MACed both ways) follows PM3's table, as the notes
/// (§5.3, §11) record; NXP publishes no per-command list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protection {
    /// Outside secure messaging: authentication frames, `SelectApplication`.
    None,
    /// Management and listing commands (GetVersion, GetFileIDs, Create*, Delete*, ...).
    Management,
    /// Reading a file (ReadData, GetValue, ReadRecords) with the file's communication mode.
    FileRead(CommMode),
    /// Writing a file (WriteData, WriteRecord, Credit, Debit, LimitedCredit).
    FileWrite(CommMode),
    /// An enciphered command with a MACed answer (ChangeKeySettings, SetConfiguration,
    /// ChangeFileSettings).
    EncipheredCommand,
    /// A command whose answer is enciphered (GetCardUID).
    EncipheredResponse,
}

/// EV1 treatment of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev1Command {
    /// Sent plain; the CMAC is computed anyway to advance the IV.
    CmacOnly,
    /// The first 8 bytes of the CMAC are appended.
    MacAppended,
    /// Data enciphered with `CRC32(cmd || header || data)`, zero padding.
    Enciphered,
}

/// EV1 treatment of a `00` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ev1Response {
    /// `data || CMAC[0..8]` over `data || status`.
    Cmac,
    /// `E(data || CRC32(data || status) || 0-padding)`.
    Enciphered,
}

impl Protection {
    /// EV1 rules (notes §5.2), `None` outside secure messaging.
    pub const fn ev1(self) -> Option<(Ev1Command, Ev1Response)> {
        use Ev1Command as C;
        use Ev1Response as R;
        Some(match self {
            Protection::None => return None,
            Protection::Management => (C::CmacOnly, R::Cmac),
            Protection::FileRead(CommMode::Full) | Protection::EncipheredResponse => {
                (C::CmacOnly, R::Enciphered)
            }
            Protection::FileRead(_) | Protection::FileWrite(CommMode::Plain) => {
                (C::CmacOnly, R::Cmac)
            }
            Protection::FileWrite(CommMode::Mac) => (C::MacAppended, R::Cmac),
            Protection::FileWrite(CommMode::Full) | Protection::EncipheredCommand => {
                (C::Enciphered, R::Cmac)
            }
        })
    }

    /// EV2 rules (notes §5.3): `(command mode, response mode)`.
    pub const fn ev2(self) -> Option<(CommMode, CommMode)> {
        use CommMode::*;
        Some(match self {
            Protection::None => return None,
            Protection::Management => (Mac, Mac),
            Protection::FileRead(Plain) | Protection::FileWrite(Plain) => (Plain, Plain),
            Protection::FileRead(Mac) | Protection::FileWrite(Mac) => (Mac, Mac),
            Protection::FileRead(Full) | Protection::EncipheredResponse => (Mac, Full),
            Protection::FileWrite(Full) | Protection::EncipheredCommand => (Full, Mac),
        })
    }

    /// D40 rules (notes §5.1): `(command mode, response mode)`; management is plain.
    pub const fn d40(self) -> Option<(CommMode, CommMode)> {
        use CommMode::*;
        Some(match self {
            Protection::None => return None,
            Protection::Management => (Plain, Plain),
            Protection::FileRead(m) => (Plain, m),
            Protection::FileWrite(m) => (m, Plain),
            Protection::EncipheredCommand => (Full, Plain),
            Protection::EncipheredResponse => (Plain, Full),
        })
    }
}

/// A secure-messaging failure. After any of these the session must be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmError {
    /// The MAC does not match: the frame was altered or the other side has another key.
    #[error("MAC mismatch: the frame was altered or the keys differ")]
    MacMismatch,
    /// No position of the CRC in the deciphered data checks.
    #[error("CRC mismatch in enciphered data")]
    CrcMismatch,
    /// ISO 9797-1 method 2 padding is malformed.
    #[error("invalid padding in enciphered data")]
    Padding,
    /// The EV2 command counter reached `0xFFFF`: no further command can be protected;
    /// authenticate again.
    #[error("EV2 command counter exhausted (0xFFFF): authenticate again")]
    CounterOverflow,
    /// A frame shorter than its MAC or header.
    #[error("protected frame too short: {len} bytes, at least {min} needed")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Minimum.
        min: usize,
    },
    /// Ciphertext that is not a whole number of blocks.
    #[error("enciphered data of {len} bytes is not a multiple of {block}")]
    NotBlockAligned {
        /// Length.
        len: usize,
        /// Block size.
        block: usize,
    },
    /// The deciphered data has another length than the command announced.
    #[error("enciphered data holds {got} bytes, {expected} expected")]
    UnexpectedLength {
        /// Expected.
        expected: usize,
        /// Found.
        got: usize,
    },
    /// The session's key is unusable for this session type.
    #[error("session key error: {0}")]
    Crypto(CryptoError),
}

impl From<CryptoError> for SmError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::NotBlockAligned { len, block } => SmError::NotBlockAligned { len, block },
            other => SmError::Crypto(other),
        }
    }
}

/// Finds the CRC32 in `plain = data || CRC32(prefix || data || suffix) || zeros`; returns
/// the data length.
///
/// With `expected_len` only that position is tried. Otherwise every position whose tail is
/// zero padding (less than a block) is tried, **shortest data first**: because the DESFire
/// CRCs have no final XOR, a longer false candidate is structurally likely (without a suffix
/// `CRC(data || CRC(data)) = 0`, so `data || crc || 00 00 00 00` always "checks"; with a
/// `00` status suffix it checks whenever the CRC's low byte is `00`), whereas a shorter false
/// candidate needs the data to end with the suffix byte and a 1/256 coincidence. Callers
/// that know the length (GetCardUID, ReadData with a length, the card parsing a WriteData
/// header) should pass it.
fn find_crc32(
    plain: &[u8],
    prefix: &[u8],
    suffix: &[u8],
    block: usize,
    expected_len: Option<usize>,
) -> Option<usize> {
    let n = plain.len();
    let max_len = n.checked_sub(4)?;
    let min_len = max_len.saturating_sub(block.saturating_sub(1));
    let mut crc = crc32_update(0xFFFF_FFFF, prefix);
    crc = crc32_update(crc, plain.get(..min_len)?);
    for len in min_len..=max_len {
        if len > min_len {
            crc = crc32_update(crc, plain.get(len - 1..len)?);
        }
        let zero_tail = plain.get(len + 4..)?.iter().all(|&b| b == 0);
        if zero_tail && expected_len.is_none_or(|e| e == len) {
            let full = crc32_update(crc, suffix);
            if ct_eq(&full.to_le_bytes(), plain.get(len..len + 4)?) {
                return Some(len);
            }
        }
    }
    None
}

/// Same as [`find_crc32`] for the D40 CRC16 over the data only (shortest data first).
fn find_crc16(plain: &[u8], block: usize, expected_len: Option<usize>) -> Option<usize> {
    let n = plain.len();
    let max_len = n.checked_sub(2)?;
    let min_len = max_len.saturating_sub(block.saturating_sub(1));
    (min_len..=max_len).find(|&len| {
        expected_len.is_none_or(|e| e == len)
            && plain
                .get(len + 2..)
                .is_some_and(|t| t.iter().all(|&b| b == 0))
            && match (plain.get(..len), plain.get(len..len + 2)) {
                (Some(d), Some(c)) => ct_eq(&crc16_a(d).to_le_bytes(), c),
                _ => false,
            }
    })
}

fn split_mac(payload: &[u8], mac_len: usize) -> Result<(&[u8], &[u8]), SmError> {
    payload
        .len()
        .checked_sub(mac_len)
        .map(|at| payload.split_at(at))
        .ok_or(SmError::TooShort {
            len: payload.len(),
            min: mac_len,
        })
}

#[cfg(feature = "card")]
fn split_header(payload: &[u8], header_len: usize) -> Result<(&[u8], &[u8]), SmError> {
    if payload.len() < header_len {
        return Err(SmError::TooShort {
            len: payload.len(),
            min: header_len,
        });
    }
    Ok(payload.split_at(header_len))
}

// ---------------------------------------------------------------------------------------
// EV1

/// The EV1 secure channel (after `AuthenticateISO` 0x1A or `AuthenticateAES` 0xAA).
///
/// One IV of block size runs through the whole session, zero after authentication. CMAC,
/// encryption and decryption all start from it and leave their last block in it (notes §5.2).
#[derive(Clone)]
pub struct Ev1Session {
    key: Key,
    cipher: Cipher,
    iv: Block,
}

impl core::fmt::Debug for Ev1Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ev1Session")
            .field("key_type", &self.key.key_type())
            .finish_non_exhaustive()
    }
}

impl Drop for Ev1Session {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

impl Ev1Session {
    /// A session with a zero IV.
    pub fn new(session_key: Key) -> Self {
        let cipher = session_key.cipher();
        let iv = Block::zero(cipher.block_size());
        Ev1Session {
            key: session_key,
            cipher,
            iv,
        }
    }

    /// A session resumed at a given IV (to replay one step of a trace).
    pub fn with_iv(session_key: Key, iv: &[u8]) -> Result<Self, SmError> {
        let mut s = Ev1Session::new(session_key);
        if iv.len() != s.iv.len() {
            return Err(CryptoError::IvLength {
                got: iv.len(),
                block: s.iv.len(),
            }
            .into());
        }
        s.iv = Block::from_slice(iv);
        Ok(s)
    }

    /// The session key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The current IV.
    pub fn iv(&self) -> &[u8] {
        self.iv.as_slice()
    }

    /// The cipher block size (8 for (3)DES sessions, 16 for AES).
    pub fn block_size(&self) -> usize {
        self.cipher.block_size()
    }

    /// Full CMAC of `data` from the running IV; the IV becomes the CMAC.
    pub fn cmac(&mut self, data: &[u8]) -> Block {
        let mac = self
            .cipher
            .cmac_with_iv(self.iv.as_slice(), data)
            .unwrap_or_default();
        self.iv = mac;
        mac
    }

    /// Zero-pads and CBC-enciphers `plaintext` from the running IV (IV := last block).
    pub fn encipher(&mut self, plaintext: &[u8]) -> Vec<u8> {
        let mut buf = plaintext.to_vec();
        pad_zero(&mut buf, self.block_size());
        // Aligned and IV of block size: cannot fail.
        let _ = self.cipher.cbc_encrypt(self.iv.as_mut_slice(), &mut buf);
        buf
    }

    /// CBC-deciphers from the running IV (IV := last ciphertext block).
    pub fn decipher(&mut self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        self.cipher.cbc_decrypt(self.iv.as_mut_slice(), &mut buf)?;
        Ok(buf)
    }

    /// Host: protects `code || header || data`; returns the bytes that follow the command
    /// code. `Protection::None` leaves the frame and the IV untouched.
    pub fn seal_command(
        &mut self,
        code: u8,
        header: &[u8],
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        let mut out = Vec::with_capacity(header.len() + data.len() + 24);
        out.extend_from_slice(header);
        let Some((mode, _)) = protection.ev1() else {
            out.extend_from_slice(data);
            return Ok(out);
        };
        match mode {
            Ev1Command::CmacOnly | Ev1Command::MacAppended => {
                let mut input = Zeroizing::new(Vec::with_capacity(1 + header.len() + data.len()));
                input.push(code);
                input.extend_from_slice(header);
                input.extend_from_slice(data);
                let mac = self.cmac(&input);
                out.extend_from_slice(data);
                if mode == Ev1Command::MacAppended {
                    out.extend_from_slice(&mac.first8());
                }
            }
            Ev1Command::Enciphered => {
                let mut plain = Zeroizing::new(Vec::with_capacity(data.len() + 4 + 16));
                plain.extend_from_slice(data);
                let crc = crc32_update(crc32_update(crc32_desfire(&[code]), header), data);
                plain.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&self.encipher(&plain));
            }
        }
        Ok(out)
    }

    #[cfg(feature = "card")]
    /// Card: checks and opens what [`Ev1Session::seal_command`] produced; returns the data
    /// (the header is the first `header_len` bytes of `payload`, left as it is).
    /// `expected_len` (e.g. from a WriteData header) pins the CRC of an enciphered command.
    pub fn open_command(
        &mut self,
        code: u8,
        payload: &[u8],
        header_len: usize,
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let (header, body) = split_header(payload, header_len)?;
        let Some((mode, _)) = protection.ev1() else {
            return Ok(Zeroizing::new(body.to_vec()));
        };
        match mode {
            Ev1Command::CmacOnly => {
                let mut input = Zeroizing::new(alloc::vec![code]);
                input.extend_from_slice(payload);
                self.cmac(&input);
                Ok(Zeroizing::new(body.to_vec()))
            }
            Ev1Command::MacAppended => {
                let (data, mac) = split_mac(body, 8)?;
                let mut input = Zeroizing::new(alloc::vec![code]);
                input.extend_from_slice(header);
                input.extend_from_slice(data);
                let expected = self.cmac(&input);
                if !ct_eq(&expected.first8(), mac) {
                    return Err(SmError::MacMismatch);
                }
                Ok(Zeroizing::new(data.to_vec()))
            }
            Ev1Command::Enciphered => {
                let plain = self.decipher(body)?;
                let mut prefix = alloc::vec![code];
                prefix.extend_from_slice(header);
                let len = find_crc32(&plain, &prefix, &[], self.block_size(), expected_len)
                    .ok_or(SmError::CrcMismatch)?;
                Ok(Zeroizing::new(
                    plain.get(..len).unwrap_or_default().to_vec(),
                ))
            }
        }
    }

    #[cfg(feature = "card")]
    /// Card: protects a `00` response (errors carry no MAC: pass them through unsealed).
    pub fn seal_response(
        &mut self,
        status: DesfireStatus,
        data: &[u8],
        protection: Protection,
    ) -> Vec<u8> {
        let Some((_, mode)) = protection.ev1().filter(|_| !status.is_error()) else {
            return data.to_vec();
        };
        match mode {
            Ev1Response::Cmac => {
                let mut input = Zeroizing::new(data.to_vec());
                input.push(status.code());
                let mac = self.cmac(&input);
                let mut out = data.to_vec();
                out.extend_from_slice(&mac.first8());
                out
            }
            Ev1Response::Enciphered => {
                let mut plain = Zeroizing::new(data.to_vec());
                let crc = crc32_update(crc32_desfire(data), &[status.code()]);
                plain.extend_from_slice(&crc.to_le_bytes());
                self.encipher(&plain)
            }
        }
    }

    /// Host: verifies (and deciphers) a `00` response's payload; returns the plain data.
    ///
    /// `expected_len` (when the command fixes it) pins the CRC position of an enciphered
    /// answer; otherwise the CRC is searched for from the end (notes §5.2).
    pub fn open_response(
        &mut self,
        status: DesfireStatus,
        payload: &[u8],
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let Some((_, mode)) = protection.ev1() else {
            return Ok(Zeroizing::new(payload.to_vec()));
        };
        match mode {
            Ev1Response::Cmac => {
                let (data, mac) = split_mac(payload, 8)?;
                let mut input = Zeroizing::new(data.to_vec());
                input.push(status.code());
                let expected = self.cmac(&input);
                if !ct_eq(&expected.first8(), mac) {
                    return Err(SmError::MacMismatch);
                }
                Ok(Zeroizing::new(data.to_vec()))
            }
            Ev1Response::Enciphered => {
                let plain = self.decipher(payload)?;
                let len = find_crc32(
                    &plain,
                    &[],
                    &[status.code()],
                    self.block_size(),
                    expected_len,
                )
                .ok_or(SmError::CrcMismatch)?;
                Ok(Zeroizing::new(
                    plain.get(..len).unwrap_or_default().to_vec(),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// D40

/// The legacy D40 secure channel (after `Authenticate` 0x0A, DES or 2-key 3DES).
///
/// Every message starts from a zero IV. The PCD "encrypts" with send-mode decryption; the
/// card encrypts with plain CBC. MACs are 4 bytes over the data only (notes §5.1). No public
/// trace of D40 secure messaging was found: these rules come from libfreefare and PM3.
#[derive(Clone)]
pub struct D40Session {
    key: Key,
    cipher: Cipher,
}

impl core::fmt::Debug for D40Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("D40Session")
            .field("key_type", &self.key.key_type())
            .finish_non_exhaustive()
    }
}

impl D40Session {
    /// A D40 session with its session key.
    pub fn new(session_key: Key) -> Self {
        let cipher = session_key.cipher();
        D40Session {
            key: session_key,
            cipher,
        }
    }

    /// The session key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The 4-byte D40 MAC: first 4 bytes of the last block of CBC-encrypting the zero-padded
    /// data from a zero IV.
    pub fn mac(&self, data: &[u8]) -> [u8; 4] {
        let mut buf = Zeroizing::new(data.to_vec());
        pad_zero(&mut buf, 8);
        if buf.is_empty() {
            buf.resize(8, 0);
        }
        let mut iv = [0u8; 8];
        let _ = self.cipher.cbc_encrypt(&mut iv, &mut buf);
        let mut out = [0u8; 4];
        out.copy_from_slice(iv.get(..4).unwrap_or(&[0; 4]));
        out
    }

    /// Send-mode encipherment of `data || CRC16(data)` (zero-padded), as the PCD sends it.
    pub fn encipher_command_data(&self, data: &[u8]) -> Vec<u8> {
        let mut buf = data.to_vec();
        buf.extend_from_slice(&crc16_a(data).to_le_bytes());
        self.send_mode(&mut buf);
        buf
    }

    /// Zero-pads and send-mode deciphers `buf` in place from a zero IV.
    pub fn send_mode(&self, buf: &mut Vec<u8>) {
        pad_zero(buf, 8);
        let mut iv = [0u8; 8];
        let _ = self.cipher.send_mode_decipher(&mut iv, buf);
    }

    /// Host: protects a command; returns the bytes after the command code.
    pub fn seal_command(
        &mut self,
        _code: u8,
        header: &[u8],
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        let mut out = header.to_vec();
        match protection.d40().map(|m| m.0) {
            None | Some(CommMode::Plain) => out.extend_from_slice(data),
            Some(CommMode::Mac) => {
                out.extend_from_slice(data);
                out.extend_from_slice(&self.mac(data));
            }
            Some(CommMode::Full) => out.extend_from_slice(&self.encipher_command_data(data)),
        }
        Ok(out)
    }

    #[cfg(feature = "card")]
    /// Card: opens a command produced by [`D40Session::seal_command`].
    pub fn open_command(
        &mut self,
        _code: u8,
        payload: &[u8],
        header_len: usize,
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let (_, body) = split_header(payload, header_len)?;
        match protection.d40().map(|m| m.0) {
            None | Some(CommMode::Plain) => Ok(Zeroizing::new(body.to_vec())),
            Some(CommMode::Mac) => {
                let (data, mac) = split_mac(body, 4)?;
                if !ct_eq(&self.mac(data), mac) {
                    return Err(SmError::MacMismatch);
                }
                Ok(Zeroizing::new(data.to_vec()))
            }
            Some(CommMode::Full) => {
                let mut plain = Zeroizing::new(body.to_vec());
                let mut iv = [0u8; 8];
                self.cipher.send_mode_recover(&mut iv, &mut plain)?;
                let len = find_crc16(&plain, 8, expected_len).ok_or(SmError::CrcMismatch)?;
                Ok(Zeroizing::new(
                    plain.get(..len).unwrap_or_default().to_vec(),
                ))
            }
        }
    }

    #[cfg(feature = "card")]
    /// Card: protects a response.
    pub fn seal_response(
        &mut self,
        status: DesfireStatus,
        data: &[u8],
        protection: Protection,
    ) -> Vec<u8> {
        match protection.d40().map(|m| m.1).filter(|_| !status.is_error()) {
            None | Some(CommMode::Plain) => data.to_vec(),
            Some(CommMode::Mac) => {
                let mut out = data.to_vec();
                out.extend_from_slice(&self.mac(data));
                out
            }
            Some(CommMode::Full) => {
                let mut buf = data.to_vec();
                buf.extend_from_slice(&crc16_a(data).to_le_bytes());
                pad_zero(&mut buf, 8);
                let mut iv = [0u8; 8];
                let _ = self.cipher.cbc_encrypt(&mut iv, &mut buf);
                buf
            }
        }
    }

    /// Host: verifies or deciphers a response.
    pub fn open_response(
        &mut self,
        _status: DesfireStatus,
        payload: &[u8],
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        match protection.d40().map(|m| m.1) {
            None | Some(CommMode::Plain) => Ok(Zeroizing::new(payload.to_vec())),
            Some(CommMode::Mac) => {
                let (data, mac) = split_mac(payload, 4)?;
                if !ct_eq(&self.mac(data), mac) {
                    return Err(SmError::MacMismatch);
                }
                Ok(Zeroizing::new(data.to_vec()))
            }
            Some(CommMode::Full) => {
                let mut plain = Zeroizing::new(payload.to_vec());
                let mut iv = [0u8; 8];
                self.cipher.cbc_decrypt(&mut iv, &mut plain)?;
                let len = find_crc16(&plain, 8, expected_len).ok_or(SmError::CrcMismatch)?;
                Ok(Zeroizing::new(
                    plain.get(..len).unwrap_or_default().to_vec(),
                ))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// EV2

/// The EV2 secure channel (after `AuthenticateEV2First` 0x71 / `NonFirst` 0x77; AES only).
///
/// State: the transaction identifier TI and the 16-bit command counter CmdCtr (little-endian
/// in every MAC and IV input), which grows by one per command/response pair (notes §5.3).
#[derive(Clone)]
pub struct Ev2Session {
    enc_key: Key,
    mac_key: Key,
    enc: Cipher,
    mac: Cipher,
    ti: [u8; 4],
    cmd_ctr: u16,
}

impl core::fmt::Debug for Ev2Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ev2Session")
            .field("ti", &format_args!("{:02X?}", self.ti))
            .field("cmd_ctr", &self.cmd_ctr)
            .finish_non_exhaustive()
    }
}

impl Ev2Session {
    /// A session from its keys (KSesAuthENC, KSesAuthMAC), TI and command counter.
    pub fn new(enc_key: Key, mac_key: Key, ti: [u8; 4], cmd_ctr: u16) -> Result<Self, SmError> {
        for k in [&enc_key, &mac_key] {
            if k.key_type() != KeyType::Aes128 {
                return Err(SmError::Crypto(CryptoError::KeyLength {
                    ty: KeyType::Aes128,
                    expected: 16,
                    got: k.key_type().key_len(),
                }));
            }
        }
        Ok(Ev2Session {
            enc: enc_key.cipher(),
            mac: mac_key.cipher(),
            enc_key,
            mac_key,
            ti,
            cmd_ctr,
        })
    }

    /// KSesAuthENC.
    pub fn enc_key(&self) -> &Key {
        &self.enc_key
    }

    /// KSesAuthMAC.
    pub fn mac_key(&self) -> &Key {
        &self.mac_key
    }

    /// The transaction identifier.
    pub fn ti(&self) -> [u8; 4] {
        self.ti
    }

    /// The command counter of the next command.
    pub fn cmd_ctr(&self) -> u16 {
        self.cmd_ctr
    }

    /// Sets the command counter (to resume a session, e.g. after `AuthenticateEV2NonFirst`).
    pub fn set_cmd_ctr(&mut self, cmd_ctr: u16) {
        self.cmd_ctr = cmd_ctr;
    }

    fn next_ctr(&self) -> Result<u16, SmError> {
        self.cmd_ctr.checked_add(1).ok_or(SmError::CounterOverflow)
    }

    fn iv(&self, label: [u8; 2], ctr: u16) -> [u8; 16] {
        let mut b = [0u8; 16];
        let [l0, l1] = label;
        let [t0, t1, t2, t3] = self.ti;
        let [c0, c1] = ctr.to_le_bytes();
        for (d, s) in b.iter_mut().zip([l0, l1, t0, t1, t2, t3, c0, c1]) {
            *d = s;
        }
        let _ = self.enc.encrypt_blocks(&mut b);
        b
    }

    /// IVc = E(KSesAuthENC, `A5 5A || TI || CmdCtr || 00×8`).
    pub fn iv_command(&self) -> [u8; 16] {
        self.iv([0xA5, 0x5A], self.cmd_ctr)
    }

    /// IVr = E(KSesAuthENC, `5A A5 || TI || CmdCtr+1 || 00×8`).
    pub fn iv_response(&self) -> Result<[u8; 16], SmError> {
        Ok(self.iv([0x5A, 0xA5], self.next_ctr()?))
    }

    /// MACt: the bytes at odd indexes 1, 3, .., 15 of CMAC(KSesAuthMAC, input).
    pub fn mac_t(&self, input: &[u8]) -> [u8; 8] {
        truncate_odd(&self.mac.cmac(input))
    }

    fn command_mac(&self, code: u8, header: &[u8], body: &[u8]) -> [u8; 8] {
        let mut input = Vec::with_capacity(7 + header.len() + body.len());
        input.push(code);
        input.extend_from_slice(&self.cmd_ctr.to_le_bytes());
        input.extend_from_slice(&self.ti);
        input.extend_from_slice(header);
        input.extend_from_slice(body);
        self.mac_t(&input)
    }

    fn response_mac(&self, status: u8, ctr: u16, body: &[u8]) -> [u8; 8] {
        let mut input = Vec::with_capacity(7 + body.len());
        input.push(status);
        input.extend_from_slice(&ctr.to_le_bytes());
        input.extend_from_slice(&self.ti);
        input.extend_from_slice(body);
        self.mac_t(&input)
    }

    /// Host: protects `code || header || data`; returns the bytes after the command code.
    /// In Full mode an empty data field sends no ciphertext block (ReadData: header + MACt).
    pub fn seal_command(
        &mut self,
        code: u8,
        header: &[u8],
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        let mut out = header.to_vec();
        let Some((mode, _)) = protection.ev2() else {
            out.extend_from_slice(data);
            return Ok(out);
        };
        if self.cmd_ctr == u16::MAX {
            return Err(SmError::CounterOverflow);
        }
        let body = match mode {
            CommMode::Plain => {
                out.extend_from_slice(data);
                return Ok(out);
            }
            CommMode::Mac => data.to_vec(),
            CommMode::Full => self.encrypt_data(data),
        };
        let mac = self.command_mac(code, header, &body);
        out.extend_from_slice(&body);
        out.extend_from_slice(&mac);
        Ok(out)
    }

    /// M2 padding and AES-CBC under IVc (nothing for empty data).
    fn encrypt_data(&self, data: &[u8]) -> Vec<u8> {
        if data.is_empty() {
            return Vec::new();
        }
        let mut buf = data.to_vec();
        pad_iso9797_m2(&mut buf, 16);
        let mut iv = self.iv_command();
        let _ = self.enc.cbc_encrypt(&mut iv, &mut buf);
        buf
    }

    #[cfg(feature = "card")]
    /// Card: checks and opens a command from [`Ev2Session::seal_command`]; returns the data.
    pub fn open_command(
        &mut self,
        code: u8,
        payload: &[u8],
        header_len: usize,
        protection: Protection,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let (header, rest) = split_header(payload, header_len)?;
        let Some((mode, _)) = protection.ev2() else {
            return Ok(Zeroizing::new(rest.to_vec()));
        };
        if self.cmd_ctr == u16::MAX {
            return Err(SmError::CounterOverflow);
        }
        if mode == CommMode::Plain {
            return Ok(Zeroizing::new(rest.to_vec()));
        }
        let (body, mac) = split_mac(rest, 8)?;
        if !ct_eq(&self.command_mac(code, header, body), mac) {
            return Err(SmError::MacMismatch);
        }
        if mode == CommMode::Mac || body.is_empty() {
            return Ok(Zeroizing::new(body.to_vec()));
        }
        let mut buf = Zeroizing::new(body.to_vec());
        let mut iv = self.iv_command();
        self.enc.cbc_decrypt(&mut iv, &mut buf)?;
        let data = unpad_iso9797_m2(&buf, 16).ok_or(SmError::Padding)?;
        Ok(Zeroizing::new(data.to_vec()))
    }

    #[cfg(feature = "card")]
    /// Card: protects a response and advances CmdCtr (errors are passed through unsealed,
    /// the session ends).
    pub fn seal_response(
        &mut self,
        status: DesfireStatus,
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        let Some((_, mode)) = protection.ev2().filter(|_| !status.is_error()) else {
            return Ok(data.to_vec());
        };
        let ctr = self.next_ctr()?;
        let out = match mode {
            CommMode::Plain => data.to_vec(),
            CommMode::Mac => {
                let mut out = data.to_vec();
                out.extend_from_slice(&self.response_mac(status.code(), ctr, data));
                out
            }
            CommMode::Full => {
                let mut body = Vec::new();
                if !data.is_empty() {
                    body.extend_from_slice(data);
                    pad_iso9797_m2(&mut body, 16);
                    let mut iv = self.iv_response()?;
                    self.enc.cbc_encrypt(&mut iv, &mut body)?;
                }
                let mac = self.response_mac(status.code(), ctr, &body);
                body.extend_from_slice(&mac);
                body
            }
        };
        self.cmd_ctr = ctr;
        Ok(out)
    }

    /// Host: verifies (and deciphers) a response's payload and advances CmdCtr.
    pub fn open_response(
        &mut self,
        status: DesfireStatus,
        payload: &[u8],
        protection: Protection,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        let Some((_, mode)) = protection.ev2() else {
            return Ok(Zeroizing::new(payload.to_vec()));
        };
        let ctr = self.next_ctr()?;
        let data = match mode {
            CommMode::Plain => Zeroizing::new(payload.to_vec()),
            CommMode::Mac | CommMode::Full => {
                let (body, mac) = split_mac(payload, 8)?;
                if !ct_eq(&self.response_mac(status.code(), ctr, body), mac) {
                    return Err(SmError::MacMismatch);
                }
                if mode == CommMode::Mac || body.is_empty() {
                    Zeroizing::new(body.to_vec())
                } else {
                    let mut buf = Zeroizing::new(body.to_vec());
                    let mut iv = self.iv_response()?;
                    self.enc.cbc_decrypt(&mut iv, &mut buf)?;
                    let plain = unpad_iso9797_m2(&buf, 16).ok_or(SmError::Padding)?;
                    Zeroizing::new(plain.to_vec())
                }
            }
        };
        self.cmd_ctr = ctr;
        Ok(data)
    }
}

/// The EV2 MAC truncation: bytes 1, 3, 5, .., 15 of a 16-byte CMAC (NXP: S14 || S12 || .. || S0).
pub fn truncate_odd(cmac: &Block) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out
        .iter_mut()
        .zip(cmac.as_slice().iter().skip(1).step_by(2))
    {
        *o = *b;
    }
    out
}

/// EV2 transaction-MAC session keys `(SesTMMACKey, SesTMENCKey)` from the application's
/// transaction-MAC key, the transaction MAC counter and the 7-byte UID: each is
/// CMAC(key, SV) with SV = `5A|A5 00 01 00 80 || (TMC+1, LE32) || UID` (5A for MAC, A5 for
/// ENC; notes §4, PM3 from the MF2DLHX0 datasheet p.42).
pub fn transaction_mac_keys(app_key: &Key, tmc: u32, uid: &[u8; 7]) -> (Key, Key) {
    let cipher = app_key.cipher();
    let (sv_mac, sv_enc) = transaction_mac_sv(tmc, uid);
    let derive = |sv: &[u8; 16]| {
        Key::new(KeyType::Aes128, cipher.cmac(sv).as_slice())
            .unwrap_or_else(|_| Key::zero(KeyType::Aes128))
    };
    (derive(&sv_mac), derive(&sv_enc))
}

/// The SV strings of [`transaction_mac_keys`]: `(SV for MAC, SV for ENC)`.
pub fn transaction_mac_sv(tmc: u32, uid: &[u8; 7]) -> ([u8; 16], [u8; 16]) {
    let mut mac = [0u8; 16];
    let mut enc = [0u8; 16];
    for (sv, label) in [(&mut mac, 0x5A), (&mut enc, 0xA5)] {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(&[label, 0x00, 0x01, 0x00, 0x80]);
        v.extend_from_slice(&tmc.wrapping_add(1).to_le_bytes());
        v.extend_from_slice(uid);
        for (d, s) in sv.iter_mut().zip(&v) {
            *d = *s;
        }
    }
    (mac, enc)
}

// ---------------------------------------------------------------------------------------

/// Which generation of secure messaging a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionKind {
    /// Legacy D40 (after 0x0A).
    D40,
    /// EV1 (after 0x1A / 0xAA).
    Ev1,
    /// EV2 (after 0x71 / 0x77).
    Ev2,
}

/// An authenticated session of any generation.
#[derive(Debug, Clone)]
pub enum SecureChannel {
    /// After legacy authentication.
    D40(D40Session),
    /// After ISO or AES authentication.
    Ev1(Ev1Session),
    /// After EV2 authentication.
    Ev2(Ev2Session),
}

impl SecureChannel {
    /// The generation.
    pub fn kind(&self) -> SessionKind {
        match self {
            SecureChannel::D40(_) => SessionKind::D40,
            SecureChannel::Ev1(_) => SessionKind::Ev1,
            SecureChannel::Ev2(_) => SessionKind::Ev2,
        }
    }

    /// Host: protects a command (see the session types).
    pub fn seal_command(
        &mut self,
        code: u8,
        header: &[u8],
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        match self {
            SecureChannel::D40(s) => s.seal_command(code, header, data, protection),
            SecureChannel::Ev1(s) => s.seal_command(code, header, data, protection),
            SecureChannel::Ev2(s) => s.seal_command(code, header, data, protection),
        }
    }

    /// Host: opens a successful response.
    pub fn open_response(
        &mut self,
        status: DesfireStatus,
        payload: &[u8],
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        match self {
            SecureChannel::D40(s) => s.open_response(status, payload, protection, expected_len),
            SecureChannel::Ev1(s) => s.open_response(status, payload, protection, expected_len),
            SecureChannel::Ev2(s) => s.open_response(status, payload, protection),
        }
    }

    #[cfg(feature = "card")]
    /// Card: opens a command (`expected_len`: the data length when the header tells it).
    pub fn open_command(
        &mut self,
        code: u8,
        payload: &[u8],
        header_len: usize,
        protection: Protection,
        expected_len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>, SmError> {
        match self {
            SecureChannel::D40(s) => {
                s.open_command(code, payload, header_len, protection, expected_len)
            }
            SecureChannel::Ev1(s) => {
                s.open_command(code, payload, header_len, protection, expected_len)
            }
            SecureChannel::Ev2(s) => s.open_command(code, payload, header_len, protection),
        }
    }

    #[cfg(feature = "card")]
    /// Card: protects a response.
    pub fn seal_response(
        &mut self,
        status: DesfireStatus,
        data: &[u8],
        protection: Protection,
    ) -> Result<Vec<u8>, SmError> {
        match self {
            SecureChannel::D40(s) => Ok(s.seal_response(status, data, protection)),
            SecureChannel::Ev1(s) => Ok(s.seal_response(status, data, protection)),
            SecureChannel::Ev2(s) => s.seal_response(status, data, protection),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ev2_counter_overflow() {
        let mut s = Ev2Session::new(
            Key::zero(KeyType::Aes128),
            Key::zero(KeyType::Aes128),
            [1, 2, 3, 4],
            0xFFFE,
        )
        .unwrap();
        let p = Protection::Management;
        s.seal_command(0x6F, &[], &[], p).unwrap();
        let mut card = s.clone();
        let resp = card.seal_response(DesfireStatus::Ok, &[1], p).unwrap();
        s.open_response(DesfireStatus::Ok, &resp, p).unwrap();
        assert_eq!(s.cmd_ctr(), 0xFFFF);
        assert_eq!(
            s.seal_command(0x6F, &[], &[], p),
            Err(SmError::CounterOverflow)
        );
        assert_eq!(
            s.open_response(DesfireStatus::Ok, &[0; 8], p),
            Err(SmError::CounterOverflow)
        );
        assert_eq!(s.iv_response(), Err(SmError::CounterOverflow));
    }

    #[test]
    fn crc_search_handles_trailing_zero_data() {
        // Data ending in zeros: the CRC position must still be found.
        let key = Key::aes([3; 16]);
        for len in 0..40 {
            let data: Vec<u8> = (0..len)
                .map(|i| if i % 3 == 0 { 0 } else { i as u8 })
                .collect();
            let mut card = Ev1Session::new(key.clone());
            let mut host = Ev1Session::new(key.clone());
            let p = Protection::FileRead(CommMode::Full);
            let sealed = card.seal_response(DesfireStatus::Ok, &data, p);
            let mut blind = host.clone();
            let opened = host
                .open_response(DesfireStatus::Ok, &sealed, p, Some(len))
                .unwrap();
            assert_eq!(&opened[..], &data[..]);
            assert_eq!(host.iv(), card.iv());
            // Without the length, the search is exact unless the data ends with the status
            // byte (00) and a 1/256 coincidence: these inputs end in 00 only when len % 3 == 1.
            if data.last().is_none_or(|&b| b != 0) {
                let opened = blind
                    .open_response(DesfireStatus::Ok, &sealed, p, None)
                    .unwrap();
                assert_eq!(&opened[..], &data[..], "len {len}");
            }
        }
    }

    #[test]
    fn d40_round_trip() {
        let key = Key::tdes2([0x11; 16]).with_version(3);
        for p in [
            Protection::FileWrite(CommMode::Mac),
            Protection::FileWrite(CommMode::Full),
            Protection::EncipheredCommand,
        ] {
            let mut host = D40Session::new(key.clone());
            let mut card = D40Session::new(key.clone());
            let payload = host.seal_command(0x3D, &[1, 2], &[9, 8, 7], p).unwrap();
            let data = card.open_command(0x3D, &payload, 2, p, Some(3)).unwrap();
            assert_eq!(&data[..], &[9, 8, 7]);
        }
        for p in [
            Protection::FileRead(CommMode::Mac),
            Protection::FileRead(CommMode::Full),
        ] {
            let mut host = D40Session::new(key.clone());
            let mut card = D40Session::new(key.clone());
            let sealed = card.seal_response(DesfireStatus::Ok, &[4, 5, 6, 0], p);
            let data = host
                .open_response(DesfireStatus::Ok, &sealed, p, Some(4))
                .unwrap();
            assert_eq!(&data[..], &[4, 5, 6, 0]);
        }
    }
}
