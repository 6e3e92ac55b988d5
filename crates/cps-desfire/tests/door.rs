//! `Desfire::door_check` end to end against a minimal card double, and its refusals.
//!
//! The double is **test-only** (the DESFire simulator belongs to cps-sim): it knows just
//! enough DESFire to answer the door flow, and it is built on the crate's card-side
//! primitives (`open_command` / `seal_response`, `ev1_session_key`, `ev2_session_keys`,
//! `split_response`), which is the reuse a simulator will make of them.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests: a failed expectation is a test failure"
)]

use std::collections::{BTreeMap, VecDeque};

use cps_apdu::StatusWord;
use cps_desfire::auth::{AuthError, ev1_session_key, ev2_session_keys};
use cps_desfire::client::{DoorConfig, LegacyHint, UidSource};
use cps_desfire::crypto::{Cipher, Key, KeyType, rotate_left};
use cps_desfire::frame::{self, DesfireStatus as S};
use cps_desfire::kdf::{DiversificationInput, diversify};
use cps_desfire::session::{
    CommMode, Ev1Session, Ev2Session, Protection, SecureChannel, SessionKind,
};
use cps_desfire::{Aid, Desfire, Refusal};
use cps_transport::{InProcessChannel, VirtualCard};

const DESFIRE_ATR: [u8; 6] = [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80];
const UID: [u8; 7] = [0x04, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66];
const AID: u32 = 0xF5_42_30;
const SYSTEM_ID: &[u8] = b"CPS door";

struct File {
    comm: CommMode,
    read_key: u8,
    data: Vec<u8>,
}

enum Pending {
    Ev2 {
        key: Key,
        key_no: u8,
        rnd_b: [u8; 16],
    },
    Ev1 {
        key: Key,
        key_no: u8,
        rnd_b: Vec<u8>,
        iv: Vec<u8>,
    },
}

#[derive(Default)]
struct Policy {
    /// Flip one byte of the MAC of ReadData answers.
    tamper_read_mac: bool,
    /// GetVersion shows a zero UID (random-ID card).
    random_uid: bool,
}

struct MiniCard {
    app_keys: Vec<Key>,
    picc_key: Key,
    files: BTreeMap<u8, File>,
    selected: u32,
    pending: Option<Pending>,
    session: Option<(SecureChannel, u8)>,
    out: VecDeque<(S, Vec<u8>)>,
    policy: Policy,
    counter: u8,
}

impl MiniCard {
    fn new(master: &Key, files: BTreeMap<u8, File>) -> Self {
        let m = DiversificationInput::new(&UID, Aid::new(AID).unwrap().to_bytes(), SYSTEM_ID);
        let k0 = diversify(master, m.as_bytes()).unwrap();
        MiniCard {
            app_keys: vec![k0, Key::aes([0x77; 16])],
            picc_key: Key::zero(KeyType::Des),
            files,
            selected: 0,
            pending: None,
            session: None,
            out: VecDeque::new(),
            policy: Policy::default(),
            counter: 0,
        }
    }

    fn random(&mut self, n: usize) -> Vec<u8> {
        self.counter = self.counter.wrapping_add(1);
        (0..n as u8)
            .map(|i| i.wrapping_mul(37) ^ self.counter)
            .collect()
    }

    fn reply(&mut self, status: S, data: &[u8]) -> Vec<u8> {
        let frames = frame::split_response(status, data, 59).unwrap();
        self.out = frames.iter().map(|(s, d)| (*s, d.to_vec())).collect();
        self.next_frame()
    }

    fn next_frame(&mut self) -> Vec<u8> {
        match self.out.pop_front() {
            Some((s, d)) => frame::iso_response(s, &d),
            None => frame::iso_response(S::CommandAborted, &[]),
        }
    }

    fn fail(&mut self, status: S) -> Vec<u8> {
        self.session = None;
        self.pending = None;
        frame::iso_response(status, &[])
    }

