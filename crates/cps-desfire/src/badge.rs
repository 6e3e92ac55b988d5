//! An establishment's access badge on a CPS4 DESFire: the record written in the
//! establishment's own application, the **door profile** that tells every reader where and
//! how to read it, and the establishment's **key file**, with their text formats.
//!
//! The CPS4's PICC master key is the all-zero DES key as delivered (issuer's statement), so
//! the card level protects nothing: the badge lives in an application whose AES keys are
//! diversified per card with AN10922 ([`crate::kdf`]) from master keys only the
//! establishment holds. For key `k` of the application the diversification input is
//!
//! ```text
//! M = UID (7) || AID (3, as sent) || k (1) || system identifier (0..=20)
//! ```
//!
//! AN10922 leaves `M` to the system designer and suggests UID, AID and a system identifier;
//! the key number is added so that one master key never gives two keys of a card the same
//! value. Two master keys are kept apart on purpose: the **application master key** (key 0,
//! creates files, changes keys — stays with the issuing desk) and the **door master key**
//! (the key the doors read with — what a door reader holds). A third, optional one
//! diversifies a new PICC master key when the establishment replaces the all-zero one.
//!
//! Door profile (no secret; every reader of the site gets the same file):
//!
//! ```text
//! # door profile: where the badge is and how to read it
//! aid = F51001          # application, 6 hex digits as `cps desfire info` lists it
//! file = 1              # the badge file
//! key = 1               # the key the doors authenticate with
//! comm = full           # plain | mac | full
//! diversification = uid-aid-key-system   # or: none
//! system-id = 43505334  # hex, 0..=20 bytes, the AN10922 system identifier
//! ```
//!
//! Key file (secret; never on the command line):
//!
//! ```text
//! app-master-key = 00112233445566778899AABBCCDDEEFF
//! door-master-key = ...     # a door reader's file holds only this line
//! picc-master-key = ...     # optional: for replacing the all-zero PICC master key
//! key-version = 1           # version given to the establishment's keys (1..=255)
//! ```
//!
//! ```
//! use cps_desfire::badge::{BadgeRecord, Date, DoorProfile};
//! let profile = DoorProfile::parse("aid = F51001\nfile = 1\nkey = 1\ncomm = full\nsystem-id = 43505334\n")?;
//! assert_eq!(profile.file_no, 1);
//! let record = BadgeRecord::new("810001234567", Date::parse("2026-01-01")?, Date::parse("2026-12-31")?)?;
//! let bytes = record.encode();
//! assert_eq!(BadgeRecord::parse(&bytes)?, record);
//! assert!(record.is_valid_on(Date::parse("2026-06-15")?));
//! # Ok::<(), cps_desfire::badge::BadgeError>(())
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::commands::Aid;
use crate::crypto::{Key, KeyType};
use crate::kdf::{self, KdfError};
use crate::session::CommMode;

/// Length of the badge record in its file.
pub const RECORD_LEN: usize = 32;
/// The record's first bytes.
pub const MAGIC: [u8; 4] = *b"CPSB";
/// The record format this module writes and reads.
pub const FORMAT: u8 = 1;
/// Longest holder identifier (an RPPS number has 11 digits, an ADELI number 9).
pub const MAX_HOLDER: usize = 18;
/// Longest system identifier: 31 bytes of AN10922 input minus a 7-byte UID, the 3-byte AID
/// and the key number.
pub const MAX_SYSTEM_ID: usize = 20;
/// Longest profile or key file accepted.
pub const MAX_TEXT: usize = 4096;

