//! The card side of remote update (cps-sim's update application) fed arbitrary APDU
//! sequences, from a card just selected or one in an authenticated secure session with a
//! staged update: never panics, always answers a status word, never changes its sequence
//! number (no input can forge a COMMIT).
//!
//! Input: first byte = starting card (bit 0: with an authenticated session and a staged key);
//! then records `len ‖ APDU` (`len` = 0 is a power cycle).
#![no_main]
use std::sync::OnceLock;
use std::sync::atomic::AtomicBool;

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_transport::{InProcessChannel, VirtualCard};
use cps_update::issuer::{DAM_PATH, Issuer, test_record};
use cps_update::scp::TEST_MASTER_KEY;
use libfuzzer_sys::fuzz_target;

fn cards() -> &'static [SimCard; 2] {
    static CARDS: OnceLock<[SimCard; 2]> = OnceLock::new();
    CARDS.get_or_init(|| {
        let fresh = SimCard::builder()
            .profile(Profile::Cps4)
            .key_generation(false)
            .build()
            .expect("card");
        // Stop an honest update right after the first generated key: the card holds an
        // authenticated session and a staged update.
        let serial = fresh.serial();
        let situations =
            PracticeSituation::parse_all(fresh.file(&DAM_PATH).expect("EF.DAM")).expect("DAM");
        let mut issuer = Issuer::new(TEST_MASTER_KEY).expect("issuer");
        issuer.register(
            test_record(cps_iasecc::Generation::Cps4, "dr-martin", serial.clone(), situations)
                .expect("record"),
        );
        issuer
            .schedule_renewal(&serial, cps_x509::UnixTime::from_secs(1_861_920_000))
            .expect("renewal");
        let cancel = AtomicBool::new(false);
        let mut ch = InProcessChannel::new(fresh.clone());
        let _ = cps_update::relay::update(
            &mut ch,
            &mut issuer,
            &mut |p| {
                if p.what.contains("checking") {
                    cancel.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            },
            &cancel,
        );
        [fresh, ch.into_card()]
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, mut rest)) = data.split_first() else { return };
    let mut card = cards()[usize::from(selector & 1)].clone();
    let sequence = card.update_sequence();
    if selector & 1 == 0 {
        // Select the update application first.
        let _ = card.process(&[0x00, 0xA4, 0x04, 0x00, 0x08, 0xF0, b'C', b'P', b'S', b'-', b'U', b'P', b'D', 0x00]);
    }
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
        assert!(r.len() >= 2);
        assert_eq!(card.update_sequence(), sequence, "no forged COMMIT");
    }
});
