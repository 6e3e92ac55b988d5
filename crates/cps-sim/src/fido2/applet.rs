//! The simulated FIDO2 applet at APDU level (CTAP 2.1 §11.3): what the CPS4 simulator
//! answers once `A0000006472F0001` is selected.
//!
//! Accepts every framing real clients send (shared notes §2): short APDUs with chaining
//! (CLA `90`), extended APDUs with or without Le (python-fido2's extended mode sends none: the
//! full response is then returned), GET RESPONSE with CLA `00` or `80`, NFCCTAP_GETRESPONSE
//! polling and cancel, NFCCTAP_CONTROL "end". User presence is a policy of the simulated card.

use cps_apdu::chain::{CHAINING_BIT, Chained, Reassembler};
use cps_apdu::{Command, Response, StatusWord};

use super::authenticator::{Authenticator, PresencePolicy};
use cps_fido2::ctap::CtapStatus;
use cps_fido2::table;
use cps_fido2::transport::FIDO_AID;

/// CTAPHID keepalive status byte "user presence needed" (sent with SW `9100`).
const STATUS_UP_NEEDED: u8 = 0x02;
/// SW `9100`: a CTAP status update follows the data (CTAP 2.1 §11.3.7.2).
const SW_STATUS_UPDATE: StatusWord = StatusWord(0x9100);

/// Which protocols the applet speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppletMode {
    /// CTAP2 (NFCCTAP_MSG) and CTAP1/U2F; SELECT answers `"U2F_V2"` while U2F is offered,
    /// `"FIDO_2_0"` once alwaysUv turns it off (CTAP 2.1 §11.3.3 / FIDO NFC protocol: the
    /// answer names U2F when the authenticator supports it).
    #[default]
    Ctap2,
    /// An older U2F-only applet: SELECT answers `"U2F_V2"`, NFCCTAP_MSG gets `6D00`.
    U2fOnly,
}

#[derive(Clone)]
struct Pending {
    request: Vec<u8>,
    polls_left: u32,
}

/// The FIDO2 applet of a simulated card.
#[derive(Clone)]
pub struct FidoApplet {
    auth: Authenticator,
    policy: PresencePolicy,
    mode: AppletMode,
    selected: bool,
    contactless: bool,
    chain: Reassembler,
    pending: Option<Pending>,
    outgoing: Vec<u8>,
    /// U2F requests refused with `6985` so far under [`PresencePolicy::AfterPolls`].
    u2f_refusals: u32,
}

impl Default for FidoApplet {
    fn default() -> Self {
        FidoApplet::new()
    }
}

fn sw(s: StatusWord) -> Response {
    Response::status(s)
}

impl FidoApplet {
    /// A blank applet with the `Auto` presence policy.
    pub fn new() -> Self {
        FidoApplet {
            auth: Authenticator::new(),
            policy: PresencePolicy::Auto,
            mode: AppletMode::Ctap2,
            selected: false,
            contactless: false,
            chain: Reassembler::new(super::authenticator::MAX_MSG_SIZE as usize),
            pending: None,
            outgoing: Vec::new(),
            u2f_refusals: 0,
        }
    }

    /// Sets the user-presence policy.
    pub fn set_presence_policy(&mut self, policy: PresencePolicy) {
        self.policy = policy;
    }

    /// Chooses basic (default) or self attestation.
    pub fn set_attestation(&mut self, mode: super::authenticator::AttestationMode) {
        self.auth.set_attestation(mode);
    }

    /// CTAP2 + U2F (default) or U2F only.
    pub fn set_mode(&mut self, mode: AppletMode) {
        self.mode = mode;
    }

    /// The protocols the applet speaks.
    pub fn mode(&self) -> AppletMode {
        self.mode
    }

    /// Tells the applet which interface powers the card: it is usable through the contact
    /// interface only, as on the CPS4.
    pub fn set_contactless(&mut self, contactless: bool) {
        self.contactless = contactless;
    }

    /// The authenticator engine (state inspection in tests).
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// Power-up: deselected, volatile CTAP state cleared.
    pub fn power_on(&mut self) {
        self.selected = false;
        self.chain.clear();
        self.pending = None;
        self.outgoing.clear();
        self.u2f_refusals = 0;
        self.auth.power_on();
    }

    /// Whether `apdu` is a SELECT of the FIDO AID (the card dispatcher routes it here).
    pub fn is_select_fido(apdu: &[u8]) -> bool {
        matches!(Command::parse(apdu), Ok(c) if c.cla & 0x80 == 0 && c.ins == 0xA4 && c.p1 == 0x04 && c.data == FIDO_AID)
    }

    /// Whether the applet is selected (the card routes non-SELECT APDUs here then).
    pub fn is_selected(&self) -> bool {
        self.selected
    }

    /// Deselects (another application was selected).
    pub fn deselect(&mut self) {
        self.selected = false;
        self.pending = None;
        self.outgoing.clear();
        self.chain.clear();
    }

