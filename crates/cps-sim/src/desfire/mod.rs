//! The simulated MIFARE DESFire PICC of the CPS4's contactless interface.
//!
//! A DESFire EV3-class PICC (ISO 14443-4, native commands wrapped in ISO 7816-4 APDUs:
//! CLA `90`, additional frames `AF`, status `91xx`) built on the card-side primitives of
//! [`cps_desfire`]: the same session-key derivations and secure-messaging code the client
//! uses, run in the other direction. Authentications `0A` (legacy), `1A` (ISO), `AA` (AES),
//! `71` / `77` (EV2First / EV2NonFirst); D40, EV1 and EV2 secure messaging in plain, MAC and
//! full modes; applications with DES / 2K3DES / 3K3DES / AES keys; standard, backup, value,
//! linear and cyclic record files with access rights; transactions committed or aborted;
//! `91xx` errors as the NXP datasheets name them.
//!
//! The CPS4 PICC master key is the all-zero DES key, as the card issuer states
//! (`../shared/notes/cps-cards.md`). The access-control application [`access_control`] holds
//! the badge credential; its keys are **test keys**, published on purpose.
//!
//! ```
//! use cps_desfire::{Aid, Desfire};
//! use cps_sim::desfire::access_control;
//! use cps_sim::{Interface, Profile, SimCard};
//! use cps_transport::InProcessChannel;
//!
//! let card = SimCard::builder()
//!     .profile(Profile::Cps4)
//!     .persona("dr-martin")
//!     .interface(Interface::Contactless)
//!     .build()?;
//! let mut door = Desfire::new(InProcessChannel::new(card));
//! let aid = Aid::new(access_control::AID).unwrap();
//! let credential = door
//!     .door_check_with(
//!         aid,
//!         access_control::DOOR_KEY_NO,
//!         &access_control::door_master_key(),
//!         true,
//!         access_control::CREDENTIAL_FILE,
//!         &access_control::door_config(),
//!     )
//!     .expect("the CPS4 opens the door");
//! assert!(credential.data.starts_with(b"CPS4:"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Simplifications, stated: the file's communication mode applies whenever a session
//! exists, also for a right that is free (the client does the same); transactions end at
//! `CommitTransaction`, `AbortTransaction`, `SelectApplication` and power-off; the ATS
//! (`SetConfiguration` option 02) and the EV2 transaction MAC file are not emulated.

mod model;

use std::collections::VecDeque;

use cps_apdu::table::{DataLen, DesfireComm};
use cps_apdu::{Command, Response, StatusWord};
use cps_desfire::auth::{AuthMode, ev1_session_key, ev2_session_keys};
use cps_desfire::commands::{Access, AccessRights};
use cps_desfire::crypto::{Key, KeyType, crc16_a, crc32_desfire, crc32_update, rotate_left};
use cps_desfire::frame::DesfireStatus as S;
use cps_desfire::session::{
    CommMode, D40Session, Ev1Session, Ev2Session, Protection, SecureChannel,
};
use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::applet::{Applet, AppletContext, Storage};
use crate::card::Interface;
use crate::persona::Persona;
use model::{App, File, FileData, Picc, Records, Staged, Value, read_i32, read_u24, u24};

/// The ISO 7816-4 DF name of the DESFire PICC level, `D2 76 00 00 85 01 00` (NXP MIFARE
/// DESFire EV1 datasheet, ISO/IEC 7816-4 support), so an ISO `SELECT` by name reaches it.
pub const DF_NAME: [u8; 7] = [0xD2, 0x76, 0x00, 0x00, 0x85, 0x01, 0x00];

/// The GetVersion answer's hardware and software parts: vendor NXP (`04`), type DESFire
/// (`01`), subtype `01`, hardware major `33` = EV3 (the version table cps-desfire's
/// `VersionInfo::generation` follows), storage `1A` = 8 KiB, protocol `05` = ISO 14443-2/-3/-4.
const VERSION_HW: [u8; 7] = [0x04, 0x01, 0x01, 0x33, 0x00, 0x1A, 0x05];
const VERSION_SW: [u8; 7] = [0x04, 0x01, 0x01, 0x03, 0x00, 0x1A, 0x05];
/// Batch number, calendar week and year (BCD) of the simulated production.
const VERSION_PRODUCTION: [u8; 7] = [0xC9, 0x50, 0x53, 0x00, 0x01, 0x25, 0x25];

/// Longest payload of one frame either way (the size real readers and cards use, and the
/// client's default).
const FRAME: usize = 59;

/// Largest command the PICC reassembles (a WriteData of the whole EEPROM with its MAC).
const MAX_COMMAND: usize = model::CAPACITY as usize + 64;

/// The access-control application of the simulated CPS4: where door, parking and canteen
/// readers find the badge credential. **Test keys**, published on purpose.
pub mod access_control {
    use cps_desfire::client::{DoorConfig, UidSource};
    use cps_desfire::crypto::Key;
    use cps_desfire::session::CommMode;

    /// Application identifier (`43 50 53` on the wire: "CPS").
    pub const AID: u32 = 0x53_50_43;
    /// Key 0: the application master key (creates/deletes files, changes keys). TEST key.
    pub const APP_MASTER_KEY: [u8; 16] = *b"TEST cps4 appmk!";
    /// Key 1 reads the credential: AN10922-diversified from [`DOOR_MASTER_KEY`] with the
    /// card's UID, the AID and [`SYSTEM_IDENTIFIER`] (what `Desfire::door_check` does).
    pub const DOOR_KEY_NO: u8 = 1;
    /// The door system's master key, from which key 1 of each card is diversified. TEST key.
    pub const DOOR_MASTER_KEY: [u8; 16] = *b"TEST door master";
    /// The AN10922 system identifier of the door system.
    pub const SYSTEM_IDENTIFIER: &[u8] = b"CPS4 access";
    /// Key 2 writes the access journal and the visit log. TEST key.
    pub const WRITE_KEY: [u8; 16] = *b"TEST cps4 write!";
    /// Key 3 credits and debits the canteen purse. TEST key.
    pub const PURSE_KEY: [u8; 16] = *b"TEST cps4 purse!";
    /// Number of keys of the application (key 4 is an unused zero key).
    pub const KEY_COUNT: u8 = 5;

    /// File 1: the credential (standard data file, 32 bytes, full mode, read with key 1).
    pub const CREDENTIAL_FILE: u8 = 1;
    /// File 2: last passage (backup data file, 16 bytes, MAC mode, key 2 writes).
    pub const LAST_PASSAGE_FILE: u8 = 2;
    /// File 3: canteen purse in cents (value file, full mode, key 3; limited credit on).
    pub const PURSE_FILE: u8 = 3;
    /// File 4: access journal (cyclic record file, 16-byte records, MAC mode, key 2 writes).
    pub const JOURNAL_FILE: u8 = 4;
    /// File 5: public card information (standard data file, plain, free read).
    pub const INFO_FILE: u8 = 5;
    /// File 6: visits (linear record file, 8-byte records, plain, free read, key 2 writes).
    pub const VISITS_FILE: u8 = 6;
    /// Initial purse value, in cents.
    pub const PURSE_INITIAL: i32 = 1500;
    /// Purse upper limit, in cents.
    pub const PURSE_UPPER: i32 = 100_000;

    /// The door system's master key as a [`Key`].
    pub fn door_master_key() -> Key {
        Key::aes(DOOR_MASTER_KEY)
    }

    /// The application master key as a [`Key`].
    pub fn app_master_key() -> Key {
        Key::aes(APP_MASTER_KEY)
    }

    /// `door_check` settings for this application (UID from GetVersion, the system
    /// identifier, the credential's full mode).
    pub fn door_config() -> DoorConfig {
        DoorConfig {
            uid: UidSource::GetVersion,
            system_identifier: SYSTEM_IDENTIFIER.to_vec(),
            file_comm: Some(CommMode::Full),
            ..DoorConfig::default()
        }
    }
}

