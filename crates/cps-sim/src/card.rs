//! The simulated card: APDU decoding, `61xx` / GET RESPONSE, command chaining, and the
//! dispatcher between the native application (file system + IAS-ECC) and AID applets.

use std::collections::BTreeMap;

use cps_apdu::chain::{Chained, Reassembler};
use cps_apdu::{Command, Response, StatusWord};
use cps_transport::VirtualCard;
use zeroize::Zeroizing;

use crate::applet::{Applet, AppletContext};
use crate::iso::Native;
use crate::persona::Persona;
use crate::profile::Protocol;

/// The interface through which the card is powered: the transport's
/// [`cps_transport::Interface`]. A simulated card is powered by contacts (the profile's contact
/// ATR and protocol, the IAS-ECC application) or contactless (ISO 14443 through a PC/SC reader: a
/// PC/SC part 3 ATR `3B 8n 80 01 ...`, T=1 behaviour; the IAS-ECC application answers `6A82`
/// there, the applets available contactless (DESFire) answer); `Unknown` is refused by
/// [`crate::SimCardBuilder::build`].
pub use cps_transport::Interface;

/// The class of the PC/SC reader's own pseudo-APDUs (PC/SC Part 3 §3.2.2.1).
const READER_CLA: u8 = 0xFF;

/// Longest command chain the card reassembles (IAS-ECC PSO DECIPHER of a 2048-bit cryptogram
/// needs 257 bytes; PUT DATA of a key more).
const MAX_CHAIN: usize = 8192;

/// What the card counted since power-up or the last [`SimCard::reset_stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardStats {
    /// Command APDUs received (every exchange, GET RESPONSE and chain parts included).
    pub apdus: u64,
    /// Commands per instruction byte.
    pub by_ins: BTreeMap<u8, u64>,
    /// Power-ons and resets.
    pub resets: u64,
}

impl CardStats {
    /// Commands with this instruction byte.
    pub fn count(&self, ins: u8) -> u64 {
        self.by_ins.get(&ins).copied().unwrap_or(0)
    }

    /// A one-line summary, e.g. `"25 APDUs: A4 SELECT ×9, B0 READ BINARY ×12, ..."`.
    pub fn summary(&self) -> String {
        let parts: Vec<String> = self
            .by_ins
            .iter()
            .map(|(ins, n)| format!("{ins:02X} {} ×{n}", ins_name(*ins)))
            .collect();
        format!("{} APDUs: {}", self.apdus, parts.join(", "))
    }
}

/// The name of an instruction byte, for statistics: the name the command tables of the native
/// application give it (`cps_apdu::table::ISO7816` and `cps_iasecc::table`, the ones the
/// client, the transport and the transcript redactor read); "command" for an unlisted one.
pub fn ins_name(ins: u8) -> &'static str {
    [&cps_apdu::table::ISO7816, &cps_iasecc::table::TABLE]
        .into_iter()
        .find_map(|t| t.find(0x00, ins, None))
        .map_or("command", |e| e.name)
}

/// Which application gets the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Active {
    Native,
    Applet(usize),
    /// Nothing selectable answered yet (contactless without applets).
    None,
    /// An application that only answers SELECT (profile `select_only_aids`).
    SelectOnly(usize),
}

/// The first logical channel number a CLA names (ISO 7816-4 §5.4.1: first interindustry
/// classes `0x`/`8x`/`9x`/`Ax` carry channels 0-3 in b2-b1); further interindustry classes
/// (`4x`-`7x`) are not offered.
fn channel_of(cla: u8) -> u8 {
    if cla & 0x40 == 0 { cla & 0x03 } else { 0 }
}