/// A malformed badge record, door profile or key file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BadgeError {
    /// A date that is not `YYYY-MM-DD` or does not exist.
    #[error("{0:?} is not a date (YYYY-MM-DD)")]
    Date(String),
    /// The holder identifier is empty, too long or not printable ASCII.
    #[error("holder identifier: 1..={MAX_HOLDER} printable ASCII characters")]
    Holder,
    /// Validity ends before it starts.
    #[error("validity ends ({until}) before it starts ({from})")]
    Validity {
        /// Start.
        from: Date,
        /// End.
        until: Date,
    },
    /// The bytes read are not a badge record of this format.
    #[error("not a badge record: {0}")]
    Record(&'static str),
    /// A line of a profile or key file.
    #[error("line {line}: {what}")]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A setting missing from a profile or key file.
    #[error("{0} is missing")]
    Missing(&'static str),
    /// The text is longer than [`MAX_TEXT`].
    #[error("more than {MAX_TEXT} bytes")]
    TooLong,
}

/// A calendar date (proleptic Gregorian), ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// The date, if it exists (years 2000..=9999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        ((2000..=9999).contains(&year) && (1..=days).contains(&day)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Result<Date, BadgeError> {
        let bad = || BadgeError::Date(s.chars().take(16).collect());
        let b = s.as_bytes();
        if b.len() != 10 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
            return Err(bad());
        }
        let num = |r: core::ops::Range<usize>| -> Result<u16, BadgeError> {
            let part = s.get(r).ok_or_else(bad)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse().map_err(|_| bad())
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        Date::new(
            y,
            u8::try_from(m).map_err(|_| bad())?,
            u8::try_from(d).map_err(|_| bad())?,
        )
        .ok_or_else(bad)
    }

    /// `YYYYMMDD` as a number (the record's encoding).
    pub fn to_u32(self) -> u32 {
        u32::from(self.year) * 10_000 + u32::from(self.month) * 100 + u32::from(self.day)
    }

    /// From `YYYYMMDD`.
    pub fn from_u32(v: u32) -> Option<Date> {
        Date::new(
            u16::try_from(v / 10_000).ok()?,
            u8::try_from(v / 100 % 100).ok()?,
            u8::try_from(v % 100).ok()?,
        )
    }
}

impl core::fmt::Display for Date {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The badge record: who holds the badge and when it opens doors.
///
/// Layout ([`RECORD_LEN`] bytes): `"CPSB"`, format `01`, holder length `n`, holder
/// identifier (ASCII, zero-padded to [`MAX_HOLDER`]), valid from and valid until as
/// `YYYYMMDD` big-endian `u32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadgeRecord {
    /// The holder identifier (e.g. the RPPS number).
    pub holder: String,
    /// First day the badge opens doors.
    pub valid_from: Date,
    /// Last day the badge opens doors.
    pub valid_until: Date,
}

impl BadgeRecord {
    /// A record, checked.
    pub fn new(holder: &str, valid_from: Date, valid_until: Date) -> Result<Self, BadgeError> {
        if holder.is_empty()
            || holder.len() > MAX_HOLDER
            || !holder.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(BadgeError::Holder);
        }
        if valid_until < valid_from {
            return Err(BadgeError::Validity {
                from: valid_from,
                until: valid_until,
            });
        }
        Ok(BadgeRecord {
            holder: String::from(holder),
            valid_from,
            valid_until,
        })
    }

    /// The bytes written to the badge file.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut holder = [0u8; MAX_HOLDER];
        let n = self.holder.len().min(MAX_HOLDER);
        for (d, s) in holder.iter_mut().zip(self.holder.bytes()) {
            *d = s;
        }
        let mut out = Vec::with_capacity(RECORD_LEN);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[FORMAT, n as u8]);
        out.extend_from_slice(&holder);
        out.extend_from_slice(&self.valid_from.to_u32().to_be_bytes());
        out.extend_from_slice(&self.valid_until.to_u32().to_be_bytes());
        let mut fixed = [0u8; RECORD_LEN];
        for (d, s) in fixed.iter_mut().zip(out) {
            *d = s;
        }
        fixed
    }

    /// Parses the bytes read from the badge file (exactly [`RECORD_LEN`]).
    pub fn parse(bytes: &[u8]) -> Result<Self, BadgeError> {
        let b: &[u8; RECORD_LEN] = bytes
            .try_into()
            .map_err(|_| BadgeError::Record("wrong length"))?;
        let (head, rest) = b.split_at(6);
        let (holder_field, dates) = rest.split_at(MAX_HOLDER);
        let [m0, m1, m2, m3, format, n] = *head else {
            return Err(BadgeError::Record("wrong length"));
        };
        if [m0, m1, m2, m3] != MAGIC {
            return Err(BadgeError::Record("no CPSB marker"));
        }
        if format != FORMAT {
            return Err(BadgeError::Record("unknown format version"));
        }
        let (holder, padding) = holder_field
            .split_at_checked(usize::from(n))
            .ok_or(BadgeError::Record("bad holder field"))?;
        if n == 0 || padding.iter().any(|&x| x != 0) {
            return Err(BadgeError::Record("bad holder field"));
        }
        let holder =
            core::str::from_utf8(holder).map_err(|_| BadgeError::Record("bad holder field"))?;
        let [f0, f1, f2, f3, u0, u1, u2, u3] = *dates else {
            return Err(BadgeError::Record("wrong length"));
        };
        let date = |v: [u8; 4]| {
            Date::from_u32(u32::from_be_bytes(v)).ok_or(BadgeError::Record("bad date"))
        };
        let (from, until) = (date([f0, f1, f2, f3])?, date([u0, u1, u2, u3])?);
        BadgeRecord::new(holder, from, until).map_err(|_| BadgeError::Record("inconsistent fields"))
    }

    /// Whether the badge opens doors on `day`.
    pub fn is_valid_on(&self, day: Date) -> bool {
        self.valid_from <= day && day <= self.valid_until
    }
}

