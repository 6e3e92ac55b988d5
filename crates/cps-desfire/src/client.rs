//! The DESFire client over a [`CardChannel`] (feature `std`): every command ISO-wrapped
//! (`90 CMD 00 00 [Lc data] 00`), additional frames handled both ways, secure messaging
//! applied according to the session and the file's communication mode, and the
//! access-control check [`Desfire::door_check`].
//!
//! ## The door check and its round trips
//!
//! [`Desfire::door_check`] reads a credential file after proving the card holds the
//! application key. Each line below is one APDU exchange:
//!
//! | step | exchanges | when |
//! |---|---|---|
//! | learn the UID: `GetVersion` | 3 (60, AF, AF) | diversifying, UID unknown ([`UidSource::GetVersion`]) |
//! | learn the UID: PICC-level authentication + `GetCardUID` | 1 (select PICC, if another application is selected) + 2 + 1 | diversifying and the card uses random UIDs ([`UidSource::RandomUid`], or a 4-byte `08…` UID, or a zero UID in GetVersion) |
//! | `SelectApplication` | 1 | always |
//! | `AuthenticateEV2First` (AES key) / `AuthenticateISO` (3DES key) | 2 | always |
//! | `GetFileSettings` | 1 | when [`DoorConfig::file_comm`] is `None` |
//! | `ReadData` | 1 (+1 per extra 59-byte frame) | always |
//!
//! The minimum is therefore **4 exchanges** (select, two authentication frames, read), with
//! the UID known from anticollision ([`UidSource::Known`]) or no diversification, and the
//! file's communication mode configured. Diversification uses AN10922 with
//! `M = UID || AID || system identifier`.
//!
//! When the card is not a DESFire (the first command gets a non-`91xx` status word and
//! `GetVersion` is refused too), the ATR decides: a PC/SC ATR of a MIFARE Classic (or MIFARE
//! Plus in SL1) card, or the caller's [`LegacyHint::ReliesOnMifareClassic`] (e.g. the card
//! identified itself as a CPS3, whose contactless side was MIFARE Classic and is not emulated
//! by the CPS3 simulator), gives [`Refusal::ReliesOnMifareClassic`]; anything else gives
//! [`Refusal::NotDesfire`].

use std::boxed::Box;
use std::collections::BTreeMap;
use std::vec::Vec;

use cps_apdu::StatusWord;
use cps_transport::{Atr, CardChannel, Exchange, ExchangeConfig, TransportError};
use zeroize::Zeroizing;

use crate::auth::{AuthError, AuthMode, HostAuth};
use crate::commands::{
    self, Aid, ApplicationSpec, ChangeKey, CommandError, FileSettings, FileSpec, KeySettings,
    NativeCommand, ResponseError, ValueFileSpec, VersionInfo, code,
};
use crate::crypto::{Key, KeyType};
pub use crate::frame::Framing;
use crate::frame::{
    self, ADDITIONAL_FRAME, Assembled, DesfireStatus, FrameError, ResponseAssembler,
};
use crate::kdf::{self, DiversificationInput, KdfError};
use crate::session::{CommMode, Protection, SecureChannel, SessionKind, SmError};

/// Everything that can go wrong talking to a DESFire.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DesfireError {
    /// The channel failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A request its command table entry does not allow (`cps_desfire::table`): never sent.
    #[error(transparent)]
    Shape(#[from] cps_apdu::table::ShapeError),
    /// The answer is not a DESFire `91xx` answer.
    #[error("not a DESFire answer: status word {0}")]
    NotDesfire(StatusWord),
    /// The card answered an error status.
    #[error("command {command:02X} refused: {status}")]
    Status {
        /// Native command code.
        command: u8,
        /// The card's status.
        status: DesfireStatus,
    },
    /// Authentication failed.
    #[error("authentication failed")]
    Auth(#[from] AuthError),
    /// Secure messaging failed (the session was dropped).
    #[error("secure messaging failed")]
    SecureMessaging(#[from] SmError),
    /// Malformed framing.
    #[error("framing: {0}")]
    Frame(FrameError),
    /// Invalid command argument.
    #[error("invalid command")]
    Command(#[from] CommandError),
    /// Unexpected response layout.
    #[error("unexpected response")]
    Parse(#[from] ResponseError),
    /// Key diversification failed.
    #[error("key diversification failed")]
    Kdf(#[from] KdfError),
    /// The command needs an authenticated session.
    #[error("this command needs an authenticated session")]
    NotAuthenticated,
    /// The random source failed.
    #[error("random source failed")]
    Random,
}

impl From<FrameError> for DesfireError {
    fn from(e: FrameError) -> Self {
        match e {
            FrameError::NotDesfire(sw) => DesfireError::NotDesfire(sw),
            other => DesfireError::Frame(other),
        }
    }
}

impl DesfireError {
    /// The card's status when the card refused the command.
    pub fn status(&self) -> Option<DesfireStatus> {
        match self {
            DesfireError::Status { status, .. } => Some(*status),
            DesfireError::Auth(AuthError::Refused(s) | AuthError::WrongKey(s)) => Some(*s),
            _ => None,
        }
    }
}

/// Where RndA comes from.
pub trait RandomSource {
    /// Fills `buf` with unpredictable bytes.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), DesfireError>;
}

/// The operating system's random generator.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), DesfireError> {
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, buf)
            .map_err(|_| DesfireError::Random)
    }
}

impl<F: FnMut(&mut [u8])> RandomSource for F {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), DesfireError> {
        self(buf);
        Ok(())
    }
}

/// Client settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Payload bytes per command frame after the command code (the real EV1 card of the ELM
    /// trace took 59; libfreefare quotes 55-byte wrapped frames). Longer commands are chained
    /// with `AF` frames.
    pub max_frame_payload: usize,
    /// Upper bound on a collected response.
    pub max_response_len: usize,
    /// Upper bound on the number of `AF` frames of one response.
    pub max_frames: usize,
    /// ISO-wrapped APDUs (`90 CMD 00 00 [Lc data] 00`, the default, which every reader
    /// passes) or native frames (`CMD data`, as most DESFire tools send them over an
    /// ISO 14443-4 reader; needs a PC/SC stack that passes commands shorter than 4 bytes,
    /// pcsc-lite ≥ 1.6.0).
    pub framing: Framing,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            max_frame_payload: 59,
            max_response_len: 1 << 20,
            max_frames: 1 << 16,
            framing: Framing::IsoWrapped,
        }
    }
}