/// A simulated CPS card (see the crate documentation).
#[derive(Clone)]
pub struct SimCard {
    pub(crate) profile_name: String,
    pub(crate) persona: Persona,
    pub(crate) interface: Interface,
    pub(crate) atr: Vec<u8>,
    pub(crate) protocol: Protocol,
    pub(crate) extended: bool,
    pub(crate) native_available: bool,
    pub(crate) native: Native,
    /// The applications selected by AID: DESFire, FIDO2, the remote-update application
    /// (contact interface, when the native application is there).
    pub(crate) applets: Vec<Box<dyn Applet>>,
    /// The profile, kept to rebuild the PKCS#15 directories after a remote update.
    pub(crate) spec: std::sync::Arc<crate::profile::ProfileSpec>,
    /// The card serial number (EF.SN value).
    pub(crate) serial: Vec<u8>,
    active: Active,
    /// Logical channels (ISO 7816-4 §5.4.2): the application selected on each open channel;
    /// `None` = closed. The basic channel is always open. Empty for single-channel cards.
    channels: Vec<Option<Active>>,
    /// The AID that reaches the native application (CPS4: the ChipDoc applet).
    pub(crate) native_aid: Option<Vec<u8>>,
    /// Applications that only answer SELECT.
    pub(crate) select_only: Vec<Vec<u8>>,
    pending: Zeroizing<Vec<u8>>,
    /// The logical channel of the command that left [`Self::pending`].
    pending_channel: u8,
    chain: Reassembler,
    powered: bool,
    stats: CardStats,
}

impl std::fmt::Debug for SimCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimCard")
            .field("profile", &self.profile_name)
            .field("persona", &self.persona.id)
            .field("interface", &self.interface)
            .field("applets", &self.applets.len())
            .finish_non_exhaustive()
    }
}

