//! Badge provisioning as an establishment does it ([`provision`]), and the door check that
//! reads the badge in 4 exchanges ([`door_check`]). Formats and key derivation:
//! [`crate::badge`].
//!
//! ## What [`provision`] does, and what each step costs
//!
//! | step | exchanges | when |
//! |---|---|---|
//! | `SelectApplication(000000)`: PICC level, ending whatever session a previous client left | 1 | always |
//! | `GetVersion`: the UID | 3 | always (random-UID cards: + `GetCardUID` 1 after step 2) |
//! | PICC authentication: all-zero DES key (ISO `1A`), else the establishment's PICC key (EV2First) | 2 (+2 when the first key is refused) | always |
//! | `GetApplicationIDs` | 1 | always |
//! | `CreateApplication` (AES keys, KS1 `09`: keys changed and files created with key 0 only) | 1 | application missing |
//! | `SelectApplication`, `GetKeyVersion(0)` | 2 | always |
//! | EV2First with key 0 (all-zero if version 0, else the card's diversified key) | 2 | always |
//! | `GetKeyVersion(door key)`, `ChangeKey(door key)` | 1 + 1 | door key still the default |
//! | `ChangeKey(0)` then EV2First with the new key 0 | 1 + 2 | key 0 still the default |
//! | `GetFileIDs` (+ `GetFileSettings` when the file exists) | 1 (+1) | always |
//! | `CreateBackupDataFile` | 1 | file missing |
//! | `ReadData`: the badge as it is | 1 | always |
//! | `WriteData`, `CommitTransaction` | 1–2 + 1 | record differs |
//! | verification as a door does it: `SelectApplication`, EV2First with the door key, `ReadData` | 4 | always |
//! | `SelectApplication(000000)`, PICC authentication, `ChangeKey(PICC)` | 1 + 2 + 1 | `change_picc_key` and still the delivered key |
//!
//! ## Tear safety
//!
//! Every write is one atomic card operation (a key change, a creation, a backup-file commit),
//! and each run starts from what the card says (key versions, application and file lists,
//! the record read back), never from what a previous run believed. A card pulled at any
//! exchange therefore keeps either its previous state or a state that the next run
//! completes: a created application with its all-zero keys (version 0) gets its keys; a door
//! key changed but not the master key gets the master key; a created but empty badge file,
//! or a write not committed (the backup file keeps its old content), gets the record. The
//! tests cut the power at every exchange of a run, with the command delivered and not, and
//! check exactly that.
//!
//! [`ProvisionOptions::dry_run`] sends only commands that change nothing (reads,
//! authentications) and reports the steps a real run would take.

use std::string::String;
use std::vec::Vec;

use cps_transport::CardChannel;

use crate::auth::{AuthError, AuthMode};
use crate::badge::{BadgeError, BadgeRecord, Date, DoorProfile, EstablishmentKeys, RECORD_LEN};
use crate::client::{Credential, Desfire, DesfireError, DoorConfig, Refusal, UidSource};
use crate::commands::{
    Access, AccessRights, Aid, ApplicationSpec, ChangeKey, FileKind, FileSpec, FileType,
};
use crate::crypto::{Key, KeyType};
use crate::frame::DesfireStatus;
use crate::kdf::KdfError;

/// KS1 of the establishment's application: master key changeable (bit 0), configuration
/// changeable (bit 3); listing, creating and deleting need key 0 (bits 1, 2 clear); keys are
/// changed with key 0 (bits 7..4 = 0) (notes §3).
pub const APPLICATION_KS1: u8 = 0x09;

/// A step of [`provision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `GetVersion` (or `GetCardUID` on a random-UID card).
    ReadUid,
    /// PICC-level authentication with the current PICC master key.
    PiccAuthentication,
    /// `GetApplicationIDs`.
    ListApplications,
    /// `CreateApplication`.
    CreateApplication,
    /// `SelectApplication` and key versions.
    SelectApplication,
    /// Authentication with key 0 of the application.
    ApplicationAuthentication,
    /// `ChangeKey` of the door key.
    SetDoorKey,
    /// `ChangeKey` of the application master key.
    SetMasterKey,
    /// `CreateBackupDataFile` of the badge file.
    CreateBadgeFile,
    /// `WriteData` + `CommitTransaction` of the badge record.
    WriteBadge,
    /// A door check with the door key: the badge reads back as written.
    Verify,
    /// `ChangeKey` of the PICC master key.
    ChangePiccKey,
}