/// An authentication waiting for the reader's `AF` frame.
#[derive(Clone)]
struct PendingAuth {
    mode: AuthMode,
    key_no: u8,
    key: Key,
    rnd_b: Zeroizing<Vec<u8>>,
    /// ISO / AES: the CBC chaining value (last block of `ek(RndB)`).
    iv: Zeroizing<Vec<u8>>,
    /// EV2NonFirst: TI and command counter kept from the current session.
    carry: Option<([u8; 4], u16)>,
    pcd_cap2: [u8; 6],
}

/// A command arriving in several frames.
#[derive(Clone)]
struct Incoming {
    code: u8,
    payload: Zeroizing<Vec<u8>>,
    total: usize,
}

/// What power-off forgets.
#[derive(Clone, Default)]
struct Volatile {
    selected: u32,
    session: Option<SecureChannel>,
    auth_key: Option<u8>,
    pending_auth: Option<PendingAuth>,
    incoming: Option<Incoming>,
    outgoing: VecDeque<(S, Vec<u8>)>,
    staged: Staged,
}

/// How a command travels: plain header length, protection, data length when fixed, and how
/// many data bytes may follow the header once secure messaging is removed.
struct Spec {
    header_len: usize,
    protection: Protection,
    expected: Option<usize>,
    data_len: core::ops::RangeInclusive<usize>,
}

impl Spec {
    fn new(header_len: usize, protection: Protection) -> Self {
        Spec {
            header_len,
            protection,
            expected: None,
            data_len: 0..=usize::MAX,
        }
    }

    fn expecting(mut self, len: usize) -> Self {
        self.expected = Some(len);
        self
    }

    /// Nothing may follow the header: a longer command is `7E` LENGTH_ERROR ("length of
    /// command string invalid", PM3 `include/protocols.h`, libfreefare
    /// `mifare_desfire_error.c`), not a command with its extra bytes ignored.
    fn header_only(mut self) -> Self {
        self.data_len = 0..=0;
        self
    }

    /// At most `max` data bytes after the header.
    fn data_at_most(mut self, max: usize) -> Self {
        self.data_len = 0..=max;
        self
    }
}

/// The simulated DESFire PICC, an [`Applet`] of the contactless interface.
#[derive(Clone)]
pub struct DesfireApplet {
    picc: Picc,
    vol: Volatile,
    /// The random ID (`08 xx xx xx`) of this activation when random UIDs are on.
    random_id: [u8; 4],
}

impl std::fmt::Debug for DesfireApplet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesfireApplet")
            .field("uid", &hex::encode_upper(self.picc.uid))
            .field("applications", &self.picc.apps.len())
            .finish_non_exhaustive()
    }
}

impl DesfireApplet {
    /// A blank PICC as delivered: all-zero DES master key, key settings `0F` (listing and
    /// creating free, master key changeable), no application.
    pub fn blank(uid: [u8; 7]) -> Self {
        DesfireApplet {
            picc: Picc {
                uid,
                master: Key::zero(KeyType::Des),
                ks1: 0x0F,
                apps: Default::default(),
                random_uid: false,
                format_disabled: false,
                default_key: None,
            },
            vol: Volatile::default(),
            random_id: [0x08, 0, 0, 0],
        }
    }

    /// The CPS4 of a holder: a blank PICC (UID derived from the persona) with the
    /// [`access_control`] application and its files.
    pub fn cps4(persona: &Persona) -> Self {
        use access_control as ac;
        let uid = uid_for(&persona.id);
        let mut card = DesfireApplet::blank(uid);
        let aid_bytes = aid_bytes(ac::AID);
        let m = cps_desfire::kdf::DiversificationInput::new(&uid, aid_bytes, ac::SYSTEM_IDENTIFIER);
        // AN10922 AES diversification cannot fail for a 7-byte UID, a 3-byte AID and an
        // 11-byte system identifier (31 bytes of input, at most 31 allowed).
        let door_key = cps_desfire::kdf::diversify(&ac::door_master_key(), m.as_bytes())
            .unwrap_or_else(|_| Key::zero(KeyType::Aes128));
        let keys = vec![
            ac::app_master_key(),
            door_key,
            Key::aes(ac::WRITE_KEY),
            Key::aes(ac::PURSE_KEY),
            Key::zero(KeyType::Aes128),
        ];
        let ar = |read, write, read_write, change| AccessRights {
            read,
            write,
            read_write,
            change,
        };
        let k = Access::Key;
        let mut credential = b"CPS4:".to_vec();
        credential.extend_from_slice(persona.national_id.as_bytes());
        credential.resize(32, 0);
        let mut info = b"CPS4 simulated card - cps-rs - TEST".to_vec();
        info.resize(48, b' ');
        let mut files = std::collections::BTreeMap::new();
        let mut add = |no: u8, comm, access, data| {
            files.insert(
                no,
                File {
                    comm,
                    access,
                    iso_fid: None,
                    data,
                },
            );
        };
        add(
            ac::CREDENTIAL_FILE,
            CommMode::Full,
            ar(k(1), k(0), k(0), k(0)),
            FileData::Standard(credential),
        );
        add(
            ac::LAST_PASSAGE_FILE,
            CommMode::Mac,
            ar(k(1), k(2), k(2), k(0)),
            FileData::Backup(vec![0; 16]),
        );
        add(
            ac::PURSE_FILE,
            CommMode::Full,
            ar(k(1), k(3), k(3), k(0)),
            FileData::Value(Value {
                lower: 0,
                upper: ac::PURSE_UPPER,
                value: ac::PURSE_INITIAL,
                limited_credit: 0x01,
                limited_credit_value: 0,
                debited: 0,
                limited_used: false,
            }),
        );
        add(
            ac::JOURNAL_FILE,
            CommMode::Mac,
            ar(k(1), k(2), k(2), k(0)),
            FileData::Record(Records {
                size: 16,
                max: 6,
                cyclic: true,
                records: Vec::new(),
                open: false,
            }),
        );
        add(
            ac::INFO_FILE,
            CommMode::Plain,
            ar(Access::Free, k(0), k(0), k(0)),
            FileData::Standard(info),
        );
        add(
            ac::VISITS_FILE,
            CommMode::Plain,
            ar(Access::Free, k(2), k(2), k(0)),
            FileData::Record(Records {
                size: 8,
                max: 10,
                cyclic: false,
                records: Vec::new(),
                open: false,
            }),
        );
        card.picc.apps.insert(
            ac::AID,
            App {
                // Change key: the master key (0); configuration changeable, create/delete
                // and listing with the master key only, master key changeable.
                ks1: 0x0B,
                ks2: 0x80 | ac::KEY_COUNT,
                keys,
                files,
                iso: None,
            },
        );
        card
    }

    /// A PICC that shows a random (zero) UID in GetVersion: the real one is read with
    /// GetCardUID after authentication.
    pub fn with_random_uid(mut self, random: bool) -> Self {
        self.picc.random_uid = random;
        self
    }

    /// Replaces the PICC master key (e.g. an AES key to test AES at PICC level).
    pub fn with_picc_master_key(mut self, key: Key) -> Self {
        self.picc.master = key;
        self
    }

    /// The real 7-byte UID.
    pub fn uid(&self) -> [u8; 7] {
        self.picc.uid
    }

    /// The application identifiers on the card.
    pub fn application_ids(&self) -> Vec<u32> {
        self.picc.apps.keys().copied().collect()
    }

    /// Committed contents of a standard or backup data file.
    pub fn data_file(&self, aid: u32, file_no: u8) -> Option<Vec<u8>> {
        match &self.picc.apps.get(&aid)?.files.get(&file_no)?.data {
            FileData::Standard(d) | FileData::Backup(d) => Some(d.clone()),
            _ => None,
        }
    }

    /// Committed value of a value file.
    pub fn value(&self, aid: u32, file_no: u8) -> Option<i32> {
        match &self.picc.apps.get(&aid)?.files.get(&file_no)?.data {
            FileData::Value(v) => Some(v.value),
            _ => None,
        }
    }

    /// Committed records of a record file, oldest first.
    pub fn records(&self, aid: u32, file_no: u8) -> Option<Vec<Vec<u8>>> {
        match &self.picc.apps.get(&aid)?.files.get(&file_no)?.data {
            FileData::Record(r) => Some(r.records.clone()),
            _ => None,
        }
    }

