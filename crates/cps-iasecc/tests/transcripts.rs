//! Recorded APDU transcripts (tests/transcripts/*.apdu): a session with the simulated card
//! recorded through `cps_transport::record::Recorder` (PINs redacted), and replayed with
//! `ReplayChannel`, so that the client's exact APDU sequence is pinned and reviewable.
//!
//! After an intended change of the APDU sequence (or of the simulator's data), regenerate
//! them with `CPS_IASECC_RECORD=1 cargo test -p cps-iasecc --test transcripts`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use std::path::PathBuf;

use cps_iasecc::{CpsCard, Digest, HolderIdentity, KeyRole, Pin, PinStatus, PracticeSituation};
use cps_sim::{Profile, SimCard};
use cps_transport::record::{Recorder, ReplayChannel, Transcript};
use cps_transport::{CardChannel, InProcessChannel};

/// What a session produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    identity: HolderIdentity,
    serial: String,
    status_before: PinStatus,
    situations: Vec<PracticeSituation>,
    certificates: Vec<Vec<u8>>,
    signature: Vec<u8>,
    authentication: Vec<u8>,
    round_trips: u64,
}

/// The recorded session: open, identity, serial, PIN status, VERIFY, situations,
/// certificates, signature, authentication — and every signature checked with the card's
/// certificate.
fn session<C: CardChannel>(channel: C, pin: &str) -> (Outcome, C) {
    let mut card = CpsCard::open(channel).unwrap();
    let identity = card.identity().unwrap();
    let serial = card.serial().unwrap().digits();
    let status_before = card.pin_status().unwrap();
    card.verify_pin(&Pin::new(pin).unwrap()).unwrap();
    let situations = card.practice_situations().unwrap();
    let certs = card.certificates().unwrap();
    let digest = Digest::sha256_of(b"cps-rs transcript");
    let signature = card.sign(KeyRole::Signature, &digest).unwrap();
    let authentication = card.authenticate(&digest).unwrap();
    for (sig, usage) in [
        (&signature, KeyRole::Signature),
        (&authentication, KeyRole::Authentication),
    ] {
        let key = card.resolve_key(usage).unwrap();
        let cert = card.certificate_for(&key).unwrap().unwrap();
        sig.verify(cert.parsed.as_ref().unwrap(), &digest).unwrap();
    }
    let outcome = Outcome {
        identity,
        serial,
        status_before,
        situations,
        certificates: certs.into_iter().map(|c| c.der).collect(),
        signature: signature.into_bytes(),
        authentication: authentication.into_bytes(),
        round_trips: card.round_trips(),
    };
    (outcome, card.into_channel())
}

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/transcripts")
        .join(name)
}

fn record(profile: Profile) -> (Outcome, Transcript) {
    let sim = SimCard::new(profile, "dr-martin").unwrap();
    let (outcome, recorder) = session(Recorder::new(InProcessChannel::new(sim)), "1234");
    (outcome, recorder.finish().1)
}

fn check(profile: Profile, file: &str) {
    let (direct, transcript) = record(profile);
    let text = transcript.to_text();
    let p = path(file);
    if std::env::var_os("CPS_IASECC_RECORD").is_some() {
        std::fs::write(&p, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (record it with CPS_IASECC_RECORD=1)", p.display()));

    // The PIN never reaches the transcript: every VERIFY / CHANGE REFERENCE DATA / RESET
    // RETRY COUNTER with data is redacted (CLA 00 on CPS3, 01 on CPS4's channel 1).
    assert!(
        committed.contains("> 0020000104 *4\n< 9000")
            || committed.contains("> 0120000104 *4\n< 9000"),
        "{file}"
    );
    for line in committed.lines() {
        let pin_command = ["2000", "2400", "2401", "2C"].iter().any(|p| {
            line.starts_with(&format!("> 00{p}")) || line.starts_with(&format!("> 01{p}"))
        });
        if pin_command && line.len() > "> 00200001".len() {
            assert!(line.contains(" *"), "{file}: unredacted {line}");
        }
    }

    // Replaying the committed transcript gives the same results, with the same APDUs; the
    // PIN is matched by length only, so another 4-digit PIN replays too.
    let parsed = Transcript::from_text(&committed).unwrap();
    let exchanges = parsed.exchanges.len();
    let (replayed, channel) = session(ReplayChannel::new(parsed), "9876");
    assert!(
        channel.is_finished(),
        "{file}: {} of {exchanges} played",
        channel.played()
    );
    assert_eq!(replayed, direct, "{file}");
    assert_eq!(replayed.round_trips, exchanges as u64);

    // The client still sends exactly the recorded sequence.
    assert_eq!(
        text, committed,
        "{file} differs from a fresh recording: if the change is intended, regenerate with \
         CPS_IASECC_RECORD=1 cargo test -p cps-iasecc --test transcripts"
    );
}

#[test]
fn cps3_session_transcript() {
    check(Profile::Cps3, "cps3-dr-martin.apdu");
}

#[test]
fn cps4_session_transcript() {
    check(Profile::Cps4, "cps4-dr-martin.apdu");
}

#[test]
fn replay_detects_a_different_sequence() {
    let committed = std::fs::read_to_string(path("cps3-dr-martin.apdu")).unwrap();
    let parsed = Transcript::from_text(&committed).unwrap();
    let mut card = CpsCard::open(ReplayChannel::new(parsed)).unwrap();
    // The recorded session read the identity next, not the PIN status.
    let e = card.pin_status().unwrap_err();
    assert!(e.to_string().contains("replay mismatch"), "{e}");
}
