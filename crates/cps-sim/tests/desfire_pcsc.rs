//! The cps-desfire client against the simulated CPS4 contactless interface through the real
//! PC/SC stack (pcscd + vsmartcard-vpcd + our PC/SC backend): the door flow with its round
//! trips and wall-clock time, a write/commit/read cycle, and the CPS3 contactless refusal.
//!
//! Without pcscd the test prints SKIPPED, except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

use std::time::{Duration, Instant};

use cps_desfire::client::{DoorConfig, UidSource};
use cps_desfire::crypto::Key;
use cps_desfire::{Aid, AuthMode, Desfire, Refusal};
use cps_sim::desfire::{DesfireApplet, access_control as ac};
use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Interface, Profile, SimCard, persona};
use cps_transport::CardChannel;
use cps_transport::pcsc::ShareMode;

const READER: &str = "Virtual PCD 00 01";

#[path = "common/desfire_matrix.rs"]
mod matrix;

fn contactless(profile: Profile) -> SimCard {
    SimCard::builder()
        .profile(profile)
        .persona("dr-martin")
        .interface(Interface::Contactless)
        .build()
        .unwrap()
}

#[test]
fn desfire_through_pcscd() {
    let Some(ctx) = cps_transport::pcsc::testing::context_or_skip() else {
        return;
    };
    let uid = DesfireApplet::cps4(&persona("dr-martin").unwrap()).uid();

    // CPS4: the door flow, 4 exchanges with the UID known from anticollision, 7 without.
    let handle = vpcd::spawn(contactless(Profile::Cps4), VpcdConfig::with_port(35964)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let reader = ctx
        .wait_for_card(Some(READER), Duration::from_secs(10))
        .unwrap();
    let channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
    let mut door = Desfire::new(channel);
    let aid = Aid::new(ac::AID).unwrap();
    let known = DoorConfig {
        uid: UidSource::Known(uid.to_vec()),
        ..ac::door_config()
    };
    for (name, config, exchanges) in [
        ("UID from anticollision", &known, 4),
        ("UID from GetVersion", &ac::door_config(), 7),
    ] {
        let runs = 20;
        let start = Instant::now();
        for _ in 0..runs {
            let c = door
                .door_check_with(
                    aid,
                    ac::DOOR_KEY_NO,
                    &ac::door_master_key(),
                    true,
                    ac::CREDENTIAL_FILE,
                    config,
                )
                .unwrap();
            assert_eq!(c.exchanges, exchanges, "{name}");
            assert!(c.data.starts_with(b"CPS4:"));
        }
        let per = start.elapsed() / runs;
        println!("door flow through pcscd, {name}: {exchanges} exchanges, {per:?} per check");
    }
    // Every command in every mode with every key type, over PC/SC.
    let start = Instant::now();
    let before = door.round_trips();
    let mut app = 0x20_00_00;
    let mut commands = 0;
    for (ty, mode) in matrix::COMBOS {
        for comm in [
            cps_desfire::CommMode::Plain,
            cps_desfire::CommMode::Mac,
            cps_desfire::CommMode::Full,
        ] {
            app += 1;
            commands += matrix::exercise(&mut door, uid, ty, mode, app, comm);
        }
    }
    println!(
        "command matrix through pcscd: {commands} commands, {} exchanges in {:?}",
        door.round_trips() - before,
        start.elapsed()
    );
    // The same matrix with native frames (1-byte `60`, `6A`, `AF`... through pcscd + vpcd).
    let mut door =
        Desfire::new(door.into_channel()).with_config(cps_desfire::client::ClientConfig {
            framing: cps_desfire::client::Framing::Native,
            ..Default::default()
        });
    let start = Instant::now();
    let before = door.round_trips();
    let mut commands = 0;
    for (ty, mode) in matrix::COMBOS {
        for comm in [
            cps_desfire::CommMode::Plain,
            cps_desfire::CommMode::Mac,
            cps_desfire::CommMode::Full,
        ] {
            app += 1;
            commands += matrix::exercise(&mut door, uid, ty, mode, app, comm);
        }
    }
    println!(
        "command matrix through pcscd, native frames: {commands} commands, {} exchanges in {:?}",
        door.round_trips() - before,
        start.elapsed()
    );
    // A journal entry written, committed and read back over PC/SC.
    door.select_application(aid).unwrap();
    door.authenticate(AuthMode::Ev2First, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    door.write_record(ac::JOURNAL_FILE, 0, b"pcscd door 7 ok.")
        .unwrap();
    door.commit_transaction().unwrap();
    door.authenticate(AuthMode::Ev2First, 1, {
        let m = cps_desfire::kdf::DiversificationInput::new(
            &uid,
            aid.to_bytes(),
            ac::SYSTEM_IDENTIFIER,
        );
        cps_desfire::kdf::diversify(&ac::door_master_key(), m.as_bytes()).unwrap()
    })
    .unwrap();
    assert_eq!(
        &door.read_records(ac::JOURNAL_FILE, 0, 1).unwrap()[..],
        b"pcscd door 7 ok."
    );
    drop(door);
    handle.remove().unwrap();
    ctx.wait_for_removal(&reader, Duration::from_secs(5))
        .unwrap();

    // CPS3: its contactless side is MIFARE Classic, which the simulator does not emulate.
    let handle = vpcd::spawn(contactless(Profile::Cps3), VpcdConfig::with_port(35964)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let reader = ctx
        .wait_for_card(Some(READER), Duration::from_secs(10))
        .unwrap();
    let mut channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
    // The reader's pseudo-APDUs (PC/SC Part 3 §3.2.2.1.3) on the CPS3 contactless side: its
    // UID (modelled, 4 bytes) and the historical bytes of the ATR pcscd reports.
    let atr = channel.atr().to_vec();
    let uid3 = channel.transmit(&[0xFF, 0xCA, 0x00, 0x00, 0x00]).unwrap();
    assert_eq!((uid3.len(), &uid3[4..]), (6, &[0x90, 0x00][..]));
    let hist = channel.transmit(&[0xFF, 0xCA, 0x01, 0x00, 0x00]).unwrap();
    assert_eq!(
        &hist[..hist.len() - 2],
        cps_transport::Atr::new(&atr).historical_bytes()
    );
    assert_eq!(
        channel.transmit(&[0xFF, 0xCA, 0x05, 0x00, 0x00]).unwrap(),
        [0x6A, 0x81]
    );
    let mut door = Desfire::new(channel);
    let err = door
        .door_check_with(
            aid,
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            ac::CREDENTIAL_FILE,
            &ac::door_config(),
        )
        .unwrap_err();
    assert!(matches!(err, Refusal::ReliesOnMifareClassic), "{err:?}");
    println!("CPS3 through pcscd: {err}");
    drop(door);
    handle.remove().unwrap();
    ctx.wait_for_removal(&reader, Duration::from_secs(5))
        .unwrap();
}