    /// A fingerprint of everything stored (keys, settings, files): equal before and after a
    /// refused command means the card state did not change.
    pub fn state_digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.picc.uid);
        h.update(self.picc.master.card_bytes().as_slice());
        h.update([
            self.picc.master.version(),
            self.picc.ks1,
            u8::from(self.picc.random_uid),
            u8::from(self.picc.format_disabled),
        ]);
        for (aid, app) in &self.picc.apps {
            h.update(aid.to_le_bytes());
            h.update(app.settings());
            for k in &app.keys {
                h.update(k.card_bytes().as_slice());
                h.update([k.version()]);
            }
            for (no, f) in &app.files {
                h.update([*no]);
                h.update(f.settings());
                match &f.data {
                    FileData::Standard(d) | FileData::Backup(d) => h.update(d),
                    FileData::Value(v) => h.update(v.value.to_le_bytes()),
                    FileData::Record(r) => r.records.iter().for_each(|x| h.update(x)),
                }
            }
        }
        h.finalize().into()
    }

    // -----------------------------------------------------------------------------------
    // Framing

    /// One native command (code and payload after unwrapping) → status and data.
    fn native(&mut self, code: u8, payload: &[u8]) -> (S, Vec<u8>) {
        if code == 0xAF {
            if let Some(p) = self.vol.pending_auth.take() {
                return self.finish_auth(p, payload);
            }
            if let Some(mut inc) = self.vol.incoming.take() {
                inc.payload.extend_from_slice(payload);
                if inc.payload.len() > inc.total {
                    return self.fail(S::LengthError);
                }
                if inc.payload.len() < inc.total {
                    self.vol.incoming = Some(inc);
                    return (S::AdditionalFrame, Vec::new());
                }
                return self.execute(inc.code, &inc.payload);
            }
            if !self.vol.outgoing.is_empty() {
                // Fetching the next answer frame: `AF` alone (notes §1); anything after it is
                // a command string of the wrong length.
                if !payload.is_empty() {
                    return self.fail(S::LengthError);
                }
                if let Some(frame) = self.vol.outgoing.pop_front() {
                    return frame;
                }
            }
            return self.fail(S::IllegalCommand);
        }
        // A new command ends whatever exchange was under way.
        self.vol.outgoing.clear();
        self.vol.pending_auth = None;
        self.vol.incoming = None;
        match code {
            0x0A | 0x1A | 0xAA | 0x71 | 0x77 => self.start_auth(code, payload),
            0xC4 => self.change_key(payload),
            0x3D | 0x3B => match self.write_length(code, payload) {
                Err(s) => self.fail(s),
                Ok(total) if payload.len() > total => self.fail(S::LengthError),
                Ok(total) if payload.len() < total => {
                    self.vol.incoming = Some(Incoming {
                        code,
                        payload: Zeroizing::new(payload.to_vec()),
                        total,
                    });
                    (S::AdditionalFrame, Vec::new())
                }
                Ok(_) => self.execute(code, payload),
            },
            _ => self.execute(code, payload),
        }
    }

    /// The whole payload length of a WriteData / WriteRecord, from its header and the
    /// session (what the reader's secure messaging adds to `length` data bytes).
    fn write_length(&self, code: u8, payload: &[u8]) -> Result<usize, S> {
        let header = payload.get(..7).ok_or(S::LengthError)?;
        let len = read_u24(header.get(4..).unwrap_or_default());
        if len == 0 || len > model::CAPACITY as usize {
            return Err(S::LengthError);
        }
        let file = self.file(header.first().copied().unwrap_or(0xFF))?;
        let protection = Protection::FileWrite(file.comm);
        let total = match &self.vol.session {
            None => 7 + len,
            Some(s) => {
                let mut probe = s.clone();
                probe
                    .seal_command(code, header, &vec![0; len], protection)
                    .map_err(|_| S::IntegrityError)?
                    .len()
            }
        };
        if total > MAX_COMMAND {
            return Err(S::LengthError);
        }
        Ok(total)
    }

    /// Opens, runs and answers a complete command.
    fn execute(&mut self, code: u8, payload: &[u8]) -> (S, Vec<u8>) {
        let spec = match self.spec(code, payload) {
            Ok(s) => s,
            Err(s) => return self.fail(s),
        };
        let Some((header, _)) = payload.split_at_checked(spec.header_len) else {
            return self.fail(S::LengthError);
        };
        let header = header.to_vec();
        let data = match self.vol.session.as_mut() {
            Some(s) if spec.protection != Protection::None => {
                match s.open_command(
                    code,
                    payload,
                    spec.header_len,
                    spec.protection,
                    spec.expected,
                ) {
                    Ok(d) => d,
                    Err(_) => return self.fail(S::IntegrityError),
                }
            }
            _ => Zeroizing::new(payload.get(spec.header_len..).unwrap_or_default().to_vec()),
        };
        if !spec.data_len.contains(&data.len()) {
            return self.fail(S::LengthError);
        }
        match self.run(code, &header, &data) {
            Ok(answer) => self.reply(code, &answer, spec.protection),
            Err(s) => self.fail(s),
        }
    }

    /// Seals a successful answer and splits it into frames.
    fn reply(&mut self, code: u8, data: &[u8], protection: Protection) -> (S, Vec<u8>) {
        let sealed = match self.vol.session.as_mut() {
            Some(s) if protection != Protection::None => {
                match s.seal_response(S::Ok, data, protection) {
                    Ok(v) => v,
                    Err(_) => return self.fail(S::IntegrityError),
                }
            }
            _ => data.to_vec(),
        };
        let mut frames: Vec<Vec<u8>> = Vec::new();
        let mut rest = sealed.as_slice();
        if code == 0x60 {
            // GetVersion: hardware, software, then the rest (datasheet framing).
            for n in [7, 7] {
                let (a, b) = rest.split_at(n.min(rest.len()));
                frames.push(a.to_vec());
                rest = b;
            }
            frames.push(rest.to_vec());
        } else {
            frames = rest.chunks(FRAME).map(<[u8]>::to_vec).collect();
            if frames.is_empty() {
                frames.push(Vec::new());
            }
        }
        let last = frames.len() - 1;
        self.vol.outgoing = frames
            .into_iter()
            .enumerate()
            .map(|(i, f)| (if i == last { S::Ok } else { S::AdditionalFrame }, f))
            .collect();
        self.vol.outgoing.pop_front().unwrap_or((S::Ok, Vec::new()))
    }

    /// An error: the PICC forgets its authentication (datasheet) and answers plain.
    fn fail(&mut self, status: S) -> (S, Vec<u8>) {
        self.drop_session();
        self.vol.pending_auth = None;
        self.vol.incoming = None;
        self.vol.outgoing.clear();
        (status, Vec::new())
    }

    fn drop_session(&mut self) {
        self.vol.session = None;
        self.vol.auth_key = None;
    }

    // -----------------------------------------------------------------------------------
    // Lookups and access rights

    fn app(&self) -> Result<&App, S> {
        self.picc
            .apps
            .get(&self.vol.selected)
            .ok_or(S::PermissionDenied)
    }

    fn file(&self, file_no: u8) -> Result<&File, S> {
        if self.vol.selected == 0 {
            return Err(S::FileNotFound);
        }
        self.app()?.files.get(&file_no).ok_or(S::FileNotFound)
    }

    /// Passes when one of `rights` is free or the key the session was opened with.
    fn require(&self, rights: &[Access]) -> Result<(), S> {
        if rights.contains(&Access::Free) {
            return Ok(());
        }
        match (self.vol.session.is_some(), self.vol.auth_key) {
            (true, Some(k)) if rights.contains(&Access::Key(k)) => Ok(()),
            (false, _) | (_, None) => Err(S::AuthenticationError),
            _ => Err(S::PermissionDenied),
        }
    }

    /// Authenticated with the master key of the current level.
    fn require_master(&self) -> Result<(), S> {
        self.require(&[Access::Key(0)])
    }

    /// KS1 of the current level.
    fn ks1(&self) -> Result<u8, S> {
        if self.vol.selected == 0 {
            Ok(self.picc.ks1)
        } else {
            Ok(self.app()?.ks1)
        }
    }

    /// Listing: free when KS1 bit 1 is set, else the master key.
    fn require_listing(&self) -> Result<(), S> {
        if self.ks1()? & 0x02 != 0 {
            Ok(())
        } else {
            self.require_master()
        }
    }

    /// Creating and deleting: free when KS1 bit 2 is set, else the master key.
    fn require_create(&self) -> Result<(), S> {
        if self.ks1()? & 0x04 != 0 {
            Ok(())
        } else {
            self.require_master()
        }
    }

    fn at_picc(&self) -> Result<(), S> {
        if self.vol.selected == 0 {
            Ok(())
        } else {
            Err(S::IllegalCommand)
        }
    }

    // -----------------------------------------------------------------------------------
    // Commands

    /// How each command travels: header length, data length and protection from the entry of
    /// the DESFire command table (`cps_desfire::table`, the one the client builds from), the
    /// file's communication mode filled in for the file commands; the few rules that depend
    /// on the request itself are added here.
    fn spec(&self, code: u8, payload: &[u8]) -> Result<Spec, S> {
        // Commands this PICC runs through execute(); the authentication steps, AF frames and
        // ChangeKey have their own paths.
        const EXECUTED: &[u8] = &[
            0x60, 0x6A, 0x6E, 0xFC, 0x45, 0x6F, 0xA7, 0xC7, 0xCA, 0xCD, 0xCB, 0xCC, 0xC1, 0xC0,
            0x64, 0xF5, 0xDF, 0xEB, 0xDA, 0x5A, 0x51, 0x54, 0x5C, 0x5F, 0xBD, 0xBB, 0x3D, 0x3B,
            0x6C, 0x0C, 0xDC, 0x1C,
        ];
        let entry = cps_desfire::table::spec(code)
            .filter(|_| EXECUTED.contains(&code))
            .ok_or(S::IllegalCommand)?;
        let comm = cps_desfire::table::comm_of(entry).ok_or(S::IllegalCommand)?;
        let file_comm = || -> Result<CommMode, S> {
            self.file(payload.first().copied().ok_or(S::LengthError)?)
                .map(|f| f.comm)
        };
        let file = match comm {
            DesfireComm::FileRead | DesfireComm::FileWrite => file_comm()?,
            _ => CommMode::Plain,
        };
        let mut spec = Spec::new(
            usize::from(entry.header),
            cps_desfire::table::protection(comm, file),
        );
        // Length rules (notes §2 "request after the code"): no data takes none, a fixed length
        // is what the deciphered data must hold, a range bounds it.
        spec = match entry.data {
            DataLen::None => spec.header_only(),
            DataLen::Fixed(n) => spec.expecting(usize::from(n)),
            DataLen::Range(0, max) => spec.data_at_most(usize::from(max)),
            DataLen::Range(..) | DataLen::Variable => spec,
        };
        Ok(match code {
            // SetConfiguration: the option byte decides the length of the enciphered data.
            0x5C => match payload.first() {
                Some(0x00) => spec.expecting(1),
                Some(0x01) => spec.expecting(25),
                _ => spec,
            },
            // ChangeFileSettings: plain-MACed when the file's change right is free; this PICC
            // takes the 3-byte form (no EV2 options).
            0x5F => {
                let file = self.file(payload.first().copied().ok_or(S::LengthError)?)?;
                if file.access.change == Access::Free {
                    spec.protection = Protection::Management;
                }
                spec.expecting(3)
            }
            // WriteData / WriteRecord: the length is in the header.
            0x3D | 0x3B => {
                let len = read_u24(payload.get(4..7).unwrap_or_default());
                spec.expecting(len)
            }
            _ => spec,
        })
    }

    /// Runs a command whose secure messaging is already removed; returns the plain answer.
    fn run(&mut self, code: u8, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        match code {
            0x60 => {
                let mut v = VERSION_HW.to_vec();
                v.extend_from_slice(&VERSION_SW);
                if self.picc.random_uid {
                    v.extend_from_slice(&[0; 7]);
                } else {
                    v.extend_from_slice(&self.picc.uid);
                }
                v.extend_from_slice(&VERSION_PRODUCTION);
                Ok(v)
            }
            0x51 => {
                if self.vol.session.is_none() {
                    return Err(S::AuthenticationError);
                }
                Ok(self.picc.uid.to_vec())
            }
            0x6A => {
                self.at_picc()?;
                self.require_listing()?;
                Ok(self.picc.apps.keys().flat_map(|a| aid_bytes(*a)).collect())
            }
            0x5A => {
                let aid = u32::try_from(read_u24(header)).unwrap_or(u32::MAX);
                if header.len() != 3 || !data.is_empty() {
                    return Err(S::LengthError);
                }
                if aid != 0 && !self.picc.apps.contains_key(&aid) {
                    return Err(S::ApplicationNotFound);
                }
                self.drop_session();
                self.vol.staged.clear();
                self.vol.selected = aid;
                Ok(Vec::new())
            }
            0x6E => Ok(u24(self.picc.free_memory() as usize).to_vec()),
            0xFC => {
                self.at_picc()?;
                self.require_master()?;
                if self.picc.format_disabled {
                    return Err(S::PermissionDenied);
                }
                self.picc.apps.clear();
                Ok(Vec::new())
            }
            0x45 => {
                self.require_listing()?;
                if self.vol.selected == 0 {
                    Ok(vec![
                        self.picc.ks1,
                        0x01 | self.picc.master.key_type().crypto_bits(),
                    ])
                } else {
                    Ok(self.app()?.settings().to_vec())
                }
            }
            0x64 => {
                let no = header.first().copied().unwrap_or(0xFF) & 0x3F;
                let key = if self.vol.selected == 0 {
                    (no == 0).then_some(&self.picc.master)
                } else {
                    self.app()?.keys.get(usize::from(no))
                };
                key.map(|k| vec![k.version()]).ok_or(S::NoSuchKey)
            }
            0x54 => self.change_key_settings(data),
            0x5C => self.set_configuration(header, data),
            0xCA => self.create_application(data),
            0xDA => {
                self.at_picc()?;
                let aid = u32::try_from(read_u24(header)).unwrap_or(u32::MAX);
                if !self.picc.apps.contains_key(&aid) {
                    return Err(S::ApplicationNotFound);
                }
                self.require_create()?;
                self.picc.apps.remove(&aid);
                Ok(Vec::new())
            }
            0x6F => {
                self.require_listing()?;
                Ok(self.app()?.files.keys().copied().collect())
            }
            0xF5 => {
                let file = self.file(header.first().copied().unwrap_or(0xFF))?;
                self.require_listing()?;
                Ok(file.settings())
            }
            0x5F => self.change_file_settings(header, data),
            0xCD | 0xCB | 0xCC | 0xC1 | 0xC0 => self.create_file(code, data),
            0xDF => {
                let no = header.first().copied().unwrap_or(0xFF);
                self.file(no)?;
                self.require_create()?;
                let selected = self.vol.selected;
                if let Some(app) = self.picc.apps.get_mut(&selected) {
                    app.files.remove(&no);
                }
                self.vol.staged.files.remove(&no);
                Ok(Vec::new())
            }
            0xBD => self.read_data(header),
            0x3D => self.write_data(header, data),
            0x6C => self.get_value(header),
            0x0C | 0xDC | 0x1C => self.value_operation(code, header, data),
            0x3B => self.write_record(header, data),
            0xBB => self.read_records(header),
            0xEB => self.clear_record_file(header),
            0xC7 => self.commit(),
            0xA7 => {
                self.app()?;
                self.vol.staged.clear();
                Ok(Vec::new())
            }
            _ => Err(S::IllegalCommand),
        }
    }

    fn change_key_settings(&mut self, data: &[u8]) -> Result<Vec<u8>, S> {
        self.require_master()?;
        let [ks1] = data else {
            return Err(S::LengthError);
        };
        if self.ks1()? & 0x08 == 0 {
            return Err(S::PermissionDenied);
        }
        if self.vol.selected == 0 {
            self.picc.ks1 = *ks1;
        } else {
            let selected = self.vol.selected;
            if let Some(app) = self.picc.apps.get_mut(&selected) {
                app.ks1 = *ks1;
            }
        }
        Ok(Vec::new())
    }

    fn set_configuration(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        self.at_picc()?;
        self.require_master()?;
        match (header.first(), data) {
            (Some(0x00), [flags]) => {
                self.picc.format_disabled = flags & 0x01 != 0;
                self.picc.random_uid = flags & 0x02 != 0;
                Ok(Vec::new())
            }
            (Some(0x01), [key @ .., version]) if key.len() == 24 => {
                let k = Key::new(KeyType::ThreeKey3Des, key).map_err(|_| S::ParameterError)?;
                self.picc.default_key = Some(k.with_version(*version));
                Ok(Vec::new())
            }
            (Some(0x00 | 0x01), _) => Err(S::LengthError),
            _ => Err(S::ParameterError),
        }
    }

    fn create_application(&mut self, data: &[u8]) -> Result<Vec<u8>, S> {
        self.at_picc()?;
        self.require_create()?;
        let [a0, a1, a2, ks1, ks2, rest @ ..] = data else {
            return Err(S::LengthError);
        };
        let aid = u32::from_le_bytes([*a0, *a1, *a2, 0]);
        let count = ks2 & 0x0F;
        if aid == 0 || !(1..=14).contains(&count) || ks2 & 0xC0 == 0xC0 {
            return Err(S::ParameterError);
        }
        let iso = if ks2 & 0x20 != 0 {
            match rest {
                [f0, f1, name @ ..] if name.len() <= 16 => {
                    Some((u16::from_le_bytes([*f0, *f1]), name.to_vec()))
                }
                _ => return Err(S::LengthError),
            }
        } else if rest.is_empty() {
            None
        } else {
            return Err(S::LengthError);
        };
        if self.picc.apps.contains_key(&aid) {
            return Err(S::Duplicate);
        }
        if self.picc.apps.len() >= model::MAX_APPLICATIONS {
            return Err(S::CountError);
        }
        self.picc.reserve(32)?;
        let mut app = App {
            ks1: *ks1,
            ks2: *ks2,
            keys: Vec::new(),
            files: Default::default(),
            iso,
        };
        let ty = app.key_type();
        let key = match &self.picc.default_key {
            Some(d) => Key::new(ty, d.expose_bytes().get(..ty.key_len()).unwrap_or_default())
                .map(|k| k.with_version(d.version()))
                .unwrap_or_else(|_| Key::zero(ty)),
            None => Key::zero(ty),
        };
        app.keys = vec![key; usize::from(count)];
        self.picc.apps.insert(aid, app);
        Ok(Vec::new())
    }

    fn change_file_settings(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        let no = header.first().copied().unwrap_or(0xFF);
        let change = self.file(no)?.access.change;
        if change == Access::Denied {
            return Err(S::PermissionDenied);
        }
        self.require(&[change])?;
        let [comm, a, b] = data else {
            return Err(S::LengthError);
        };
        let selected = self.vol.selected;
        if let Some(f) = self
            .picc
            .apps
            .get_mut(&selected)
            .and_then(|a| a.files.get_mut(&no))
        {
            f.comm = CommMode::from_option(*comm);
            f.access = AccessRights::from_bytes([*a, *b]);
        }
        Ok(Vec::new())
    }

    fn create_file(&mut self, code: u8, data: &[u8]) -> Result<Vec<u8>, S> {
        self.require_create()?;
        let iso_app = self.app()?.ks2 & 0x20 != 0;
        let (&no, rest) = data.split_first().ok_or(S::LengthError)?;
        // With ISO file identifiers the data and record files carry a 2-byte FID.
        let base = match code {
            0xCD | 0xCB => 6,
            0xC1 | 0xC0 => 9,
            _ => 16,
        };
        let (iso_fid, rest) = if code != 0xCC && rest.len() == base + 2 {
            if !iso_app {
                return Err(S::LengthError);
            }
            let (fid, r) = rest.split_at(2);
            (Some(u16::from_le_bytes([at(fid, 0), at(fid, 1)])), r)
        } else if rest.len() == base {
            (None, rest)
        } else {
            return Err(S::LengthError);
        };
        if no > cps_desfire::commands::MAX_FILE_NO {
            return Err(S::ParameterError);
        }
        let comm = CommMode::from_option(at(rest, 0));
        let access = AccessRights::from_bytes([at(rest, 1), at(rest, 2)]);
        let spec = tail(rest, 3);
        let file_data = match code {
            0xCD | 0xCB => {
                let size = read_u24(spec);
                if size == 0 {
                    return Err(S::ParameterError);
                }
                if code == 0xCD {
                    FileData::Standard(vec![0; size])
                } else {
                    FileData::Backup(vec![0; size])
                }
            }
            0xCC => {
                let (Some(lower), Some(upper), Some(value)) = (
                    read_i32(part(spec, 0, 4)),
                    read_i32(part(spec, 4, 8)),
                    read_i32(part(spec, 8, 12)),
                ) else {
                    return Err(S::LengthError);
                };
                if lower > upper || value < lower || value > upper {
                    return Err(S::BoundaryError);
                }
                FileData::Value(Value {
                    lower,
                    upper,
                    value,
                    limited_credit: at(spec, 12) & 0x03,
                    limited_credit_value: 0,
                    debited: 0,
                    limited_used: false,
                })
            }
            _ => {
                let size = read_u24(part(spec, 0, 3));
                let max = read_u24(part(spec, 3, 6));
                let cyclic = code == 0xC0;
                if size == 0 || max == 0 || (cyclic && max < 2) {
                    return Err(S::ParameterError);
                }
                FileData::Record(Records {
                    size,
                    max,
                    cyclic,
                    records: Vec::new(),
                    open: false,
                })
            }
        };
        if self.app()?.files.contains_key(&no) {
            return Err(S::Duplicate);
        }
        self.picc.reserve(file_data.footprint())?;
        let selected = self.vol.selected;
        if let Some(app) = self.picc.apps.get_mut(&selected) {
            app.files.insert(
                no,
                File {
                    comm,
                    access,
                    iso_fid,
                    data: file_data,
                },
            );
        }
        Ok(Vec::new())
    }

    fn read_data(&mut self, header: &[u8]) -> Result<Vec<u8>, S> {
        let file = self.file(at(header, 0))?;
        self.require(&[file.access.read, file.access.read_write])?;
        let (FileData::Standard(d) | FileData::Backup(d)) = &file.data else {
            return Err(S::ParameterError);
        };
        let offset = read_u24(part(header, 1, 4));
        let len = read_u24(part(header, 4, 7));
        let end = if len == 0 { d.len() } else { offset + len };
        if offset >= d.len() || end > d.len() {
            return Err(S::BoundaryError);
        }
        Ok(part(d, offset, end).to_vec())
    }

    /// WriteData / WriteRecord: `FileNo Offset(3) Length(3)` checked against the data and
    /// the file's write rights; returns the file number, offset, length and committed data.
    fn write_target(&self, header: &[u8], data: &[u8]) -> Result<(u8, usize, usize, FileData), S> {
        let no = at(header, 0);
        let file = self.file(no)?;
        self.require(&[file.access.write, file.access.read_write])?;
        let offset = read_u24(part(header, 1, 4));
        let len = read_u24(part(header, 4, 7));
        if len != data.len() {
            return Err(S::LengthError);
        }
        Ok((no, offset, len, file.data.clone()))
    }

    fn write_data(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        let (no, offset, len, committed) = self.write_target(header, data)?;
        let target = match committed {
            FileData::Standard(_) => {
                let selected = self.vol.selected;
                match self
                    .picc
                    .apps
                    .get_mut(&selected)
                    .and_then(|a| a.files.get_mut(&no))
                {
                    Some(f) => &mut f.data,
                    None => return Err(S::FileNotFound),
                }
            }
            FileData::Backup(_) => self.vol.staged.copy_of(no, &committed),
            _ => return Err(S::ParameterError),
        };
        let (FileData::Standard(d) | FileData::Backup(d)) = target else {
            return Err(S::ParameterError);
        };
        let end = offset.checked_add(len).ok_or(S::BoundaryError)?;
        let slot = d.get_mut(offset..end).ok_or(S::BoundaryError)?;
        slot.copy_from_slice(data);
        Ok(Vec::new())
    }

    fn get_value(&mut self, header: &[u8]) -> Result<Vec<u8>, S> {
        let file = self.file(at(header, 0))?;
        let FileData::Value(v) = &file.data else {
            return Err(S::ParameterError);
        };
        let a = file.access;
        if v.limited_credit & 0x02 == 0 {
            self.require(&[a.read, a.write, a.read_write])?;
        }
        Ok(v.value.to_le_bytes().to_vec())
    }

    fn value_operation(&mut self, code: u8, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        let no = at(header, 0);
        let file = self.file(no)?;
        let a = file.access;
        match code {
            0x0C => self.require(&[a.read_write])?,
            0xDC => self.require(&[a.read, a.write, a.read_write])?,
            _ => self.require(&[a.write, a.read_write])?,
        }
        let amount = read_i32(data).filter(|_| data.len() == 4);
        let Some(amount) = amount else {
            return Err(S::LengthError);
        };
        if amount < 0 {
            return Err(S::ParameterError);
        }
        let committed = file.data.clone();
        let FileData::Value(committed_value) = committed else {
            return Err(S::ParameterError);
        };
        let FileData::Value(v) = self.vol.staged.copy_of(no, &committed) else {
            return Err(S::ParameterError);
        };
        match code {
            0x0C => {
                let new = v.value.checked_add(amount).ok_or(S::BoundaryError)?;
                if new > v.upper {
                    return Err(S::BoundaryError);
                }
                v.value = new;
            }
            0xDC => {
                let new = v.value.checked_sub(amount).ok_or(S::BoundaryError)?;
                if new < v.lower {
                    return Err(S::BoundaryError);
                }
                v.value = new;
                v.debited = v.debited.saturating_add(amount);
            }
            _ => {
                if v.limited_credit & 0x01 == 0 {
                    return Err(S::PermissionDenied);
                }
                if v.limited_used || amount > committed_value.limited_credit_value {
                    return Err(S::BoundaryError);
                }
                let new = v.value.checked_add(amount).ok_or(S::BoundaryError)?;
                if new > v.upper {
                    return Err(S::BoundaryError);
                }
                v.value = new;
                v.limited_used = true;
            }
        }
        Ok(Vec::new())
    }

    fn write_record(&mut self, header: &[u8], data: &[u8]) -> Result<Vec<u8>, S> {
        let (no, offset, len, committed) = self.write_target(header, data)?;
        let FileData::Record(r) = self.vol.staged.copy_of(no, &committed) else {
            return Err(S::ParameterError);
        };
        let end = offset.checked_add(len).ok_or(S::BoundaryError)?;
        if end > r.size {
            return Err(S::BoundaryError);
        }
        if !r.open {
            if r.records.len() >= r.capacity() {
                if !r.cyclic {
                    return Err(S::BoundaryError);
                }
                r.records.remove(0);
            }
            r.records.push(vec![0; r.size]);
            r.open = true;
        }
        if let Some(slot) = r
            .records
            .last_mut()
            .and_then(|rec| rec.get_mut(offset..end))
        {
            slot.copy_from_slice(data);
        }
        Ok(Vec::new())
    }

    fn read_records(&mut self, header: &[u8]) -> Result<Vec<u8>, S> {
        let file = self.file(at(header, 0))?;
        self.require(&[file.access.read, file.access.read_write])?;
        let FileData::Record(r) = &file.data else {
            return Err(S::ParameterError);
        };
        let first = read_u24(part(header, 1, 4));
        let count = read_u24(part(header, 4, 7));
        let n = r.records.len();
        if first >= n {
            return Err(S::BoundaryError);
        }
        let available = n - first;
        let count = if count == 0 { available } else { count };
        if count > available {
            return Err(S::BoundaryError);
        }
        // Records are numbered from the newest (0); they come out oldest first.
        let newest = n - first;
        Ok(r.records
            .get(newest - count..newest)
            .unwrap_or_default()
            .concat())
    }

    fn clear_record_file(&mut self, header: &[u8]) -> Result<Vec<u8>, S> {
        let no = at(header, 0);
        let file = self.file(no)?;
        self.require(&[file.access.read_write])?;
        let committed = file.data.clone();
        let FileData::Record(r) = self.vol.staged.copy_of(no, &committed) else {
            return Err(S::ParameterError);
        };
        r.records.clear();
        r.open = false;
        Ok(Vec::new())
    }

    fn commit(&mut self) -> Result<Vec<u8>, S> {
        self.app()?;
        let selected = self.vol.selected;
        let staged = std::mem::take(&mut self.vol.staged.files);
        let Some(app) = self.picc.apps.get_mut(&selected) else {
            return Err(S::PermissionDenied);
        };
        for (no, mut data) in staged {
            match &mut data {
                FileData::Value(v) => {
                    v.limited_credit_value = if v.limited_used { 0 } else { v.debited };
                    v.debited = 0;
                    v.limited_used = false;
                }
                FileData::Record(r) => r.open = false,
                _ => {}
            }
            if let Some(f) = app.files.get_mut(&no) {
                f.data = data;
            }
        }
        Ok(Vec::new())
    }

    // -----------------------------------------------------------------------------------
    // Authentication

    fn start_auth(&mut self, code: u8, payload: &[u8]) -> (S, Vec<u8>) {
        let mode = match code {
            0x0A => AuthMode::Legacy,
            0x1A => AuthMode::Iso,
            0xAA => AuthMode::Aes,
            0x71 => AuthMode::Ev2First,
            _ => AuthMode::Ev2NonFirst,
        };
        let carry = match &self.vol.session {
            Some(SecureChannel::Ev2(s)) => Some((s.ti(), s.cmd_ctr())),
            _ => None,
        };
        let Some((&key_no, rest)) = payload.split_first() else {
            return self.fail(S::LengthError);
        };
        let mut pcd_cap2 = [0u8; 6];
        match (mode, rest) {
            (AuthMode::Ev2First, [len, caps @ ..]) if usize::from(*len) == caps.len() => {
                if caps.len() > 6 {
                    return self.fail(S::LengthError);
                }
                for (d, c) in pcd_cap2.iter_mut().zip(caps) {
                    *d = *c;
                }
            }
            (AuthMode::Ev2First, _) => return self.fail(S::LengthError),
            (_, []) => {}
            _ => return self.fail(S::LengthError),
        }
        if mode == AuthMode::Ev2NonFirst && carry.is_none() {
            return self.fail(S::AuthenticationError);
        }
        let key = if self.vol.selected == 0 {
            (key_no == 0).then(|| self.picc.master.clone())
        } else {
            self.app()
                .ok()
                .and_then(|a| a.keys.get(usize::from(key_no)).cloned())
        };
        let Some(key) = key else {
            return self.fail(S::NoSuchKey);
        };
        let ty = key.effective_type();
        let fits = match mode {
            AuthMode::Legacy => matches!(ty, KeyType::Des | KeyType::TwoKey3Des),
            AuthMode::Iso => ty != KeyType::Aes128,
            _ => ty == KeyType::Aes128,
        };
        if !fits {
            return self.fail(S::AuthenticationError);
        }
        let n = ty.random_len();
        let mut rnd_b = Zeroizing::new(vec![0u8; n]);
        OsRng.fill_bytes(&mut rnd_b);
        let cipher = key.cipher();
        let bs = cipher.block_size();
        let mut ek = rnd_b.to_vec();
        let ok = match mode {
            AuthMode::Legacy => cipher.encrypt_blocks(&mut ek),
            _ => cipher.cbc_encrypt(&mut vec![0; bs], &mut ek),
        };
        if ok.is_err() {
            return self.fail(S::AuthenticationError);
        }
        let iv = Zeroizing::new(
            ek.get(ek.len().saturating_sub(bs)..)
                .unwrap_or_default()
                .to_vec(),
        );
        // From here the previous authentication is gone, whatever happens next.
        self.drop_session();
        self.vol.pending_auth = Some(PendingAuth {
            mode,
            key_no,
            key,
            rnd_b,
            iv,
            carry,
            pcd_cap2,
        });
        (S::AdditionalFrame, ek)
    }

    fn finish_auth(&mut self, p: PendingAuth, token: &[u8]) -> (S, Vec<u8>) {
        let n = p.rnd_b.len();
        if token.len() != 2 * n {
            return self.fail(S::LengthError);
        }
        let cipher = p.key.cipher();
        let bs = cipher.block_size();
        let mut t = Zeroizing::new(token.to_vec());
        let mut iv = p.iv.clone();
        let opened = match p.mode {
            AuthMode::Legacy => cipher.send_mode_recover(&mut vec![0; bs], &mut t),
            AuthMode::Iso | AuthMode::Aes => cipher.cbc_decrypt(&mut iv, &mut t),
            _ => cipher.cbc_decrypt(&mut vec![0; bs], &mut t),
        };
        if opened.is_err() {
            return self.fail(S::LengthError);
        }
        let (rnd_a, proof) = t.split_at(n);
        if !bool::from(proof.ct_eq(rotate_left(&p.rnd_b).as_slice())) {
            return self.fail(S::AuthenticationError);
        }
        let rnd_a = Zeroizing::new(rnd_a.to_vec());
        let ty = p.key.effective_type();
        let mut answer;
        let channel = match p.mode {
            AuthMode::Legacy | AuthMode::Iso | AuthMode::Aes => {
                answer = rotate_left(&rnd_a);
                let sealed = if p.mode == AuthMode::Legacy {
                    cipher.encrypt_blocks(&mut answer)
                } else {
                    cipher.cbc_encrypt(&mut iv, &mut answer)
                };
                let key = ev1_session_key(ty, &rnd_a, &p.rnd_b);
                match (sealed, key) {
                    (Ok(()), Ok(k)) if p.mode == AuthMode::Legacy => {
                        SecureChannel::D40(D40Session::new(k))
                    }
                    (Ok(()), Ok(k)) => SecureChannel::Ev1(Ev1Session::new(k)),
                    _ => return self.fail(S::AuthenticationError),
                }
            }
            AuthMode::Ev2First | AuthMode::Ev2NonFirst => {
                let (Ok(a), Ok(b)) = (
                    <[u8; 16]>::try_from(rnd_a.as_slice()),
                    <[u8; 16]>::try_from(p.rnd_b.as_slice()),
                ) else {
                    return self.fail(S::AuthenticationError);
                };
                let (ti, ctr) = match (p.mode, p.carry) {
                    (AuthMode::Ev2NonFirst, Some(c)) => c,
                    _ => {
                        let mut ti = [0u8; 4];
                        OsRng.fill_bytes(&mut ti);
                        (ti, 0)
                    }
                };
                answer = Vec::with_capacity(32);
                if p.mode == AuthMode::Ev2First {
                    answer.extend_from_slice(&ti);
                }
                answer.extend_from_slice(&rotate_left(&rnd_a));
                if p.mode == AuthMode::Ev2First {
                    answer.extend_from_slice(&[0; 6]);
                    answer.extend_from_slice(&p.pcd_cap2);
                }
                let sealed = cipher.cbc_encrypt(&mut [0u8; 16], &mut answer);
                let session = ev2_session_keys(&p.key, &a, &b)
                    .ok()
                    .and_then(|(enc, mac)| Ev2Session::new(enc, mac, ti, ctr).ok());
                match (sealed, session) {
                    (Ok(()), Some(s)) => SecureChannel::Ev2(s),
                    _ => return self.fail(S::AuthenticationError),
                }
            }
        };
        self.vol.session = Some(channel);
        self.vol.auth_key = Some(p.key_no);
        (S::Ok, answer)
    }

    // -----------------------------------------------------------------------------------
    // ChangeKey

    fn change_key(&mut self, payload: &[u8]) -> (S, Vec<u8>) {
        match self.change_key_inner(payload) {
            Ok(true) => {
                // The session key changed: the session ends, the answer is plain.
                self.drop_session();
                (S::Ok, Vec::new())
            }
            Ok(false) => self.reply(0xC4, &[], Protection::EncipheredCommand),
            Err(s) => self.fail(s),
        }
    }

    /// Checks, deciphers and applies a ChangeKey; `Ok(true)` when the session's own key
    /// changed.
    fn change_key_inner(&mut self, payload: &[u8]) -> Result<bool, S> {
        let (&kb, cryptogram) = payload.split_first().ok_or(S::LengthError)?;
        let auth = self.vol.auth_key.ok_or(S::AuthenticationError)?;
        if self.vol.session.is_none() {
            return Err(S::AuthenticationError);
        }
        let picc_level = self.vol.selected == 0;
        let key_no = kb & 0x3F;
        let (new_type, old) = if picc_level {
            if key_no != 0 {
                return Err(S::NoSuchKey);
            }
            if auth != 0 || self.picc.ks1 & 0x01 == 0 {
                return Err(S::PermissionDenied);
            }
            let ty = match kb & 0xC0 {
                0x80 => KeyType::Aes128,
                0x40 => KeyType::ThreeKey3Des,
                0x00 => KeyType::TwoKey3Des,
                _ => return Err(S::ParameterError),
            };
            (ty, self.picc.master.clone())
        } else {
            let app = self.app()?;
            let old = app.keys.get(usize::from(key_no)).ok_or(S::NoSuchKey)?;
            let allowed = if key_no == 0 {
                auth == 0 && app.ks1 & 0x01 != 0
            } else {
                match app.ks1 >> 4 {
                    0x0 => auth == 0,
                    0xE => auth == key_no,
                    0xF => false,
                    k => auth == k,
                }
            };
            if !allowed {
                return Err(S::PermissionDenied);
            }
            (app.key_type(), old.clone())
        };
        let same = key_no == auth;
        let len = new_type.card_len();
        let aes = new_type == KeyType::Aes128;
        let Some(session) = self.vol.session.as_mut() else {
            return Err(S::AuthenticationError);
        };
        // Recover `K || [version] || ...` and check the checksums of each generation.
        let (mut k, version, new_key_check): (Zeroizing<Vec<u8>>, u8, Option<Vec<u8>>) =
            match session {
                SecureChannel::Ev2(s) => {
                    let plain = s
                        .open_command(0xC4, payload, 1, Protection::EncipheredCommand)
                        .map_err(|_| S::IntegrityError)?;
                    let want = len + 1 + if same { 0 } else { 4 };
                    if plain.len() != want {
                        return Err(S::LengthError);
                    }
                    let check = (!same).then(|| tail(&plain, len + 1).to_vec());
                    (
                        Zeroizing::new(part(&plain, 0, len).to_vec()),
                        at(&plain, len),
                        check,
                    )
                }
                SecureChannel::Ev1(s) => {
                    let plain = s.decipher(cryptogram).map_err(|_| S::IntegrityError)?;
                    let body = len + usize::from(aes);
                    let want = body + 4 + if same { 0 } else { 4 };
                    if plain.len() < want || tail(&plain, want).iter().any(|&b| b != 0) {
                        return Err(S::IntegrityError);
                    }
                    let crc = crc32_update(crc32_desfire(&[0xC4, kb]), part(&plain, 0, body));
                    if !bool::from(crc.to_le_bytes().ct_eq(part(&plain, body, body + 4))) {
                        return Err(S::IntegrityError);
                    }
                    let check = (!same).then(|| part(&plain, body + 4, body + 8).to_vec());
                    let version = if aes { at(&plain, len) } else { 0 };
                    (
                        Zeroizing::new(part(&plain, 0, len).to_vec()),
                        version,
                        check,
                    )
                }
                SecureChannel::D40(s) => {
                    let mut plain = Zeroizing::new(cryptogram.to_vec());
                    s.key()
                        .cipher()
                        .send_mode_recover(&mut [0u8; 8], &mut plain)
                        .map_err(|_| S::IntegrityError)?;
                    let want = len + 2 + if same { 0 } else { 2 };
                    if plain.len() < want || tail(&plain, want).iter().any(|&b| b != 0) {
                        return Err(S::IntegrityError);
                    }
                    let crc = crc16_a(part(&plain, 0, len)).to_le_bytes();
                    if !bool::from(crc.ct_eq(part(&plain, len, len + 2))) {
                        return Err(S::IntegrityError);
                    }
                    let check = (!same).then(|| part(&plain, len + 2, len + 4).to_vec());
                    (Zeroizing::new(part(&plain, 0, len).to_vec()), 0, check)
                }
            };
        if !same {
            let old_bytes = old.card_bytes();
            for (i, b) in k.iter_mut().enumerate() {
                *b ^= old_bytes
                    .get(i % old_bytes.len().max(1))
                    .copied()
                    .unwrap_or(0);
            }
            let expected = match self.vol.session {
                Some(SecureChannel::D40(_)) => crc16_a(&k).to_le_bytes().to_vec(),
                _ => crc32_desfire(&k).to_le_bytes().to_vec(),
            };
            let got = new_key_check.unwrap_or_default();
            if !bool::from(expected.as_slice().ct_eq(got.as_slice())) {
                return Err(S::IntegrityError);
            }
        }
        let mut new_key = Key::new(new_type, &k).map_err(|_| S::ParameterError)?;
        if aes {
            new_key = new_key.with_version(version);
        }
        if picc_level {
            self.picc.master = new_key;
        } else {
            let selected = self.vol.selected;
            if let Some(slot) = self
                .picc
                .apps
                .get_mut(&selected)
                .and_then(|a| a.keys.get_mut(usize::from(key_no)))
            {
                *slot = new_key;
            }
        }
        Ok(same)
    }
}