impl core::fmt::Display for Step {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Step::ReadUid => "reading the card UID",
            Step::PiccAuthentication => "authenticating to the card (PICC master key)",
            Step::ListApplications => "listing the applications",
            Step::CreateApplication => "creating the application",
            Step::SelectApplication => "selecting the application",
            Step::ApplicationAuthentication => "authenticating with the application master key",
            Step::SetDoorKey => "setting the door key",
            Step::SetMasterKey => "setting the application master key",
            Step::CreateBadgeFile => "creating the badge file",
            Step::WriteBadge => "writing the badge record",
            Step::Verify => "checking the badge as a door does",
            Step::ChangePiccKey => "changing the PICC master key",
        })
    }
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done now.
    Done(String),
    /// Nothing to do: the card is already so.
    AlreadyDone(String),
    /// Dry run: a real run would do this.
    WouldDo(String),
}

impl Outcome {
    /// The detail text.
    pub fn detail(&self) -> &str {
        match self {
            Outcome::Done(s) | Outcome::AlreadyDone(s) | Outcome::WouldDo(s) => s,
        }
    }
}

/// Settings of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProvisionOptions {
    /// Replace the PICC master key by the establishment's (diversified per card).
    pub change_picc_key: bool,
    /// Change nothing; report what a run would do.
    pub dry_run: bool,
}

/// Which PICC master key the card has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiccKey {
    /// The all-zero DES key, as delivered.
    Delivered,
    /// The establishment's (AN10922 from its PICC master key).
    Establishment,
}

/// What [`provision`] did.
#[derive(Debug, Clone)]
pub struct ProvisionReport {
    /// The card UID the keys were diversified with.
    pub uid: Vec<u8>,
    /// Each step and its outcome, in order.
    pub steps: Vec<(Step, Outcome)>,
    /// Whether the card was changed.
    pub changed: bool,
    /// The PICC master key at the end.
    pub picc_key: PiccKey,
    /// APDU exchanges of the run.
    pub exchanges: u64,
}

/// Why provisioning stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProvisionError {
    /// A card command failed while doing `step`.
    #[error("{step}: {source}")]
    Card {
        /// What was being done.
        step: Step,
        /// The failure.
        source: DesfireError,
    },
    /// The key file lacks a key this run needs.
    #[error("the establishment keys have no {0}")]
    MissingKey(&'static str),
    /// Neither the delivered PICC key nor the establishment's opens the card.
    #[error("the PICC master key is neither the delivered all-zero key nor the establishment's")]
    PiccKeyUnknown,
    /// The application exists with keys that are not new and not the establishment's.
    #[error(
        "application {aid} exists with key {key_no} at version {version}: neither new (0) nor the establishment's ({expected})"
    )]
    ForeignApplication {
        /// The application.
        aid: Aid,
        /// The key.
        key_no: u8,
        /// Its version on the card.
        version: u8,
        /// The establishment's key version.
        expected: u8,
    },
    /// The application's key 0 refuses both the default and the establishment's key.
    #[error("application {0}: key 0 is neither the default key nor the establishment's")]
    ApplicationKeyUnknown(Aid),
    /// The badge file exists with other settings than the profile's.
    #[error("file {file} exists with other settings than the profile's ({what})")]
    FileMismatch {
        /// The file.
        file: u8,
        /// What differs.
        what: &'static str,
    },
    /// The badge read back is not the one written.
    #[error("the badge read back with the door key differs from the one written")]
    VerifyMismatch,
    /// The verification door check refused the card.
    #[error("checking the badge as a door does: {0}")]
    Verify(DoorRefusal),
    /// Key diversification failed (UID or system identifier too long).
    #[error("key diversification failed")]
    Kdf(#[from] KdfError),
}

/// Records steps and calls the progress callback.
struct Run<'a> {
    steps: Vec<(Step, Outcome)>,
    progress: &'a mut dyn FnMut(Step, &Outcome),
    changed: bool,
}

impl Run<'_> {
    fn note(&mut self, step: Step, outcome: Outcome) {
        if matches!(outcome, Outcome::Done(_)) {
            self.changed = true;
        }
        (self.progress)(step, &outcome);
        self.steps.push((step, outcome));
    }
}