/// How [`Desfire::door_check`] learns the UID used for diversification.
#[derive(Clone, PartialEq, Eq)]
pub enum UidSource {
    /// From anticollision (the reader reports it); a 4-byte UID starting with `08` is a
    /// random ID and is treated as [`UidSource::RandomUid`]. No extra exchange.
    Known(Vec<u8>),
    /// From `GetVersion` (3 exchanges); a zero UID there falls back to `RandomUid`.
    GetVersion,
    /// The card uses random UIDs: PICC-level authentication with [`DoorConfig::picc_key`]
    /// and `GetCardUID` (3 or 4 exchanges).
    RandomUid,
}

impl core::fmt::Debug for UidSource {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            UidSource::Known(u) => write!(f, "Known({} bytes)", u.len()),
            UidSource::GetVersion => f.write_str("GetVersion"),
            UidSource::RandomUid => f.write_str("RandomUid"),
        }
    }
}

/// What the caller knows about a card that does not answer as a DESFire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyHint {
    /// Nothing: only the ATR is used.
    #[default]
    None,
    /// The card relies on MIFARE Classic for access control (e.g. it identified itself as a
    /// CPS3: its contactless interface was MIFARE Classic, which CPS4 drops).
    ReliesOnMifareClassic,
}

/// Settings of [`Desfire::door_check`].
#[derive(Debug, Clone)]
pub struct DoorConfig {
    /// How to learn the UID when diversifying.
    pub uid: UidSource,
    /// The AN10922 system identifier after `UID || AID` (1..=21 bytes for AES with a 7-byte
    /// UID; may be empty).
    pub system_identifier: Vec<u8>,
    /// The PICC master key, used only to read the real UID of random-UID cards (CPS4: the
    /// all-zero DES key, as the issuer states).
    pub picc_key: Key,
    /// The credential file's communication mode when known (saves a `GetFileSettings`).
    pub file_comm: Option<CommMode>,
    /// Offset of the credential in the file.
    pub offset: u32,
    /// Length of the credential (0 = to the end of the file).
    pub length: u32,
    /// What to conclude when the card is not a DESFire.
    pub legacy: LegacyHint,
}

impl Default for DoorConfig {
    fn default() -> Self {
        DoorConfig {
            uid: UidSource::GetVersion,
            system_identifier: Vec::new(),
            picc_key: Key::zero(KeyType::Des),
            file_comm: None,
            offset: 0,
            length: 0,
            legacy: LegacyHint::None,
        }
    }
}

/// A credential read by [`Desfire::door_check`].
#[derive(Clone)]
pub struct Credential {
    /// The application.
    pub aid: Aid,
    /// The file read.
    pub file_no: u8,
    /// The UID used for diversification, when one was needed.
    pub uid: Option<Vec<u8>>,
    /// The credential bytes (zeroized on drop; not shown by `Debug`).
    pub data: Zeroizing<Vec<u8>>,
    /// The authentication used.
    pub session: SessionKind,
    /// APDU exchanges the check took.
    pub exchanges: u64,
}

impl core::fmt::Debug for Credential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Credential")
            .field("aid", &self.aid)
            .field("file_no", &self.file_no)
            .field("data_len", &self.data.len())
            .field("session", &self.session)
            .field("exchanges", &self.exchanges)
            .finish_non_exhaustive()
    }
}

