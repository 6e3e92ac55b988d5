//! Failures are typed errors, never panics: wrong keys, altered MACs, broken CRCs and
//! padding, truncated frames, counter exhaustion, out-of-range arguments.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed expectation is a test failure"
)]

use cps_desfire::auth::{AuthError, AuthMode, HostAuth};
use cps_desfire::client::{ClientConfig, DesfireError};
use cps_desfire::commands::{self, CommandError, ResponseError};
use cps_desfire::crypto::{Key, KeyType, pad_zero};
use cps_desfire::frame::{
    self, DesfireStatus, FrameError, parse_iso_response, parse_native_response,
};
use cps_desfire::session::{CommMode, D40Session, Ev1Session, Ev2Session, Protection, SmError};
use cps_desfire::{Aid, Desfire};
use cps_transport::record::{ReplayChannel, Transcript};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// Elmue step 3: ISO authentication with the zero DES key (RndA 849B36C5F8BF4A09).
const ELM3_EK: &str = "5D994CE085F24089";
const ELM3_PROOF: &str = "913C6DED84221C41";

#[test]
fn wrong_key_is_refused_by_the_card_and_detected_on_its_proof() {
    // With the wrong key our token is garbage: the card answers AE.
    let mut auth = HostAuth::new(AuthMode::Iso, 0, Key::des([0x11; 8])).unwrap();
    auth.respond(
        DesfireStatus::AdditionalFrame,
        &h(ELM3_EK),
        &h("849B36C5F8BF4A09"),
    )
    .unwrap();
    assert_eq!(
        auth.finish(DesfireStatus::AuthenticationError, &[])
            .unwrap_err(),
        AuthError::WrongKey(DesfireStatus::AuthenticationError)
    );
    // And a card answer that does not decrypt to rol(RndA) is not accepted.
    let mut auth = HostAuth::new(AuthMode::Iso, 0, Key::des([0x11; 8])).unwrap();
    auth.respond(
        DesfireStatus::AdditionalFrame,
        &h(ELM3_EK),
        &h("849B36C5F8BF4A09"),
    )
    .unwrap();
    assert_eq!(
        auth.finish(DesfireStatus::Ok, &h(ELM3_PROOF)).unwrap_err(),
        AuthError::CardProofMismatch
    );
    // The right key accepts the recorded proof, and one flipped bit of it is refused.
    let mut auth = HostAuth::new(AuthMode::Iso, 0, Key::zero(KeyType::Des)).unwrap();
    auth.respond(
        DesfireStatus::AdditionalFrame,
        &h(ELM3_EK),
        &h("849B36C5F8BF4A09"),
    )
    .unwrap();
    let mut proof = h(ELM3_PROOF);
    proof[7] ^= 0x80;
    assert_eq!(
        auth.finish(DesfireStatus::Ok, &proof).unwrap_err(),
        AuthError::CardProofMismatch
    );
}

#[test]
fn authentication_misuse() {
    assert!(matches!(
        HostAuth::new(AuthMode::Aes, 0, Key::zero(KeyType::Des)),
        Err(AuthError::KeyType { .. })
    ));
    assert!(matches!(
        HostAuth::new(AuthMode::Legacy, 0, Key::zero(KeyType::ThreeKey3Des)),
        Err(AuthError::KeyType { .. })
    ));
    let mut auth = HostAuth::new(AuthMode::Ev2First, 0, Key::zero(KeyType::Aes128)).unwrap();
    assert_eq!(
        auth.finish(DesfireStatus::Ok, &[0; 32]).unwrap_err(),
        AuthError::OutOfOrder
    );
    // Truncated challenge, short RndA, refusal.
    let mut auth = HostAuth::new(AuthMode::Ev2First, 0, Key::zero(KeyType::Aes128)).unwrap();
    assert!(matches!(
        auth.respond(DesfireStatus::AdditionalFrame, &[0; 15], &[0; 16]),
        Err(AuthError::Length {
            expected: 16,
            got: 15
        })
    ));
    assert!(matches!(
        auth.respond(DesfireStatus::AdditionalFrame, &[0; 16], &[0; 8]),
        Err(AuthError::RandomLength { .. })
    ));
    assert_eq!(
        auth.respond(DesfireStatus::NoSuchKey, &[], &[0; 16])
            .unwrap_err(),
        AuthError::Refused(DesfireStatus::NoSuchKey)
    );
    // Truncated final answer.
    let mut auth = HostAuth::new(AuthMode::Ev2First, 0, Key::zero(KeyType::Aes128)).unwrap();
    auth.respond(DesfireStatus::AdditionalFrame, &[0; 16], &[0; 16])
        .unwrap();
    assert!(matches!(
        auth.finish(DesfireStatus::Ok, &[0; 31]),
        Err(AuthError::Length {
            expected: 32,
            got: 31
        })
    ));
    assert!(
        HostAuth::new(AuthMode::Ev2First, 0, Key::zero(KeyType::Aes128))
            .unwrap()
            .with_pcd_capabilities(&[0; 7])
            .is_err()
    );
}