/// Byte `i`, or 0 past the end (lengths are checked before; this keeps parsing panic-free).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// `s[from..to]`, or empty when out of range.
fn part(s: &[u8], from: usize, to: usize) -> &[u8] {
    s.get(from..to).unwrap_or_default()
}

/// `s[from..]`, or empty when out of range.
fn tail(s: &[u8], from: usize) -> &[u8] {
    s.get(from..).unwrap_or_default()
}

/// The 3 AID bytes as sent (little-endian).
fn aid_bytes(aid: u32) -> [u8; 3] {
    let b = aid.to_le_bytes();
    [b[0], b[1], b[2]]
}

/// A stable 7-byte NXP UID (`04 ...`) for a persona.
fn uid_for(id: &str) -> [u8; 7] {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("cps-rs desfire uid {id}").as_bytes());
    let mut uid = [0u8; 7];
    uid[0] = 0x04;
    for (d, s) in uid.iter_mut().skip(1).zip(h.iter()) {
        *d = *s;
    }
    uid
}

impl Applet for DesfireApplet {
    fn name(&self) -> &str {
        "MIFARE DESFire"
    }

    fn aid(&self) -> &[u8] {
        &DF_NAME
    }

    fn available_on(&self, interface: Interface) -> bool {
        interface == Interface::Contactless
    }

