//! The simulated CPS card (cps-sim) fed arbitrary APDU sequences: never panics, always answers
//! at least a status word, and the PIN/PUK counters stay within their range.
//!
//! Input: first byte = card (modulo 3: CPS3, CPS4 ChipDoc, CPS3 contactless); then
//! records `len ‖ APDU` (`len` = 0 is a card reset).
#![no_main]
use std::sync::OnceLock;

use cps_sim::{Profile, SimCard};
use cps_transport::VirtualCard;
use libfuzzer_sys::fuzz_target;

fn cards() -> &'static [SimCard; 3] {
    static CARDS: OnceLock<[SimCard; 3]> = OnceLock::new();
    CARDS.get_or_init(|| {
        // RSA-2048 generation takes seconds: GENERATE answers 6A81 here.
        let build = |p| SimCard::builder().profile(p).key_generation(false).build().expect("card");
        let contactless = SimCard::builder()
            .profile(Profile::Cps3)
            .interface(cps_sim::Interface::Contactless)
            .key_generation(false)
            .build()
            .expect("card");
        [build(Profile::Cps3), build(Profile::Cps4), contactless]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let all = cards();
    let Some(card) = all.get(usize::from(selector) % all.len()) else { return };
    let mut card = card.clone();
    card.power_on();
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            card.reset();
            rest = tail;
            continue;
        }
        let n = usize::from(len).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        rest = next;
        let r = card.process(apdu);
        assert!(r.len() >= 2);
        // The contactless application has no PIN.
        assert!(card.tries_left(1).is_none_or(|t| t <= 3));
        assert!(card.tries_left(2).is_none_or(|t| t <= 3));
    }
});
