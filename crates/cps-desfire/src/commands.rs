//! Typed DESFire commands: builders that produce a [`NativeCommand`] (code, plain header,
//! data that secure messaging may encipher, and the [`Protection`] family), and parsers of
//! the plain response data.
//!
//! Codes and layouts: notes §2 (PM3 `protocols.h`, libfreefare `mifare_desfire.c`) and §7.
//! Multi-byte integers are little-endian: AIDs (3 bytes), offsets, lengths and sizes
//! (3 bytes), values (4 bytes, signed).
//!
//! Builders validate their arguments and return a [`CommandError`] for anything the card would
//! refuse (offsets beyond 24 bits, file numbers beyond 31, ...); parsers never panic on any
//! input and return a [`ResponseError`] instead.

use alloc::vec::Vec;
use zeroize::Zeroizing;

use crate::crypto::{Key, KeyType, crc32_desfire, crc32_update, pad_zero};
use crate::session::{CommMode, Protection};

/// Native command codes (notes §2).
pub mod code {
    /// Authenticate (legacy D40).
    pub const AUTHENTICATE_LEGACY: u8 = 0x0A;
    /// AuthenticateISO.
    pub const AUTHENTICATE_ISO: u8 = 0x1A;
    /// AuthenticateAES.
    pub const AUTHENTICATE_AES: u8 = 0xAA;
    /// AuthenticateEV2First.
    pub const AUTHENTICATE_EV2_FIRST: u8 = 0x71;
    /// AuthenticateEV2NonFirst.
    pub const AUTHENTICATE_EV2_NON_FIRST: u8 = 0x77;
    /// Additional frame.
    pub const ADDITIONAL_FRAME: u8 = 0xAF;
    /// SelectApplication.
    pub const SELECT_APPLICATION: u8 = 0x5A;
    /// CreateApplication.
    pub const CREATE_APPLICATION: u8 = 0xCA;
    /// DeleteApplication.
    pub const DELETE_APPLICATION: u8 = 0xDA;
    /// GetApplicationIDs.
    pub const GET_APPLICATION_IDS: u8 = 0x6A;
    /// GetFreeMemory.
    pub const GET_FREE_MEMORY: u8 = 0x6E;
    /// GetVersion.
    pub const GET_VERSION: u8 = 0x60;
    /// GetCardUID.
    pub const GET_CARD_UID: u8 = 0x51;
    /// GetKeySettings.
    pub const GET_KEY_SETTINGS: u8 = 0x45;
    /// ChangeKeySettings.
    pub const CHANGE_KEY_SETTINGS: u8 = 0x54;
    /// GetKeyVersion.
    pub const GET_KEY_VERSION: u8 = 0x64;
    /// ChangeKey.
    pub const CHANGE_KEY: u8 = 0xC4;
    /// SetConfiguration.
    pub const SET_CONFIGURATION: u8 = 0x5C;
    /// FormatPICC.
    pub const FORMAT_PICC: u8 = 0xFC;
    /// GetFileIDs.
    pub const GET_FILE_IDS: u8 = 0x6F;
    /// GetFileSettings.
    pub const GET_FILE_SETTINGS: u8 = 0xF5;
    /// ChangeFileSettings.
    pub const CHANGE_FILE_SETTINGS: u8 = 0x5F;
    /// CreateStdDataFile.
    pub const CREATE_STD_DATA_FILE: u8 = 0xCD;
    /// CreateBackupDataFile.
    pub const CREATE_BACKUP_DATA_FILE: u8 = 0xCB;
    /// CreateValueFile.
    pub const CREATE_VALUE_FILE: u8 = 0xCC;
    /// CreateLinearRecordFile.
    pub const CREATE_LINEAR_RECORD_FILE: u8 = 0xC1;
    /// CreateCyclicRecordFile.
    pub const CREATE_CYCLIC_RECORD_FILE: u8 = 0xC0;
    /// DeleteFile.
    pub const DELETE_FILE: u8 = 0xDF;
    /// ReadData (AF chaining).
    pub const READ_DATA: u8 = 0xBD;
    /// ReadData with ISO 14443-4 chaining (EV2+, NTAG 424, DESFire Light).
    pub const READ_DATA_ISO: u8 = 0xAD;
    /// WriteData (AF chaining).
    pub const WRITE_DATA: u8 = 0x3D;
    /// WriteData with ISO 14443-4 chaining.
    pub const WRITE_DATA_ISO: u8 = 0x8D;
    /// GetValue.
    pub const GET_VALUE: u8 = 0x6C;
    /// Credit.
    pub const CREDIT: u8 = 0x0C;
    /// Debit.
    pub const DEBIT: u8 = 0xDC;
    /// LimitedCredit.
    pub const LIMITED_CREDIT: u8 = 0x1C;
    /// WriteRecord.
    pub const WRITE_RECORD: u8 = 0x3B;
    /// ReadRecords.
    pub const READ_RECORDS: u8 = 0xBB;
    /// ClearRecordFile.
    pub const CLEAR_RECORD_FILE: u8 = 0xEB;
    /// CommitTransaction.
    pub const COMMIT_TRANSACTION: u8 = 0xC7;
    /// AbortTransaction.
    pub const ABORT_TRANSACTION: u8 = 0xA7;
}

/// An invalid command argument (the command is never sent).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// A number beyond what its field can hold.
    #[error("{what} {value} out of range (0..={max})")]
    OutOfRange {
        /// The field.
        what: &'static str,
        /// The value given.
        value: u64,
        /// The largest allowed value.
        max: u64,
    },
    /// A byte string of a length the command does not allow.
    #[error("{what}: {len} bytes, {min}..={max} allowed")]
    Length {
        /// The field.
        what: &'static str,
        /// Given length.
        len: usize,
        /// Minimum.
        min: usize,
        /// Maximum.
        max: usize,
    },
    /// ChangeKey of a key other than the authenticated one needs the old key.
    #[error("changing another key than the authenticated one needs its old value")]
    MissingOldKey,
}