/// Why [`Desfire::door_check`] refused a card.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The card does not answer DESFire commands.
    #[error("not a MIFARE DESFire card (status word {sw})")]
    NotDesfire {
        /// The status word it gave to `GetVersion`.
        sw: StatusWord,
    },
    /// The card relies on MIFARE Classic, which CPS4 drops (a CPS3 contactless interface).
    #[error(
        "this card relies on MIFARE Classic, which CPS4 drops: a CPS3 cannot open this door, use a CPS4"
    )]
    ReliesOnMifareClassic,
    /// The access-control application is not on the card.
    #[error("application {0} not found on the card")]
    ApplicationMissing(Aid),
    /// The card does not hold the expected key (or refused the key number).
    #[error("authentication failed: {0}")]
    AuthenticationFailed(AuthError),
    /// A MAC from the card did not verify: altered frame or cloned card.
    #[error("the card's MAC does not verify (altered answer or counterfeit card)")]
    MacMismatch,
    /// The credential file does not exist.
    #[error("credential file {0} not found")]
    FileMissing(u8),
    /// The key may not read the credential file.
    #[error("permission denied reading the credential file")]
    PermissionDenied,
    /// Another card status.
    #[error("the card refused command {command:02X}: {status}")]
    Card {
        /// The command.
        command: u8,
        /// The status.
        status: DesfireStatus,
    },
    /// Any other failure (transport, framing, configuration).
    #[error("{0}")]
    Other(DesfireError),
}

/// Whether an ATR is the one a PC/SC reader builds for a DESFire (ATS historical byte `80`:
/// `3B 81 80 01 80 80`; notes §1, NJL `SimpleSCR.java`).
pub fn is_desfire_atr(atr: &[u8]) -> bool {
    let a = Atr::new(atr);
    a.interface() == cps_transport::Interface::Contactless && a.historical_bytes() == [0x80]
}

/// Whether an ATR is a PC/SC part 3 storage-card ATR (RID `A0 00 00 03 06`, standard `03`)
/// naming MIFARE Classic 1K (`0001`), 4K (`0002`), Mini (`0026`) or MIFARE Plus in
/// security level 1/2 (`0036`..`0039`), i.e. a card that relies on MIFARE Classic crypto
/// (PC/SC Part 3 Supplemental Document, card names).
pub fn is_mifare_classic_atr(atr: &[u8]) -> bool {
    match Atr::new(atr).historical_bytes() {
        [
            0x80,
            0x4F,
            0x0C,
            0xA0,
            0x00,
            0x00,
            0x03,
            0x06,
            0x03,
            0x00,
            name,
            ..,
        ] => {
            matches!(name, 0x01 | 0x02 | 0x26 | 0x36..=0x39)
        }
        _ => false,
    }
}

/// Whether an ATR is a CPS3's contactless ATR: the historical bytes of OpenSC's "CPxCL" entry
/// (`00 31 B8 64 xx xx EC Cx 73 94 01 80 82 90 00` under its mask `FF FF FF FF 00 00 FF C0
/// FF ...`, recorded in `../shared/notes/opensc-iasecc.md`). OpenSC lists it with TS = `2B`,
/// which pcsc-lite refuses; a reader presents it as `3B 8F 80 01` + those bytes + TCK, so only
/// the historical bytes are compared. A CPS3's contactless access control is MIFARE Classic.
pub fn is_cps3_contactless_atr(atr: &[u8]) -> bool {
    match Atr::new(atr).historical_bytes() {
        [
            0x00,
            0x31,
            0xB8,
            0x64,
            _,
            _,
            0xEC,
            c,
            0x73,
            0x94,
            0x01,
            0x80,
            0x82,
            0x90,
            0x00,
        ] => c & 0xC0 == 0xC0,
        _ => false,
    }
}

/// The refusal for a card that refused `GetVersion` with status word `sw`: a MIFARE Classic
/// ATR, a CPS3 contactless ATR or the caller's hint give
/// [`Refusal::ReliesOnMifareClassic`].
pub fn assess_non_desfire(atr: &[u8], sw: StatusWord, hint: LegacyHint) -> Refusal {
    if !is_desfire_atr(atr)
        && (is_mifare_classic_atr(atr)
            || is_cps3_contactless_atr(atr)
            || hint == LegacyHint::ReliesOnMifareClassic)
    {
        Refusal::ReliesOnMifareClassic
    } else {
        Refusal::NotDesfire { sw }
    }
}

/// A DESFire reached through a card channel.
pub struct Desfire<C: CardChannel> {
    exchange: Exchange<C>,
    session: Option<SecureChannel>,
    auth_key_no: Option<u8>,
    selected: Option<Aid>,
    file_comm: BTreeMap<u8, CommMode>,
    file_size: BTreeMap<u8, u32>,
    config: ClientConfig,
    rng: Box<dyn RandomSource>,
}