/// Where the badge is and how a reader reads it (no secret: every door gets this file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorProfile {
    /// The establishment's application.
    pub aid: Aid,
    /// The badge file (a backup data file of [`RECORD_LEN`] bytes).
    pub file_no: u8,
    /// The key the doors authenticate with (1..=13; key 0 is the application master key).
    pub key_no: u8,
    /// The badge file's communication mode.
    pub comm: CommMode,
    /// Whether the application keys are diversified per card (AN10922).
    pub diversify: bool,
    /// The AN10922 system identifier (0..=[`MAX_SYSTEM_ID`] bytes).
    pub system_identifier: Vec<u8>,
}

/// The diversification scheme name of the profile format.
const SCHEME: &str = "uid-aid-key-system";

impl DoorProfile {
    /// Parses the profile text (see the module documentation).
    pub fn parse(text: &str) -> Result<Self, BadgeError> {
        let mut aid = None;
        let mut file_no = None;
        let mut key_no = None;
        let mut comm = None;
        let mut diversify = None;
        let mut system_identifier = None;
        for_each_setting(text, |line, name, value| {
            let err = |what: &str| BadgeError::Line {
                line,
                what: String::from(what),
            };
            let slot_taken = match name {
                "aid" => {
                    let v = (value.len() == 6)
                        .then(|| u32::from_str_radix(value, 16).ok())
                        .flatten()
                        .filter(|_| value.bytes().all(|c| c.is_ascii_hexdigit()))
                        .and_then(Aid::new)
                        .filter(|a| *a != Aid::PICC)
                        .ok_or_else(|| err("aid: 6 hex digits, not 000000"))?;
                    aid.replace(v).is_some()
                }
                "file" => {
                    let v = small_number(value, crate::commands::MAX_FILE_NO)
                        .ok_or_else(|| err("file: 0..=31"))?;
                    file_no.replace(v).is_some()
                }
                "key" => {
                    let v = small_number(value, 13)
                        .filter(|&k| k >= 1)
                        .ok_or_else(|| err("key: 1..=13 (key 0 is the application master key)"))?;
                    key_no.replace(v).is_some()
                }
                "comm" => {
                    let v = match value {
                        "plain" => CommMode::Plain,
                        "mac" => CommMode::Mac,
                        "full" => CommMode::Full,
                        _ => return Err(err("comm: plain, mac or full")),
                    };
                    comm.replace(v).is_some()
                }
                "diversification" => {
                    let v = match value {
                        SCHEME => true,
                        "none" => false,
                        _ => return Err(err("diversification: uid-aid-key-system or none")),
                    };
                    diversify.replace(v).is_some()
                }
                "system-id" => {
                    let v = decode_hex(value)
                        .filter(|v| v.len() <= MAX_SYSTEM_ID)
                        .ok_or_else(|| err("system-id: hex, at most 20 bytes"))?;
                    system_identifier.replace(v.to_vec()).is_some()
                }
                _ => return Err(err("unknown setting")),
            };
            if slot_taken {
                return Err(err("set twice"));
            }
            Ok(())
        })?;
        Ok(DoorProfile {
            aid: aid.ok_or(BadgeError::Missing("aid"))?,
            file_no: file_no.ok_or(BadgeError::Missing("file"))?,
            key_no: key_no.ok_or(BadgeError::Missing("key"))?,
            comm: comm.ok_or(BadgeError::Missing("comm"))?,
            diversify: diversify.unwrap_or(true),
            system_identifier: system_identifier.unwrap_or_default(),
        })
    }

    /// The profile as text (what [`DoorProfile::parse`] reads back).
    pub fn to_text(&self) -> String {
        let comm = match self.comm {
            CommMode::Plain => "plain",
            CommMode::Mac => "mac",
            CommMode::Full => "full",
        };
        let mut sys = String::new();
        for b in &self.system_identifier {
            sys.push_str(&alloc::format!("{b:02X}"));
        }
        alloc::format!(
            "aid = {}\nfile = {}\nkey = {}\ncomm = {comm}\ndiversification = {}\nsystem-id = {sys}\n",
            self.aid,
            self.file_no,
            self.key_no,
            if self.diversify { SCHEME } else { "none" },
        )
    }