/// A response that does not have the layout its command defines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResponseError {
    /// Wrong length.
    #[error("{what}: {got} bytes, expected {expected}")]
    Length {
        /// What was parsed.
        what: &'static str,
        /// What the layout needs (e.g. "28", "a multiple of 3").
        expected: &'static str,
        /// Bytes received.
        got: usize,
    },
}

fn out_of_range(what: &'static str, value: u64, max: u64) -> CommandError {
    CommandError::OutOfRange { what, value, max }
}

/// The largest 24-bit value (offsets, lengths, sizes, record numbers).
pub const MAX_U24: u32 = 0x00FF_FFFF;
/// The largest file number.
pub const MAX_FILE_NO: u8 = 31;

fn u24(what: &'static str, v: u32) -> Result<[u8; 3], CommandError> {
    if v > MAX_U24 {
        return Err(out_of_range(what, u64::from(v), u64::from(MAX_U24)));
    }
    let [a, b, c, _] = v.to_le_bytes();
    Ok([a, b, c])
}

fn file_no(f: u8) -> Result<u8, CommandError> {
    if f > MAX_FILE_NO {
        return Err(out_of_range(
            "file number",
            u64::from(f),
            u64::from(MAX_FILE_NO),
        ));
    }
    Ok(f)
}

fn key_no(k: u8) -> Result<u8, CommandError> {
    if k > 0x0D {
        return Err(out_of_range("key number", u64::from(k), 0x0D));
    }
    Ok(k)
}

fn read_u24(b: &[u8]) -> u32 {
    let mut x = [0u8; 4];
    for (d, s) in x.iter_mut().zip(b.iter().take(3)) {
        *d = *s;
    }
    u32::from_le_bytes(x)
}

fn read_i32(b: &[u8]) -> i32 {
    let mut x = [0u8; 4];
    for (d, s) in x.iter_mut().zip(b.iter().take(4)) {
        *d = *s;
    }
    i32::from_le_bytes(x)
}

/// A DESFire application identifier (24 bits; `000000` is the PICC level).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Aid(u32);

impl Aid {
    /// The PICC (card) level.
    pub const PICC: Aid = Aid(0);

    /// An AID; `None` beyond 24 bits.
    pub const fn new(value: u32) -> Option<Self> {
        if value > MAX_U24 {
            None
        } else {
            Some(Aid(value))
        }
    }

    /// The numeric value.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// The 3 bytes as sent, least significant first.
    pub const fn to_bytes(self) -> [u8; 3] {
        let [a, b, c, _] = self.0.to_le_bytes();
        [a, b, c]
    }

    /// From the 3 bytes as sent.
    pub const fn from_bytes(b: [u8; 3]) -> Self {
        Aid(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }
}

impl core::fmt::Display for Aid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:06X}", self.0)
    }
}

/// A command ready for secure messaging and framing.
#[derive(Clone)]
pub struct NativeCommand {
    /// The native command code.
    pub code: u8,
    /// The part that always travels plain (file number, offset, length, key number, ...).
    pub header: Vec<u8>,
    /// The part that Full mode enciphers (data to write, settings). Zeroized on drop.
    pub data: Zeroizing<Vec<u8>>,
    /// How the command is protected in a session.
    pub protection: Protection,
    /// Length of the plain response data when the command fixes it (helps locate the CRC of
    /// an EV1 enciphered answer).
    pub expected_len: Option<usize>,
}

impl core::fmt::Debug for NativeCommand {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NativeCommand")
            .field("code", &format_args!("{:02X}", self.code))
            .field("header", &format_args!("{:02X?}", self.header))
            .field("data_len", &self.data.len())
            .field("protection", &self.protection)
            .finish()
    }
}

impl NativeCommand {
    /// A command with a header, data and protection.
    pub fn new(code: u8, header: &[u8], data: &[u8], protection: Protection) -> Self {
        NativeCommand {
            code,
            header: header.to_vec(),
            data: Zeroizing::new(data.to_vec()),
            protection,
            expected_len: None,
        }
    }

    fn management(code: u8, header: &[u8]) -> Self {
        NativeCommand::new(code, header, &[], Protection::Management)
    }

    /// The unprotected native frame `code || header || data`.
    pub fn to_plain_frame(&self) -> Vec<u8> {
        let mut v = alloc::vec![self.code];
        v.extend_from_slice(&self.header);
        v.extend_from_slice(&self.data);
        v
    }
}

// ---------------------------------------------------------------------------------------
// PICC-level and application management

/// `GetVersion` (60): three frames, 7 + 7 + 14 bytes.
pub fn get_version() -> NativeCommand {
    NativeCommand::management(code::GET_VERSION, &[])
}

/// `GetCardUID` (51): the real UID, enciphered; needs authentication.
pub fn get_card_uid() -> NativeCommand {
    let mut c = NativeCommand::new(code::GET_CARD_UID, &[], &[], Protection::EncipheredResponse);
    c.expected_len = Some(7);
    c
}

/// `GetApplicationIDs` (6A).
pub fn get_application_ids() -> NativeCommand {
    NativeCommand::management(code::GET_APPLICATION_IDS, &[])
}

/// `SelectApplication` (5A): ends any authentication.
pub fn select_application(aid: Aid) -> NativeCommand {
    NativeCommand::new(
        code::SELECT_APPLICATION,
        &aid.to_bytes(),
        &[],
        Protection::None,
    )
}

/// `GetFreeMemory` (6E): 3 bytes LE.
pub fn get_free_memory() -> NativeCommand {
    NativeCommand::management(code::GET_FREE_MEMORY, &[])
}

/// `FormatPICC` (FC): erases every application; needs the PICC master key.
pub fn format_picc() -> NativeCommand {
    NativeCommand::management(code::FORMAT_PICC, &[])
}

/// `GetKeySettings` (45).
pub fn get_key_settings() -> NativeCommand {
    NativeCommand::management(code::GET_KEY_SETTINGS, &[])
}

/// `GetKeyVersion` (64).
pub fn get_key_version(key: u8) -> Result<NativeCommand, CommandError> {
    Ok(NativeCommand::management(
        code::GET_KEY_VERSION,
        &[key_no(key & 0x3F)? | (key & 0xC0)],
    ))
}