#[test]
fn flipped_mac_bytes_are_refused() {
    // Elmue step 15: GetKeySettings answer 0F 02 + CMAC, DES session.
    let key = Key::new(KeyType::Des, &h("49EC63DE3B3DFE62")).unwrap();
    let answer = h("0F0225DD8D7731B1CFD5");
    for i in 0..answer.len() {
        let mut s = Ev1Session::with_iv(key.clone(), &[0; 8]).unwrap();
        s.seal_command(0x45, &[], &[], Protection::Management)
            .unwrap();
        let mut bad = answer.clone();
        bad[i] ^= 0x01;
        assert_eq!(
            s.open_response(DesfireStatus::Ok, &bad, Protection::Management, None),
            Err(SmError::MacMismatch),
            "byte {i}"
        );
    }
    // AN12196 GetFileSettings in CommMode.MAC: flip each MACt byte.
    let mac_key = Key::new(KeyType::Aes128, &h("8248134A386E86EB7FAF54A52E536CB6")).unwrap();
    let r = h("0040EEEE000100D1FE001F00004400004400002000006A00002A474282E7A47986");
    for i in r.len() - 8..r.len() {
        let mut s = Ev2Session::new(
            Key::zero(KeyType::Aes128),
            mac_key.clone(),
            [0x7A, 0x21, 0x08, 0x5E],
            0,
        )
        .unwrap();
        s.seal_command(0xF5, &[2], &[], Protection::Management)
            .unwrap();
        let mut bad = r.clone();
        bad[i] ^= 0x40;
        assert_eq!(
            s.open_response(DesfireStatus::Ok, &bad, Protection::Management),
            Err(SmError::MacMismatch)
        );
    }
    // D40: 4-byte MAC.
    let d40 = D40Session::new(Key::tdes2([0x35; 16]));
    let mut card = d40.clone();
    let mut sealed = card.seal_response(
        DesfireStatus::Ok,
        &[1, 2, 3],
        Protection::FileRead(CommMode::Mac),
    );
    sealed[4] ^= 1;
    let mut host = d40;
    assert_eq!(
        host.open_response(
            DesfireStatus::Ok,
            &sealed,
            Protection::FileRead(CommMode::Mac),
            None
        ),
        Err(SmError::MacMismatch)
    );
}