    /// Number of keys of the application: the master key and keys up to the door key.
    pub fn key_count(&self) -> u8 {
        self.key_no.saturating_add(1).max(2)
    }

    /// The AN10922 input after `UID || AID` for key `key_no`: `key_no || system identifier`.
    pub fn diversification_suffix(&self, key_no: u8) -> Vec<u8> {
        let mut v = alloc::vec![key_no];
        v.extend_from_slice(&self.system_identifier);
        v
    }

    /// Key `key_no` of this card's application, from `master` (itself when the profile does
    /// not diversify).
    pub fn card_key(&self, master: &Key, uid: &[u8], key_no: u8) -> Result<Key, KdfError> {
        self.derive(master, uid, self.aid, key_no)
    }

    /// This card's PICC master key, from the establishment's PICC master key (AID 000000,
    /// key 0 in the diversification input).
    pub fn picc_key(&self, master: &Key, uid: &[u8]) -> Result<Key, KdfError> {
        self.derive(master, uid, Aid::PICC, 0)
    }

    fn derive(&self, master: &Key, uid: &[u8], aid: Aid, key_no: u8) -> Result<Key, KdfError> {
        if !self.diversify {
            return Ok(master.clone());
        }
        let m = kdf::DiversificationInput::new(
            uid,
            aid.to_bytes(),
            &self.diversification_suffix(key_no),
        );
        kdf::diversify(master, m.as_bytes())
    }
}

/// The establishment's master keys (AES-128), read from its key file or the environment.
/// `Debug` never shows them; they are zeroized on drop.
#[derive(Clone, Default)]
pub struct EstablishmentKeys {
    /// Diversifies each card's application master key (key 0). The issuing desk only.
    pub app_master: Option<Key>,
    /// Diversifies each card's door key. What door readers hold.
    pub door_master: Option<Key>,
    /// Diversifies each card's new PICC master key, when the establishment replaces the
    /// all-zero one.
    pub picc_master: Option<Key>,
    /// Version given to the keys written to cards (1..=255; version 0 marks the all-zero keys
    /// of a new application).
    pub key_version: u8,
}

impl core::fmt::Debug for EstablishmentKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EstablishmentKeys")
            .field("app_master", &self.app_master.is_some())
            .field("door_master", &self.door_master.is_some())
            .field("picc_master", &self.picc_master.is_some())
            .field("key_version", &self.key_version)
            .finish()
    }
}

impl EstablishmentKeys {
    /// Parses a key file (see the module documentation). Error messages never quote a value.
    pub fn parse(text: &str) -> Result<Self, BadgeError> {
        let mut keys = EstablishmentKeys {
            key_version: 1,
            ..EstablishmentKeys::default()
        };
        let mut version_set = false;
        for_each_setting(text, |line, name, value| {
            let err = |what: &str| BadgeError::Line {
                line,
                what: String::from(what),
            };
            let slot = match name {
                "app-master-key" => &mut keys.app_master,
                "door-master-key" => &mut keys.door_master,
                "picc-master-key" => &mut keys.picc_master,
                "key-version" => {
                    let v = small_number(value, 255)
                        .filter(|&v| v >= 1)
                        .ok_or_else(|| err("key-version: 1..=255"))?;
                    if core::mem::replace(&mut version_set, true) {
                        return Err(err("set twice"));
                    }
                    keys.key_version = v;
                    return Ok(());
                }
                _ => return Err(err("unknown setting")),
            };
            let bytes = decode_hex(value)
                .filter(|v| v.len() == 16)
                .ok_or_else(|| err("an AES-128 key: 32 hex digits"))?;
            let key = Key::new(KeyType::Aes128, &bytes).map_err(|_| err("not a key"))?;
            if slot.replace(key).is_some() {
                return Err(err("set twice"));
            }
            Ok(())
        })?;
        Ok(keys)
    }
}

/// Calls `f(line, name, value)` for each `name = value` line; `#` starts a comment.
fn for_each_setting(
    text: &str,
    mut f: impl FnMut(usize, &str, &str) -> Result<(), BadgeError>,
) -> Result<(), BadgeError> {
    if text.len() > MAX_TEXT {
        return Err(BadgeError::TooLong);
    }
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = line.split_once('=').ok_or_else(|| BadgeError::Line {
            line: i + 1,
            what: String::from("expected `name = value`"),
        })?;
        f(i + 1, name.trim(), value.trim())?;
    }
    Ok(())
}