/// `ChangeKeySettings` (54): the new KS1, enciphered.
pub fn change_key_settings(ks1: u8) -> NativeCommand {
    NativeCommand::new(
        code::CHANGE_KEY_SETTINGS,
        &[],
        &[ks1],
        Protection::EncipheredCommand,
    )
}

/// `SetConfiguration` (5C): option byte and its data, enciphered (libfreefare: option 00 =
/// PICC configuration flags (bit 0 disable format, bit 1 random UID), 01 = default key for
/// new applications, 02 = ATS). Not verified against a card (notes §11).
pub fn set_configuration(option: u8, data: &[u8]) -> NativeCommand {
    NativeCommand::new(
        code::SET_CONFIGURATION,
        &[option],
        data,
        Protection::EncipheredCommand,
    )
}

/// The options of `CreateApplication`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationSpec {
    /// The application identifier.
    pub aid: Aid,
    /// KS1: key settings (see [`KeySettings`]).
    pub key_settings: u8,
    /// Number of keys, 1..=14.
    pub key_count: u8,
    /// Crypto method of all the application's keys.
    pub key_type: KeyType,
    /// Optional ISO 7816 file identifier and DF name (1..16 bytes).
    pub iso: Option<(u16, Vec<u8>)>,
}

/// `CreateApplication` (CA): `AID KS1 KS2 [ISO FID(2) DFname]` with KS2 = key count |
/// crypto bits | `0x20` when an ISO FID is given.
pub fn create_application(spec: &ApplicationSpec) -> Result<NativeCommand, CommandError> {
    if !(1..=14).contains(&spec.key_count) {
        return Err(out_of_range("key count", u64::from(spec.key_count), 14));
    }
    let mut ks2 = spec.key_count | spec.key_type.crypto_bits();
    let mut header = spec.aid.to_bytes().to_vec();
    header.push(spec.key_settings);
    if spec.iso.is_some() {
        ks2 |= 0x20;
    }
    header.push(ks2);
    if let Some((fid, name)) = &spec.iso {
        if name.len() > 16 {
            return Err(CommandError::Length {
                what: "DF name",
                len: name.len(),
                min: 0,
                max: 16,
            });
        }
        header.extend_from_slice(&fid.to_le_bytes());
        header.extend_from_slice(name);
    }
    Ok(NativeCommand::management(code::CREATE_APPLICATION, &header))
}

/// `DeleteApplication` (DA).
pub fn delete_application(aid: Aid) -> NativeCommand {
    NativeCommand::management(code::DELETE_APPLICATION, &aid.to_bytes())
}

// ---------------------------------------------------------------------------------------
// Files

/// `GetFileIDs` (6F).
pub fn get_file_ids() -> NativeCommand {
    NativeCommand::management(code::GET_FILE_IDS, &[])
}

/// `GetFileSettings` (F5).
pub fn get_file_settings(file: u8) -> Result<NativeCommand, CommandError> {
    Ok(NativeCommand::management(
        code::GET_FILE_SETTINGS,
        &[file_no(file)?],
    ))
}

/// `ChangeFileSettings` (5F): new communication settings and access rights. Enciphered
/// when the file's Change right is a key (`enciphered`), plain (but MACed in a session)
/// when it is free.
pub fn change_file_settings(
    file: u8,
    comm: CommMode,
    access: AccessRights,
    enciphered: bool,
) -> Result<NativeCommand, CommandError> {
    let [a, b] = access.to_bytes();
    Ok(NativeCommand::new(
        code::CHANGE_FILE_SETTINGS,
        &[file_no(file)?],
        &[comm.bits(), a, b],
        if enciphered {
            Protection::EncipheredCommand
        } else {
            Protection::Management
        },
    ))
}

/// The common part of the Create*File commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileSpec {
    /// File number, 0..=31.
    pub file_no: u8,
    /// ISO file identifier (only for applications created with ISO FIDs).
    pub iso_fid: Option<u16>,
    /// Communication mode.
    pub comm: CommMode,
    /// Access rights.
    pub access: AccessRights,
}

fn file_header(spec: &FileSpec, with_fid: bool) -> Result<Vec<u8>, CommandError> {
    let mut h = alloc::vec![file_no(spec.file_no)?];
    if let (true, Some(fid)) = (with_fid, spec.iso_fid) {
        h.extend_from_slice(&fid.to_le_bytes());
    }
    h.push(spec.comm.bits());
    h.extend_from_slice(&spec.access.to_bytes());
    Ok(h)
}

/// `CreateStdDataFile` (CD) / `CreateBackupDataFile` (CB): `FileNo [FID] Comm AR(2) Size(3)`.
pub fn create_data_file(
    spec: &FileSpec,
    size: u32,
    backup: bool,
) -> Result<NativeCommand, CommandError> {
    let mut h = file_header(spec, true)?;
    h.extend_from_slice(&u24("file size", size)?);
    let c = if backup {
        code::CREATE_BACKUP_DATA_FILE
    } else {
        code::CREATE_STD_DATA_FILE
    };
    Ok(NativeCommand::management(c, &h))
}

/// The limits of a value file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueFileSpec {
    /// Lower limit.
    pub lower: i32,
    /// Upper limit.
    pub upper: i32,
    /// Initial value.
    pub value: i32,
    /// LimitedCredit enabled (bit 0) and free GetValue (bit 1, EV1).
    pub limited_credit: u8,
}

/// `CreateValueFile` (CC): `FileNo Comm AR(2) Lower(4) Upper(4) Value(4) LimitedCredit(1)`.
pub fn create_value_file(
    spec: &FileSpec,
    value: &ValueFileSpec,
) -> Result<NativeCommand, CommandError> {
    if value.lower > value.upper || value.value < value.lower || value.value > value.upper {
        return Err(out_of_range(
            "initial value",
            value.value as u64,
            value.upper as u64,
        ));
    }
    let mut h = file_header(spec, false)?;
    h.extend_from_slice(&value.lower.to_le_bytes());
    h.extend_from_slice(&value.upper.to_le_bytes());
    h.extend_from_slice(&value.value.to_le_bytes());
    h.push(value.limited_credit);
    Ok(NativeCommand::management(code::CREATE_VALUE_FILE, &h))
}