    fn handle(&mut self, code: u8, data: &[u8]) -> Vec<u8> {
        if code == 0xAF {
            if let Some(p) = self.pending.take() {
                return self.finish_auth(p, data);
            }
            return self.next_frame();
        }
        self.out.clear();
        self.pending = None;
        match code {
            0x5A => {
                self.session = None;
                let aid = data
                    .get(..3)
                    .map(|b| Aid::from_bytes(b.try_into().unwrap()).value());
                match aid {
                    Some(0) | Some(AID) => {
                        self.selected = aid.unwrap();
                        frame::iso_response(S::Ok, &[])
                    }
                    _ => frame::iso_response(S::ApplicationNotFound, &[]),
                }
            }
            0x60 => {
                let mut v = vec![4, 1, 1, 0x33, 0, 0x18, 5, 4, 1, 1, 3, 0, 0x18, 5];
                if self.policy.random_uid {
                    v.extend_from_slice(&[0; 7]);
                } else {
                    v.extend_from_slice(&UID);
                }
                v.extend_from_slice(&[0x21, 0x13, 0x62, 0x30, 0x30, 0x40, 0x24]);
                let frames: Vec<(S, Vec<u8>)> = vec![
                    (S::AdditionalFrame, v[..7].to_vec()),
                    (S::AdditionalFrame, v[7..14].to_vec()),
                    (S::Ok, v[14..].to_vec()),
                ];
                self.out = frames.into();
                self.next_frame()
            }
            0x71 => {
                let key_no = data.first().copied().unwrap_or(0xFF);
                let Some(key) = self.app_keys.get(usize::from(key_no)).cloned() else {
                    return self.fail(S::NoSuchKey);
                };
                if self.selected != AID {
                    return self.fail(S::IllegalCommand);
                }
                let rnd_b: [u8; 16] = self.random(16).try_into().unwrap();
                let mut ek = rnd_b.to_vec();
                key.cipher().cbc_encrypt(&mut [0; 16], &mut ek).unwrap();
                self.session = None;
                self.pending = Some(Pending::Ev2 { key, key_no, rnd_b });
                frame::iso_response(S::AdditionalFrame, &ek)
            }
            0x1A => {
                if self.selected != 0 || data != [0] {
                    return self.fail(S::NoSuchKey);
                }
                let key = self.picc_key.clone();
                let rnd_b = self.random(8);
                let mut ek = rnd_b.clone();
                key.cipher().cbc_encrypt(&mut [0; 8], &mut ek).unwrap();
                self.session = None;
                self.pending = Some(Pending::Ev1 {
                    key,
                    key_no: 0,
                    rnd_b,
                    iv: ek.clone(),
                });
                frame::iso_response(S::AdditionalFrame, &ek)
            }
            0x51 => self.protected(code, data, 0, Protection::EncipheredResponse, |_, _| {
                Ok(UID.to_vec())
            }),
            0xF5 => {
                let file_no = data.first().copied().unwrap_or(0xFF);
                let Some(f) = self.files.get(&file_no) else {
                    return self.fail(S::FileNotFound);
                };
                let mut s = vec![
                    0x00,
                    f.comm.bits(),
                    0xE0 | f.read_key,
                    (f.read_key << 4) | 0x0E,
                ];
                let len = f.data.len() as u32;
                s.extend_from_slice(&len.to_le_bytes()[..3]);
                self.protected(code, data, 1, Protection::Management, move |_, _| Ok(s))
            }
            0xBD => {
                let file_no = data.first().copied().unwrap_or(0xFF);
                let Some((comm, read_key)) = self.files.get(&file_no).map(|f| (f.comm, f.read_key))
                else {
                    return self.fail(S::FileNotFound);
                };
                let authed = self.session.as_ref().map(|s| s.1);
                if authed != Some(read_key) {
                    return self.fail(S::PermissionDenied);
                }
                let tamper = self.policy.tamper_read_mac;
                let mut out =
                    self.protected(code, data, 7, Protection::FileRead(comm), |card, hdr| {
                        let off = u32::from_le_bytes([hdr[1], hdr[2], hdr[3], 0]) as usize;
                        let len = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], 0]) as usize;
                        let all = &card.files[&file_no].data;
                        let end = if len == 0 { all.len() } else { off + len };
                        all.get(off..end)
                            .map(<[u8]>::to_vec)
                            .ok_or(S::BoundaryError)
                    });
                if tamper {
                    // The MAC ends the last frame, just before 91 00.
                    let at = out.len() - 3;
                    if self.out.is_empty() {
                        out[at] ^= 0x01;
                    } else if let Some(last) = self.out.back_mut() {
                        let n = last.1.len() - 1;
                        last.1[n] ^= 0x01;
                    }
                }
                out
            }
            _ => self.fail(S::IllegalCommand),
        }
    }

    /// Opens a command with the session, runs `body` on the header, seals the answer.
    fn protected(
        &mut self,
        code: u8,
        payload: &[u8],
        header_len: usize,
        protection: Protection,
        body: impl FnOnce(&Self, &[u8]) -> Result<Vec<u8>, S>,
    ) -> Vec<u8> {
        let header = payload.get(..header_len).unwrap_or_default().to_vec();
        if let Some((s, _)) = self.session.as_mut() {
            if s.open_command(code, payload, header_len, protection, None)
                .is_err()
            {
                return self.fail(S::IntegrityError);
            }
        } else if protection == Protection::EncipheredResponse {
            return self.fail(S::AuthenticationError);
        }
        match body(self, &header) {
            Ok(data) => {
                let sealed = match self.session.as_mut() {
                    Some((s, _)) => s.seal_response(S::Ok, &data, protection).unwrap(),
                    None => data,
                };
                self.reply(S::Ok, &sealed)
            }
            Err(status) => self.fail(status),
        }
    }

    fn finish_auth(&mut self, p: Pending, token: &[u8]) -> Vec<u8> {
        match p {
            Pending::Ev2 { key, key_no, rnd_b } => {
                let mut t = token.to_vec();
                if key.cipher().cbc_decrypt(&mut [0; 16], &mut t).is_err() || t.len() != 32 {
                    return self.fail(S::LengthError);
                }
                if t[16..] != rotate_left(&rnd_b)[..] {
                    return self.fail(S::AuthenticationError);
                }
                let rnd_a: [u8; 16] = t[..16].try_into().unwrap();
                let ti = [0xA1, 0xB2, 0xC3, 0xD4];
                let mut resp = ti.to_vec();
                resp.extend_from_slice(&rotate_left(&rnd_a));
                resp.extend_from_slice(&[0; 12]);
                key.cipher().cbc_encrypt(&mut [0; 16], &mut resp).unwrap();
                let (enc, mac) = ev2_session_keys(&key, &rnd_a, &rnd_b).unwrap();
                self.session = Some((
                    SecureChannel::Ev2(Ev2Session::new(enc, mac, ti, 0).unwrap()),
                    key_no,
                ));
                frame::iso_response(S::Ok, &resp)
            }
            Pending::Ev1 {
                key,
                key_no,
                rnd_b,
                iv,
            } => {
                let c: Cipher = key.cipher();
                let mut iv = iv;
                let mut t = token.to_vec();
                if t.len() != 16 || c.cbc_decrypt(&mut iv, &mut t).is_err() {
                    return self.fail(S::LengthError);
                }
                if t[8..] != rotate_left(&rnd_b)[..] {
                    return self.fail(S::AuthenticationError);
                }
                let rnd_a = t[..8].to_vec();
                let mut resp = rotate_left(&rnd_a);
                c.cbc_encrypt(&mut iv, &mut resp).unwrap();
                let sk = ev1_session_key(key.effective_type(), &rnd_a, &rnd_b).unwrap();
                self.session = Some((SecureChannel::Ev1(Ev1Session::new(sk)), key_no));
                frame::iso_response(S::Ok, &resp)
            }
        }
    }
}

