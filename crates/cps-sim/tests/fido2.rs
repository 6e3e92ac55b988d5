//! The FIDO2 applet inside the simulated CPS4 (contact interface), in process: our client's
//! whole flow, switching with the IAS-ECC application, every framing real clients send
//! through the card core, the interface rules (CPS4 contactless `6985`, CPS3 `6A82`), power
//! cycles, and the U2F-only setting.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::time::Duration;

use cps_fido2::ctap::{self, CtapStatus};
use cps_fido2::{Fido2, Fido2Error, PollPolicy, Registration};
use cps_iasecc::{CpsCard, Digest, KeyRole, Pin};
use cps_sim::{Fido2Mode, Fido2Presence, Interface, Profile, SimCard};
use cps_transport::{InProcessChannel, VirtualCard};
use sha2::Digest as _;

const SELECT_FIDO: &str = "00a4040008a0000006472f000100";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn cps4() -> SimCard {
    SimCard::new(Profile::Cps4, "dr-martin").unwrap()
}

fn reg(rp: &str, user: &str, rk: bool) -> Registration {
    Registration {
        rp_id: rp.into(),
        rp_name: rp.into(),
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: user.to_uppercase(),
        client_data_hash: sha2::Sha256::digest(format!("{rp} {user}")).into(),
        resident_key: rk,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    }
}

fn ctap_status<T: std::fmt::Debug>(r: Result<T, Fido2Error>) -> CtapStatus {
    match r {
        Err(Fido2Error::Ctap { status, .. }) => status,
        other => panic!("expected a CTAP error, got {other:?}"),
    }
}

#[test]
fn cps4_contact_carries_a_blank_fido2_applet_our_client_drives() {
    let mut f = Fido2::open(InProcessChannel::new(cps4())).unwrap();
    assert_eq!(f.card().select_answer(), b"U2F_V2");
    assert!(!f.is_enrolled(), "delivered blank");
    assert_eq!(f.info().aaguid, *b"cps-rs simulator");
    // T=0: each is a case-4 command answered through `61xx` + GET RESPONSE.
    assert_eq!(f.card().round_trips(), 4, "SELECT + getInfo");
    let before = f.card().round_trips();
    f.enroll("8642").unwrap();
    let enroll = f.card().round_trips() - before;
    assert_eq!(f.retries().unwrap(), 8);

    let before = f.card().round_trips();
    let mc = f
        .register(&reg("hopital.example", "dr-martin", true), Some("8642"))
        .unwrap();
    let register = f.card().round_trips() - before;
    assert!(mc.auth_data.user_verified());
    let rk_id = mc.auth_data.attested.unwrap().credential_id;
    let nrk = f
        .register(&reg("hopital.example", "dr-martin-2", false), None)
        .unwrap();
    let nrk_id = nrk.auth_data.attested.unwrap().credential_id;

    let before = f.card().round_trips();
    let a = f
        .authenticate("hopital.example", &[1; 32], &[], Some("8642"))
        .unwrap();
    let authenticate = f.card().round_trips() - before;
    assert_eq!(a[0].credential_id, rk_id);
    let a = f
        .authenticate(
            "hopital.example",
            &[2; 32],
            std::slice::from_ref(&nrk_id),
            None,
        )
        .unwrap();
    assert_eq!(a[0].credential_id, nrk_id);

    let creds = f.credentials("8642").unwrap();
    assert_eq!(creds.len(), 1);
    assert_eq!(creds[0].credential_id, rk_id);
    f.delete("8642", &rk_id).unwrap();
    assert!(f.credentials("8642").unwrap().is_empty());
    println!(
        "CPS4 contact, FIDO2 applet: open 4, enroll {enroll}, register {register}, authenticate {authenticate} APDUs (with PIN)"
    );
    // The real CPS4 has no extended length (T=0, short APDUs): makeCredential goes as a
    // chain, and every case-4 answer comes through `61xx` + GET RESPONSE: 9 APDUs as
    // measured (the earlier modelled CPS4, T=1 with extended length, took 3).
    assert_eq!((enroll, register, authenticate), (4, 9, 6));
    // The card counted what the client sent.
    let stats = f.card().exchange_mut().channel().card().stats().clone();
    assert_eq!(stats.apdus, f.card().round_trips());
}