/// `CreateLinearRecordFile` (C1) / `CreateCyclicRecordFile` (C0):
/// `FileNo [FID] Comm AR(2) RecSize(3) MaxRecs(3)`.
pub fn create_record_file(
    spec: &FileSpec,
    record_size: u32,
    max_records: u32,
    cyclic: bool,
) -> Result<NativeCommand, CommandError> {
    if record_size == 0 {
        return Err(out_of_range("record size", 0, u64::from(MAX_U24)));
    }
    if max_records == 0 || (cyclic && max_records < 2) {
        return Err(out_of_range(
            "record count",
            u64::from(max_records),
            u64::from(MAX_U24),
        ));
    }
    let mut h = file_header(spec, true)?;
    h.extend_from_slice(&u24("record size", record_size)?);
    h.extend_from_slice(&u24("record count", max_records)?);
    let c = if cyclic {
        code::CREATE_CYCLIC_RECORD_FILE
    } else {
        code::CREATE_LINEAR_RECORD_FILE
    };
    Ok(NativeCommand::management(c, &h))
}

/// `DeleteFile` (DF).
pub fn delete_file(file: u8) -> Result<NativeCommand, CommandError> {
    Ok(NativeCommand::management(
        code::DELETE_FILE,
        &[file_no(file)?],
    ))
}

/// `ReadData` (BD): `FileNo Offset(3) Length(3)`; length 0 reads to the end of the file.
pub fn read_data(
    file: u8,
    offset: u32,
    length: u32,
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    let mut h = alloc::vec![file_no(file)?];
    h.extend_from_slice(&u24("offset", offset)?);
    h.extend_from_slice(&u24("length", length)?);
    let mut c = NativeCommand::new(code::READ_DATA, &h, &[], Protection::FileRead(comm));
    c.expected_len = (length != 0).then_some(length as usize);
    Ok(c)
}

/// `WriteData` (3D): `FileNo Offset(3) Length(3)` then the data.
pub fn write_data(
    file: u8,
    offset: u32,
    data: &[u8],
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    if len == 0 {
        return Err(CommandError::Length {
            what: "data",
            len: 0,
            min: 1,
            max: MAX_U24 as usize,
        });
    }
    let end = u64::from(offset) + u64::from(len);
    if end > u64::from(MAX_U24) + 1 {
        return Err(out_of_range("offset + length", end, u64::from(MAX_U24) + 1));
    }
    let mut h = alloc::vec![file_no(file)?];
    h.extend_from_slice(&u24("offset", offset)?);
    h.extend_from_slice(&u24("length", len)?);
    Ok(NativeCommand::new(
        code::WRITE_DATA,
        &h,
        data,
        Protection::FileWrite(comm),
    ))
}

/// The same command with the ISO-chaining code (`BD`→`AD`, `3D`→`8D`; EV2+, NTAG 424 and
/// DESFire Light, used by AN12196/AN12343).
pub fn with_iso_chaining(mut cmd: NativeCommand) -> NativeCommand {
    cmd.code = match cmd.code {
        code::READ_DATA => code::READ_DATA_ISO,
        code::WRITE_DATA => code::WRITE_DATA_ISO,
        other => other,
    };
    cmd
}

/// `GetValue` (6C).
pub fn get_value(file: u8, comm: CommMode) -> Result<NativeCommand, CommandError> {
    let mut c = NativeCommand::new(
        code::GET_VALUE,
        &[file_no(file)?],
        &[],
        Protection::FileRead(comm),
    );
    c.expected_len = Some(4);
    Ok(c)
}

fn value_op(
    code: u8,
    file: u8,
    amount: i32,
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    if amount < 0 {
        return Err(out_of_range("amount", amount as u64, i32::MAX as u64));
    }
    Ok(NativeCommand::new(
        code,
        &[file_no(file)?],
        &amount.to_le_bytes(),
        Protection::FileWrite(comm),
    ))
}

/// `Credit` (0C): adds a non-negative amount (takes effect on CommitTransaction).
pub fn credit(file: u8, amount: i32, comm: CommMode) -> Result<NativeCommand, CommandError> {
    value_op(code::CREDIT, file, amount, comm)
}

/// `Debit` (DC).
pub fn debit(file: u8, amount: i32, comm: CommMode) -> Result<NativeCommand, CommandError> {
    value_op(code::DEBIT, file, amount, comm)
}

/// `LimitedCredit` (1C).
pub fn limited_credit(
    file: u8,
    amount: i32,
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    value_op(code::LIMITED_CREDIT, file, amount, comm)
}

/// `WriteRecord` (3B): `FileNo Offset(3) Length(3)` then the data (offset within the record).
pub fn write_record(
    file: u8,
    offset: u32,
    data: &[u8],
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    let mut c = write_data(file, offset, data, comm)?;
    c.code = code::WRITE_RECORD;
    Ok(c)
}

/// `ReadRecords` (BB): `FileNo RecNo(3) Count(3)`; count 0 reads every record from `first`.
/// Records are numbered from the newest (0) backwards.
pub fn read_records(
    file: u8,
    first: u32,
    count: u32,
    comm: CommMode,
) -> Result<NativeCommand, CommandError> {
    let mut h = alloc::vec![file_no(file)?];
    h.extend_from_slice(&u24("record number", first)?);
    h.extend_from_slice(&u24("record count", count)?);
    Ok(NativeCommand::new(
        code::READ_RECORDS,
        &h,
        &[],
        Protection::FileRead(comm),
    ))
}

/// `ClearRecordFile` (EB).
pub fn clear_record_file(file: u8) -> Result<NativeCommand, CommandError> {
    Ok(NativeCommand::management(
        code::CLEAR_RECORD_FILE,
        &[file_no(file)?],
    ))
}

/// `CommitTransaction` (C7).
pub fn commit_transaction() -> NativeCommand {
    NativeCommand::management(code::COMMIT_TRANSACTION, &[])
}

/// `AbortTransaction` (A7).
pub fn abort_transaction() -> NativeCommand {
    NativeCommand::management(code::ABORT_TRANSACTION, &[])
}

// ---------------------------------------------------------------------------------------
// ChangeKey

