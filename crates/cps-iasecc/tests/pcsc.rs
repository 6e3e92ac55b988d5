//! Our client against the simulated card through the real PC/SC stack (pcscd, vsmartcard-vpcd
//! and our PC/SC backend), for both profiles: identity, PIN, signature verified with the card's
//! certificate, and the APDU counts, which must equal the in-process ones.
//!
//! Without pcscd the test prints SKIPPED, except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

use std::time::Duration;

use cps_iasecc::{CpsCard, Digest, KeyRole, Pin, PinStatus};
use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Profile, SimCard};
use cps_transport::pcsc::ShareMode;

#[test]
fn client_through_pcscd_on_both_profiles() {
    let Some(ctx) = cps_transport::pcsc::testing::context_or_skip() else {
        return;
    };
    for profile in [Profile::Cps3, Profile::Cps4] {
        let handle = vpcd::spawn(
            SimCard::new(profile, "dr-martin").unwrap(),
            VpcdConfig::with_port(35964),
        )
        .unwrap();
        // Let pcscd notice a previous removal before waiting for the new card.
        std::thread::sleep(Duration::from_millis(600));
        let reader = ctx
            .wait_for_card(Some("Virtual PCD 00 01"), Duration::from_secs(10))
            .unwrap();
        let channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
        let mut card = CpsCard::open(channel).unwrap();
        let who = card.identity().unwrap();
        assert_eq!(who.display_name(), "Claire Anne MARTIN");
        assert_eq!(card.pin_status().unwrap(), PinStatus::RetriesLeft(3));
        let before = card.round_trips();
        card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
        let digest = Digest::sha256_of(b"feuille de soins electronique");
        let sig = card.sign(KeyRole::Signature, &digest).unwrap();
        let pin_and_sign = card.round_trips() - before;
        let key = card.resolve_key(KeyRole::Signature).unwrap();
        let cert = card.certificate_for(&key).unwrap().unwrap();
        sig.verify(cert.parsed.as_ref().unwrap(), &digest).unwrap();
        println!(
            "{profile:?} through pcscd: verify PIN + sign {pin_and_sign} APDUs; {} APDUs in all",
            card.round_trips()
        );
        // VERIFY + MSE SET DST + PSO HASH + PSO CDS on CPS3, VERIFY + MSE SET DST + PSO CDS
        // + GET RESPONSE (T=0 case 4) on CPS4 (channel 1 through pcscd), as in process.
        let expected = 4;
        assert_eq!(pin_and_sign, expected);
        drop(card);
        handle.remove().unwrap();
        ctx.wait_for_removal(&reader, Duration::from_secs(5))
            .unwrap();
    }
}
