//! A recorded session of the cps-desfire client with the simulated CPS4 PICC
//! (`tests/transcripts/cps4-desfire-door.apdu`: the door flow, a journal entry written and
//! committed, the purse debited, in EV2 secure messaging), replayed: with the same RndA the
//! client must send byte for byte the recorded APDUs and accept every recorded answer (MACs
//! included). Record again with `CPS_DESFIRE_RECORD=1 cargo test -p cps-sim --test
//! desfire_transcript` when a change of the byte flow is intended.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

use std::path::PathBuf;

use cps_desfire::client::{DoorConfig, UidSource};
use cps_desfire::crypto::Key;
use cps_desfire::kdf::{DiversificationInput, diversify};
use cps_desfire::{Aid, AuthMode, Desfire};
use cps_sim::desfire::{DesfireApplet, access_control as ac};
use cps_sim::{Interface, Profile, SimCard};
use cps_transport::CardChannel;
use cps_transport::InProcessChannel;
use cps_transport::record::{Recorder, ReplayChannel, Transcript};

/// A deterministic RndA source (the recorded session used it too).
fn rng() -> impl FnMut(&mut [u8]) {
    let mut n = 0u8;
    move |buf: &mut [u8]| {
        for b in buf.iter_mut() {
            n = n.wrapping_mul(31).wrapping_add(7);
            *b = n;
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    credential: Vec<u8>,
    journal: Vec<u8>,
    purse: i32,
    exchanges: u64,
}

fn session<C: CardChannel>(channel: C, uid: [u8; 7]) -> (Outcome, C) {
    let mut door = Desfire::new(channel).with_random(rng());
    let aid = Aid::new(ac::AID).unwrap();
    let config = DoorConfig {
        uid: UidSource::Known(uid.to_vec()),
        ..ac::door_config()
    };
    let c = door
        .door_check_with(
            aid,
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            1,
            &config,
        )
        .unwrap();
    door.authenticate(AuthMode::Ev2NonFirst, 2, Key::aes(ac::WRITE_KEY))
        .unwrap();
    door.write_record(ac::JOURNAL_FILE, 0, b"door 3 - 08:02  ")
        .unwrap();
    door.commit_transaction().unwrap();
    door.authenticate(AuthMode::Ev2NonFirst, 3, Key::aes(ac::PURSE_KEY))
        .unwrap();
    door.debit(ac::PURSE_FILE, 420).unwrap();
    door.commit_transaction().unwrap();
    let purse = door.get_value(ac::PURSE_FILE).unwrap();
    let m = DiversificationInput::new(&uid, aid.to_bytes(), ac::SYSTEM_IDENTIFIER);
    door.authenticate(
        AuthMode::Ev2NonFirst,
        1,
        diversify(&ac::door_master_key(), m.as_bytes()).unwrap(),
    )
    .unwrap();
    let journal = door.read_records(ac::JOURNAL_FILE, 0, 1).unwrap().to_vec();
    let outcome = Outcome {
        credential: c.data.to_vec(),
        journal,
        purse,
        exchanges: door.round_trips(),
    };
    (outcome, door.into_channel())
}

#[test]
fn recorded_desfire_session_replays() {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts/cps4-desfire-door.apdu");
    let holder = cps_sim::persona("dr-martin").unwrap();
    let uid = DesfireApplet::cps4(&holder).uid();
    if std::env::var_os("CPS_DESFIRE_RECORD").is_some() {
        let card = SimCard::builder()
            .profile(Profile::Cps4)
            .interface(Interface::Contactless)
            .build()
            .unwrap();
        let (_, recorder) = session(Recorder::new(InProcessChannel::new(card)), uid);
        std::fs::write(&file, recorder.finish().1.to_text()).unwrap();
    }
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (record it with CPS_DESFIRE_RECORD=1)",
            file.display()
        )
    });
    let transcript = Transcript::from_text(&text).unwrap();
    let exchanges = transcript.exchanges.len() as u64;
    let (outcome, channel) = session(ReplayChannel::new(transcript), uid);
    assert!(
        channel.is_finished(),
        "{} of {exchanges} played",
        channel.played()
    );
    assert_eq!(outcome.exchanges, exchanges);
    assert!(outcome.credential.starts_with(b"CPS4:"));
    assert_eq!(outcome.journal, b"door 3 - 08:02  ");
    assert_eq!(outcome.purse, ac::PURSE_INITIAL - 420);
    println!("replayed {exchanges} recorded exchanges");

    // Another RndA gives another authentication token: the replay refuses it.
    let transcript = Transcript::from_text(&text).unwrap();
    let mut door =
        Desfire::new(ReplayChannel::new(transcript)).with_random(|b: &mut [u8]| b.fill(0x42));
    let config = DoorConfig {
        uid: UidSource::Known(uid.to_vec()),
        ..ac::door_config()
    };
    let aid = Aid::new(ac::AID).unwrap();
    assert!(
        door.door_check_with(
            aid,
            ac::DOOR_KEY_NO,
            &ac::door_master_key(),
            true,
            1,
            &config
        )
        .is_err()
    );
}