impl SimCard {
    #[allow(
        clippy::too_many_arguments,
        reason = "internal constructor used by the builder"
    )]
    pub(crate) fn assemble(
        profile_name: String,
        persona: Persona,
        interface: Interface,
        atr: Vec<u8>,
        protocol: Protocol,
        extended: bool,
        native_available: bool,
        native: Native,
        mut applets: Vec<Box<dyn Applet>>,
        spec: std::sync::Arc<crate::profile::ProfileSpec>,
        serial: Vec<u8>,
    ) -> Self {
        if native_available {
            applets.push(Box::new(crate::update::UpdateApp::new(serial.clone())));
        }
        let mut card = SimCard {
            profile_name,
            persona,
            interface,
            atr,
            protocol,
            extended,
            native_available,
            native,
            applets,
            spec,
            serial,
            active: Active::None,
            channels: Vec::new(),
            native_aid: None,
            select_only: Vec::new(),
            pending: Zeroizing::new(Vec::new()),
            pending_channel: 0,
            chain: Reassembler::new(MAX_CHAIN),
            powered: false,
            stats: CardStats::default(),
        };
        card.power_on_state();
        card
    }

    /// The profile's name ("CPS3", "CPS4", or that of a profile file).
    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    /// The card holder.
    pub fn persona(&self) -> &Persona {
        &self.persona
    }

    /// The interface the card is powered through.
    pub fn interface(&self) -> Interface {
        self.interface
    }

    /// T=0 or T=1 (contactless behaves as T=1).
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// What the card counted.
    pub fn stats(&self) -> &CardStats {
        &self.stats
    }

    /// Restarts the counters.
    pub fn reset_stats(&mut self) {
        self.stats = CardStats::default();
    }

    /// Tries left of a PIN object (`None` if no such reference).
    pub fn tries_left(&self, pin_reference: u8) -> Option<u8> {
        self.native.iasecc.pin(pin_reference).map(|p| p.tries_left)
    }

    /// Whether a PIN was verified in the current session.
    pub fn is_verified(&self, pin_reference: u8) -> bool {
        self.native.security.is_verified(pin_reference)
    }

    /// The PKCS#15 iD of a key as the PrKDF gives it (the real cards: the PKCS#15 AID then
    /// `01` / `02`; a profile without iDs: the SHA-1 of the public key), `None` if no such key.
    pub fn key_id(&self, key_reference: u8) -> Option<Vec<u8>> {
        let key = self.native.iasecc.key(key_reference)?;
        let spec = self
            .spec
            .keys
            .iter()
            .find(|k| k.reference.0 == key_reference);
        Some(match spec {
            Some(s) => crate::pkcs15::key_id(s, &key.pair),
            None => key.pair.key_id().to_vec(),
        })
    }

    /// The subjectPublicKey bits of a key (DER RSAPublicKey, or the uncompressed P-256 point).
    pub fn public_key(&self, key_reference: u8) -> Option<Vec<u8>> {
        self.native
            .iasecc
            .key(key_reference)
            .map(|k| k.pair.subject_public_key())
    }

    /// The contents of the EF at an absolute path (`[0x3F00, 0x0001, 0xC001]`), without
    /// access checks: for tests and tools that compare with what the host reads.
    pub fn file(&self, path: &[u16]) -> Option<&[u8]> {
        let id = self.native.fs.at_path(path)?;
        match &self.native.fs.node(id)?.kind {
            crate::fs::NodeKind::Ef { data } => Some(data),
            crate::fs::NodeKind::Df { .. } => None,
        }
    }

    /// The contents of an EF of the CPS2ter application (CPS3, class `A0`) at an absolute
    /// path (`[0x3F00, 0x7F01, 0x4000]`), without access checks; `None` on a card without it.
    pub fn cps2ter_file(&self, path: &[u16]) -> Option<&[u8]> {
        self.native.cps2ter.as_ref()?.file(path)
    }

    /// The card serial number (the value of EF.SN), which names the card at the update
    /// service.
    pub fn serial(&self) -> Vec<u8> {
        self.serial.clone()
    }

    /// Sequence number of the last remote update committed (0 at personalisation).
    pub fn update_sequence(&self) -> u32 {
        self.applet::<crate::update::UpdateApp>()
            .map_or(0, crate::update::UpdateApp::sequence)
    }

    /// Whether a remote update is staged and not committed.
    pub fn update_staged(&self) -> bool {
        self.applet::<crate::update::UpdateApp>()
            .is_some_and(crate::update::UpdateApp::has_staged)
    }

    /// The first applet of type `T` (e.g. [`crate::desfire::DesfireApplet`]), to inspect
    /// its state in tests.
    pub fn applet<T: 'static>(&self) -> Option<&T> {
        self.applets
            .iter()
            .find_map(|a| a.as_any().and_then(|any| any.downcast_ref::<T>()))
    }

    /// Paths of every EF of the card, MF first.
    pub fn file_paths(&self) -> Vec<Vec<u16>> {
        self.native
            .fs
            .ids()
            .filter(|&id| self.native.fs.node(id).is_some_and(|n| !n.is_df()))
            .map(|id| self.native.fs.path_of(id))
            .collect()
    }

    fn power_on_state(&mut self) {
        self.default_selection();
        self.stats.resets += 1;
    }

    /// The state after reset: buffers cleared, every application reset, channels other than
    /// the basic one closed, the default application selected.
    fn default_selection(&mut self) {
        self.powered = true;
        self.pending = Zeroizing::new(Vec::new());
        self.chain.clear();
        self.native.reset();
        for a in &mut self.applets {
            a.reset();
        }
        let interface = self.interface;
        for c in self.channels.iter_mut().skip(1) {
            *c = None;
        }
        self.active = if self.native_available && self.native_aid.is_none() {
            Active::Native
        } else if self.native_available {
            Active::None
        } else {
            self.applets
                .iter()
                .position(|a| a.available_on(interface) && a.selected_at_power_on())
                .map_or(Active::None, Active::Applet)
        };
        if let Some(c) = self.channels.first_mut() {
            *c = Some(self.active);
        }
    }

    /// Configures logical channels, the native application's AID and select-only
    /// applications (builder).
    pub(crate) fn set_channels(
        &mut self,
        count: u8,
        native_aid: Option<Vec<u8>>,
        select_only: Vec<Vec<u8>>,
    ) {
        self.native_aid = native_aid;
        self.select_only = select_only;
        self.channels = if count > 1 {
            vec![None; usize::from(count.min(4))]
        } else {
            Vec::new()
        };
        self.default_selection();
    }

    /// The native application's class check: CLA `00`, or `01`-`03` on a card with logical
    /// channels.
    fn native_cla_error(&self, cla: u8) -> Option<StatusWord> {
        if self.channels.len() > 1 && usize::from(cla & 0x03) < self.channels.len() {
            native_cla_error(cla & !0x03)
        } else {
            native_cla_error(cla)
        }
    }

    fn ctx(&self) -> AppletContext {
        AppletContext {
            interface: self.interface,
            extended_length: self.extended,
        }
    }

    /// Whether the raw APDU uses the extended length encoding (ISO 7816-4 §5.1: a `00` byte
    /// then two length bytes right after the header).
    fn is_extended(raw: &[u8]) -> bool {
        matches!(raw.get(4..), Some([0x00, _, _, ..]))
    }

    fn process_bytes(&mut self, raw: &[u8]) -> Vec<u8> {
        if !self.powered {
            // vpcd and PC/SC power the card before the first APDU; be lenient in-process.
            self.power_on_state();
        }
        if self.interface == Interface::Contactless {
            // The PC/SC reader answers its own class itself: the card never sees it.
            if raw.first() == Some(&READER_CLA) {
                return self.reader_command(raw);
            }
            self.stats.apdus += 1;
            if let Active::Applet(i) = self.active {
                let ctx = self.ctx();
                if let Some(answer) = self
                    .applets
                    .get_mut(i)
                    .and_then(|a| a.process_native(raw, &ctx))
                {
                    // A native frame (DESFire) ends any ISO exchange under way.
                    self.pending.clear();
                    self.chain.clear();
                    return answer;
                }
            }
        } else {
            self.stats.apdus += 1;
            // CLA `FF` is not a valid class on the contact interface (ISO 7816-3 reserves
            // it for PPS; ISO 7816-4 §5.4.1): refused before any application sees it.
            if raw.first() == Some(&READER_CLA) {
                return StatusWord::CLA_NOT_SUPPORTED.to_bytes().to_vec();
            }
        }
        let Ok(cmd) = Command::parse(raw) else {
            self.pending.clear();
            self.chain.clear();
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        };
        *self.stats.by_ins.entry(cmd.ins).or_insert(0) += 1;
        if cmd.cla == crate::cps2ter::CLA && self.native_available {
            let Native {
                cps2ter, security, ..
            } = &mut self.native;
            if let Some(c2) = cps2ter {
                // The CPS2ter application (CPS3): its own files and `9Fxx` answers; the ISO
                // side's pending answer and chain end here.
                self.pending.clear();
                self.chain.clear();
                return c2.process(&cmd, security);
            }
        }
        if let Some(Some(a)) = self.channels.get(usize::from(channel_of(cmd.cla))) {
            self.active = *a;
        }
        if Self::is_extended(raw) && !self.extended {
            self.pending.clear();
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        }
        if let Active::Applet(i) = self.active {
            if self.applets.get(i).is_some_and(|a| a.owns_class(cmd.cla)) {
                // The applet frames this class itself (DESFire's CLA 90).
                self.pending.clear();
                self.chain.clear();
                let ctx = self.ctx();
                let ne = cmd.ne;
                let response = match self.applets.get_mut(i) {
                    Some(a) => {
                        let mut storage = crate::applet::Storage {
                            native: &mut self.native,
                            spec: &self.spec,
                        };
                        a.process(&cmd, &ctx, &mut storage)
                    }
                    None => Response::status(StatusWord::INS_NOT_SUPPORTED),
                };
                return self.deliver(response, ne);
            }
        }
        // GET RESPONSE serves what a previous command left (ISO 7816-4 §11.4.1); any other
        // command discards it.
        let pending = std::mem::take(&mut self.pending);
        let channel = channel_of(cmd.cla);
        if cmd.ins == 0xC0 && !self.chain.in_progress() {
            if channel != self.pending_channel {
                // A GET RESPONSE on another channel than the command's: that channel has
                // nothing pending (closed or absent: 6881) (ISO 7816-4 §5.4.2, §11.4.1).
                drop(pending);
                let open = self
                    .channels
                    .get(usize::from(channel))
                    .is_some_and(Option::is_some);
                return if open {
                    StatusWord::CONDITIONS_NOT_SATISFIED
                } else {
                    StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED
                }
                .to_bytes()
                .to_vec();
            }
            return self.get_response(&cmd, pending);
        }
        drop(pending);
        self.pending_channel = channel;
        if cmd.cla & cps_apdu::chain::CHAINING_BIT != 0 {
            // Refuse chains the application cannot take, instead of answering 9000 to them.
            if let Some(sw) = self.chain_refusal(&cmd) {
                self.chain.clear();
                return sw.to_bytes().to_vec();
            }
        }
        let cmd = match self.chain.push(cmd) {
            Ok(Chained::NeedMore) => return StatusWord::SUCCESS.to_bytes().to_vec(),
            Ok(Chained::Complete(c)) => c,
            Err(sw) => return sw.to_bytes().to_vec(),
        };
        let ne = cmd.ne;
        let case2 = cmd.data.is_empty();
        let ins = cmd.ins;
        let response = if self.channels.is_empty() {
            self.dispatch(&cmd)
        } else {
            match self.on_channel(&cmd) {
                Ok(r) => r,
                Err(sw) => Response::status(sw),
            }
        };
        self.deliver_t0(response, ne, case2, ins)
    }

    /// Runs a command on the logical channel its CLA names: a SELECT by AID opens a closed
    /// channel (ISO 7816-4 §5.4.2 "opening by SELECT"; Cryptolib's first CPS4 command is
    /// `01 A4 04 0C <ChipDoc AID>` with no MANAGE CHANNEL, `card-cps4.c`
    /// `_cps4_select_app`); any other command on a closed channel gets `6881`, which makes
    /// Cryptolib re-select (`cps4_get_pin_counter`: `SC_ERROR_BAD_CHANNEL`).
    fn on_channel(&mut self, cmd: &Command) -> Result<Response, StatusWord> {
        let ch = usize::from(channel_of(cmd.cla));
        let slot = self
            .channels
            .get(ch)
            .ok_or(StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED)?;
        let current = match slot {
            Some(a) => *a,
            None if cmd.ins == 0xA4 && cmd.p1 == 0x04 => Active::None,
            None => return Err(StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED),
        };
        let opening = slot.is_none();
        // The native application exists once: selected on two channels, it is the same
        // state (the minimum; the real ChipDoc's multi-selection rules are not published).
        self.active = current;
        let r = self.dispatch(cmd);
        if !opening || r.sw.is_ok_or_warning() {
            if let Some(c) = self.channels.get_mut(ch) {
                *c = Some(self.active);
            }
        }
        Ok(r)
    }

    /// [`Self::deliver`], with the T=0 rules: a case-4 answer always through `61xx`; a case-2
    /// read whose Le does not match: `6Cxx`
    /// (ISO 7816-3 §10.3.3; a T=0 card through a CCID reader does this), for READ BINARY,
    /// READ RECORD and GET DATA only, so that no command with an effect is ever asked twice.
    fn deliver_t0(
        &mut self,
        response: Response,
        ne: Option<usize>,
        case2: bool,
        ins: u8,
    ) -> Vec<u8> {
        let t0 = self.protocol == Protocol::T0 && self.interface == Interface::Contact;
        // Case 4 over T=0: the TPDU carries no Le, so the answer always comes through `61xx`
        // and GET RESPONSE (ISO 7816-3 §12.2.4; what a T=0 card behind a CCID reader gives
        // the application), whatever Le the application put in its APDU.
        if t0 && !case2 && response.sw.is_success() && !response.data.is_empty() {
            return self.deliver(response, None);
        }
        if t0
            && case2
            && matches!(ins, 0xB0 | 0xB2 | 0xCA | 0xCB)
            && response.sw.is_success()
            && !response.data.is_empty()
        {
            if let Some(ne) = ne {
                let len = response.data.len();
                if ne > len && len < 256 {
                    return vec![0x6C, len as u8];
                }
            }
        }
        self.deliver(response, ne)
    }

    /// The PICC's UID as the reader reports it: the PICC applet's (DESFire), else a 4-byte
    /// UID derived from the card serial. The latter is **modelled**: how a CPS3 contactless
    /// chip identifies itself in anticollision is not published; the first byte avoids `08`
    /// (random UIDs, ISO/IEC 14443-3).
    pub fn contactless_uid(&self) -> Vec<u8> {
        if let Some(uid) = self
            .applets
            .iter()
            .filter(|a| a.available_on(Interface::Contactless))
            .find_map(|a| a.picc_uid())
        {
            return uid;
        }
        use sha2::{Digest, Sha256};
        let h = Sha256::digest([b"cps-rs contactless uid ".as_slice(), &self.serial].concat());
        let mut uid: Vec<u8> = h.get(..4).unwrap_or_default().to_vec();
        if let Some(first) = uid.first_mut() {
            if matches!(*first, 0x08 | 0x88) {
                *first ^= 0x10;
            }
        }
        uid
    }

    /// A PC/SC part 3 pseudo-APDU (class `FF`), answered as a contactless reader does
    /// (PC/SC Part 3 §3.2.2.1.3 GET DATA): `FF CA 00 00 Le` the UID, `FF CA 01 00 Le` the
    /// historical bytes of the ATS (those of the ATR the reader built), `Le` = 00 for all of
    /// it, a shorter `Le` → `6C xx`, a longer one → data ‖ `6282`, other P1/P2 → `6A81`.
    /// Other instructions (storage-card commands such as LOAD KEYS, READ BINARY) → `6D00`
    /// (modelled: the card is ISO 14443-4, not a storage card).
    fn reader_command(&self, raw: &[u8]) -> Vec<u8> {
        let Ok(cmd) = Command::parse(raw) else {
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        };
        if cmd.ins != 0xCA {
            return StatusWord::INS_NOT_SUPPORTED.to_bytes().to_vec();
        }
        if !cmd.data.is_empty() {
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        }
        let data = match (cmd.p1, cmd.p2) {
            (0x00, 0x00) => self.contactless_uid(),
            (0x01, 0x00) => cps_transport::Atr::new(&self.atr)
                .historical_bytes()
                .to_vec(),
            _ => return StatusWord::new(0x6A, 0x81).to_bytes().to_vec(),
        };
        let mut out = data;
        match cmd.ne {
            Some(ne) if ne < out.len() => {
                return [0x6C, u8::try_from(out.len()).unwrap_or(0)].to_vec();
            }
            Some(ne) if ne > out.len() && ne != 256 => {
                out.extend_from_slice(&[0x62, 0x82]);
            }
            _ => out.extend_from_slice(&StatusWord::SUCCESS.to_bytes()),
        }
        out
    }

    fn chain_refusal(&self, cmd: &Command) -> Option<StatusWord> {
        match self.active {
            Active::Applet(i) => match self.applets.get(i) {
                Some(a) if a.accepts_chaining() => None,
                _ => Some(StatusWord::INS_NOT_SUPPORTED),
            },
            Active::None | Active::SelectOnly(_) => Some(StatusWord::INS_NOT_SUPPORTED),
            Active::Native => {
                if let Some(sw) = self.native_cla_error(cmd.cla & !cps_apdu::chain::CHAINING_BIT) {
                    Some(sw)
                } else if !Native::handles(cmd.ins) {
                    Some(StatusWord::INS_NOT_SUPPORTED)
                } else {
                    None
                }
            }
        }
    }

    /// GET RESPONSE (`00 C0 00 00 Le`).
    fn get_response(&mut self, cmd: &Command, mut pending: Zeroizing<Vec<u8>>) -> Vec<u8> {
        if pending.is_empty() {
            return StatusWord::CONDITIONS_NOT_SATISFIED.to_bytes().to_vec();
        }
        if (cmd.p1, cmd.p2) != (0, 0) || !cmd.data.is_empty() {
            self.pending = pending;
            return StatusWord::INCORRECT_P1P2.to_bytes().to_vec();
        }
        let Some(ne) = cmd.ne else {
            self.pending = pending;
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        };
        let n = ne.min(pending.len());
        let mut out: Vec<u8> = pending.get(..n).unwrap_or_default().to_vec();
        self.pending = Zeroizing::new(pending.get(n..).unwrap_or_default().to_vec());
        pending.clear();
        if self.pending.is_empty() {
            out.extend_from_slice(&StatusWord::SUCCESS.to_bytes());
        } else {
            out.extend_from_slice(&sw_61(self.pending.len()));
        }
        out
    }

    /// Sends the answer in the transport's way: directly, or the first Ne bytes then `61xx`,
    /// or (T=0, no Le) all of it through `61xx` + GET RESPONSE (ISO 7816-3 §10.3.4,
    /// ISO 7816-4 §5.3.4).
    fn deliver(&mut self, response: Response, ne: Option<usize>) -> Vec<u8> {
        let Response { data, sw } = response;
        let data = Zeroizing::new(data);
        if data.is_empty() {
            return sw.to_bytes().to_vec();
        }
        if !sw.is_success() {
            // A warning with data (6282 at end of file, 6283 deactivated file): no 61xx
            // possible, the data goes with the warning.
            let n = ne.unwrap_or(data.len()).min(data.len());
            let mut out = data.get(..n).unwrap_or_default().to_vec();
            out.extend_from_slice(&sw.to_bytes());
            return out;
        }
        let t0 = self.protocol == Protocol::T0 && self.interface == Interface::Contact;
        match ne {
            Some(ne) if data.len() > ne => {
                let mut out = data.get(..ne).unwrap_or_default().to_vec();
                self.pending = Zeroizing::new(data.get(ne..).unwrap_or_default().to_vec());
                out.extend_from_slice(&sw_61(self.pending.len()));
                out
            }
            None if t0 => {
                let len = data.len();
                self.pending = data;
                sw_61(len).to_vec()
            }
            _ => {
                let mut out = data.to_vec();
                out.extend_from_slice(&StatusWord::SUCCESS.to_bytes());
                out
            }
        }
    }

    /// Makes `next` the active application; the applet that was active (if another) is told
    /// it was deselected.
    fn switch_to(&mut self, next: Active) {
        if let Active::Applet(old) = self.active {
            if next != Active::Applet(old) {
                if let Some(a) = self.applets.get_mut(old) {
                    a.deselect();
                }
            }
        }
        self.active = next;
    }

    fn dispatch(&mut self, cmd: &Command) -> Response {
        let ctx = self.ctx();
        // SELECT by DF name goes to the card, whatever is active: it may switch application.
        if cmd.ins == 0xA4 && cmd.p1 == 0x04 && cmd.cla & 0xFC == 0x00 {
            if let Some(i) = self.select_only.iter().position(|a| a == &cmd.data) {
                self.switch_to(Active::SelectOnly(i));
                return Response::status(StatusWord::SUCCESS);
            }
            if self.native_available && self.native_aid.as_deref() == Some(cmd.data.as_slice()) {
                // The applet holding the file system: its SELECT leaves the MF current.
                let mf = Command::new(cmd.cla & 0x03, 0xA4, 0x00, cmd.p2)
                    .with_data(&[0x3F, 0x00])
                    .with_ne(cmd.ne.unwrap_or(0));
                let mf = if cmd.ne.is_none() {
                    Command::new(cmd.cla & 0x03, 0xA4, 0x00, cmd.p2).with_data(&[0x3F, 0x00])
                } else {
                    mf
                };
                let r = self.native.select(&mf);
                if r.sw.is_ok_or_warning() {
                    self.switch_to(Active::Native);
                }
                return r;
            }
            if let Some(i) = self
                .applets
                .iter()
                .position(|a| a.available_on(self.interface) && a.aid() == cmd.data.as_slice())
            {
                let Some(applet) = self.applets.get_mut(i) else {
                    return Response::status(StatusWord::FILE_NOT_FOUND);
                };
                let r = applet.select(&ctx);
                if r.sw.is_ok_or_warning() {
                    // Only a successful SELECT leaves the previous application.
                    self.switch_to(Active::Applet(i));
                }
                return r;
            }
            if !self.native_available
                || (self.native_aid.is_some() && self.active != Active::Native)
            {
                return Response::status(StatusWord::FILE_NOT_FOUND);
            }
            if let Some(sw) = self.native_cla_error(cmd.cla) {
                return Response::status(sw);
            }
            let r = self.native.select(cmd);
            if r.sw.is_ok_or_warning() {
                self.switch_to(Active::Native);
            }
            return r;
        }
        // SELECT by file identifier or path while an applet is active: back to the file
        // system (as the Applet documentation says), when the interface has it.
        if cmd.ins == 0xA4
            && cmd.cla & 0xFC == 0x00
            && self.native_available
            && self.native_aid.is_none()
            && matches!(self.active, Active::Applet(_))
        {
            let r = self.native.select(cmd);
            if r.sw.is_ok_or_warning() {
                self.switch_to(Active::Native);
            }
            return r;
        }
        match self.active {
            Active::Applet(i) => match self.applets.get_mut(i) {
                Some(a) => {
                    let mut storage = crate::applet::Storage {
                        native: &mut self.native,
                        spec: &self.spec,
                    };
                    a.process(cmd, &ctx, &mut storage)
                }
                None => Response::status(StatusWord::INS_NOT_SUPPORTED),
            },
            Active::Native => {
                if let Some(sw) = self.native_cla_error(cmd.cla) {
                    return Response::status(sw);
                }
                self.native.process(cmd)
            }
            Active::SelectOnly(_) => Response::status(StatusWord::INS_NOT_SUPPORTED),
            Active::None => Response::status(if cmd.ins == 0xA4 {
                StatusWord::FILE_NOT_FOUND
            } else {
                StatusWord::INS_NOT_SUPPORTED
            }),
        }
    }
}