/// `ChangeKey` (C4) parameters; the cryptogram depends on the session generation
/// ([`ChangeKey::ev1_plaintext`], [`ChangeKey::ev2_plaintext`], [`ChangeKey::d40_plaintext`]).
#[derive(Clone)]
pub struct ChangeKey {
    key_no: u8,
    new_key: Key,
    old_key: Option<Key>,
    picc_level: bool,
}

impl core::fmt::Debug for ChangeKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChangeKey")
            .field("key_no", &self.key_no)
            .field("new_key", &self.new_key)
            .field("picc_level", &self.picc_level)
            .finish_non_exhaustive()
    }
}

impl ChangeKey {
    /// Changes key `key_no` (0..=13) to `new_key`. Add [`ChangeKey::old_key`] when it is not
    /// the key the session was authenticated with.
    pub fn new(key_no: u8, new_key: Key) -> Result<Self, CommandError> {
        Ok(ChangeKey {
            key_no: self::key_no(key_no)?,
            new_key,
            old_key: None,
            picc_level: false,
        })
    }

    /// The current value of the key being changed (needed when it is not the session key).
    pub fn old_key(mut self, old: Key) -> Self {
        self.old_key = Some(old);
        self
    }

    /// The PICC master key: the KeyNo byte carries the *new* key type in bits 7..6
    /// (`0x80` AES, `0x40` 3K3DES, `0x00` DES/2K3DES; notes §3).
    pub fn at_picc_level(mut self) -> Self {
        self.picc_level = true;
        self
    }

    /// The key number (without type bits).
    pub fn key_no(&self) -> u8 {
        self.key_no
    }

    /// The new key.
    pub fn new_key(&self) -> &Key {
        &self.new_key
    }

    /// The KeyNo byte as sent.
    pub fn key_no_byte(&self) -> u8 {
        if self.picc_level {
            self.key_no | self.new_key.key_type().crypto_bits()
        } else {
            self.key_no
        }
    }

    /// Whether this changes the key the session is authenticated with.
    pub fn is_same_key(&self, authenticated_key_no: u8) -> bool {
        self.key_no == (authenticated_key_no & 0x0F)
    }

    fn key_part(&self, same: bool) -> Result<Zeroizing<Vec<u8>>, CommandError> {
        let mut k = self.new_key.card_bytes();
        if !same {
            let old = self.old_key.as_ref().ok_or(CommandError::MissingOldKey)?;
            let old = old.card_bytes();
            // Keys of one application share a type; should lengths differ, the old key is
            // repeated (a DES key is its 8 bytes repeated anyway).
            for (n, b) in k.iter_mut().enumerate() {
                *b ^= old.get(n % old.len().max(1)).copied().unwrap_or(0);
            }
        }
        Ok(k)
    }

    /// The EV1 plaintext before zero padding and encipherment (notes §5.2):
    /// same key: `NewKey [|| AESver] || CRC32(C4 || KeyNo || NewKey [|| AESver])`;
    /// other key: `(NewKey XOR OldKey) [|| AESver] || CRC32(C4 || KeyNo || that) || CRC32(NewKey)`.
    pub fn ev1_plaintext(
        &self,
        authenticated_key_no: u8,
    ) -> Result<Zeroizing<Vec<u8>>, CommandError> {
        let same = self.is_same_key(authenticated_key_no);
        let mut p = self.key_part(same)?;
        if self.new_key.key_type() == KeyType::Aes128 {
            p.push(self.new_key.version());
        }
        let crc = crc32_update(crc32_desfire(&[code::CHANGE_KEY, self.key_no_byte()]), &p);
        p.extend_from_slice(&crc.to_le_bytes());
        if !same {
            p.extend_from_slice(&crc32_desfire(&self.new_key.card_bytes()).to_le_bytes());
        }
        Ok(p)
    }

    /// The EV2 plaintext before M2 padding and Full-mode encipherment (notes §5.3, AN12196):
    /// same key `NewKey || KeyVer`; other key `(NewKey XOR OldKey) || KeyVer || CRC32(NewKey)`.
    pub fn ev2_plaintext(
        &self,
        authenticated_key_no: u8,
    ) -> Result<Zeroizing<Vec<u8>>, CommandError> {
        let same = self.is_same_key(authenticated_key_no);
        let mut p = self.key_part(same)?;
        p.push(self.new_key.version());
        if !same {
            p.extend_from_slice(&crc32_desfire(&self.new_key.card_bytes()).to_le_bytes());
        }
        Ok(p)
    }

    /// The legacy D40 plaintext before send-mode encipherment (notes §5.1): `K16 ||
    /// CRC16(K16) [|| CRC16(NewKey)]` zero-padded, K16 = new key or new XOR old.
    pub fn d40_plaintext(
        &self,
        authenticated_key_no: u8,
    ) -> Result<Zeroizing<Vec<u8>>, CommandError> {
        let same = self.is_same_key(authenticated_key_no);
        let mut p = self.key_part(same)?;
        let crc = crate::crypto::crc16_a(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        if !same {
            p.extend_from_slice(&crate::crypto::crc16_a(&self.new_key.card_bytes()).to_le_bytes());
        }
        pad_zero(&mut p, 8);
        Ok(p)
    }
}

// ---------------------------------------------------------------------------------------
// Response types and parsers

/// One half of the GetVersion answer (hardware or software).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartVersion {
    /// Vendor (04 = NXP).
    pub vendor: u8,
    /// Type (01 DESFire, 08 Light, 81/83 microcontroller, 91 JavaCard, A1 HCE).
    pub kind: u8,
    /// Subtype.
    pub subtype: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
    /// Storage size code (see [`PartVersion::storage_bytes`]).
    pub storage: u8,
    /// Communication protocol (05 = ISO 14443-2 and -3).
    pub protocol: u8,
}

impl PartVersion {
    fn parse(b: &[u8]) -> Self {
        let g = |i: usize| b.get(i).copied().unwrap_or(0);
        PartVersion {
            vendor: g(0),
            kind: g(1),
            subtype: g(2),
            major: g(3),
            minor: g(4),
            storage: g(5),
            protocol: g(6),
        }
    }