    fn selected_at_power_on(&self) -> bool {
        true
    }

    fn owns_class(&self, cla: u8) -> bool {
        cla == cps_desfire::frame::WRAPPED_CLA
    }

    fn select(&mut self, _ctx: &AppletContext) -> Response {
        self.vol = Volatile::default();
        Response::status(StatusWord::SUCCESS)
    }

    fn process_native(&mut self, frame: &[u8], _ctx: &AppletContext) -> Option<Vec<u8>> {
        // First byte `00`: ISO 7816-4; `90`: ISO-wrapped; anything else is a native frame
        // (notes §1, §8; no native command code is `00` or `90`).
        let (&code, payload) = frame.split_first()?;
        if code == 0x00 || code == cps_desfire::frame::WRAPPED_CLA {
            return None;
        }
        let (status, data) = self.native(code, payload);
        Some(cps_desfire::frame::native_response(status, &data))
    }

    fn picc_uid(&self) -> Option<Vec<u8>> {
        Some(if self.picc.random_uid {
            self.random_id.to_vec()
        } else {
            self.picc.uid.to_vec()
        })
    }

    fn process(&mut self, command: &Command, _: &AppletContext, _: &mut Storage<'_>) -> Response {
        if command.cla != cps_desfire::frame::WRAPPED_CLA {
            // ISO 7816-4 file access is not emulated: no application here has ISO file
            // identifiers, so a SELECT finds nothing and other instructions are unknown.
            return Response::status(if command.ins == 0xA4 {
                StatusWord::FILE_NOT_FOUND
            } else {
                StatusWord::INS_NOT_SUPPORTED
            });
        }
        if (command.p1, command.p2) != (0, 0) {
            return Response::status(StatusWord::INCORRECT_P1P2);
        }
        let (status, data) = self.native(command.ins, &command.data);
        Response::new(data, StatusWord::new(0x91, status.code()))
    }