#[test]
fn iasecc_and_fido2_alternate_on_one_card() {
    let mut ch = InProcessChannel::new(cps4());
    let sign = |ch: &mut InProcessChannel<SimCard>, msg: &[u8]| {
        let mut card = CpsCard::open(&mut *ch).unwrap();
        card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
        let digest = Digest::sha256_of(msg);
        let sig = card.sign(KeyRole::Signature, &digest).unwrap();
        let key = card.resolve_key(KeyRole::Signature).unwrap();
        let cert = card
            .certificate_for(&key)
            .unwrap()
            .unwrap()
            .parse()
            .unwrap();
        sig.verify(&cert, &digest).unwrap();
    };
    sign(&mut ch, b"before FIDO2");

    let id = {
        let mut f = Fido2::open(&mut ch).unwrap();
        f.enroll("8642").unwrap();
        let mc = f
            .register(&reg("switch.example", "u", false), Some("8642"))
            .unwrap();
        mc.auth_data.attested.unwrap().credential_id
    };
    // Back to IAS-ECC: PIN verify and signature (verified with the card's certificate).
    sign(&mut ch, b"after FIDO2");
    // And FIDO2 again: the PIN and the credential are still there.
    {
        let mut f = Fido2::open(&mut ch).unwrap();
        assert!(f.is_enrolled());
        let a = f
            .authenticate(
                "switch.example",
                &[3; 32],
                std::slice::from_ref(&id),
                Some("8642"),
            )
            .unwrap();
        assert!(a[0].auth_data.user_verified());
    }
    sign(&mut ch, b"once more");
    // The IAS-ECC PIN counter never moved.
    assert_eq!(ch.card().tries_left(cps_sim::HOLDER_PIN), Some(3));
}

/// Raw APDUs as the card core sees them.
struct Raw(SimCard);

impl Raw {
    fn send(&mut self, hex: &str) -> Vec<u8> {
        self.send_bytes(&h(hex))
    }
    /// One command as a T=0 host sends it: a case-4 answer announced by a bare `61xx` is
    /// fetched with one GET RESPONSE (what pcsc-lite clients such as python-fido2 do), so
    /// that the rest of the exchange is the applet's framing.
    fn send_bytes(&mut self, apdu: &[u8]) -> Vec<u8> {
        common::fetch_bytes(&mut self.0, apdu)
    }
}

fn sw(r: &[u8]) -> u16 {
    u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]])
}

/// Collects `61xx` continuations with GET RESPONSE of class `cla`.
fn collect(raw: &mut Raw, mut r: Vec<u8>, cla: u8) -> Vec<u8> {
    let mut data = Vec::new();
    loop {
        let (d, s) = r.split_at(r.len() - 2);
        data.extend_from_slice(d);
        if s[0] != 0x61 {
            assert_eq!(s, [0x90, 0x00]);
            return data;
        }
        r = raw.send_bytes(&[cla, 0xC0, 0x00, 0x00, s[1]]);
    }
}

fn make_credential_request(user_len: usize) -> Vec<u8> {
    use cps_fido2::cbor::Value;
    let p = Value::map([
        (Value::int(1), Value::bytes(&[9; 32])),
        (
            Value::int(2),
            Value::map([(Value::text("id"), Value::text("frame.example"))]),
        ),
        (
            Value::int(3),
            Value::map([
                (Value::text("id"), Value::bytes(b"u")),
                (Value::text("name"), Value::text(&"n".repeat(user_len))),
            ]),
        ),
        (
            Value::int(4),
            Value::Array(vec![Value::map([
                (Value::text("alg"), Value::int(-7)),
                (Value::text("type"), Value::text("public-key")),
            ])]),
        ),
    ]);
    ctap::request(ctap::cmd::MAKE_CREDENTIAL, Some(&p))
}