fn at(step: Step) -> impl Fn(DesfireError) -> ProvisionError {
    move |source| ProvisionError::Card { step, source }
}

/// Whether the error is the card refusing a key (as opposed to a transport failure).
fn key_refused(e: &DesfireError) -> bool {
    matches!(
        e,
        DesfireError::Auth(AuthError::WrongKey(_) | AuthError::Refused(_))
            | DesfireError::Status {
                status: DesfireStatus::AuthenticationError,
                ..
            }
    )
}

/// Authenticates with `key`: EV2First for AES (AuthenticateAES on an EV1 card), ISO for DES.
pub fn authenticate<C: CardChannel>(
    d: &mut Desfire<C>,
    key_no: u8,
    key: &Key,
) -> Result<(), DesfireError> {
    if key.key_type() != KeyType::Aes128 {
        return d.authenticate(AuthMode::Iso, key_no, key.clone());
    }
    match d.authenticate(AuthMode::Ev2First, key_no, key.clone()) {
        Err(DesfireError::Auth(AuthError::Refused(DesfireStatus::IllegalCommand))) => {
            d.authenticate(AuthMode::Aes, key_no, key.clone())
        }
        other => other,
    }
}

/// Provisions the badge of `record` on the card behind `d`: see the module documentation.
/// `progress` is called after each step.
pub fn provision<C: CardChannel>(
    d: &mut Desfire<C>,
    profile: &DoorProfile,
    keys: &EstablishmentKeys,
    record: &BadgeRecord,
    options: ProvisionOptions,
    progress: &mut dyn FnMut(Step, &Outcome),
) -> Result<ProvisionReport, ProvisionError> {
    let app_master = keys
        .app_master
        .as_ref()
        .ok_or(ProvisionError::MissingKey("app-master-key"))?;
    let door_master = keys
        .door_master
        .as_ref()
        .ok_or(ProvisionError::MissingKey("door-master-key"))?;
    if options.change_picc_key && keys.picc_master.is_none() {
        return Err(ProvisionError::MissingKey("picc-master-key"));
    }
    let start = d.round_trips();
    let dry = options.dry_run;
    let kv = keys.key_version;
    let aid = profile.aid;
    let mut run = Run {
        steps: Vec::new(),
        progress,
        changed: false,
    };

    // The UID, then the PICC master key.
    // PICC level first, whatever a previous client left on the card (an application
    // selected, a session open): `SelectApplication(000000)` ends it.
    d.select_application(Aid::PICC).map_err(at(Step::ReadUid))?;
    let version = d.get_version().map_err(at(Step::ReadUid))?;
    let mut uid = version.uid.to_vec();
    let random_uid = uid.iter().all(|&b| b == 0);
    let mut picc = picc_authenticate(d, profile, keys, (!random_uid).then_some(uid.as_slice()))?;
    if random_uid {
        uid = d.get_card_uid().map_err(at(Step::ReadUid))?;
    }
    run.note(Step::ReadUid, Outcome::AlreadyDone(format_hex(&uid)));
    run.note(
        Step::PiccAuthentication,
        Outcome::AlreadyDone(
            match picc {
                PiccKey::Delivered => "the delivered all-zero key",
                PiccKey::Establishment => "the establishment's key",
            }
            .into(),
        ),
    );

    // The application.
    let apps = d
        .get_application_ids()
        .map_err(at(Step::ListApplications))?;
    run.note(
        Step::ListApplications,
        Outcome::AlreadyDone(std::format!("{} application(s)", apps.len())),
    );
    let key0 = profile.card_key(app_master, &uid, 0)?.with_version(kv);
    let door_key = profile
        .card_key(door_master, &uid, profile.key_no)?
        .with_version(kv);
    let exists = apps.contains(&aid);
    let what = std::format!("{aid}, {} AES keys", profile.key_count());
    if exists {
        run.note(Step::CreateApplication, Outcome::AlreadyDone(what));
    } else if dry {
        run.note(Step::CreateApplication, Outcome::WouldDo(what));
        for (step, what) in [
            (
                Step::SetDoorKey,
                std::format!("key {} (version {kv})", profile.key_no),
            ),
            (Step::SetMasterKey, std::format!("key 0 (version {kv})")),
            (Step::CreateBadgeFile, badge_file_text(profile)),
            (Step::WriteBadge, record_text(record)),
            (Step::Verify, "door key reads the badge".into()),
        ] {
            run.note(step, Outcome::WouldDo(what));
        }
        picc_step(d, profile, keys, &uid, &mut picc, options, &mut run)?;
        return Ok(finish(d, start, uid, run, picc));
    } else {
        d.create_application(&ApplicationSpec {
            aid,
            key_settings: APPLICATION_KS1,
            key_count: profile.key_count(),
            key_type: KeyType::Aes128,
            iso: None,
        })
        .map_err(at(Step::CreateApplication))?;
        run.note(Step::CreateApplication, Outcome::Done(what));
    }

    // Its keys: version 0 = still the all-zero key of a new application.
    d.select_application(aid)
        .map_err(at(Step::SelectApplication))?;
    let v0 = d.get_key_version(0).map_err(at(Step::SelectApplication))?;
    run.note(
        Step::SelectApplication,
        Outcome::AlreadyDone(std::format!("key 0 at version {v0}")),
    );
    let foreign = |key_no, version| ProvisionError::ForeignApplication {
        aid,
        key_no,
        version,
        expected: kv,
    };
    let current0 = match v0 {
        0 => Key::zero(KeyType::Aes128),
        v if v == kv => key0.clone(),
        v => return Err(foreign(0, v)),
    };
    authenticate(d, 0, &current0).map_err(|e| {
        if key_refused(&e) {
            ProvisionError::ApplicationKeyUnknown(aid)
        } else {
            at(Step::ApplicationAuthentication)(e)
        }
    })?;
    run.note(
        Step::ApplicationAuthentication,
        Outcome::AlreadyDone(
            if v0 == 0 {
                "all-zero key of a new application"
            } else {
                "the card's key 0"
            }
            .into(),
        ),
    );
    let vd = d
        .get_key_version(profile.key_no)
        .map_err(at(Step::SetDoorKey))?;
    let what = std::format!("key {} (version {kv})", profile.key_no);
    match vd {
        v if v == kv => run.note(Step::SetDoorKey, Outcome::AlreadyDone(what)),
        0 if dry => run.note(Step::SetDoorKey, Outcome::WouldDo(what)),
        0 => {
            let change = ChangeKey::new(profile.key_no, door_key.clone())
                .map_err(|e| at(Step::SetDoorKey)(e.into()))?
                .old_key(Key::zero(KeyType::Aes128));
            d.change_key(&change).map_err(at(Step::SetDoorKey))?;
            run.note(Step::SetDoorKey, Outcome::Done(what));
        }
        v => return Err(foreign(profile.key_no, v)),
    }
    let what = std::format!("key 0 (version {kv})");
    if v0 == kv {
        run.note(Step::SetMasterKey, Outcome::AlreadyDone(what));
    } else if dry {
        run.note(Step::SetMasterKey, Outcome::WouldDo(what));
    } else {
        let change =
            ChangeKey::new(0, key0.clone()).map_err(|e| at(Step::SetMasterKey)(e.into()))?;
        // Changing the session's own key ends the session: authenticate again with it.
        d.change_key(&change).map_err(at(Step::SetMasterKey))?;
        authenticate(d, 0, &key0).map_err(at(Step::SetMasterKey))?;
        run.note(Step::SetMasterKey, Outcome::Done(what));
    }

    // The badge file and its record.
    let files = d.get_file_ids().map_err(at(Step::CreateBadgeFile))?;
    let what = badge_file_text(profile);
    if files.contains(&profile.file_no) {
        check_badge_file(d, profile)?;
        run.note(Step::CreateBadgeFile, Outcome::AlreadyDone(what));
    } else if dry {
        run.note(Step::CreateBadgeFile, Outcome::WouldDo(what));
        run.note(Step::WriteBadge, Outcome::WouldDo(record_text(record)));
    } else {
        d.create_data_file(&badge_file_spec(profile), RECORD_LEN as u32, true)
            .map_err(at(Step::CreateBadgeFile))?;
        run.note(Step::CreateBadgeFile, Outcome::Done(what));
    }
    let wanted = record.encode();
    if files.contains(&profile.file_no) || !dry {
        let current = d
            .read_data(profile.file_no, 0, RECORD_LEN as u32)
            .map_err(at(Step::WriteBadge))?;
        let what = record_text(record);
        if current.as_slice() == wanted.as_slice() {
            run.note(Step::WriteBadge, Outcome::AlreadyDone(what));
        } else if dry {
            run.note(Step::WriteBadge, Outcome::WouldDo(what));
        } else {
            d.write_data(profile.file_no, 0, &wanted)
                .map_err(at(Step::WriteBadge))?;
            d.commit_transaction().map_err(at(Step::WriteBadge))?;
            run.note(Step::WriteBadge, Outcome::Done(what));
        }
    }

    // What a door will do.
    if dry && (v0 != kv || vd != kv || !files.contains(&profile.file_no)) {
        run.note(
            Step::Verify,
            Outcome::WouldDo("door key reads the badge".into()),
        );
    } else {
        let read = door_check(d, profile, door_master, Some(&uid), None)
            .map_err(ProvisionError::Verify)?;
        if read.record != *record && !dry {
            return Err(ProvisionError::VerifyMismatch);
        }
        run.note(
            Step::Verify,
            Outcome::AlreadyDone(std::format!(
                "door key reads the badge in {} exchanges",
                read.credential.exchanges
            )),
        );
    }
    picc_step(d, profile, keys, &uid, &mut picc, options, &mut run)?;
    Ok(finish(d, start, uid, run, picc))
}