    /// The storage size: `(2^(b>>1), exact)`; when the low bit is set the size lies between
    /// that and twice it and `exact` is false (notes §7).
    pub fn storage_bytes(&self) -> (u64, bool) {
        let exp = u32::from(self.storage >> 1).min(63);
        (1u64 << exp, self.storage & 1 == 0)
    }
}

/// The DESFire generation, from the hardware major/minor version (PM3 `getCardType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Generation {
    /// MF3ICD40 (00/02).
    D40,
    /// EV1 (01/00).
    Ev1,
    /// EV2 (12/00).
    Ev2,
    /// EV2 XL (22/00).
    Ev2Xl,
    /// EV3 (33/00).
    Ev3,
    /// Anything else.
    Unknown,
}

/// The parsed `GetVersion` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    /// Hardware part.
    pub hardware: PartVersion,
    /// Software part.
    pub software: PartVersion,
    /// UID (7 bytes; cards with random UIDs may hide it here).
    pub uid: [u8; 7],
    /// Production batch number.
    pub batch: [u8; 5],
    /// Calendar week of production (BCD, e.g. `0x49` = week 49).
    pub week: u8,
    /// Year of production (BCD, e.g. `0x13` = 2013).
    pub year: u8,
    /// Bytes after the 28 defined ones (newer generations may add some).
    pub extra: Vec<u8>,
}

impl VersionInfo {
    /// The generation from the hardware version.
    pub fn generation(&self) -> Generation {
        match (self.hardware.major, self.hardware.minor) {
            (0x00, 0x02) => Generation::D40,
            (0x01, 0x00) => Generation::Ev1,
            (0x12, 0x00) => Generation::Ev2,
            (0x22, 0x00) => Generation::Ev2Xl,
            (0x33, 0x00) => Generation::Ev3,
            _ => Generation::Unknown,
        }
    }

    /// Whether the hardware says NXP MIFARE DESFire (vendor 04, type 01).
    pub fn is_desfire(&self) -> bool {
        self.hardware.vendor == 0x04 && self.hardware.kind == 0x01
    }

    /// Week and year decoded from BCD (year + 2000); `None` when not valid BCD.
    pub fn production_date(&self) -> Option<(u8, u16)> {
        let bcd = |b: u8| ((b >> 4) < 10 && (b & 0x0F) < 10).then_some((b >> 4) * 10 + (b & 0x0F));
        Some((bcd(self.week)?, 2000 + u16::from(bcd(self.year)?)))
    }
}

/// Parses the concatenated `GetVersion` frames (7 + 7 + 14 bytes, possibly more).
pub fn parse_version(data: &[u8]) -> Result<VersionInfo, ResponseError> {
    if data.len() < 28 {
        return Err(ResponseError::Length {
            what: "GetVersion",
            expected: "at least 28",
            got: data.len(),
        });
    }
    let (hw, rest) = data.split_at(7);
    let (sw, rest) = rest.split_at(7);
    let (uid, rest) = rest.split_at(7);
    let (batch, rest) = rest.split_at(5);
    let (wy, extra) = rest.split_at(2);
    let mut u = [0u8; 7];
    u.copy_from_slice(uid);
    let mut b = [0u8; 5];
    b.copy_from_slice(batch);
    Ok(VersionInfo {
        hardware: PartVersion::parse(hw),
        software: PartVersion::parse(sw),
        uid: u,
        batch: b,
        week: wy.first().copied().unwrap_or(0),
        year: wy.get(1).copied().unwrap_or(0),
        extra: extra.to_vec(),
    })
}

/// Parses a `GetCardUID` answer: 7 bytes (4 or 10 accepted for other UID sizes).
pub fn parse_uid(data: &[u8]) -> Result<Vec<u8>, ResponseError> {
    match data.len() {
        4 | 7 | 10 => Ok(data.to_vec()),
        n => Err(ResponseError::Length {
            what: "GetCardUID",
            expected: "7 (or 4, 10)",
            got: n,
        }),
    }
}

/// Parses `GetApplicationIDs`: 3-byte LE AIDs back to back.
pub fn parse_application_ids(data: &[u8]) -> Result<Vec<Aid>, ResponseError> {
    if data.len() % 3 != 0 {
        return Err(ResponseError::Length {
            what: "GetApplicationIDs",
            expected: "a multiple of 3",
            got: data.len(),
        });
    }
    Ok(data.chunks_exact(3).map(|c| Aid(read_u24(c))).collect())
}

/// Parses `GetFileIDs`: one byte per file.
pub fn parse_file_ids(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}

/// Parses `GetFreeMemory`: 3 bytes LE.
pub fn parse_free_memory(data: &[u8]) -> Result<u32, ResponseError> {
    if data.len() != 3 {
        return Err(ResponseError::Length {
            what: "GetFreeMemory",
            expected: "3",
            got: data.len(),
        });
    }
    Ok(read_u24(data))
}

/// Parses `GetKeyVersion`: one byte.
pub fn parse_key_version(data: &[u8]) -> Result<u8, ResponseError> {
    match data {
        [v] => Ok(*v),
        _ => Err(ResponseError::Length {
            what: "GetKeyVersion",
            expected: "1",
            got: data.len(),
        }),
    }
}

/// Parses `GetValue`: a signed 32-bit LE value.
pub fn parse_value(data: &[u8]) -> Result<i32, ResponseError> {
    if data.len() != 4 {
        return Err(ResponseError::Length {
            what: "GetValue",
            expected: "4",
            got: data.len(),
        });
    }
    Ok(read_i32(data))
}

/// Splits a `ReadRecords` answer into records of `record_size` bytes.
pub fn parse_records(data: &[u8], record_size: usize) -> Result<Vec<Vec<u8>>, ResponseError> {
    if record_size == 0 || data.len() % record_size != 0 {
        return Err(ResponseError::Length {
            what: "ReadRecords",
            expected: "a multiple of the record size",
            got: data.len(),
        });
    }
    Ok(data.chunks_exact(record_size).map(<[u8]>::to_vec).collect())
}

