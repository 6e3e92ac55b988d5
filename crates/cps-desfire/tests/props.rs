//! Property tests: framing and secure-messaging round trips, our CMAC against the RustCrypto
//! `cmac` crate, CBC round trips, and random bytes into every parser and every "open"
//! (never a panic).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed expectation is a test failure"
)]

use aes::Aes128;
use cmac::{Cmac, Mac};
use cps_desfire::auth::{AuthMode, HostAuth};
use cps_desfire::commands;
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::frame::{
    self, Assembled, CommandAssembler, DesfireStatus, ResponseAssembler, split_command,
    split_response, wrap_iso,
};
use cps_desfire::session::{
    CommMode, D40Session, Ev1Session, Ev2Session, Protection, SecureChannel,
};
use proptest::prelude::*;

fn key_of(ty: KeyType, seed: &[u8]) -> Key {
    let bytes: Vec<u8> = seed.iter().cycle().take(ty.key_len()).copied().collect();
    Key::new(ty, &bytes).unwrap()
}

fn key_type() -> impl Strategy<Value = KeyType> {
    prop_oneof![
        Just(KeyType::Des),
        Just(KeyType::TwoKey3Des),
        Just(KeyType::ThreeKey3Des),
        Just(KeyType::Aes128),
    ]
}

fn comm() -> impl Strategy<Value = CommMode> {
    prop_oneof![
        Just(CommMode::Plain),
        Just(CommMode::Mac),
        Just(CommMode::Full)
    ]
}

fn protection() -> impl Strategy<Value = Protection> {
    prop_oneof![
        Just(Protection::None),
        Just(Protection::Management),
        comm().prop_map(Protection::FileRead),
        comm().prop_map(Protection::FileWrite),
        Just(Protection::EncipheredCommand),
        Just(Protection::EncipheredResponse),
    ]
}

fn seed() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..24)
}