fn finish<C: CardChannel>(
    d: &Desfire<C>,
    start: u64,
    uid: Vec<u8>,
    run: Run<'_>,
    picc: PiccKey,
) -> ProvisionReport {
    ProvisionReport {
        uid,
        changed: run.changed,
        steps: run.steps,
        picc_key: picc,
        exchanges: d.round_trips() - start,
    }
}

/// Authenticates at PICC level: the delivered all-zero DES key, else the establishment's.
fn picc_authenticate<C: CardChannel>(
    d: &mut Desfire<C>,
    profile: &DoorProfile,
    keys: &EstablishmentKeys,
    uid: Option<&[u8]>,
) -> Result<PiccKey, ProvisionError> {
    let step = Step::PiccAuthentication;
    match authenticate(d, 0, &Key::zero(KeyType::Des)) {
        Ok(()) => return Ok(PiccKey::Delivered),
        Err(e) if !key_refused(&e) => return Err(at(step)(e)),
        Err(_) => {}
    }
    let (Some(master), Some(uid)) = (keys.picc_master.as_ref(), uid) else {
        return Err(ProvisionError::PiccKeyUnknown);
    };
    let key = profile.picc_key(master, uid)?;
    match authenticate(d, 0, &key) {
        Ok(()) => Ok(PiccKey::Establishment),
        Err(e) if key_refused(&e) => Err(ProvisionError::PiccKeyUnknown),
        Err(e) => Err(at(step)(e)),
    }
}

