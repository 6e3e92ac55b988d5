//! What a DESFire PICC stores: the PICC master key and settings, applications with their
//! keys, and files (standard, backup, value, linear and cyclic record) with their access
//! rights. Transactions (backup, value and record files) are staged in [`Staged`] copies and
//! become visible at `CommitTransaction`.

use std::collections::BTreeMap;

use cps_desfire::commands::{AccessRights, FileType};
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::frame::DesfireStatus as S;
use cps_desfire::session::CommMode;

/// EEPROM of the simulated PICC (an 8 KiB EV3).
pub(crate) const CAPACITY: u32 = 8192;

/// Files are allocated in 32-byte blocks (NXP DESFire EV1 datasheet, "memory organization").
const BLOCK: u32 = 32;

/// At most 28 applications besides the PICC level on EV1+ (datasheet: CreateApplication
/// returns COUNT_ERROR beyond).
pub(crate) const MAX_APPLICATIONS: usize = 28;

/// The PICC level: master key, its settings, the applications and the configuration.
#[derive(Clone)]
pub(crate) struct Picc {
    pub uid: [u8; 7],
    pub master: Key,
    /// KS1 of the PICC level (`0F` on a blank card: everything allowed).
    pub ks1: u8,
    pub apps: BTreeMap<u32, App>,
    /// SetConfiguration option 00, bit 1: GetVersion shows a zero UID.
    pub random_uid: bool,
    /// SetConfiguration option 00, bit 0: FormatPICC refused.
    pub format_disabled: bool,
    /// SetConfiguration option 01: the keys of new applications.
    pub default_key: Option<Key>,
}

/// One application.
#[derive(Clone)]
pub(crate) struct App {
    pub ks1: u8,
    /// Key count | crypto bits | `20` ISO FIDs.
    pub ks2: u8,
    pub keys: Vec<Key>,
    pub files: BTreeMap<u8, File>,
    #[allow(
        dead_code,
        reason = "kept for ISO 7816-4 file access, not emulated yet"
    )]
    pub iso: Option<(u16, Vec<u8>)>,
}

impl App {
    pub fn key_type(&self) -> KeyType {
        match self.ks2 & 0xC0 {
            0x40 => KeyType::ThreeKey3Des,
            0x80 => KeyType::Aes128,
            _ => KeyType::TwoKey3Des,
        }
    }

    pub fn settings(&self) -> [u8; 2] {
        [self.ks1, self.ks2]
    }
}

/// One file.
#[derive(Clone)]
pub(crate) struct File {
    pub comm: CommMode,
    pub access: AccessRights,
    #[allow(
        dead_code,
        reason = "kept for ISO 7816-4 file access, not emulated yet"
    )]
    pub iso_fid: Option<u16>,
    pub data: FileData,
}

/// A file's contents (committed state).
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum FileData {
    Standard(Vec<u8>),
    Backup(Vec<u8>),
    Value(Value),
    Record(Records),
}

/// A value file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Value {
    pub lower: i32,
    pub upper: i32,
    pub value: i32,
    /// Bit 0: LimitedCredit enabled; bit 1: free GetValue.
    pub limited_credit: u8,
    /// What LimitedCredit may add back (the debits of the last committed transaction).
    pub limited_credit_value: i32,
    /// Within a transaction: debited so far; whether LimitedCredit was used.
    pub debited: i32,
    pub limited_used: bool,
}

/// A record file: records oldest first.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Records {
    pub size: usize,
    pub max: usize,
    pub cyclic: bool,
    pub records: Vec<Vec<u8>>,
    /// Within a transaction: the newest record is being written.
    pub open: bool,
}

impl Records {
    /// Records a cyclic file keeps: one slot is the one being written (datasheet).
    pub fn capacity(&self) -> usize {
        if self.cyclic {
            self.max.saturating_sub(1)
        } else {
            self.max
        }
    }
}

