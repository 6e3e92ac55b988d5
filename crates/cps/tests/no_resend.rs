//! Issue 12's reproduction, end to end: the cps-iasecc client and the simulated CPS3 / CPS4,
//! with a relaying reader between them that forwards the first VERIFY / CHANGE REFERENCE
//! DATA / RESET RETRY COUNTER / PSO to the card and then lies about the answer (`6C00`,
//! `61xx`, a torn answer, a dropped answer). One user action must move the card's try
//! counter by at most one (it went 3 → 1 when the exchange re-sent the VERIFY on `6Cxx`).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use cps::iasecc::{CpsCard, Digest, KeyRole, Pin, PinStatus, Puk};
use cps::sim::{Profile, SimCard};
use cps::transport::{CardChannel, InProcessChannel, Reborrow, TransportError};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    WrongLe,
    MoreData,
    Torn,
    Dropped,
}

/// Forwards everything; the first command with instruction `target` (and data) gets `fault`.
struct Relay {
    inner: InProcessChannel<SimCard>,
    target: u8,
    fault: Option<Fault>,
    held: Vec<u8>,
    sent_target: usize,
}

impl CardChannel for Relay {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let ins = command.get(1).copied();
        if !self.held.is_empty() && ins == Some(0xC0) {
            return Ok(std::mem::take(&mut self.held));
        }
        let real = self.inner.transmit(command)?;
        let is_target = ins == Some(self.target) && command.len() > 5;
        if is_target {
            self.sent_target += 1;
        }
        match (is_target, self.fault.take()) {
            (true, Some(Fault::WrongLe)) => Ok(vec![0x6C, 0x00]),
            (true, Some(Fault::MoreData)) => {
                self.held = real;
                Ok(vec![0x61, (self.held.len() - 2).min(255) as u8])
            }
            (true, Some(Fault::Torn)) => Ok(real[..1].to_vec()),
            (true, Some(Fault::Dropped)) => Err(TransportError::CardUnresponsive),
            (false, f) => {
                self.fault = f;
                Ok(real)
            }
            (true, None) => Ok(real),
        }
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(Reborrow(self)))
    }
}

fn open(profile: Profile, target: u8, fault: Fault) -> CpsCard<Relay> {
    open_with(profile, target, Some(fault))
}

fn open_with(profile: Profile, target: u8, fault: Option<Fault>) -> CpsCard<Relay> {
    let relay = Relay {
        inner: InProcessChannel::new(SimCard::new(profile, "dr-martin").unwrap()),
        target,
        fault,
        held: Vec::new(),
        sent_target: 0,
    };
    CpsCard::open(relay).unwrap()
}

fn tries(status: PinStatus) -> u8 {
    match status {
        PinStatus::RetriesLeft(n) => n,
        PinStatus::Verified => 3,
        PinStatus::Blocked => 0,
    }
}

const FAULTS: [Fault; 4] = [Fault::WrongLe, Fault::MoreData, Fault::Torn, Fault::Dropped];
const PROFILES: [Profile; 2] = [Profile::Cps3, Profile::Cps4];

#[test]
fn a_wrong_pin_spends_one_try_whatever_the_reader_answers() {
    for profile in PROFILES {
        for fault in FAULTS {
            let mut card = open(profile, 0x20, fault);
            let before = tries(card.pin_status().unwrap());
            assert!(card.verify_pin(&Pin::new("9999").unwrap()).is_err());
            let after = tries(card.pin_status().unwrap());
            assert_eq!(
                before - after,
                1,
                "{profile:?} {fault:?}: {before} -> {after}"
            );
            // The status reads (VERIFY without data) are not the target; the PIN went once.
            let relay = card.channel();
            assert_eq!(relay.sent_target, 1, "{profile:?} {fault:?}");
        }
    }
}

#[test]
fn change_and_unblock_spend_at_most_one_try() {
    for profile in PROFILES {
        for fault in FAULTS {
            let mut card = open(profile, 0x24, fault);
            let wrong = Pin::new("9999").unwrap();
            let new = Pin::new("5678").unwrap();
            assert!(card.change_pin(&wrong, &new).is_err());
            let after = tries(card.pin_status().unwrap());
            assert_eq!(after, 2, "CHANGE {profile:?} {fault:?}");

            let mut card = open(profile, 0x2C, fault);
            let wrong_puk = Puk::new("00000000").unwrap();
            assert!(card.unblock_pin(&wrong_puk, &new).is_err());
            let puk_after = tries(card.puk_status().unwrap());
            assert_eq!(puk_after, 2, "RESET RETRY COUNTER {profile:?} {fault:?}");
        }
    }
}

#[test]
fn a_signature_is_computed_once() {
    for profile in PROFILES {
        // Without a fault: how many PSO a signature takes on this card.
        let mut card = open_with(profile, 0x2A, None);
        card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
        card.sign(KeyRole::Signature, &Digest::sha256_of(b"ordonnance"))
            .unwrap();
        let clean = card.channel().inner.card().stats().count(0x2A);
        assert!(clean >= 1, "{profile:?}");
        for fault in FAULTS {
            let mut card = open(profile, 0x2A, fault);
            card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
            let _ = card.sign(KeyRole::Signature, &Digest::sha256_of(b"ordonnance"));
            let relay = card.channel();
            let pso = relay.inner.card().stats().count(0x2A);
            assert!(
                pso <= clean,
                "{profile:?} {fault:?}: {pso} PSO executed, {clean} without a fault"
            );
        }
    }
}