/// The optional PICC master key change, last (the application is complete by then).
fn picc_step<C: CardChannel>(
    d: &mut Desfire<C>,
    profile: &DoorProfile,
    keys: &EstablishmentKeys,
    uid: &[u8],
    picc: &mut PiccKey,
    options: ProvisionOptions,
    run: &mut Run<'_>,
) -> Result<(), ProvisionError> {
    if !options.change_picc_key {
        return Ok(());
    }
    let master = keys
        .picc_master
        .as_ref()
        .ok_or(ProvisionError::MissingKey("picc-master-key"))?;
    let what = std::format!("AES, version {}", keys.key_version);
    if *picc == PiccKey::Establishment {
        run.note(Step::ChangePiccKey, Outcome::AlreadyDone(what));
        return Ok(());
    }
    if options.dry_run {
        run.note(Step::ChangePiccKey, Outcome::WouldDo(what));
        return Ok(());
    }
    let step = Step::ChangePiccKey;
    let new = profile
        .picc_key(master, uid)?
        .with_version(keys.key_version);
    d.select_application(Aid::PICC).map_err(at(step))?;
    authenticate(d, 0, &Key::zero(KeyType::Des)).map_err(at(step))?;
    let change = ChangeKey::new(0, new)
        .map_err(|e| at(step)(e.into()))?
        .at_picc_level();
    d.change_key(&change).map_err(at(step))?;
    *picc = PiccKey::Establishment;
    run.note(step, Outcome::Done(what));
    Ok(())
}

/// The badge file's access rights: read with the door key, write and change with key 0.
pub fn badge_access(profile: &DoorProfile) -> AccessRights {
    AccessRights {
        read: Access::Key(profile.key_no),
        write: Access::Key(0),
        read_write: Access::Key(0),
        change: Access::Key(0),
    }
}