impl VirtualCard for MiniCard {
    fn atr(&self) -> Vec<u8> {
        DESFIRE_ATR.to_vec()
    }
    fn power_on(&mut self) {
        self.selected = 0;
        self.session = None;
        self.pending = None;
        self.out.clear();
    }
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        match frame::unwrap_iso_command(apdu) {
            Ok((code, data)) => self.handle(code, data),
            Err(_) => StatusWord::CLA_NOT_SUPPORTED.to_bytes().to_vec(),
        }
    }
}

/// A card that is not a DESFire: answers 6E00 to everything, with a given ATR.
struct Foreign(Vec<u8>);

impl VirtualCard for Foreign {
    fn atr(&self) -> Vec<u8> {
        self.0.clone()
    }
    fn power_on(&mut self) {}
    fn process(&mut self, _apdu: &[u8]) -> Vec<u8> {
        StatusWord::CLA_NOT_SUPPORTED.to_bytes().to_vec()
    }
}

fn master() -> Key {
    Key::aes(*b"cps4-door-master")
}

fn credential() -> Vec<u8> {
    (0..40u8).map(|i| i ^ 0xC5).collect()
}

fn card_with(comm: CommMode, read_key: u8, data: Vec<u8>) -> MiniCard {
    let mut files = BTreeMap::new();
    files.insert(
        1,
        File {
            comm,
            read_key,
            data,
        },
    );
    MiniCard::new(&master(), files)
}