#[test]
fn broken_crc_and_padding_are_refused() {
    // EV1 enciphered answer with a flipped ciphertext bit: the CRC no longer checks.
    let key = Key::aes([9; 16]);
    let p = Protection::EncipheredResponse;
    let mut card = Ev1Session::new(key.clone());
    let mut sealed = card.seal_response(
        DesfireStatus::Ok,
        &[4, 0x95, 0x8C, 0xAA, 0x5C, 0x5E, 0x80],
        p,
    );
    sealed[3] ^= 0x10;
    let mut host = Ev1Session::new(key.clone());
    assert_eq!(
        host.open_response(DesfireStatus::Ok, &sealed, p, Some(7)),
        Err(SmError::CrcMismatch)
    );
    // Unaligned ciphertext.
    let mut host = Ev1Session::new(key);
    assert!(matches!(
        host.open_response(DesfireStatus::Ok, &[0; 17], p, None),
        Err(SmError::NotBlockAligned { .. })
    ));
    // EV2 Full answer with a valid MAC over ciphertext whose padding is not M2.
    let mut s = Ev2Session::new(Key::aes([1; 16]), Key::aes([2; 16]), [1, 2, 3, 4], 0).unwrap();
    s.seal_command(
        0xBD,
        &[1, 0, 0, 0, 0, 0, 0],
        &[],
        Protection::FileRead(CommMode::Full),
    )
    .unwrap();
    let mut ct = vec![0x55u8; 16]; // plaintext without any 80 byte
    let mut iv = s.iv_response().unwrap();
    s.enc_key().cipher().cbc_encrypt(&mut iv, &mut ct).unwrap();
    let mut input = vec![0x00, 0x01, 0x00, 1, 2, 3, 4];
    input.extend_from_slice(&ct);
    let mac = s.mac_t(&input);
    let mut answer = ct.clone();
    answer.extend_from_slice(&mac);
    // Decryption must give 55.. which has no M2 padding.
    let mut check = ct.clone();
    let mut iv = s.iv_response().unwrap();
    s.enc_key()
        .cipher()
        .cbc_decrypt(&mut iv, &mut check)
        .unwrap();
    assert_eq!(check, [0x55; 16]);
    assert_eq!(
        s.open_response(
            DesfireStatus::Ok,
            &answer,
            Protection::FileRead(CommMode::Full)
        ),
        Err(SmError::Padding)
    );
    // EV1 enciphered command whose CRC covers another header: the card refuses it.
    let key = Key::tdes3([7; 24]);
    let mut host = Ev1Session::new(key.clone());
    let mut card = Ev1Session::new(key);
    let payload = host
        .seal_command(
            0x3D,
            &[1, 0, 0, 0, 3, 0, 0],
            &[1, 2, 3],
            Protection::FileWrite(CommMode::Full),
        )
        .unwrap();
    let mut tampered = payload.clone();
    tampered[4] = 4; // length field
    assert_eq!(
        card.open_command(
            0x3D,
            &tampered,
            7,
            Protection::FileWrite(CommMode::Full),
            None
        ),
        Err(SmError::CrcMismatch)
    );
}

#[test]
fn truncated_frames() {
    assert_eq!(
        parse_iso_response(&[0x91]),
        Err(FrameError::TooShort { len: 1, min: 2 })
    );
    assert!(parse_native_response(&[]).is_err());
    assert!(frame::unwrap_iso_command(&[0x90, 0x5A, 0x00]).is_err());
    assert!(frame::unwrap_iso_command(&[0x90, 0x5A, 0x00, 0x00, 0x03, 0x01]).is_err());
    let mut s = Ev2Session::new(Key::aes([0; 16]), Key::aes([0; 16]), [0; 4], 0).unwrap();
    assert_eq!(
        s.open_response(DesfireStatus::Ok, &[1, 2, 3], Protection::Management),
        Err(SmError::TooShort { len: 3, min: 8 })
    );
    let mut e = Ev1Session::new(Key::aes([0; 16]));
    assert_eq!(
        e.open_response(DesfireStatus::Ok, &[1; 7], Protection::Management, None),
        Err(SmError::TooShort { len: 7, min: 8 })
    );
    assert!(matches!(
        e.open_command(0x3D, &[1, 2], 7, Protection::FileWrite(CommMode::Mac), None),
        Err(SmError::TooShort { .. })
    ));
    assert!(matches!(
        commands::parse_version(&[0; 27]),
        Err(ResponseError::Length { .. })
    ));
    assert!(commands::parse_file_settings(&[0, 0, 0, 0, 1, 2]).is_err());
    assert!(commands::parse_application_ids(&[1, 2, 3, 4]).is_err());
    assert!(commands::parse_value(&[1, 2, 3]).is_err());
    assert!(commands::parse_key_settings(&[1]).is_err());
    assert!(commands::parse_uid(&[1, 2, 3]).is_err());
    assert!(commands::parse_free_memory(&[]).is_err());
    assert!(commands::parse_records(&[1, 2, 3], 2).is_err());
    assert!(commands::parse_records(&[1, 2], 0).is_err());
}