    fn reset(&mut self) {
        self.vol = Volatile::default();
        // A random-UID PICC shows a new random ID at each activation (ISO/IEC 14443-3:
        // a 4-byte UID starting with 08).
        OsRng.fill_bytes(self.random_id.get_mut(1..).unwrap_or_default());
    }

    fn boxed_clone(&self) -> Box<dyn Applet> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_in_session(ctr: u16) -> (DesfireApplet, Ev2Session) {
        let holder = crate::persona::persona("dr-martin").unwrap();
        let mut card = DesfireApplet::cps4(&holder);
        let session =
            Ev2Session::new(Key::aes([1; 16]), Key::aes([2; 16]), [9, 8, 7, 6], ctr).unwrap();
        card.vol.selected = access_control::AID;
        card.vol.session = Some(SecureChannel::Ev2(session.clone()));
        card.vol.auth_key = Some(2);
        (card, session)
    }

    #[test]
    fn command_counter_overflow_ends_the_session_and_changes_nothing() {
        let (mut card, mut host) = card_in_session(0xFFFE);
        let before = card.state_digest();
        // The last command the counter allows.
        let p = Protection::Management;
        let payload = host.seal_command(0x6F, &[], &[], p).unwrap();
        let (status, data) = card.native(0x6F, &payload);
        assert_eq!(status, S::Ok);
        let ids = host.open_response(S::Ok, &data, p).unwrap();
        assert_eq!(&ids[..], &[1, 2, 3, 4, 5, 6]);
        assert_eq!(host.cmd_ctr(), 0xFFFF);
        // The host refuses to seal another; a forged frame is refused by the card.
        assert_eq!(
            host.seal_command(0x6F, &[], &[], p),
            Err(cps_desfire::SmError::CounterOverflow)
        );
        let (status, _) = card.native(0x6F, &[0; 8]);
        assert_eq!(status, S::IntegrityError);
        assert!(card.vol.session.is_none());
        assert_eq!(card.state_digest(), before);
    }

