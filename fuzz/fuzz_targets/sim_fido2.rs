//! The FIDO2 applet inside the simulated CPS4 (cps-sim card core + applet), fed arbitrary APDU
//! sequences after its SELECT: CTAP2 messages, status-update polls, GET RESPONSE, chains and
//! the U2F instructions (REGISTER / AUTHENTICATE / VERSION parsing). Never panics, always
//! answers at least a status word, the IAS-ECC PIN counters stay in range.
//!
//! Input: first byte = mode (bit 0: CTAP2 or U2F-only; bit 1: presence after 2 polls); then
//! records `len ‖ APDU` (`len` = 0 is a card reset, which deselects the applet: the next
//! record then re-selects it).
#![no_main]
use std::sync::OnceLock;

use cps_sim::{Fido2Mode, Fido2Presence, Profile, SimCard};
use cps_transport::VirtualCard;
use libfuzzer_sys::fuzz_target;

const SELECT: [u8; 14] = [0x00, 0xA4, 0x04, 0x00, 0x08, 0xA0, 0x00, 0x00, 0x06, 0x47, 0x2F, 0x00, 0x01, 0x00];

fn cards() -> &'static [SimCard; 4] {
    static CARDS: OnceLock<[SimCard; 4]> = OnceLock::new();
    CARDS.get_or_init(|| {
        let build = |mode, presence| {
            SimCard::builder()
                .profile(Profile::Cps4)
                .key_generation(false)
                .fido2_mode(mode)
                .fido2_presence(presence)
                .build()
                .expect("card")
        };
        [
            build(Fido2Mode::Ctap2, Fido2Presence::Auto),
            build(Fido2Mode::U2fOnly, Fido2Presence::Auto),
            build(Fido2Mode::Ctap2, Fido2Presence::AfterPolls(2)),
            build(Fido2Mode::U2fOnly, Fido2Presence::AfterPolls(2)),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let mut card = cards()[usize::from(selector & 3)].clone();
    card.power_on();
    let mut r = card.process(&SELECT);
    // T=0 (the real CPS4): the SELECT's answer comes through 61xx + GET RESPONSE.
    if let [0x61, n] = r[..] {
        r = card.process(&[0x00, 0xC0, 0x00, 0x00, n]);
    }
    assert_eq!(r.get(r.len().saturating_sub(2)..), Some(&[0x90, 0x00][..]));
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            card.reset();
            let _ = card.process(&SELECT);
            rest = tail;
            continue;
        }
        let n = usize::from(len).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        rest = next;
        let r = card.process(apdu);
        assert!(r.len() >= 2);
        assert!(card.tries_left(1).is_some_and(|t| t <= 3));
    }
});