    /// What SELECT answers: `"U2F_V2"` when CTAP1/U2F is offered, else `"FIDO_2_0"`.
    pub fn select_answer(&self) -> &'static [u8] {
        match self.mode {
            AppletMode::U2fOnly => b"U2F_V2",
            AppletMode::Ctap2 if self.auth.u2f_enabled() => b"U2F_V2",
            AppletMode::Ctap2 => b"FIDO_2_0",
        }
    }

    /// SELECT of the FIDO AID: the version string ‖ `9000`, or `6985` on the contactless
    /// interface (the applet exists but is usable through the contacts only).
    pub fn select(&mut self) -> Response {
        if self.contactless {
            self.deselect();
            return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        self.selected = true;
        self.pending = None;
        self.outgoing.clear();
        self.chain.clear();
        self.u2f_refusals = 0;
        Response::success(self.select_answer().to_vec())
    }

    /// Processes one complete command of the selected applet (command chains already
    /// reassembled, GET RESPONSE served by the caller): NFCCTAP_MSG, NFCCTAP_GETRESPONSE,
    /// NFCCTAP_CONTROL and the U2F instructions. A status update is answered as
    /// `02` ‖ `9100`. Never panics.
    pub fn command(&mut self, c: &Command) -> Response {
        if !self.selected {
            return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        // The request shape, from the entry the client builds the command with
        // (cps_fido2::table): a CTAP message of the wrong length is CTAP1_ERR_INVALID_LENGTH
        // (CTAP 2.1 §8.2), a U2F message SW_WRONG_LENGTH (FIDO U2F raw message formats §3.3).
        if let Some(spec) = table::TABLE.find(c.cla, c.ins, c.data.first().copied()) {
            if spec.check_data(&c.data).is_err() {
                return if c.ins == table::INS_MSG {
                    Response::success(vec![CtapStatus::CTAP1_ERR_INVALID_LENGTH.0])
                } else {
                    sw(StatusWord::WRONG_LENGTH)
                };
            }
        }
        let ctap2 = self.mode == AppletMode::Ctap2;
        match (c.cla, c.ins) {
            (0x80, 0x10) if ctap2 => {
                if c.p1 & !0x80 != 0 || c.p2 != 0 {
                    return sw(StatusWord::INCORRECT_P1P2);
                }
                let polls_allowed = c.p1 & 0x80 != 0;
                self.pending = None;
                if Authenticator::needs_presence(&c.data) {
                    match self.policy {
                        PresencePolicy::Deny => {
                            return Response::success(self.auth.handle(&c.data, false));
                        }
                        PresencePolicy::AfterPolls(n) if n > 0 && polls_allowed => {
                            self.pending = Some(Pending {
                                request: c.data.clone(),
                                polls_left: n,
                            });
                            return Response::new(vec![STATUS_UP_NEEDED], SW_STATUS_UPDATE);
                        }
                        _ => {}
                    }
                }
                Response::success(self.auth.handle(&c.data, true))
            }
            (0x80, 0x11) if ctap2 => {
                let Some(mut p) = self.pending.take() else {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                if c.p1 == 0x11 {
                    // Cancel (as python-fido2 sends it): KEEPALIVE_CANCEL.
                    return Response::success(vec![CtapStatus::CTAP2_ERR_KEEPALIVE_CANCEL.0]);
                }
                p.polls_left = p.polls_left.saturating_sub(1);
                if p.polls_left > 0 {
                    self.pending = Some(p);
                    return Response::new(vec![STATUS_UP_NEEDED], SW_STATUS_UPDATE);
                }
                Response::success(self.auth.handle(&p.request, true))
            }
            (0x80, 0x12) if ctap2 => {
                // NFCCTAP_CONTROL END: deselect until the next SELECT.
                self.deselect();
                sw(StatusWord::SUCCESS)
            }
            (0x00, 0x01..=0x03) => {
                let present = if Authenticator::u2f_needs_presence(c) {
                    self.u2f_presence()
                } else {
                    true
                };
                let r = self.auth.u2f(c, present);
                if r.sw.is_success() {
                    self.u2f_refusals = 0;
                }
                r
            }
            (0x00 | 0x80, _) => sw(StatusWord::INS_NOT_SUPPORTED),
            _ => sw(StatusWord::CLA_NOT_SUPPORTED),
        }
    }

    /// U2F has no status updates: the card answers `6985` until the user confirms and the
    /// client repeats the request (U2F Raw Message Formats v1.2 §3.3).
    fn u2f_presence(&mut self) -> bool {
        match self.policy {
            PresencePolicy::Auto => true,
            PresencePolicy::Deny => false,
            PresencePolicy::AfterPolls(n) => {
                if self.u2f_refusals < n {
                    self.u2f_refusals += 1;
                    false
                } else {
                    true
                }
            }
        }
    }

    /// Processes one APDU with the applet's own framing (a card that holds only this
    /// applet); returns `data ‖ SW1 SW2`. Command chaining (CLA bit `10`) is reassembled,
    /// long answers go out in 256-byte pieces with `61xx` unless the request was extended
    /// (then all at once, even without Le), GET RESPONSE is accepted with CLA `00` or `80`.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Ok(c) = Command::parse(apdu) else {
            return StatusWord::WRONG_LENGTH.to_bytes().to_vec();
        };
        let extended = apdu.get(4) == Some(&0) && apdu.len() > 5;
        if c.ins == 0xA4 && c.cla & 0x80 == 0 {
            let r = if c.p1 == 0x04 && c.data == FIDO_AID {
                self.select()
            } else {
                self.deselect();
                sw(StatusWord::FILE_NOT_FOUND)
            };
            return self.reply(r, true, None);
        }
        if !self.selected {
            return StatusWord::CONDITIONS_NOT_SATISFIED.to_bytes().to_vec();
        }
        let base_cla = c.cla & !CHAINING_BIT;
        if c.ins == 0xC0 && matches!(base_cla, 0x00 | 0x80) && !self.chain.in_progress() {
            if self.outgoing.is_empty() {
                return StatusWord::CONDITIONS_NOT_SATISFIED.to_bytes().to_vec();
            }
            return self.send(c.ne.unwrap_or(256));
        }
        if !matches!(base_cla, 0x00 | 0x80) {
            self.chain.clear();
            return StatusWord::CLA_NOT_SUPPORTED.to_bytes().to_vec();
        }
        let is_msg = c.ins == 0x10;
        let full = match self.chain.push(c) {
            Ok(Chained::NeedMore) => return StatusWord::SUCCESS.to_bytes().to_vec(),
            Ok(Chained::Complete(full)) => full,
            Err(status) => {
                // An oversized CTAP message is a CTAP error, not an ISO one (§11.3.6).
                if is_msg && status == StatusWord::WRONG_LENGTH {
                    let r = Response::success(vec![CtapStatus::CTAP2_ERR_REQUEST_TOO_LARGE.0]);
                    return self.reply(r, extended, Some(256));
                }
                return status.to_bytes().to_vec();
            }
        };
        let r = self.command(&full);
        self.reply(r, extended, full.ne)
    }

    /// Sends an answer: errors and status updates as they are; data through the outgoing
    /// buffer, everything for extended requests (the client expects the full response even
    /// without Le), else 256-byte pieces with `61xx`.
    fn reply(&mut self, r: Response, extended: bool, ne: Option<usize>) -> Vec<u8> {
        if !r.sw.is_success() || r.data.is_empty() {
            let mut out = r.data;
            out.extend_from_slice(&r.sw.to_bytes());
            return out;
        }
        self.outgoing = r.data;
        let n = if extended {
            usize::MAX
        } else {
            ne.unwrap_or(256).min(256)
        };
        self.send(n)
    }

    fn send(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.outgoing.len());
        let mut out: Vec<u8> = self.outgoing.drain(..n).collect();
        let left = self.outgoing.len();
        if left == 0 {
            out.extend_from_slice(&StatusWord::SUCCESS.to_bytes());
        } else {
            out.extend_from_slice(&[0x61, left.min(256) as u8]);
        }
        out
    }
}

