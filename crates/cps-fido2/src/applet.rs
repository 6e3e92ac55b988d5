//! The simulated FIDO2 applet at APDU level (CTAP 2.1 §11.3): what the CPS4 simulator
//! answers once `A0000006472F0001` is selected.
//!
//! Accepts every framing real clients send (shared notes §2): short APDUs with chaining
//! (CLA `90`), extended APDUs with or without Le (python-fido2's extended mode sends none: the
//! full response is then returned), GET RESPONSE with CLA `00` or `80`, NFCCTAP_GETRESPONSE
//! polling and cancel, NFCCTAP_CONTROL "end". User presence is a policy of the simulated card.

use cps_apdu::chain::{Chained, Reassembler};
use cps_apdu::{Command, StatusWord};

use crate::authenticator::{Authenticator, PresencePolicy};
use crate::ctap::CtapStatus;
use crate::transport::FIDO_AID;

/// CTAPHID keepalive status byte "user presence needed" (sent with SW `9100`).
const STATUS_UP_NEEDED: u8 = 0x02;

struct Pending {
    request: Vec<u8>,
    polls_left: u32,
    extended: bool,
}

/// The FIDO2 applet of a simulated card.
pub struct FidoApplet {
    auth: Authenticator,
    policy: PresencePolicy,
    selected: bool,
    contactless: bool,
    chain: Reassembler,
    pending: Option<Pending>,
    outgoing: Vec<u8>,
}

impl Default for FidoApplet {
    fn default() -> Self {
        FidoApplet::new()
    }
}

fn sw(s: StatusWord) -> Vec<u8> {
    s.to_bytes().to_vec()
}

impl FidoApplet {
    /// A blank applet with the `Auto` presence policy.
    pub fn new() -> Self {
        FidoApplet {
            auth: Authenticator::new(),
            policy: PresencePolicy::Auto,
            selected: false,
            contactless: false,
            chain: Reassembler::new(crate::authenticator::MAX_MSG_SIZE as usize),
            pending: None,
            outgoing: Vec::new(),
        }
    }

    /// Sets the user-presence policy.
    pub fn set_presence_policy(&mut self, policy: PresencePolicy) {
        self.policy = policy;
    }

    /// Chooses basic (default) or self attestation.
    pub fn set_attestation(&mut self, mode: crate::authenticator::AttestationMode) {
        self.auth.set_attestation(mode);
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

    /// Processes one APDU; returns `data ‖ SW1 SW2`.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Ok(c) = Command::parse(apdu) else {
            return sw(StatusWord::WRONG_LENGTH);
        };
        let extended = apdu.get(4) == Some(&0) && apdu.len() > 5;
        if c.ins == 0xA4 && c.cla & 0x80 == 0 {
            if c.p1 != 0x04 || c.data != FIDO_AID {
                self.deselect();
                return sw(StatusWord::FILE_NOT_FOUND);
            }
            if self.contactless {
                // CPS4: the FIDO2 applet works through the contact interface only.
                self.deselect();
                return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
            }
            self.selected = true;
            self.pending = None;
            self.outgoing.clear();
            self.chain.clear();
            let mut out = b"FIDO_2_0".to_vec();
            out.extend_from_slice(&StatusWord::SUCCESS.to_bytes());
            return out;
        }
        if !self.selected {
            return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
        }
        match (c.cla & !0x10, c.ins) {
            (0x00 | 0x80, 0xC0) => {
                if self.outgoing.is_empty() {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                }
                self.send(c.ne.unwrap_or(256))
            }
            (0x80, 0x10) => {
                if c.p1 & !0x80 != 0 || c.p2 != 0 {
                    return sw(StatusWord::INCORRECT_P1P2);
                }
                let full = match self.chain.push(c) {
                    Ok(Chained::NeedMore) => return sw(StatusWord::SUCCESS),
                    Ok(Chained::Complete(full)) => full,
                    Err(status) => {
                        // An oversized chain is a CTAP error, not an ISO one (§11.3.6).
                        if status == StatusWord::WRONG_LENGTH {
                            return self.reply(
                                vec![CtapStatus::CTAP2_ERR_REQUEST_TOO_LARGE.0],
                                extended,
                                Some(256),
                            );
                        }
                        return sw(status);
                    }
                };
                let polls_allowed = full.p1 & 0x80 != 0;
                let request = full.data;
                self.pending = None;
                if Authenticator::needs_presence(&request) {
                    match self.policy {
                        PresencePolicy::Deny => {
                            let r = self.auth.handle(&request, false);
                            return self.reply(r, extended, full.ne);
                        }
                        PresencePolicy::AfterPolls(n) if n > 0 && polls_allowed => {
                            self.pending = Some(Pending {
                                request,
                                polls_left: n,
                                extended,
                            });
                            return vec![STATUS_UP_NEEDED, 0x91, 0x00];
                        }
                        _ => {}
                    }
                }
                let r = self.auth.handle(&request, true);
                self.reply(r, extended, full.ne)
            }
            (0x80, 0x11) => {
                let Some(mut p) = self.pending.take() else {
                    return sw(StatusWord::CONDITIONS_NOT_SATISFIED);
                };
                if c.p1 == 0x11 {
                    // Cancel (as python-fido2 sends it): KEEPALIVE_CANCEL.
                    return self.reply(
                        vec![CtapStatus::CTAP2_ERR_KEEPALIVE_CANCEL.0],
                        p.extended,
                        c.ne,
                    );
                }
                p.polls_left = p.polls_left.saturating_sub(1);
                if p.polls_left > 0 {
                    self.pending = Some(p);
                    return vec![STATUS_UP_NEEDED, 0x91, 0x00];
                }
                let r = self.auth.handle(&p.request, true);
                self.reply(r, p.extended, c.ne)
            }
            (0x80, 0x12) => {
                // NFCCTAP_CONTROL END: deselect until the next SELECT.
                self.deselect();
                sw(StatusWord::SUCCESS)
            }
            (0x00 | 0x80, _) => sw(StatusWord::INS_NOT_SUPPORTED),
            _ => sw(StatusWord::CLA_NOT_SUPPORTED),
        }
    }

    /// Queues a CTAP response and sends what fits: everything for extended requests (the
    /// client expects the full response even without Le), else 256-byte pieces with `61xx`.
    fn reply(&mut self, response: Vec<u8>, extended: bool, ne: Option<usize>) -> Vec<u8> {
        self.outgoing = response;
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