    #[test]
    fn transactions_are_lost_at_power_off_and_selection() {
        let (mut card, mut host) = card_in_session(0);
        let p = Protection::FileWrite(CommMode::Mac);
        let header = [access_control::LAST_PASSAGE_FILE, 0, 0, 0, 2, 0, 0];
        let payload = host.seal_command(0x3D, &header, b"hi", p).unwrap();
        assert_eq!(card.native(0x3D, &payload).0, S::Ok);
        assert!(!card.vol.staged.files.is_empty());
        card.reset();
        assert!(card.vol.staged.files.is_empty());
        assert_eq!(
            card.data_file(access_control::AID, access_control::LAST_PASSAGE_FILE),
            Some(vec![0; 16])
        );
    }

    #[test]
    fn frames_out_of_order_are_refused() {
        let holder = crate::persona::persona("dr-martin").unwrap();
        let mut card = DesfireApplet::cps4(&holder);
        // AF with nothing pending.
        assert_eq!(card.native(0xAF, &[]).0, S::IllegalCommand);
        // An authentication answer of the wrong length.
        assert_eq!(card.native(0x1A, &[0]).0, S::AdditionalFrame);
        assert_eq!(card.native(0xAF, &[0; 5]).0, S::LengthError);
        // EV2NonFirst without an EV2 session.
        assert_eq!(card.native(0x77, &[0]).0, S::AuthenticationError);
        // Unknown command code.
        assert_eq!(card.native(0x42, &[]).0, S::IllegalCommand);
    }
}
