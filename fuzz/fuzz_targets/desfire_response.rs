//! DESFire response decoding and secure-messaging unwrapping of hostile card answers:
//! frame parsing, AF reassembly, every response parser, EV1/EV2/D40 `open_response`, and the
//! host authentication steps. Nothing may panic; an answer sealed by the card side and left
//! untouched must open to the sealed data, and any alteration of it must be refused.
#![no_main]
use cps_desfire::auth::{AuthMode, HostAuth};
use cps_desfire::commands;
use cps_desfire::crypto::{Key, KeyType};
use cps_desfire::frame::{self, DesfireStatus, ResponseAssembler};
use cps_desfire::session::{
    CommMode, D40Session, Ev1Session, Ev2Session, Protection, SecureChannel, SessionKind,
};
use libfuzzer_sys::fuzz_target;

fn protection(b: u8) -> Protection {
    let comm = match (b >> 4) % 3 {
        0 => CommMode::Plain,
        1 => CommMode::Mac,
        _ => CommMode::Full,
    };
    match b % 6 {
        0 => Protection::None,
        1 => Protection::Management,
        2 => Protection::FileRead(comm),
        3 => Protection::FileWrite(comm),
        4 => Protection::EncipheredCommand,
        _ => Protection::EncipheredResponse,
    }
}

fn session(b: u8) -> SecureChannel {
    match b % 5 {
        0 => SecureChannel::Ev1(Ev1Session::new(Key::aes([0x11; 16]))),
        1 => SecureChannel::Ev1(Ev1Session::new(Key::des([0x22; 8]))),
        2 => SecureChannel::Ev1(Ev1Session::new(Key::tdes3([0x33; 24]))),
        3 => SecureChannel::D40(D40Session::new(Key::tdes2([0x44; 16]))),
        _ => SecureChannel::Ev2(
            Ev2Session::new(Key::aes([0x55; 16]), Key::aes([0x66; 16]), [1, 2, 3, 4], 7).unwrap(),
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&arg, body)) = rest.split_first() else {
        return;
    };

    // 1. Framing and parsers on the raw bytes.
    let _ = frame::parse_iso_response(body);
    let _ = frame::parse_native_response(body);
    let _ = frame::unwrap_iso_command(body);
    let mut asm = ResponseAssembler::new(4096);
    for chunk in body.chunks(usize::from(arg % 61) + 1) {
        if let Ok((s, d)) = frame::parse_native_response(chunk) {
            if asm.push(s, d).is_err() {
                break;
            }
        }
    }
    let _ = commands::parse_version(body);
    let _ = commands::parse_file_settings(body);
    let _ = commands::parse_application_ids(body);
    let _ = commands::parse_key_settings(body);
    let _ = commands::parse_key_version(body);
    let _ = commands::parse_uid(body);
    let _ = commands::parse_value(body);
    let _ = commands::parse_free_memory(body);
    let _ = commands::parse_records(body, usize::from(arg % 17));

    // 2. Secure-messaging unwrapping of a hostile answer.
    let p = protection(arg);
    let status = DesfireStatus::from_u8(sel);
    let mut host = session(sel);
    let _ = host.seal_command(0xBD, &[1, 0, 0, 0, 0, 0, 0], &[], p);
    let expected = (arg & 0x80 != 0).then_some(body.len() / 2);
    let _ = host.open_response(status, body, p, expected);

    // 3. A genuine answer opens; an altered one does not.
    let mut host = session(sel);
    let mut card = session(sel);
    if let (Ok(cmd), true) = (host.seal_command(0x6F, &[], &[], p), p != Protection::None) {
        let _ = card.open_command(0x6F, &cmd, 0, p, Some(0));
        if let Ok(sealed) = card.seal_response(DesfireStatus::Ok, body, p) {
            let mut altered = sealed.clone();
            let mut twin = host.clone();
            let opened = host.open_response(DesfireStatus::Ok, &sealed, p, Some(body.len()));
            assert_eq!(opened.as_deref().map(|v| &v[..]), Ok(body));
            if let Some(b) = altered.get_mut(usize::from(arg) % sealed.len().max(1)) {
                *b ^= 0x01;
                // Answers with a MAC (or EV1's CRC32) must detect the change; plain answers
                // and D40's CRC16-only encipherment are not integrity-protected enough to
                // assert on.
                let protected = match twin.kind() {
                    SessionKind::Ev1 => p.ev1().is_some(),
                    SessionKind::Ev2 => p.ev2().is_some_and(|m| m.1 != CommMode::Plain),
                    SessionKind::D40 => p.d40().is_some_and(|m| m.1 == CommMode::Mac),
                };
                let r = twin.open_response(DesfireStatus::Ok, &altered, p, Some(body.len()));
                if protected {
                    assert!(r.is_err(), "altered answer accepted");
                }
            }
        }
    }

    // 4. Authentication steps fed with card bytes.
    let (mode, key) = match sel % 4 {
        0 => (AuthMode::Legacy, Key::zero(KeyType::Des)),
        1 => (AuthMode::Iso, Key::zero(KeyType::ThreeKey3Des)),
        2 => (AuthMode::Aes, Key::zero(KeyType::Aes128)),
        _ => (AuthMode::Ev2First, Key::zero(KeyType::Aes128)),
    };
    if let Ok(mut auth) = HostAuth::new(mode, 0, key) {
        let n = auth.random_len();
        let (challenge, proof) = body.split_at(n.min(body.len()));
        let _ = auth.respond(status, challenge, &vec![0xA5; n]);
        let _ = auth.finish(DesfireStatus::from_u8(arg), proof);
    }
});