#[test]
fn every_framing_real_clients_send_goes_through_the_card_core() {
    let mut raw = Raw(cps4());
    raw.0.power_on();
    assert_eq!(raw.send(SELECT_FIDO), b"U2F_V2\x90\x00");

    // Short getInfo (python-fido2's exact bytes): the whole answer with Le 00.
    let r = raw.send("80 10 80 00 01 04 00");
    assert_eq!(sw(&r), 0x9000);
    let info = r[..r.len() - 2].to_vec();
    assert_eq!(info[0], 0x00);
    let v = cps_fido2::cbor::decode(&info[1..]).unwrap();
    assert!(ctap::Info::from_cbor(&v).unwrap().supports("FIDO_2_1"));
    // T=0: whatever the Le, the case-4 answer is announced by a bare 61xx; fetched here in
    // parts of 0x40 by GET RESPONSE with CLA 00 or 80.
    for cla in [0x00, 0x80] {
        let r = raw.0.process(&h("80 10 80 00 01 04 40"));
        assert_eq!(r, [0x61, info.len() as u8]);
        let r = raw.0.process(&[cla, 0xC0, 0x00, 0x00, 0x40]);
        assert_eq!(r.len(), 0x40 + 2);
        assert_eq!(r[0x40], 0x61);
        assert_eq!(collect(&mut raw, r, cla), info);
    }

    // Extended getInfo (python-fido2's extended mode): the real CPS4 is T=0 without extended
    // length, so the card refuses the encoding (6700); python-fido2 then uses short APDUs.
    let r = raw.send("80 10 80 00 00 00 01 04");
    assert_eq!(sw(&r), 0x6700);

    // A makeCredential of 600 bytes as chained short APDUs (CLA 90 … 80), answer collected.
    let req = make_credential_request(450);
    assert!(req.len() > 500);
    let chunks: Vec<&[u8]> = req.chunks(250).collect();
    for c in &chunks[..chunks.len() - 1] {
        let mut apdu = vec![0x90, 0x10, 0x80, 0x00, c.len() as u8];
        apdu.extend_from_slice(c);
        assert_eq!(raw.send_bytes(&apdu), [0x90, 0x00]);
    }
    let last = chunks[chunks.len() - 1];
    let mut apdu = vec![0x80, 0x10, 0x80, 0x00, last.len() as u8];
    apdu.extend_from_slice(last);
    apdu.push(0x00);
    let r = raw.send_bytes(&apdu);
    let mc = collect(&mut raw, r, 0x00);
    assert_eq!(mc[0], 0x00, "CTAP2_OK");
    let v = cps_fido2::cbor::decode(&mc[1..]).unwrap();
    assert_eq!(
        ctap::MakeCredentialResponse::from_cbor(&v).unwrap().fmt,
        "packed"
    );

    // The same request extended, with Le 0000: refused by the T=0 card without extended
    // length (6700), as every extended APDU on the real CPS4.
    let mut apdu = vec![0x80, 0x10, 0x80, 0x00, 0x00];
    apdu.extend_from_slice(&(req.len() as u16).to_be_bytes());
    apdu.extend_from_slice(&req);
    apdu.extend_from_slice(&[0x00, 0x00]);
    let r = raw.send_bytes(&apdu);
    assert_eq!(sw(&r), 0x6700);

    // U2F VERSION (shared notes §6.5).
    assert_eq!(raw.send("00 03 00 00 00"), b"U2F_V2\x90\x00");
    // GET RESPONSE with nothing pending, an unknown instruction, a foreign class.
    assert_eq!(sw(&raw.send("00 C0 00 00 00")), 0x6985);
    assert_eq!(sw(&raw.send("80 55 00 00 00")), 0x6D00);
    assert_eq!(sw(&raw.send("A0 10 80 00 01 04 00")), 0x6E00);
    // NFCCTAP_MSG with a bad P1: 6A86.
    assert_eq!(sw(&raw.send("80 10 01 00 01 04 00")), 0x6A86);
}

#[test]
fn status_updates_are_polled_and_cancelled_through_the_card() {
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .fido2_presence(Fido2Presence::AfterPolls(2))
        .build()
        .unwrap();
    let mut raw = Raw(card);
    raw.0.power_on();
    raw.send(SELECT_FIDO);
    // authenticatorSelection needs presence: 02 9100, poll, 02 9100, poll, 00 9000.
    assert_eq!(raw.send("80 10 80 00 01 0B 00"), [0x02, 0x91, 0x00]);
    assert_eq!(raw.send("80 11 00 00 00"), [0x02, 0x91, 0x00]);
    assert_eq!(raw.send("80 11 00 00 00"), [0x00, 0x90, 0x00]);
    // Cancelled: KEEPALIVE_CANCEL.
    assert_eq!(raw.send("80 10 80 00 01 0B 00"), [0x02, 0x91, 0x00]);
    assert_eq!(raw.send("80 11 11 00 00"), [0x2D, 0x90, 0x00]);
    // Without P1 80 the applet cannot send updates: it answers at once.
    assert_eq!(raw.send("80 10 00 00 01 0B 00"), [0x00, 0x90, 0x00]);

    // And our client polls through the card the same way.
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .fido2_presence(Fido2Presence::AfterPolls(3))
        .build()
        .unwrap();
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    f.card().set_poll_policy(PollPolicy {
        interval: Duration::from_millis(1),
        timeout: Duration::from_secs(5),
    });
    f.register(&reg("poll.example", "u", false), None).unwrap();
    assert_eq!(f.card().status_updates(), 3);

    // Presence denied: OPERATION_DENIED.
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .fido2_presence(Fido2Presence::Deny)
        .build()
        .unwrap();
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    assert_eq!(
        ctap_status(f.register(&reg("deny.example", "u", false), None)),
        CtapStatus::CTAP2_ERR_OPERATION_DENIED
    );
}