/// A card holding only the FIDO2 applet: for tests, and for serving through vpcd before the
/// full CPS4 profile composes it with the IAS-ECC application.
pub struct FidoCard {
    /// The applet.
    pub applet: FidoApplet,
    contactless: bool,
}

impl FidoCard {
    /// A blank FIDO2-only card on the contact interface.
    pub fn new() -> Self {
        FidoCard {
            applet: FidoApplet::new(),
            contactless: false,
        }
    }

    /// A blank card whose applet speaks CTAP1/U2F only (SELECT answers `"U2F_V2"`,
    /// NFCCTAP_MSG is refused with `6D00`): the case of older FIDO applets.
    pub fn u2f_only() -> Self {
        let mut c = FidoCard::new();
        c.applet.set_mode(AppletMode::U2fOnly);
        c
    }

    /// The same card seen through a contactless reader (the applet then refuses SELECT).
    pub fn contactless() -> Self {
        let mut c = FidoCard::new();
        c.contactless = true;
        c.applet.set_contactless(true);
        c
    }
}

impl Default for FidoCard {
    fn default() -> Self {
        FidoCard::new()
    }
}

impl cps_transport::VirtualCard for FidoCard {
    fn atr(&self) -> Vec<u8> {
        // Contact: T=1 with historical bytes 80 73 C0 21 C0 (card capabilities: extended Lc/Le
        // supported), like the simulated CPS4; contactless: a PC/SC part 3 ATR.
        let mut atr = if self.contactless {
            vec![0x3B, 0x85, 0x80, 0x01, 0x80, 0x73, 0xC0, 0x21, 0xC0]
        } else {
            vec![
                0x3B, 0x95, 0x96, 0x81, 0x31, 0xFE, 0x45, 0x80, 0x73, 0xC0, 0x21, 0xC0,
            ]
        };
        let tck = atr.iter().skip(1).fold(0u8, |a, b| a ^ b);
        atr.push(tck);
        atr
    }

    fn power_on(&mut self) {
        self.applet.power_on();
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.applet.process(apdu)
    }
}