/// A decimal number `0..=max` without sign or leading `+`.
fn small_number(s: &str, max: u8) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>()
        .ok()
        .and_then(|v| u8::try_from(v).ok())
        .filter(|&v| v <= max)
}

/// Hex digits (even count, case-insensitive) to bytes; zeroized on drop (keys pass here).
fn decode_hex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Zeroizing::new(Vec::with_capacity(b.len() / 2));
    for pair in b.chunks(2) {
        let (hi, lo) = (nibble(*pair.first()?)?, nibble(*pair.get(1)?)?);
        out.push(hi << 4 | lo);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2025-02-29").is_err());
        assert!(Date::parse("2100-02-29").is_err());
        assert!(Date::parse("2026-13-01").is_err());
        assert!(Date::parse("2026-1-01").is_err());
        assert!(Date::parse("+026-01-01").is_err());
        let d = Date::parse("2026-12-03").unwrap();
        assert_eq!(d.to_u32(), 20261203);
        assert_eq!(Date::from_u32(20261203), Some(d));
        assert_eq!(alloc::format!("{d}"), "2026-12-03");
    }

    #[test]
    fn record_layout() {
        let r = BadgeRecord::new(
            "810001234567",
            Date::parse("2026-01-01").unwrap(),
            Date::parse("2026-12-31").unwrap(),
        )
        .unwrap();
        let b = r.encode();
        assert_eq!(&b[..6], b"CPSB\x01\x0C");
        assert_eq!(&b[24..], &[0x01, 0x35, 0x25, 0x05, 0x01, 0x35, 0x29, 0x6F]);
        assert_eq!(BadgeRecord::parse(&b).unwrap(), r);
        let mut bad = b;
        bad[20] = 1;
        assert!(BadgeRecord::parse(&bad).is_err());
        assert!(BadgeRecord::parse(&b[..31]).is_err());
        assert!(BadgeRecord::new("a b", r.valid_from, r.valid_until).is_err());
        assert!(BadgeRecord::new("x", r.valid_until, r.valid_from).is_err());
        assert!(BadgeRecord::parse(&[0; 32]).is_err());
    }

    #[test]
    fn profile_text() {
        let p = DoorProfile::parse(
            "# site A\naid = F51001 # ours\nfile = 1\nkey = 1\ncomm = mac\nsystem-id = 4350\n",
        )
        .unwrap();
        assert_eq!(p.aid, Aid::new(0xF51001).unwrap());
        assert!(p.diversify);
        assert_eq!(p.comm, CommMode::Mac);
        assert_eq!(DoorProfile::parse(&p.to_text()).unwrap(), p);
        assert_eq!(p.diversification_suffix(1), [1, 0x43, 0x50]);
        for bad in [
            "aid = F5100\nfile = 1\nkey = 1\ncomm = mac",
            "aid = 000000\nfile = 1\nkey = 1\ncomm = mac",
            "aid = F51001\nfile = 32\nkey = 1\ncomm = mac",
            "aid = F51001\nfile = 1\nkey = 0\ncomm = mac",
            "aid = F51001\nfile = 1\nkey = 1\ncomm = enc",
            "aid = F51001\nfile = 1\nkey = 1\ncomm = mac\ncomm = mac",
            "aid = F51001\nfile = 1\nkey = 1\ncomm = mac\ncolour = red",
            "aid = F51001\nfile = 1\nkey = 1",
            "aid = F51001\nfile = 1\nkey = 1\ncomm = mac\nsystem-id = 123",
            "aid F51001",
        ] {
            assert!(DoorProfile::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_file() {
        let k = EstablishmentKeys::parse(
            "app-master-key = 000102030405060708090A0B0C0D0E0F\ndoor-master-key = 101112131415161718191a1b1c1d1e1f\nkey-version = 3\n",
        )
        .unwrap();
        assert!(k.app_master.is_some() && k.door_master.is_some() && k.picc_master.is_none());
        assert_eq!(k.key_version, 3);
        let e = EstablishmentKeys::parse("door-master-key = 1011\n").unwrap_err();
        assert!(!alloc::format!("{e}").contains("1011"));
        assert!(EstablishmentKeys::parse("key-version = 0").is_err());
        assert!(!alloc::format!("{k:?}").contains("00010203"));
    }
}
