//! The simulated DESFire PICC (cps-sim, CPS4 contactless) fed arbitrary APDU sequences, from a
//! fresh card or from cards already in a D40, EV1 or EV2 session: never panics, always answers
//! a status word to ISO frames (`91xx` to every wrapped one) and a status byte to native ones.
//!
//! Input: first byte = starting card (0 fresh, 1 legacy PICC session, 2 AES EV1 session,
//! 3 EV2 session in the access-control application); then records `len ‖ APDU` (`len` = 0 is a
//! power cycle).
#![no_main]
use std::sync::OnceLock;

use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::{Aid, AuthMode, Desfire};
use cps_sim::desfire::access_control as ac;
use cps_sim::{Interface, Profile, SimCard};
use cps_transport::{InProcessChannel, VirtualCard};
use libfuzzer_sys::fuzz_target;

fn cards() -> &'static [SimCard; 4] {
    static CARDS: OnceLock<[SimCard; 4]> = OnceLock::new();
    CARDS.get_or_init(|| {
        let fresh = SimCard::builder()
            .profile(Profile::Cps4)
            .interface(Interface::Contactless)
            .key_generation(false)
            .build()
            .expect("card");
        let session = |aid: Aid, mode, key_no, key: Key| {
            let mut d = Desfire::new(InProcessChannel::new(fresh.clone()));
            d.select_application(aid).expect("select");
            d.authenticate(mode, key_no, key).expect("authenticate");
            d.into_channel().into_card()
        };
        let app = Aid::new(ac::AID).expect("aid");
        [
            fresh.clone(),
            session(Aid::PICC, AuthMode::Legacy, 0, Key::zero(KeyType::Des)),
            session(app, AuthMode::Aes, 2, Key::aes(ac::WRITE_KEY)),
            session(app, AuthMode::Ev2First, 0, ac::app_master_key()),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let mut card = cards()[usize::from(selector & 3)].clone();
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            card.power_off();
            card.power_on();
            rest = tail;
            continue;
        }
        let n = usize::from(len).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        rest = next;
        let r = card.process(apdu);
        assert!(!r.is_empty(), "every frame gets an answer");
        // First byte 00 ISO 7816-4, 90 ISO-wrapped, FF the reader's: a status word ends the
        // answer. Anything else is a native frame: `STATUS [data]`, one byte at least.
        if matches!(apdu.first(), None | Some(0x00 | 0x90 | 0xFF)) {
            assert!(r.len() >= 2, "an ISO answer ends with a status word");
        }
        if apdu.len() >= 4 && apdu[0] == 0x90 && apdu[2] == 0 && apdu[3] == 0 && r.len() > 2 {
            assert_eq!(r[r.len() - 2], 0x91, "a wrapped answer with data has SW1 91");
        }
    }
});