fn badge_file_spec(profile: &DoorProfile) -> FileSpec {
    FileSpec {
        file_no: profile.file_no,
        iso_fid: None,
        comm: profile.comm,
        access: badge_access(profile),
    }
}

fn badge_file_text(profile: &DoorProfile) -> String {
    std::format!(
        "file {}: backup data file, {RECORD_LEN} bytes, {:?} mode, read with key {}",
        profile.file_no,
        profile.comm,
        profile.key_no
    )
}

fn record_text(record: &BadgeRecord) -> String {
    std::format!(
        "holder {}, valid {} to {}",
        record.holder,
        record.valid_from,
        record.valid_until
    )
}

/// An existing badge file must be what the profile says (never overwritten otherwise).
fn check_badge_file<C: CardChannel>(
    d: &mut Desfire<C>,
    profile: &DoorProfile,
) -> Result<(), ProvisionError> {
    let s = d
        .get_file_settings(profile.file_no)
        .map_err(at(Step::CreateBadgeFile))?;
    let file = profile.file_no;
    if s.file_type != FileType::Backup {
        return Err(ProvisionError::FileMismatch {
            file,
            what: "not a backup data file",
        });
    }
    if s.kind
        != (FileKind::Data {
            size: RECORD_LEN as u32,
        })
    {
        return Err(ProvisionError::FileMismatch { file, what: "size" });
    }
    if s.comm_mode() != profile.comm {
        return Err(ProvisionError::FileMismatch {
            file,
            what: "communication mode",
        });
    }
    if s.access != badge_access(profile) {
        return Err(ProvisionError::FileMismatch {
            file,
            what: "access rights",
        });
    }
    Ok(())
}

fn format_hex(b: &[u8]) -> String {
    b.iter().map(|x| std::format!("{x:02X}")).collect()
}

/// A badge read by [`door_check`].
#[derive(Debug, Clone)]
pub struct DoorRead {
    /// The credential as [`Desfire::door_check_with`] read it (exchanges included).
    pub credential: Credential,
    /// The badge record.
    pub record: BadgeRecord,
}

/// Why a badge does not open the door.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoorRefusal {
    /// The card flow refused it (wrong key, no application, altered answer...).
    #[error(transparent)]
    Card(#[from] Refusal),
    /// The file does not hold a badge record.
    #[error("the badge file does not hold a badge: {0}")]
    NotABadge(BadgeError),
    /// The badge is outside its validity on the day checked.
    #[error("badge of {holder} valid {from} to {until}, not on {day}")]
    OutsideValidity {
        /// Holder.
        holder: String,
        /// Validity start.
        from: Date,
        /// Validity end.
        until: Date,
        /// The day checked.
        day: Date,
    },
}

/// The door check of a [`DoorProfile`]: `SelectApplication`, authentication with the door key
/// (diversified with the UID when the profile says so), `ReadData` of the badge — **4
/// exchanges** when the UID is given (a PC/SC reader reports it from anticollision with
/// `FF CA 00 00 00`, answered by the reader without talking to the card), 7 when it must be
/// read with `GetVersion`. The record is parsed and, with `today`, its validity checked.
pub fn door_check<C: CardChannel>(
    d: &mut Desfire<C>,
    profile: &DoorProfile,
    door_master: &Key,
    uid: Option<&[u8]>,
    today: Option<Date>,
) -> Result<DoorRead, DoorRefusal> {
    let config = DoorConfig {
        uid: match uid {
            Some(u) => UidSource::Known(u.to_vec()),
            None => UidSource::GetVersion,
        },
        system_identifier: profile.diversification_suffix(profile.key_no),
        file_comm: Some(profile.comm),
        offset: 0,
        length: RECORD_LEN as u32,
        ..DoorConfig::default()
    };
    let credential = d.door_check_with(
        profile.aid,
        profile.key_no,
        door_master,
        profile.diversify,
        profile.file_no,
        &config,
    )?;
    let record = BadgeRecord::parse(&credential.data).map_err(DoorRefusal::NotABadge)?;
    if let Some(day) = today {
        if !record.is_valid_on(day) {
            return Err(DoorRefusal::OutsideValidity {
                holder: record.holder.clone(),
                from: record.valid_from,
                until: record.valid_until,
                day,
            });
        }
    }
    Ok(DoorRead { credential, record })
}