impl FileData {
    pub fn file_type(&self) -> FileType {
        match self {
            FileData::Standard(_) => FileType::Standard,
            FileData::Backup(_) => FileType::Backup,
            FileData::Value(_) => FileType::Value,
            FileData::Record(r) if r.cyclic => FileType::CyclicRecord,
            FileData::Record(_) => FileType::LinearRecord,
        }
    }

    fn type_byte(&self) -> u8 {
        match self.file_type() {
            FileType::Standard => 0,
            FileType::Backup => 1,
            FileType::Value => 2,
            FileType::LinearRecord => 3,
            _ => 4,
        }
    }

    /// Bytes of EEPROM the file takes.
    pub fn footprint(&self) -> u32 {
        let raw = match self {
            FileData::Standard(d) => d.len(),
            FileData::Backup(d) => 2 * d.len(),
            FileData::Value(_) => 2 * 16,
            FileData::Record(r) => r.size.saturating_mul(r.max),
        };
        let raw = u32::try_from(raw).unwrap_or(u32::MAX);
        raw.div_ceil(BLOCK).saturating_mul(BLOCK)
    }
}

impl File {
    /// The GetFileSettings answer (EV1 layout: type, comm, access rights, then the
    /// type-specific part; NXP DESFire EV1 datasheet, GetFileSettings).
    pub fn settings(&self) -> Vec<u8> {
        let mut v = vec![self.data.type_byte(), self.comm.bits()];
        v.extend_from_slice(&self.access.to_bytes());
        match &self.data {
            FileData::Standard(d) | FileData::Backup(d) => v.extend_from_slice(&u24(d.len())),
            FileData::Value(x) => {
                v.extend_from_slice(&x.lower.to_le_bytes());
                v.extend_from_slice(&x.upper.to_le_bytes());
                v.extend_from_slice(&x.limited_credit_value.to_le_bytes());
                v.push(x.limited_credit);
            }
            FileData::Record(r) => {
                v.extend_from_slice(&u24(r.size));
                v.extend_from_slice(&u24(r.max));
                v.extend_from_slice(&u24(r.records.len()));
            }
        }
        v
    }
}

impl Picc {
    /// EEPROM left.
    pub fn free_memory(&self) -> u32 {
        let used: u32 = self
            .apps
            .values()
            .map(|a| {
                BLOCK.saturating_add(a.files.values().map(|f| f.data.footprint()).sum::<u32>())
            })
            .sum();
        CAPACITY.saturating_sub(used)
    }

    /// Refuses an allocation that does not fit.
    pub fn reserve(&self, bytes: u32) -> Result<(), S> {
        if bytes > self.free_memory() {
            Err(S::OutOfEeprom)
        } else {
            Ok(())
        }
    }
}

/// 3-byte little-endian length.
pub(crate) fn u24(n: usize) -> [u8; 3] {
    let n = u32::try_from(n).unwrap_or(u32::MAX).min(0x00FF_FFFF);
    let b = n.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// Reads a 3-byte little-endian number.
pub(crate) fn read_u24(b: &[u8]) -> usize {
    match b {
        [a, b, c, ..] => usize::from(*a) | (usize::from(*b) << 8) | (usize::from(*c) << 16),
        _ => 0,
    }
}

/// Reads a 4-byte little-endian signed number.
pub(crate) fn read_i32(b: &[u8]) -> Option<i32> {
    b.get(..4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(i32::from_le_bytes)
}

/// Changes made inside a transaction, per file number of the selected application.
#[derive(Clone, Default)]
pub(crate) struct Staged {
    pub files: BTreeMap<u8, FileData>,
}

impl Staged {
    /// The staged copy of a file, made on first change.
    pub fn copy_of<'a>(&'a mut self, file_no: u8, committed: &FileData) -> &'a mut FileData {
        self.files
            .entry(file_no)
            .or_insert_with(|| committed.clone())
    }

    pub fn clear(&mut self) {
        self.files.clear();
    }
}