impl<C: CardChannel> core::fmt::Debug for Desfire<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Desfire")
            .field("session", &self.session.as_ref().map(SecureChannel::kind))
            .field("auth_key_no", &self.auth_key_no)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl<C: CardChannel> Desfire<C> {
    /// A client on a freshly activated card (PICC level selected, no session), with the
    /// operating system's random generator.
    pub fn new(channel: C) -> Self {
        let mut exchange = Exchange::with_config(channel, ExchangeConfig::default());
        // The transport learns what each DESFire command does (no re-send, redaction, reset on
        // release).
        exchange.register(&crate::table::TABLE);
        Desfire {
            exchange,
            session: None,
            auth_key_no: None,
            selected: Some(Aid::PICC),
            file_comm: BTreeMap::new(),
            file_size: BTreeMap::new(),
            config: ClientConfig::default(),
            rng: Box::new(OsRandom),
        }
    }

    /// Replaces the random source (tests inject the RndA of published vectors).
    pub fn with_random(mut self, rng: impl RandomSource + 'static) -> Self {
        self.rng = Box::new(rng);
        self
    }

    /// Replaces the settings.
    pub fn with_config(mut self, config: ClientConfig) -> Self {
        self.config = config;
        self
    }

    /// APDU exchanges so far.
    pub fn round_trips(&self) -> u64 {
        self.exchange.round_trips()
    }

    /// The channel.
    pub fn channel(&self) -> &C {
        self.exchange.channel()
    }

    /// The channel, mutably.
    pub fn channel_mut(&mut self) -> &mut C {
        self.exchange.channel_mut()
    }

    /// Unwraps the channel.
    pub fn into_channel(self) -> C {
        self.exchange.into_inner()
    }

    /// The current session, if authenticated.
    pub fn session(&self) -> Option<&SecureChannel> {
        self.session.as_ref()
    }

    /// The selected application, when known.
    pub fn selected(&self) -> Option<Aid> {
        self.selected
    }

    fn drop_session(&mut self) {
        self.session = None;
        self.auth_key_no = None;
    }

    fn send_frame(
        &mut self,
        code: u8,
        payload: &[u8],
    ) -> Result<(DesfireStatus, Vec<u8>), DesfireError> {
        match self.config.framing {
            Framing::IsoWrapped => {
                let apdu = frame::wrap_iso(code, payload)?;
                let resp = self.exchange.transmit_raw(&apdu)?;
                let (status, data) = frame::parse_iso_response(&resp)?;
                Ok((status, data.to_vec()))
            }
            Framing::Native => {
                let resp = self
                    .exchange
                    .transmit_raw(&frame::native_command(code, payload))?;
                let (status, data) = frame::parse_native_response(&resp)?;
                Ok((status, data.to_vec()))
            }
        }
    }

    /// Sends `code || payload` (chained in `AF` frames when longer than
    /// [`ClientConfig::max_frame_payload`]) and collects the whole answer (fetching `AF`
    /// frames); returns the final status and the concatenated data.
    pub fn transceive(
        &mut self,
        code: u8,
        payload: &[u8],
    ) -> Result<(DesfireStatus, Vec<u8>), DesfireError> {
        let frames = frame::split_command(code, payload, self.config.max_frame_payload)?;
        let count = frames.len();
        let mut answer = None;
        for (i, (c, part)) in frames.into_iter().enumerate() {
            let (status, data) = self.send_frame(c, part)?;
            if i + 1 < count && status != DesfireStatus::AdditionalFrame {
                if status.is_error() {
                    // The card refused part-way.
                    return Ok((status, data));
                }
                return Err(FrameError::ChainCutShort(status).into());
            }
            answer = Some((status, data));
        }
        let (mut status, data) = answer.ok_or(FrameError::ZeroChunk)?;
        let mut assembler = ResponseAssembler::new(self.config.max_response_len);
        let mut step = assembler.push(status, &data)?;
        while step == Assembled::More {
            if assembler.frames() >= self.config.max_frames {
                return Err(FrameError::TooLong {
                    limit: self.config.max_response_len,
                }
                .into());
            }
            let (s, d) = self.send_frame(ADDITIONAL_FRAME, &[])?;
            status = s;
            step = assembler.push(s, &d)?;
        }
        Ok((status, assembler.into_data()))
    }

    /// Runs a command: secure messaging per the session and the command's protection,
    /// framing, chaining; returns the plain response data. Any error status or secure-
    /// messaging failure drops the session (the card does the same).
    ///
    /// The command is first checked against its entry of [`crate::table`] (a listed code, the
    /// header and data lengths, the communication mode): a request of the wrong shape is
    /// [`DesfireError::Shape`] and nothing is sent.
    pub fn execute(&mut self, cmd: &NativeCommand) -> Result<Zeroizing<Vec<u8>>, DesfireError> {
        crate::table::check(cmd)?;
        let payload = match self.session.as_mut() {
            Some(s) => match s.seal_command(cmd.code, &cmd.header, &cmd.data, cmd.protection) {
                Ok(p) => p,
                Err(e) => {
                    self.drop_session();
                    return Err(e.into());
                }
            },
            None => {
                let mut p = cmd.header.clone();
                p.extend_from_slice(&cmd.data);
                p
            }
        };
        let (status, data) = match self.transceive(cmd.code, &payload) {
            Ok(r) => r,
            Err(e) => {
                self.drop_session();
                return Err(e);
            }
        };
        if status.is_error() || status == DesfireStatus::AdditionalFrame {
            self.drop_session();
            return Err(DesfireError::Status {
                command: cmd.code,
                status,
            });
        }
        match self.session.as_mut() {
            Some(s) => match s.open_response(status, &data, cmd.protection, cmd.expected_len) {
                Ok(plain) => Ok(plain),
                Err(e) => {
                    self.drop_session();
                    Err(e.into())
                }
            },
            None => Ok(Zeroizing::new(data)),
        }
    }

    /// Authenticates with key `key_no` of the selected application (or the PICC).
    /// `AuthenticateEV2NonFirst` keeps the current EV2 session's TI and counter.
    pub fn authenticate(
        &mut self,
        mode: AuthMode,
        key_no: u8,
        key: Key,
    ) -> Result<(), DesfireError> {
        let mut auth = match (mode, &self.session) {
            (AuthMode::Ev2NonFirst, Some(SecureChannel::Ev2(current))) => {
                HostAuth::non_first(key_no, key, current)?
            }
            (AuthMode::Ev2NonFirst, _) => return Err(DesfireError::NotAuthenticated),
            _ => HostAuth::new(mode, key_no, key)?,
        };
        // Whatever happens now, the card's previous authentication state is gone.
        self.drop_session();
        let (code, payload) = auth.command();
        let (status, challenge) = self.send_frame(code, &payload)?;
        let mut rnd_a = Zeroizing::new(std::vec![0u8; auth.random_len()]);
        self.rng.fill(&mut rnd_a)?;
        let token = auth.respond(status, &challenge, &rnd_a)?;
        let (status, proof) = self.send_frame(ADDITIONAL_FRAME, &token)?;
        let done = auth.finish(status, &proof)?;
        self.session = Some(done.channel);
        self.auth_key_no = Some(key_no);
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Commands

    /// `GetVersion`, parsed.
    pub fn get_version(&mut self) -> Result<VersionInfo, DesfireError> {
        let data = self.execute(&commands::get_version())?;
        Ok(commands::parse_version(&data)?)
    }

    /// `GetCardUID` (needs authentication): the real UID.
    pub fn get_card_uid(&mut self) -> Result<Vec<u8>, DesfireError> {
        if self.session.is_none() {
            return Err(DesfireError::NotAuthenticated);
        }
        let data = self.execute(&commands::get_card_uid())?;
        Ok(commands::parse_uid(&data)?)
    }

    /// `GetApplicationIDs`.
    pub fn get_application_ids(&mut self) -> Result<Vec<Aid>, DesfireError> {
        let data = self.execute(&commands::get_application_ids())?;
        Ok(commands::parse_application_ids(&data)?)
    }

    /// `SelectApplication`: ends the session.
    pub fn select_application(&mut self, aid: Aid) -> Result<(), DesfireError> {
        self.drop_session();
        self.file_comm.clear();
        self.file_size.clear();
        let r = self.execute(&commands::select_application(aid));
        self.selected = if r.is_ok() { Some(aid) } else { None };
        r.map(|_| ())
    }

    /// `GetKeySettings`.
    pub fn get_key_settings(&mut self) -> Result<KeySettings, DesfireError> {
        let data = self.execute(&commands::get_key_settings())?;
        Ok(commands::parse_key_settings(&data)?)
    }

    /// `GetKeyVersion`.
    pub fn get_key_version(&mut self, key_no: u8) -> Result<u8, DesfireError> {
        let data = self.execute(&commands::get_key_version(key_no)?)?;
        Ok(commands::parse_key_version(&data)?)
    }

    /// `GetFileIDs`.
    pub fn get_file_ids(&mut self) -> Result<Vec<u8>, DesfireError> {
        let data = self.execute(&commands::get_file_ids())?;
        Ok(commands::parse_file_ids(&data))
    }

    /// `GetFileSettings` (also remembers the file's communication mode).
    pub fn get_file_settings(&mut self, file_no: u8) -> Result<FileSettings, DesfireError> {
        let data = self.execute(&commands::get_file_settings(file_no)?)?;
        let s = commands::parse_file_settings(&data)?;
        self.file_comm.insert(file_no, s.comm_mode());
        if let commands::FileKind::Data { size } = s.kind {
            self.file_size.insert(file_no, size);
        }
        Ok(s)
    }

    /// The communication mode of a file: remembered, or read with `GetFileSettings`.
    pub fn file_comm_mode(&mut self, file_no: u8) -> Result<CommMode, DesfireError> {
        match self.file_comm.get(&file_no) {
            Some(m) => Ok(*m),
            None => Ok(self.get_file_settings(file_no)?.comm_mode()),
        }
    }

    /// Declares a file's communication mode (known from the application's layout), so that
    /// no `GetFileSettings` is needed.
    pub fn set_file_comm_mode(&mut self, file_no: u8, comm: CommMode) {
        self.file_comm.insert(file_no, comm);
    }

    /// `ReadData` with the file's communication mode; `length` 0 reads to the end.
    ///
    /// An EV1/D40 enciphered answer of unknown length has an ambiguous CRC position (see
    /// [`crate::session`]): for `length` 0 on a Full file the file size is used (read with
    /// `GetFileSettings` if not known yet).
    pub fn read_data(
        &mut self,
        file_no: u8,
        offset: u32,
        length: u32,
    ) -> Result<Zeroizing<Vec<u8>>, DesfireError> {
        // Arguments are checked before anything is sent.
        let cmd = commands::read_data(file_no, offset, length, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        let mut cmd = with_comm(cmd, Protection::FileRead(comm));
        let crc_session = matches!(
            self.session.as_ref().map(SecureChannel::kind),
            Some(SessionKind::Ev1 | SessionKind::D40)
        );
        if length == 0 && comm == CommMode::Full && crc_session {
            let size = match self.file_size.get(&file_no) {
                Some(s) => *s,
                None => {
                    self.get_file_settings(file_no)?;
                    self.file_size.get(&file_no).copied().unwrap_or(0)
                }
            };
            cmd.expected_len = Some(size.saturating_sub(offset) as usize);
        }
        self.execute(&cmd)
    }

    /// `WriteData` with the file's communication mode.
    pub fn write_data(
        &mut self,
        file_no: u8,
        offset: u32,
        data: &[u8],
    ) -> Result<(), DesfireError> {
        let cmd = commands::write_data(file_no, offset, data, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileWrite(comm)))
            .map(|_| ())
    }

    /// `GetValue`.
    pub fn get_value(&mut self, file_no: u8) -> Result<i32, DesfireError> {
        let cmd = commands::get_value(file_no, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        let data = self.execute(&with_comm(cmd, Protection::FileRead(comm)))?;
        Ok(commands::parse_value(&data)?)
    }

    /// `Credit` (commit with [`Desfire::commit_transaction`]).
    pub fn credit(&mut self, file_no: u8, amount: i32) -> Result<(), DesfireError> {
        let cmd = commands::credit(file_no, amount, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileWrite(comm)))
            .map(|_| ())
    }

    /// `Debit`.
    pub fn debit(&mut self, file_no: u8, amount: i32) -> Result<(), DesfireError> {
        let cmd = commands::debit(file_no, amount, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileWrite(comm)))
            .map(|_| ())
    }

    /// `LimitedCredit`.
    pub fn limited_credit(&mut self, file_no: u8, amount: i32) -> Result<(), DesfireError> {
        let cmd = commands::limited_credit(file_no, amount, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileWrite(comm)))
            .map(|_| ())
    }

    /// `WriteRecord`.
    pub fn write_record(
        &mut self,
        file_no: u8,
        offset: u32,
        data: &[u8],
    ) -> Result<(), DesfireError> {
        let cmd = commands::write_record(file_no, offset, data, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileWrite(comm)))
            .map(|_| ())
    }

    /// `ReadRecords`: the raw concatenated records (split them with
    /// [`commands::parse_records`]).
    pub fn read_records(
        &mut self,
        file_no: u8,
        first: u32,
        count: u32,
    ) -> Result<Zeroizing<Vec<u8>>, DesfireError> {
        let cmd = commands::read_records(file_no, first, count, CommMode::Plain)?;
        let comm = self.file_comm_mode(file_no)?;
        self.execute(&with_comm(cmd, Protection::FileRead(comm)))
    }

    /// `ClearRecordFile`.
    pub fn clear_record_file(&mut self, file_no: u8) -> Result<(), DesfireError> {
        self.execute(&commands::clear_record_file(file_no)?)
            .map(|_| ())
    }

    /// `CommitTransaction`.
    pub fn commit_transaction(&mut self) -> Result<(), DesfireError> {
        self.execute(&commands::commit_transaction()).map(|_| ())
    }

    /// `AbortTransaction`.
    pub fn abort_transaction(&mut self) -> Result<(), DesfireError> {
        self.execute(&commands::abort_transaction()).map(|_| ())
    }

    /// `CreateApplication`.
    pub fn create_application(&mut self, spec: &ApplicationSpec) -> Result<(), DesfireError> {
        self.execute(&commands::create_application(spec)?)
            .map(|_| ())
    }

    /// `DeleteApplication`.
    pub fn delete_application(&mut self, aid: Aid) -> Result<(), DesfireError> {
        self.execute(&commands::delete_application(aid)).map(|_| ())
    }

    /// `CreateStdDataFile` / `CreateBackupDataFile`.
    pub fn create_data_file(
        &mut self,
        spec: &FileSpec,
        size: u32,
        backup: bool,
    ) -> Result<(), DesfireError> {
        self.execute(&commands::create_data_file(spec, size, backup)?)?;
        self.file_comm.insert(spec.file_no, spec.comm);
        Ok(())
    }

    /// `CreateValueFile`.
    pub fn create_value_file(
        &mut self,
        spec: &FileSpec,
        value: &ValueFileSpec,
    ) -> Result<(), DesfireError> {
        self.execute(&commands::create_value_file(spec, value)?)?;
        self.file_comm.insert(spec.file_no, spec.comm);
        Ok(())
    }

    /// `CreateLinearRecordFile` / `CreateCyclicRecordFile`.
    pub fn create_record_file(
        &mut self,
        spec: &FileSpec,
        record_size: u32,
        max_records: u32,
        cyclic: bool,
    ) -> Result<(), DesfireError> {
        self.execute(&commands::create_record_file(
            spec,
            record_size,
            max_records,
            cyclic,
        )?)?;
        self.file_comm.insert(spec.file_no, spec.comm);
        Ok(())
    }

    /// `DeleteFile`.
    pub fn delete_file(&mut self, file_no: u8) -> Result<(), DesfireError> {
        self.execute(&commands::delete_file(file_no)?)?;
        self.file_comm.remove(&file_no);
        Ok(())
    }

    /// `ChangeKeySettings` (needs the master key's session).
    pub fn change_key_settings(&mut self, ks1: u8) -> Result<(), DesfireError> {
        if self.session.is_none() {
            return Err(DesfireError::NotAuthenticated);
        }
        self.execute(&commands::change_key_settings(ks1))
            .map(|_| ())
    }

    /// `ChangeFileSettings`.
    pub fn change_file_settings(
        &mut self,
        file_no: u8,
        comm: CommMode,
        access: commands::AccessRights,
        enciphered: bool,
    ) -> Result<(), DesfireError> {
        self.execute(&commands::change_file_settings(
            file_no, comm, access, enciphered,
        )?)?;
        self.file_comm.insert(file_no, comm);
        Ok(())
    }

    /// `SetConfiguration`.
    pub fn set_configuration(&mut self, option: u8, data: &[u8]) -> Result<(), DesfireError> {
        if self.session.is_none() {
            return Err(DesfireError::NotAuthenticated);
        }
        self.execute(&commands::set_configuration(option, data))
            .map(|_| ())
    }

    /// `FormatPICC`.
    pub fn format_picc(&mut self) -> Result<(), DesfireError> {
        self.execute(&commands::format_picc()).map(|_| ())
    }

    /// `GetFreeMemory`.
    pub fn get_free_memory(&mut self) -> Result<u32, DesfireError> {
        let data = self.execute(&commands::get_free_memory())?;
        Ok(commands::parse_free_memory(&data)?)
    }

    /// `ChangeKey` with the session's cryptogram (EV1, EV2 or D40). Changing the key the
    /// session was authenticated with ends the session (the card answers without MAC).
    pub fn change_key(&mut self, change: &ChangeKey) -> Result<(), DesfireError> {
        let auth_no = self.auth_key_no.ok_or(DesfireError::NotAuthenticated)?;
        let same = change.is_same_key(auth_no);
        let kb = change.key_no_byte();
        let session = self
            .session
            .as_mut()
            .ok_or(DesfireError::NotAuthenticated)?;
        let payload = match session {
            SecureChannel::Ev1(s) => {
                let plain = change.ev1_plaintext(auth_no)?;
                let mut p = std::vec![kb];
                p.extend_from_slice(&s.encipher(&plain));
                p
            }
            SecureChannel::Ev2(s) => {
                let plain = change.ev2_plaintext(auth_no)?;
                match s.seal_command(
                    code::CHANGE_KEY,
                    &[kb],
                    &plain,
                    Protection::EncipheredCommand,
                ) {
                    Ok(p) => p,
                    Err(e) => {
                        self.drop_session();
                        return Err(e.into());
                    }
                }
            }
            SecureChannel::D40(s) => {
                let mut plain = change.d40_plaintext(auth_no)?;
                s.send_mode(&mut plain);
                let mut p = std::vec![kb];
                p.extend_from_slice(&plain);
                p
            }
        };
        let (status, data) = match self.transceive(code::CHANGE_KEY, &payload) {
            Ok(r) => r,
            Err(e) => {
                self.drop_session();
                return Err(e);
            }
        };
        if status != DesfireStatus::Ok {
            self.drop_session();
            return Err(DesfireError::Status {
                command: code::CHANGE_KEY,
                status,
            });
        }
        if same {
            self.drop_session();
            return Ok(());
        }
        if let Some(s) = self.session.as_mut() {
            if let Err(e) = s.open_response(status, &data, Protection::EncipheredCommand, None) {
                self.drop_session();
                return Err(e.into());
            }
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Access control

    /// The access-control check: select `aid`, authenticate with key `key_no` (the
    /// AN10922-diversified `master_key` when `diversify`), read the credential file
    /// `file_no`. See the module documentation for the flow and its round trips;
    /// [`Desfire::door_check_with`] takes explicit [`DoorConfig`] settings.
    pub fn door_check(
        &mut self,
        aid: Aid,
        key_no: u8,
        master_key: &Key,
        diversify: bool,
        file_no: u8,
    ) -> Result<Credential, Refusal> {
        self.door_check_with(
            aid,
            key_no,
            master_key,
            diversify,
            file_no,
            &DoorConfig::default(),
        )
    }

    /// [`Desfire::door_check`] with explicit settings.
    pub fn door_check_with(
        &mut self,
        aid: Aid,
        key_no: u8,
        master_key: &Key,
        diversify: bool,
        file_no: u8,
        config: &DoorConfig,
    ) -> Result<Credential, Refusal> {
        let start = self.round_trips();
        let mut uid = None;
        let key = if diversify {
            let real_uid = self.door_uid(config)?;
            let m = DiversificationInput::new(&real_uid, aid.to_bytes(), &config.system_identifier);
            uid = Some(real_uid);
            kdf::diversify(master_key, m.as_bytes()).map_err(|e| Refusal::Other(e.into()))?
        } else {
            master_key.clone()
        };
        match self.select_application(aid) {
            Ok(()) => {}
            Err(e) => return Err(self.refusal(e, aid, file_no, config)),
        }
        let mode = match key.key_type() {
            KeyType::Aes128 => AuthMode::Ev2First,
            _ => AuthMode::Iso,
        };
        let auth = match self.authenticate(mode, key_no, key.clone()) {
            // An EV1 card does not know EV2First: fall back to AuthenticateAES.
            Err(DesfireError::Auth(AuthError::Refused(DesfireStatus::IllegalCommand)))
                if mode == AuthMode::Ev2First =>
            {
                self.authenticate(AuthMode::Aes, key_no, key)
            }
            other => other,
        };
        if let Err(e) = auth {
            return Err(match e {
                DesfireError::Auth(a) => Refusal::AuthenticationFailed(a),
                other => self.refusal(other, aid, file_no, config),
            });
        }
        if let Some(comm) = config.file_comm {
            self.set_file_comm_mode(file_no, comm);
        }
        let data = self
            .read_data(file_no, config.offset, config.length)
            .map_err(|e| self.refusal(e, aid, file_no, config))?;
        Ok(Credential {
            aid,
            file_no,
            uid,
            data,
            session: self
                .session
                .as_ref()
                .map_or(SessionKind::Ev2, SecureChannel::kind),
            exchanges: self.round_trips() - start,
        })
    }

    /// The UID for diversification (see [`UidSource`]).
    fn door_uid(&mut self, config: &DoorConfig) -> Result<Vec<u8>, Refusal> {
        let known = match &config.uid {
            UidSource::Known(u) if !(u.len() == 4 && u.first() == Some(&0x08)) => Some(u.clone()),
            UidSource::Known(_) | UidSource::RandomUid => None,
            UidSource::GetVersion => match self.get_version() {
                Ok(v) if v.uid.iter().any(|&b| b != 0) => Some(v.uid.to_vec()),
                Ok(_) => None,
                Err(e) => return Err(self.refusal(e, Aid::PICC, 0, config)),
            },
        };
        if let Some(uid) = known {
            return Ok(uid);
        }
        // Random UID: the real one needs a PICC-level session.
        if self.selected != Some(Aid::PICC) {
            self.select_application(Aid::PICC)
                .map_err(|e| self.refusal(e, Aid::PICC, 0, config))?;
        }
        let mode = AuthMode::ev1_for(config.picc_key.key_type());
        self.authenticate(mode, 0, config.picc_key.clone())
            .map_err(|e| match e {
                DesfireError::Auth(a) => Refusal::AuthenticationFailed(a),
                other => self.refusal(other, Aid::PICC, 0, config),
            })?;
        self.get_card_uid()
            .map_err(|e| self.refusal(e, Aid::PICC, 0, config))
    }

    /// Maps an error of the door flow to a refusal.
    fn refusal(&mut self, e: DesfireError, aid: Aid, file_no: u8, config: &DoorConfig) -> Refusal {
        match e {
            DesfireError::NotDesfire(_) => {
                // Confirm with GetVersion, then let the ATR and the caller's hint decide.
                let sw = match self.send_frame(code::GET_VERSION, &[]) {
                    Ok(_) => return Refusal::Other(e),
                    Err(DesfireError::NotDesfire(sw)) => sw,
                    Err(other) => return Refusal::Other(other),
                };
                assess_non_desfire(self.exchange.atr(), sw, config.legacy)
            }
            DesfireError::Status { command, status } => match status {
                DesfireStatus::ApplicationNotFound => Refusal::ApplicationMissing(aid),
                DesfireStatus::FileNotFound => Refusal::FileMissing(file_no),
                DesfireStatus::PermissionDenied | DesfireStatus::AuthenticationError => {
                    Refusal::PermissionDenied
                }
                status => Refusal::Card { command, status },
            },
            DesfireError::SecureMessaging(SmError::MacMismatch) => Refusal::MacMismatch,
            DesfireError::Auth(a) => Refusal::AuthenticationFailed(a),
            other => Refusal::Other(other),
        }
    }
}

fn with_comm(mut cmd: NativeCommand, protection: Protection) -> NativeCommand {
    cmd.protection = protection;
    cmd
}