fn data(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

/// Host and card ends of one session of each kind, with the same keys.
fn pair(kind: u8, ty: KeyType, seed: &[u8]) -> (SecureChannel, SecureChannel) {
    let s = match kind % 3 {
        0 => SecureChannel::Ev1(Ev1Session::new(key_of(ty, seed))),
        1 => {
            let ty = if ty == KeyType::ThreeKey3Des || ty == KeyType::Aes128 {
                KeyType::TwoKey3Des
            } else {
                ty
            };
            SecureChannel::D40(D40Session::new(key_of(ty, seed)))
        }
        _ => SecureChannel::Ev2(
            Ev2Session::new(
                key_of(KeyType::Aes128, seed),
                key_of(KeyType::Aes128, &[seed, &[1]].concat()),
                [seed[0], 2, 3, 4],
                u16::from(seed[0]),
            )
            .unwrap(),
        ),
    };
    (s.clone(), s)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn iso_wrapping_round_trips(code in any::<u8>(), payload in data(256)) {
        match wrap_iso(code, &payload) {
            Ok(apdu) => {
                let (c, d) = frame::unwrap_iso_command(&apdu).unwrap();
                prop_assert_eq!((c, d), (code, &payload[..]));
            }
            Err(_) => prop_assert!(payload.len() > 255),
        }
        let resp = frame::iso_response(DesfireStatus::from_u8(code), &payload);
        let (s, d) = frame::parse_iso_response(&resp).unwrap();
        prop_assert_eq!(s.code(), code);
        prop_assert_eq!(d, &payload[..]);
    }

    #[test]
    fn af_chaining_round_trips(code in any::<u8>(), payload in data(600), chunk in 1usize..80) {
        let frames = split_command(code, &payload, chunk).unwrap();
        let first = frame::native_command(frames[0].0, frames[0].1);
        let mut asm = CommandAssembler::new(&first, 1024).unwrap();
        for (c, part) in &frames[1..] {
            prop_assert_eq!(*c, 0xAF);
            prop_assert!(part.len() <= chunk);
            asm.push(&frame::native_command(*c, part)).unwrap();
        }
        prop_assert_eq!(asm.code(), code);
        prop_assert_eq!(asm.payload(), &payload[..]);

        let parts = split_response(DesfireStatus::Ok, &payload, chunk).unwrap();
        let mut r = ResponseAssembler::new(1024);
        let mut done = None;
        for (s, d) in parts {
            if let Assembled::Done(s) = r.push(s, d).unwrap() {
                done = Some(s);
            }
        }
        prop_assert_eq!(done, Some(DesfireStatus::Ok));
        prop_assert_eq!(r.into_data(), payload);
    }

    #[test]
    fn cbc_round_trips(ty in key_type(), seed in seed(), blocks in 0usize..6, iv_seed in any::<u8>()) {
        let key = key_of(ty, &seed);
        let c = key.cipher();
        let bs = c.block_size();
        let plain: Vec<u8> = (0..blocks * bs).map(|i| (i as u8).wrapping_mul(iv_seed)).collect();
        let mut buf = plain.clone();
        let mut iv = vec![iv_seed; bs];
        c.cbc_encrypt(&mut iv, &mut buf).unwrap();
        let mut iv2 = vec![iv_seed; bs];
        c.cbc_decrypt(&mut iv2, &mut buf).unwrap();
        prop_assert_eq!(buf, plain);
        prop_assert_eq!(iv, iv2);
    }

    #[test]
    fn cmac_matches_rustcrypto(seed in seed(), msg in data(100), ty in key_type()) {
        let key = key_of(ty, &seed);
        let ours = key.cipher().cmac(&msg);
        let theirs = match key.effective_type() {
            KeyType::Aes128 => {
                let mut m = <Cmac<Aes128> as cmac::digest::KeyInit>::new_from_slice(key.expose_bytes()).unwrap();
                m.update(&msg);
                m.finalize().into_bytes().to_vec()
            }
            KeyType::Des => {
                let mut m = <Cmac<des::Des> as cmac::digest::KeyInit>::new_from_slice(&key.expose_bytes()[..8]).unwrap();
                m.update(&msg);
                m.finalize().into_bytes().to_vec()
            }
            KeyType::TwoKey3Des => {
                let mut m = <Cmac<des::TdesEde2> as cmac::digest::KeyInit>::new_from_slice(key.expose_bytes()).unwrap();
                m.update(&msg);
                m.finalize().into_bytes().to_vec()
            }
            KeyType::ThreeKey3Des => {
                let mut m = <Cmac<des::TdesEde3> as cmac::digest::KeyInit>::new_from_slice(key.expose_bytes()).unwrap();
                m.update(&msg);
                m.finalize().into_bytes().to_vec()
            }
        };
        prop_assert_eq!(ours.as_slice(), &theirs[..]);
    }

    #[test]
    fn secure_messaging_round_trips(
        kind in any::<u8>(),
        ty in key_type(),
        seed in seed(),
        p in protection(),
        header in data(8),
        cmd_data in data(70),
        resp_data in data(90),
    ) {
        let (mut host, mut card) = pair(kind, ty, &seed);
        let sealed = host.seal_command(0x3D, &header, &cmd_data, p).unwrap();
        let got = card
            .open_command(0x3D, &sealed, header.len(), p, Some(cmd_data.len()))
            .unwrap();
        prop_assert_eq!(&got[..], &cmd_data[..]);
        let answer = card.seal_response(DesfireStatus::Ok, &resp_data, p).unwrap();
        let opened = host
            .open_response(DesfireStatus::Ok, &answer, p, Some(resp_data.len()))
            .unwrap();
        prop_assert_eq!(&opened[..], &resp_data[..]);
        // Both ends stay in step for the next pair.
        let again = host.seal_command(0x6F, &[], &[], Protection::Management).unwrap();
        card.open_command(0x6F, &again, 0, Protection::Management, None).unwrap();
    }

    #[test]
    fn altered_answers_never_open(
        kind in any::<u8>(),
        ty in key_type(),
        seed in seed(),
        resp_data in data(40),
        flip in any::<usize>(),
        bit in 0u8..8,
    ) {
        let (mut host, mut card) = pair(kind, ty, &seed);
        let p = Protection::FileRead(CommMode::Mac);
        host.seal_command(0xBD, &[1, 0, 0, 0, 0, 0, 0], &[], p).unwrap();
        card.open_command(0xBD, &[1, 0, 0, 0, 0, 0, 0], 7, p, None).ok();
        let mut answer = card.seal_response(DesfireStatus::Ok, &resp_data, p).unwrap();
        let i = flip % answer.len();
        answer[i] ^= 1 << bit;
        prop_assert!(host.open_response(DesfireStatus::Ok, &answer, p, None).is_err());
    }

    #[test]
    fn random_bytes_into_parsers_never_panic(bytes in data(120), size in 0usize..20) {
        let _ = commands::parse_version(&bytes);
        let _ = commands::parse_file_settings(&bytes);
        let _ = commands::parse_application_ids(&bytes);
        let _ = commands::parse_key_settings(&bytes);
        let _ = commands::parse_key_version(&bytes);
        let _ = commands::parse_uid(&bytes);
        let _ = commands::parse_value(&bytes);
        let _ = commands::parse_free_memory(&bytes);
        let _ = commands::parse_records(&bytes, size);
        let _ = frame::parse_iso_response(&bytes);
        let _ = frame::parse_native_response(&bytes);
        let _ = frame::unwrap_iso_command(&bytes);
        let _ = CommandAssembler::new(&bytes, size);
    }

    #[test]
    fn random_bytes_into_sessions_and_auth_never_panic(
        kind in any::<u8>(),
        ty in key_type(),
        seed in seed(),
        p in protection(),
        bytes in data(100),
        status in any::<u8>(),
        header_len in 0usize..10,
    ) {
        let (mut host, mut card) = pair(kind, ty, &seed);
        let st = DesfireStatus::from_u8(status);
        let _ = host.open_response(st, &bytes, p, None);
        let _ = host.open_response(st, &bytes, p, Some(bytes.len() / 2));
        let _ = card.open_command(0x3D, &bytes, header_len, p, None);
        for mode in [AuthMode::Legacy, AuthMode::Iso, AuthMode::Aes, AuthMode::Ev2First] {
            let key = if mode.accepts(ty) { key_of(ty, &seed) } else if mode == AuthMode::Legacy || mode == AuthMode::Iso {
                key_of(KeyType::TwoKey3Des, &seed)
            } else {
                key_of(KeyType::Aes128, &seed)
            };
            let mut a = HostAuth::new(mode, 0, key).unwrap();
            let n = a.random_len();
            let _ = a.respond(st, bytes.get(..n.min(bytes.len())).unwrap(), &vec![7; n]);
            let _ = a.finish(st, &bytes);
        }
    }
}

mod badge_formats {
    use cps_desfire::badge::{BadgeRecord, Date, DoorProfile, EstablishmentKeys, RECORD_LEN};
    use cps_desfire::session::CommMode;
    use proptest::prelude::*;

    fn date() -> impl Strategy<Value = Date> {
        (2000u16..=9999, 1u8..=12, 1u8..=28).prop_map(|(y, m, d)| Date::new(y, m, d).unwrap())
    }

    proptest! {
        #[test]
        fn records_round_trip(holder in "[!-~]{1,18}", a in date(), b in date()) {
            let (from, until) = if a <= b { (a, b) } else { (b, a) };
            let r = BadgeRecord::new(&holder, from, until).unwrap();
            let bytes = r.encode();
            prop_assert_eq!(bytes.len(), RECORD_LEN);
            prop_assert_eq!(BadgeRecord::parse(&bytes), Ok(r));
        }

        #[test]
        fn any_bytes_are_a_record_or_an_error(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(r) = BadgeRecord::parse(&bytes) {
                prop_assert_eq!(r.encode().to_vec(), bytes);
            }
        }

        #[test]
        fn profiles_round_trip(aid in 1u32..0xFF_FFFF, file in 0u8..=31, key in 1u8..=13,
                               comm in 0u8..3, diversify in any::<bool>(),
                               sys in proptest::collection::vec(any::<u8>(), 0..=20)) {
            let comm = [CommMode::Plain, CommMode::Mac, CommMode::Full][usize::from(comm)];
            let p = DoorProfile {
                aid: cps_desfire::Aid::new(aid).unwrap(),
                file_no: file,
                key_no: key,
                comm,
                diversify,
                system_identifier: sys,
            };
            prop_assert_eq!(DoorProfile::parse(&p.to_text()), Ok(p));
        }

        #[test]
        fn any_text_is_a_profile_a_key_file_or_an_error(text in "(\\PC{0,40}\n){0,6}") {
            let _ = DoorProfile::parse(&text);
            let _ = EstablishmentKeys::parse(&text);
            let _ = Date::parse(&text);
        }
    }
}