/// Who may change a key (KS1 bits 7..4 at application level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKeyAccess {
    /// `0`: the application master key.
    MasterKey,
    /// `1..D`: this key.
    Key(u8),
    /// `E`: the same key (each key changes itself).
    SameKey,
    /// `F`: all keys but the master key are frozen.
    Frozen,
}

/// The `GetKeySettings` answer: KS1 and KS2 (notes §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySettings {
    /// KS1.
    pub ks1: u8,
    /// KS2.
    pub ks2: u8,
}

impl KeySettings {
    /// KS1 bit 0: the master key can be changed.
    pub fn master_key_changeable(&self) -> bool {
        self.ks1 & 0x01 != 0
    }
    /// KS1 bit 1: listing (GetApplicationIDs / GetFileIDs / GetFileSettings / GetKeySettings)
    /// works without master-key authentication.
    pub fn free_listing(&self) -> bool {
        self.ks1 & 0x02 != 0
    }
    /// KS1 bit 2: create/delete without master-key authentication.
    pub fn free_create_delete(&self) -> bool {
        self.ks1 & 0x04 != 0
    }
    /// KS1 bit 3: the key settings can be changed.
    pub fn configuration_changeable(&self) -> bool {
        self.ks1 & 0x08 != 0
    }
    /// KS1 bits 7..4 (application level).
    pub fn change_key_access(&self) -> ChangeKeyAccess {
        match self.ks1 >> 4 {
            0x0 => ChangeKeyAccess::MasterKey,
            0xE => ChangeKeyAccess::SameKey,
            0xF => ChangeKeyAccess::Frozen,
            k => ChangeKeyAccess::Key(k),
        }
    }
    /// KS2 bits 3..0: number of keys.
    pub fn key_count(&self) -> u8 {
        self.ks2 & 0x0F
    }
    /// KS2 bits 7..6: the key family (`None` for the reserved value `11`). DES and 2-key
    /// 3DES share `00`: reported as [`KeyType::TwoKey3Des`].
    pub fn key_type(&self) -> Option<KeyType> {
        match self.ks2 & 0xC0 {
            0x00 => Some(KeyType::TwoKey3Des),
            0x40 => Some(KeyType::ThreeKey3Des),
            0x80 => Some(KeyType::Aes128),
            _ => None,
        }
    }
    /// KS2 bit 5: the application uses ISO file identifiers.
    pub fn iso_file_ids(&self) -> bool {
        self.ks2 & 0x20 != 0
    }
}

/// Parses `GetKeySettings` (2 bytes; EV2 may append more).
pub fn parse_key_settings(data: &[u8]) -> Result<KeySettings, ResponseError> {
    match data {
        [ks1, ks2, ..] => Ok(KeySettings {
            ks1: *ks1,
            ks2: *ks2,
        }),
        _ => Err(ResponseError::Length {
            what: "GetKeySettings",
            expected: "2",
            got: data.len(),
        }),
    }
}

/// One access condition (a nibble of the access rights): a key, free, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Key number 0..=13.
    Key(u8),
    /// `E`: free.
    Free,
    /// `F`: denied.
    Denied,
}

impl Access {
    /// From a nibble.
    pub const fn from_nibble(n: u8) -> Self {
        match n & 0x0F {
            0x0E => Access::Free,
            0x0F => Access::Denied,
            k => Access::Key(k),
        }
    }
    /// To a nibble.
    pub const fn nibble(self) -> u8 {
        match self {
            Access::Key(k) => k & 0x0F,
            Access::Free => 0x0E,
            Access::Denied => 0x0F,
        }
    }
}

/// File access rights (2 bytes LE: byte0 = RW << 4 | Change, byte1 = Read << 4 | Write;
/// notes §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRights {
    /// Read.
    pub read: Access,
    /// Write.
    pub write: Access,
    /// Read and write.
    pub read_write: Access,
    /// Change the settings.
    pub change: Access,
}

impl AccessRights {
    /// From the two bytes as sent.
    pub const fn from_bytes(b: [u8; 2]) -> Self {
        AccessRights {
            read_write: Access::from_nibble(b[0] >> 4),
            change: Access::from_nibble(b[0]),
            read: Access::from_nibble(b[1] >> 4),
            write: Access::from_nibble(b[1]),
        }
    }
    /// The two bytes as sent.
    pub const fn to_bytes(self) -> [u8; 2] {
        [
            (self.read_write.nibble() << 4) | self.change.nibble(),
            (self.read.nibble() << 4) | self.write.nibble(),
        ]
    }
}

/// DESFire file types (notes §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    /// 00 standard data file.
    Standard,
    /// 01 backup data file.
    Backup,
    /// 02 value file.
    Value,
    /// 03 linear record file.
    LinearRecord,
    /// 04 cyclic record file.
    CyclicRecord,
    /// 05 transaction MAC file (EV2+).
    TransactionMac,
    /// Anything else.
    Other(u8),
}

impl FileType {
    /// From the type byte.
    pub const fn from_u8(b: u8) -> Self {
        match b {
            0 => FileType::Standard,
            1 => FileType::Backup,
            2 => FileType::Value,
            3 => FileType::LinearRecord,
            4 => FileType::CyclicRecord,
            5 => FileType::TransactionMac,
            o => FileType::Other(o),
        }
    }
}

/// The type-specific part of the file settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// Standard or backup data file.
    Data {
        /// Size in bytes.
        size: u32,
    },
    /// Value file.
    Value {
        /// Lower limit.
        lower: i32,
        /// Upper limit.
        upper: i32,
        /// Limited-credit value.
        limited_credit_value: i32,
        /// Limited-credit flags.
        limited_credit: u8,
    },
    /// Linear or cyclic record file.
    Record {
        /// Record size.
        record_size: u32,
        /// Maximum number of records.
        max_records: u32,
        /// Current number of records.
        current_records: u32,
    },
    /// Transaction MAC file: key type and version.
    TransactionMac {
        /// Key type byte.
        key_type: u8,
        /// Key version.
        key_version: u8,
    },
    /// Unknown file type: the remaining bytes.
    Unknown(Vec<u8>),
}