fn aid() -> Aid {
    Aid::new(AID).unwrap()
}

fn known_uid() -> DoorConfig {
    DoorConfig {
        uid: UidSource::Known(UID.to_vec()),
        system_identifier: SYSTEM_ID.to_vec(),
        file_comm: Some(CommMode::Full),
        ..DoorConfig::default()
    }
}

#[test]
fn minimum_flow_is_four_exchanges() {
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    let c = door
        .door_check_with(aid(), 0, &master(), true, 1, &known_uid())
        .unwrap();
    assert_eq!(&c.data[..], &credential()[..]);
    assert_eq!(c.exchanges, 4, "select, EV2First x2, ReadData");
    assert_eq!(c.session, SessionKind::Ev2);
    assert_eq!(c.uid.as_deref(), Some(&UID[..]));
    assert!(
        !format!("{c:?}").contains("197"),
        "no credential bytes in Debug"
    );
}

#[test]
fn every_comm_mode_and_a_chained_answer() {
    for comm in [CommMode::Plain, CommMode::Mac, CommMode::Full] {
        // 200 bytes: the answer comes in several AF frames.
        let data: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let mut door = Desfire::new(InProcessChannel::new(card_with(comm, 0, data.clone())));
        let config = DoorConfig {
            file_comm: Some(comm),
            ..known_uid()
        };
        let c = door
            .door_check_with(aid(), 0, &master(), true, 1, &config)
            .unwrap();
        assert_eq!(&c.data[..], &data[..], "{comm:?}");
        assert!(c.exchanges >= 6, "{comm:?}: {}", c.exchanges);
    }
}

#[test]
fn uid_from_get_version_and_comm_from_file_settings() {
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Mac,
        0,
        credential(),
    )));
    let config = DoorConfig {
        uid: UidSource::GetVersion,
        system_identifier: SYSTEM_ID.to_vec(),
        file_comm: None,
        ..DoorConfig::default()
    };
    let c = door
        .door_check_with(aid(), 0, &master(), true, 1, &config)
        .unwrap();
    assert_eq!(&c.data[..], &credential()[..]);
    assert_eq!(
        c.exchanges,
        3 + 1 + 2 + 1 + 1,
        "GetVersion, select, auth, GetFileSettings, read"
    );
}

#[test]
fn random_uid_card_reads_the_real_uid_after_picc_authentication() {
    let mut card = card_with(CommMode::Full, 0, credential());
    card.policy.random_uid = true;
    let mut door = Desfire::new(InProcessChannel::new(card));
    let config = DoorConfig {
        uid: UidSource::RandomUid,
        ..known_uid()
    };
    let c = door
        .door_check_with(aid(), 0, &master(), true, 1, &config)
        .unwrap();
    assert_eq!(&c.data[..], &credential()[..]);
    // PICC auth (2) + GetCardUID (1) + select (1) + EV2First (2) + read (1).
    assert_eq!(c.exchanges, 7);
    assert_eq!(c.uid.as_deref(), Some(&UID[..]));

    // GetVersion showing a zero UID falls back to the same flow.
    let mut card = card_with(CommMode::Full, 0, credential());
    card.policy.random_uid = true;
    let mut door = Desfire::new(InProcessChannel::new(card));
    let config = DoorConfig {
        uid: UidSource::GetVersion,
        ..known_uid()
    };
    let c = door
        .door_check_with(aid(), 0, &master(), true, 1, &config)
        .unwrap();
    assert_eq!(c.exchanges, 3 + 7);
    // A 4-byte random ID from anticollision (08 ..) also triggers it.
    let mut card = card_with(CommMode::Full, 0, credential());
    card.policy.random_uid = true;
    let mut door = Desfire::new(InProcessChannel::new(card));
    let config = DoorConfig {
        uid: UidSource::Known(vec![0x08, 1, 2, 3]),
        ..known_uid()
    };
    assert_eq!(
        door.door_check_with(aid(), 0, &master(), true, 1, &config)
            .unwrap()
            .exchanges,
        7
    );
}