#[test]
fn command_counter_exhaustion() {
    let mut s = Ev2Session::new(Key::aes([0; 16]), Key::aes([0; 16]), [0; 4], 0xFFFF).unwrap();
    for p in [
        Protection::Management,
        Protection::FileRead(CommMode::Plain),
        Protection::FileWrite(CommMode::Full),
    ] {
        assert_eq!(
            s.seal_command(0xBD, &[0; 7], &[1], p),
            Err(SmError::CounterOverflow)
        );
        assert_eq!(
            s.open_response(DesfireStatus::Ok, &[0; 8], p),
            Err(SmError::CounterOverflow)
        );
        assert_eq!(
            s.open_command(0xBD, &[0; 15], 7, p),
            Err(SmError::CounterOverflow)
        );
    }
    // One below the limit still works once.
    let mut host = Ev2Session::new(Key::aes([3; 16]), Key::aes([4; 16]), [9; 4], 0xFFFE).unwrap();
    let mut card = host.clone();
    let p = Protection::FileRead(CommMode::Full);
    let cmd = host
        .seal_command(0xBD, &[1, 0, 0, 0, 0, 0, 0], &[], p)
        .unwrap();
    card.open_command(0xBD, &cmd, 7, p).unwrap();
    let r = card.seal_response(DesfireStatus::Ok, b"last", p).unwrap();
    assert_eq!(
        &host.open_response(DesfireStatus::Ok, &r, p).unwrap()[..],
        b"last"
    );
    assert_eq!(
        host.seal_command(0xBD, &[0; 7], &[], p),
        Err(SmError::CounterOverflow)
    );
}

#[test]
fn out_of_range_arguments_never_reach_the_card() {
    // An empty transcript: any APDU sent would fail the test with ReplayExhausted.
    let empty = Transcript {
        atr: vec![0x3B, 0x81, 0x80, 0x01, 0x80, 0x80],
        exchanges: vec![],
    };
    let mut card = Desfire::new(ReplayChannel::new(empty));
    for r in [
        card.read_data(1, 0x0100_0000, 16).map(|_| ()),
        card.read_data(1, 0, 0x0100_0000).map(|_| ()),
        card.read_data(32, 0, 1).map(|_| ()),
        card.write_data(1, 0x00FF_FFFF, &[1, 2]),
        card.write_data(1, 0, &[]),
        card.credit(1, -5),
        card.read_records(1, 0x0100_0000, 1).map(|_| ()),
        card.get_key_version(14).map(|_| ()),
        card.get_value(40).map(|_| ()),
    ] {
        assert!(
            matches!(
                r,
                Err(DesfireError::Command(
                    CommandError::OutOfRange { .. } | CommandError::Length { .. }
                ))
            ),
            "{r:?}"
        );
    }
    assert!(matches!(
        card.get_card_uid(),
        Err(DesfireError::NotAuthenticated)
    ));
    assert_eq!(card.round_trips(), 0);
    assert!(Aid::new(0x0100_0000).is_none());
    let mut zero =
        Desfire::new(ReplayChannel::new(Transcript::default())).with_config(ClientConfig {
            max_frame_payload: 0,
            ..ClientConfig::default()
        });
    assert!(matches!(
        zero.transceive(0x60, &[]),
        Err(DesfireError::Frame(FrameError::ZeroChunk))
    ));
}

#[test]
fn zero_padding_helper_matches_the_notes() {
    let mut v = vec![1, 2, 3];
    pad_zero(&mut v, 8);
    assert_eq!(v, [1, 2, 3, 0, 0, 0, 0, 0]);
    let mut w = vec![0u8; 8];
    pad_zero(&mut w, 8);
    assert_eq!(w.len(), 8);
}