/// The parsed `GetFileSettings` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSettings {
    /// File type.
    pub file_type: FileType,
    /// Option byte (bits 1..0 communication mode, bit 6 SDM, bit 7 additional ARs).
    pub option: u8,
    /// Access rights.
    pub access: AccessRights,
    /// Type-specific settings.
    pub kind: FileKind,
    /// Additional access rights (EV2, option bit 7).
    pub additional_access: Vec<AccessRights>,
    /// Bytes this parser does not interpret (e.g. NTAG 424 SDM settings).
    pub trailing: Vec<u8>,
}

impl FileSettings {
    /// The communication mode.
    pub fn comm_mode(&self) -> CommMode {
        CommMode::from_option(self.option)
    }
}

fn take<'a>(data: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], ResponseError> {
    let (head, tail) = data.split_at_checked(n).ok_or(ResponseError::Length {
        what,
        expected: "more bytes",
        got: data.len(),
    })?;
    *data = tail;
    Ok(head)
}

/// Parses `GetFileSettings` for every file type.
pub fn parse_file_settings(data: &[u8]) -> Result<FileSettings, ResponseError> {
    const W: &str = "GetFileSettings";
    let mut rest = data;
    let head = take(&mut rest, 4, W)?;
    let (ty, option) = (
        head.first().copied().unwrap_or(0),
        head.get(1).copied().unwrap_or(0),
    );
    let access = AccessRights::from_bytes([
        head.get(2).copied().unwrap_or(0),
        head.get(3).copied().unwrap_or(0),
    ]);
    let file_type = FileType::from_u8(ty);
    let kind = match file_type {
        FileType::Standard | FileType::Backup => FileKind::Data {
            size: read_u24(take(&mut rest, 3, W)?),
        },
        FileType::Value => {
            let v = take(&mut rest, 13, W)?;
            FileKind::Value {
                lower: read_i32(v.get(0..4).unwrap_or_default()),
                upper: read_i32(v.get(4..8).unwrap_or_default()),
                limited_credit_value: read_i32(v.get(8..12).unwrap_or_default()),
                limited_credit: v.get(12).copied().unwrap_or(0),
            }
        }
        FileType::LinearRecord | FileType::CyclicRecord => {
            let v = take(&mut rest, 9, W)?;
            FileKind::Record {
                record_size: read_u24(v.get(0..3).unwrap_or_default()),
                max_records: read_u24(v.get(3..6).unwrap_or_default()),
                current_records: read_u24(v.get(6..9).unwrap_or_default()),
            }
        }
        FileType::TransactionMac => {
            let v = take(&mut rest, 2, W)?;
            FileKind::TransactionMac {
                key_type: v.first().copied().unwrap_or(0),
                key_version: v.get(1).copied().unwrap_or(0),
            }
        }
        FileType::Other(_) => {
            let all = rest.to_vec();
            rest = &[];
            FileKind::Unknown(all)
        }
    };
    let mut additional_access = Vec::new();
    if option & 0x80 != 0 && !rest.is_empty() {
        let n = take(&mut rest, 1, W)?.first().copied().unwrap_or(0);
        for _ in 0..n {
            let ar = take(&mut rest, 2, W)?;
            additional_access.push(AccessRights::from_bytes([
                ar.first().copied().unwrap_or(0),
                ar.get(1).copied().unwrap_or(0),
            ]));
        }
    }
    Ok(FileSettings {
        file_type,
        option,
        access,
        kind,
        additional_access,
        trailing: rest.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_check_ranges() {
        assert!(matches!(
            read_data(1, 0x0100_0000, 1, CommMode::Plain),
            Err(CommandError::OutOfRange { what: "offset", .. })
        ));
        assert!(matches!(
            read_data(32, 0, 1, CommMode::Plain),
            Err(CommandError::OutOfRange {
                what: "file number",
                ..
            })
        ));
        assert!(write_data(1, MAX_U24, &[1, 2], CommMode::Plain).is_err());
        assert!(write_data(1, MAX_U24, &[1], CommMode::Plain).is_ok());
        assert!(write_data(1, 0, &[], CommMode::Plain).is_err());
        assert!(credit(1, -1, CommMode::Plain).is_err());
        assert_eq!(Aid::new(0x0100_0000), None);
        let c = read_data(5, 0, 0x30, CommMode::Plain).unwrap();
        assert_eq!(c.to_plain_frame(), [0xBD, 5, 0, 0, 0, 0x30, 0, 0]);
    }

    #[test]
    fn create_application_layout() {
        // ELM: CA 16DE00 0F 02 creates AID 0x00DE16 with two DES keys.
        let c = create_application(&ApplicationSpec {
            aid: Aid::new(0x00DE16).unwrap(),
            key_settings: 0x0F,
            key_count: 2,
            key_type: KeyType::Des,
            iso: None,
        })
        .unwrap();
        assert_eq!(c.to_plain_frame(), [0xCA, 0x16, 0xDE, 0x00, 0x0F, 0x02]);
    }

    #[test]
    fn file_settings_variants() {
        let s = parse_file_settings(&[0, 0, 0x11, 0, 0x50, 0, 0]).unwrap();
        assert_eq!(s.kind, FileKind::Data { size: 0x50 });
        assert_eq!(s.access.read_write, Access::Key(1));
        assert_eq!(s.access.read, Access::Key(0));
        let v = parse_file_settings(&[2, 3, 0xEE, 0xEE, 0, 0, 0, 0, 100, 0, 0, 0, 5, 0, 0, 0, 1])
            .unwrap();
        assert_eq!(v.comm_mode(), CommMode::Full);
        assert!(matches!(v.kind, FileKind::Value { upper: 100, .. }));
        let r = parse_file_settings(&[4, 1, 0, 0, 16, 0, 0, 10, 0, 0, 3, 0, 0]).unwrap();
        assert!(matches!(
            r.kind,
            FileKind::Record {
                current_records: 3,
                ..
            }
        ));
        let ar = parse_file_settings(&[0, 0x80, 0, 0, 1, 0, 0, 1, 0x12, 0x34]).unwrap();
        assert_eq!(ar.additional_access.len(), 1);
        assert!(parse_file_settings(&[0, 0, 0]).is_err());
        assert!(parse_file_settings(&[2, 0, 0, 0, 1]).is_err());
    }
}