#[test]
fn wrong_key_is_an_authentication_failure() {
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    let wrong = Key::aes([0x42; 16]);
    match door.door_check_with(aid(), 0, &wrong, true, 1, &known_uid()) {
        Err(Refusal::AuthenticationFailed(AuthError::WrongKey(S::AuthenticationError))) => {}
        other => panic!("{other:?}"),
    }
    // Without diversification the (undiversified) master key is wrong too.
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    assert!(matches!(
        door.door_check_with(aid(), 0, &master(), false, 1, &known_uid()),
        Err(Refusal::AuthenticationFailed(_))
    ));
    // A key number the application does not have.
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    assert!(matches!(
        door.door_check_with(aid(), 9, &master(), true, 1, &known_uid()),
        Err(Refusal::AuthenticationFailed(AuthError::Refused(
            S::NoSuchKey
        )))
    ));
}

#[test]
fn flipped_mac_byte_from_the_card_is_refused() {
    for comm in [CommMode::Mac, CommMode::Full] {
        let mut card = card_with(comm, 0, credential());
        card.policy.tamper_read_mac = true;
        let mut door = Desfire::new(InProcessChannel::new(card));
        let config = DoorConfig {
            file_comm: Some(comm),
            ..known_uid()
        };
        match door.door_check_with(aid(), 0, &master(), true, 1, &config) {
            Err(Refusal::MacMismatch) => {}
            other => panic!("{comm:?}: {other:?}"),
        }
        assert!(door.session().is_none(), "the session is dropped");
    }
}

#[test]
fn missing_application_file_and_permission() {
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    let other = Aid::new(0x123456).unwrap();
    assert!(matches!(
        door.door_check_with(other, 0, &master(), false, 1, &known_uid()),
        Err(Refusal::ApplicationMissing(a)) if a == other
    ));
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        0,
        credential(),
    )));
    assert!(matches!(
        door.door_check_with(aid(), 0, &master(), true, 7, &known_uid()),
        Err(Refusal::FileMissing(7))
    ));
    // The file is readable with key 1 only.
    let mut door = Desfire::new(InProcessChannel::new(card_with(
        CommMode::Full,
        1,
        credential(),
    )));
    assert!(matches!(
        door.door_check_with(aid(), 0, &master(), true, 1, &known_uid()),
        Err(Refusal::PermissionDenied)
    ));
}

#[test]
fn cards_without_desfire() {
    // PC/SC part 3 ATR of a MIFARE Classic 1K (card name 0001).
    let classic = [
        0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x6A,
    ];
    let mut door = Desfire::new(InProcessChannel::new(Foreign(classic.to_vec())));
    let r = door.door_check(aid(), 0, &master(), false, 1);
    assert!(matches!(r, Err(Refusal::ReliesOnMifareClassic)), "{r:?}");
    assert!(r.unwrap_err().to_string().contains("CPS4 drops"));

    // A CPS3 (contact ATR): not a DESFire; MIFARE Classic when the caller says so.
    let cps3 = [
        0x3B, 0xAC, 0x00, 0x40, 0x2A, 0x00, 0x12, 0x25, 0x00, 0x64, 0x80, 0x00, 0x03, 0x10, 0x00,
        0x90, 0x00,
    ];
    let mut door = Desfire::new(InProcessChannel::new(Foreign(cps3.to_vec())));
    assert!(matches!(
        door.door_check(aid(), 0, &master(), false, 1),
        Err(Refusal::NotDesfire { sw }) if sw == StatusWord::CLA_NOT_SUPPORTED
    ));
    let mut door = Desfire::new(InProcessChannel::new(Foreign(cps3.to_vec())));
    let config = DoorConfig {
        legacy: LegacyHint::ReliesOnMifareClassic,
        ..DoorConfig::default()
    };
    assert!(matches!(
        door.door_check_with(aid(), 0, &master(), false, 1, &config),
        Err(Refusal::ReliesOnMifareClassic)
    ));
    // Exchanges: SelectApplication and the confirming GetVersion.
    assert_eq!(door.round_trips(), 2);
}