/// `61xx`: `xx` more bytes available (`00` for 256 or more).
fn sw_61(remaining: usize) -> [u8; 2] {
    [0x61, if remaining >= 256 { 0 } else { remaining as u8 }]
}

/// The native application only takes CLA `00` (chaining bit removed): logical channels
/// (`01`-`03`) give `6881`, secure messaging (`04`-`0F`) `6882`, anything else `6E00`
/// (ISO 7816-4 §5.4.1 Table 2, Table 6).
fn native_cla_error(cla: u8) -> Option<StatusWord> {
    match cla {
        0x00 => None,
        0x01..=0x03 => Some(StatusWord::LOGICAL_CHANNEL_NOT_SUPPORTED),
        0x04..=0x0F => Some(StatusWord::SM_NOT_SUPPORTED),
        _ => Some(StatusWord::CLA_NOT_SUPPORTED),
    }
}

impl VirtualCard for SimCard {
    fn atr(&self) -> Vec<u8> {
        self.atr.clone()
    }

    fn power_on(&mut self) {
        self.power_on_state();
    }

    fn power_off(&mut self) {
        self.powered = false;
        self.pending = Zeroizing::new(Vec::new());
        self.chain.clear();
        self.native.security.clear();
    }

    fn reset(&mut self) {
        self.power_on_state();
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.process_bytes(apdu)
    }
}