#[test]
fn cps4_contactless_refuses_the_applet_and_cps3_has_none() {
    // CPS4 contactless: 6985, the applet exists but works through the contacts only.
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .interface(Interface::Contactless)
        .build()
        .unwrap();
    let mut raw = Raw(card.clone());
    raw.0.power_on();
    assert_eq!(raw.send(SELECT_FIDO), [0x69, 0x85]);
    // Nothing was selected: the DESFire PICC answering at power-on takes the CTAP command
    // (class 80, neither 00 nor 90) as a native frame whose code it does not know: status
    // 1C ILLEGAL_COMMAND_CODE, alone.
    assert_eq!(raw.send("80 10 80 00 01 04 00"), [0x1C]);
    match Fido2::open(InProcessChannel::new(card)) {
        Err(Fido2Error::AppletRefused { sw }) => assert_eq!(sw.0, 0x6985),
        other => panic!("{:?}", other.err()),
    }

    // CPS3, contact and contactless: no FIDO applet, 6A82.
    for interface in [Interface::Contact, Interface::Contactless] {
        let card = SimCard::builder()
            .profile(Profile::Cps3)
            .interface(interface)
            .build()
            .unwrap();
        let mut raw = Raw(card.clone());
        raw.0.power_on();
        assert_eq!(raw.send(SELECT_FIDO), [0x6A, 0x82], "CPS3 {interface:?}");
        match Fido2::open(InProcessChannel::new(card)) {
            Err(e @ Fido2Error::NoApplet { sw }) => {
                assert_eq!(sw.0, 0x6A82);
                assert!(e.to_string().contains("no FIDO2 applet"));
            }
            other => panic!("CPS3 {interface:?}: {:?}", other.err()),
        }
    }
    // FIDO2 settings on a profile without the applet are a builder error.
    let e = SimCard::builder()
        .profile(Profile::Cps3)
        .fido2_presence(Fido2Presence::Deny)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("no FIDO2 applet"), "{e}");
}

#[test]
fn power_cycle_lifts_pin_auth_blocked_and_keeps_pin_and_credentials() {
    let mut ch = InProcessChannel::new(cps4());
    let id = {
        let mut f = Fido2::open(&mut ch).unwrap();
        f.enroll("8642").unwrap();
        let mc = f
            .register(&reg("cycle.example", "u", true), Some("8642"))
            .unwrap();
        for expected in [
            CtapStatus::CTAP2_ERR_PIN_INVALID,
            CtapStatus::CTAP2_ERR_PIN_INVALID,
            CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED,
        ] {
            assert_eq!(
                ctap_status(f.pin_token("0000", 0x02, Some("cycle.example"))),
                expected
            );
        }
        // Even the right PIN is refused until the card is powered again.
        assert_eq!(
            ctap_status(f.pin_token("8642", 0x02, Some("cycle.example"))),
            CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED
        );
        assert_eq!(f.retries().unwrap(), 5);
        mc.auth_data.attested.unwrap().credential_id
    };
    ch.power_cycle();
    let mut f = Fido2::open(&mut ch).unwrap();
    assert!(f.is_enrolled(), "the PIN survives a power cycle");
    assert_eq!(f.retries().unwrap(), 5, "the retry counter too");
    let a = f
        .authenticate("cycle.example", &[4; 32], &[], Some("8642"))
        .unwrap();
    assert_eq!(a[0].credential_id, id, "and the resident credential");
    assert_eq!(f.retries().unwrap(), 8);
}

#[test]
fn u2f_only_setting_and_fallback_through_the_card() {
    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .fido2_mode(Fido2Mode::U2fOnly)
        .build()
        .unwrap();
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    assert!(f.is_u2f_only());
    let mc = f.register(&reg("u2f.example", "u", false), None).unwrap();
    assert_eq!(mc.fmt, "fido-u2f");
    let id = mc.auth_data.attested.unwrap().credential_id;
    let a = f
        .authenticate("u2f.example", &[5; 32], std::slice::from_ref(&id), None)
        .unwrap();
    assert!(a[0].auth_data.user_present());
    // The card answered 6D00 to NFCCTAP_MSG.
    let stats = f.card().exchange_mut().channel().card().stats().clone();
    assert_eq!(stats.count(0x10), 1);
    assert_eq!(stats.count(0x01), 1);
    assert_eq!(stats.count(0x02), 1);
}

#[test]
fn request_shapes_come_from_the_ctap_table() {
    let mut raw = Raw(cps4());
    raw.0.power_on();
    assert_eq!(raw.send(SELECT_FIDO), b"U2F_V2\x90\x00");
    // authenticatorGetInfo takes no parameters (cps_fido2::table::GET_INFO):
    // CTAP1_ERR_INVALID_LENGTH.
    assert_eq!(raw.send("80 10 80 00 02 04 A0 00"), [0x03, 0x90, 0x00]);
    // U2F REGISTER carries exactly 64 bytes: SW_WRONG_LENGTH for 63.
    let mut register = vec![0x00, 0x01, 0x00, 0x00, 63];
    register.extend_from_slice(&[0x11; 63]);
    register.push(0x00);
    assert_eq!(raw.send_bytes(&register), [0x67, 0x00]);
    // The right shapes still work.
    assert_eq!(sw(&raw.send("80 10 80 00 01 04 00")), 0x9000);
}
