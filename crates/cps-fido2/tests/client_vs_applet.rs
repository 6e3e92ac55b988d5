//! The client against the simulated applet, in process: enroll, register, authenticate,
//! manage credentials, PIN rules, presence policy, contact-only rule, APDU counts.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_fido2::cbor::Value;
use cps_fido2::ctap::CtapStatus;
use cps_fido2::pin::{PinProtocol, public_key_from_cose};
use cps_fido2::{Fido2, Fido2Error, PollPolicy, Registration};
use cps_sim::fido2::applet::FidoCard;
use cps_sim::fido2::authenticator::PresencePolicy;
use cps_transport::InProcessChannel;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use sha2::{Digest, Sha256};

fn open() -> Fido2<InProcessChannel<FidoCard>> {
    Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap()
}

fn reg(rp: &str, user: &str, rk: bool) -> Registration {
    Registration {
        rp_id: rp.into(),
        rp_name: format!("{rp} (test)"),
        user_id: user.as_bytes().to_vec(),
        user_name: user.into(),
        user_display_name: user.to_uppercase(),
        client_data_hash: Sha256::digest(format!("create {rp} {user}")).into(),
        resident_key: rk,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    }
}

fn ctap_status(e: Fido2Error) -> CtapStatus {
    match e {
        Fido2Error::Ctap { status, .. } => status,
        other => panic!("expected a CTAP error, got {other}"),
    }
}

fn verify(cose: &Value, auth_data: &[u8], cdh: &[u8], sig: &[u8]) {
    let key = VerifyingKey::from(public_key_from_cose(cose).unwrap());
    let mut msg = auth_data.to_vec();
    msg.extend_from_slice(cdh);
    let sig = DerSignature::try_from(sig).unwrap();
    key.verify(&msg, &sig)
        .expect("signature verifies with the credential key");
}

#[test]
fn blank_applet_enroll_register_authenticate_both_protocols() {
    for protocol in [PinProtocol::V2, PinProtocol::V1] {
        let mut f = open();
        assert!(!f.is_enrolled(), "delivered blank");
        // CTAP2 with CTAP1/U2F: SELECT names U2F (FIDO NFC protocol, CTAP 2.1 §11.3.3).
        assert_eq!(f.info().versions, ["U2F_V2", "FIDO_2_0", "FIDO_2_1"]);
        assert_eq!(f.card().select_answer(), b"U2F_V2");
        assert!(!f.is_u2f_only());
        assert_eq!(f.info().pin_uv_auth_protocols, [2, 1]);
        f.force_protocol(protocol);
        f.enroll("4242").unwrap();
        assert!(f.is_enrolled());
        assert_eq!(f.retries().unwrap(), 8);
        assert!(matches!(f.enroll("1111"), Err(Fido2Error::Usage(_))));

        for rk in [false, true] {
            let r = reg("hopital.example", "dr-martin", rk);
            let mc = f.register(&r, Some("4242")).unwrap();
            assert_eq!(mc.fmt, "packed");
            assert!(mc.auth_data.user_verified() && mc.auth_data.user_present());
            let att = mc.auth_data.attested.clone().unwrap();
            assert_eq!(&att.aaguid, b"cps-rs simulator");
            // Packed basic attestation by default: the simulated attestation certificate
            // (python-fido2 verifies its signature and certificate: crates/cps-cli/tests/fido2_python.rs).
            let x5c = mc
                .att_stmt
                .get_text("x5c")
                .and_then(Value::as_array)
                .unwrap();
            assert_eq!(
                x5c[0].as_bytes().unwrap(),
                cps_sim::fido2::authenticator::ATTESTATION_CERT
            );

            let cdh: [u8; 32] = Sha256::digest(b"login challenge").into();
            let allow = if rk {
                vec![]
            } else {
                vec![att.credential_id.clone()]
            };
            let asr = f
                .authenticate("hopital.example", &cdh, &allow, Some("4242"))
                .unwrap();
            assert_eq!(asr.len(), 1);
            assert_eq!(asr[0].credential_id, att.credential_id);
            assert!(asr[0].auth_data.user_verified());
            assert!(asr[0].auth_data.sign_count > mc.auth_data.sign_count);
            verify(
                &att.public_key,
                &asr[0].auth_data_raw,
                &cdh,
                &asr[0].signature,
            );
            if rk {
                assert_eq!(asr[0].user_id.as_deref(), Some(&b"dr-martin"[..]));
            }
            // A non-resident credential ID is bound to its RP.
            if !rk {
                let e = f
                    .authenticate("other.example", &cdh, &allow, None)
                    .unwrap_err();
                assert_eq!(ctap_status(e), CtapStatus::CTAP2_ERR_NO_CREDENTIALS);
            }
        }
    }
}

#[test]
fn self_attestation_is_signed_by_the_credential_key() {
    let mut card = FidoCard::new();
    card.applet
        .set_attestation(cps_sim::fido2::authenticator::AttestationMode::SelfAttestation);
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    let r = reg("self.example", "u", false);
    let mc = f.register(&r, None).unwrap();
    assert!(mc.att_stmt.get_text("x5c").is_none());
    let att = mc.auth_data.attested.clone().unwrap();
    let sig = mc
        .att_stmt
        .get_text("sig")
        .and_then(Value::as_bytes)
        .unwrap();
    verify(&att.public_key, &mc.auth_data_raw, &r.client_data_hash, sig);
}

#[test]
fn credential_management_lists_and_deletes() {
    let mut f = open();
    f.enroll("2468").unwrap();
    assert!(f.credentials("2468").unwrap().is_empty());
    f.register(&reg("a.example", "alice", true), Some("2468"))
        .unwrap();
    f.register(&reg("a.example", "bob", true), Some("2468"))
        .unwrap();
    f.register(&reg("b.example", "alice", true), Some("2468"))
        .unwrap();
    f.register(&reg("c.example", "carol", false), Some("2468"))
        .unwrap();
    let creds = f.credentials("2468").unwrap();
    assert_eq!(creds.len(), 3, "{creds:?}");
    assert_eq!(creds.iter().filter(|c| c.rp_id == "a.example").count(), 2);
    // Rename alice on b.example.
    let alice_b = creds
        .iter()
        .find(|c| c.rp_id == "b.example")
        .unwrap()
        .clone();
    f.update_user(
        "2468",
        &alice_b.credential_id,
        b"alice",
        "alice.renamed",
        "Alice R.",
    )
    .unwrap();
    let creds = f.credentials("2468").unwrap();
    assert!(
        creds
            .iter()
            .any(|c| c.user_name.as_deref() == Some("alice.renamed"))
    );
    f.selection().unwrap();
    let bob = creds
        .iter()
        .find(|c| c.user_name.as_deref() == Some("bob"))
        .unwrap()
        .clone();
    f.delete("2468", &bob.credential_id).unwrap();
    let creds = f.credentials("2468").unwrap();
    assert_eq!(creds.len(), 2);
    assert!(creds.iter().all(|c| c.user_name.as_deref() != Some("bob")));
    // Discoverable login on a.example now finds alice only.
    let cdh = [7u8; 32];
    let asr = f
        .authenticate("a.example", &cdh, &[], Some("2468"))
        .unwrap();
    assert_eq!(asr.len(), 1);
    assert_eq!(asr[0].user_id.as_deref(), Some(&b"alice"[..]));
}

#[test]
fn several_discoverable_credentials_come_through_get_next_assertion() {
    let mut f = open();
    f.enroll("2468").unwrap();
    for u in ["u1", "u2", "u3"] {
        f.register(&reg("many.example", u, true), Some("2468"))
            .unwrap();
    }
    let asr = f
        .authenticate("many.example", &[1; 32], &[], Some("2468"))
        .unwrap();
    assert_eq!(asr.len(), 3);
    assert_eq!(asr[0].number_of_credentials, Some(3));
    // Newest first.
    assert_eq!(asr[0].user_id.as_deref(), Some(&b"u3"[..]));
}

#[test]
fn pin_rules_change_wrong_blocked_until_power_cycle() {
    let mut ch = InProcessChannel::new(FidoCard::new());
    {
        let mut f = Fido2::open(&mut ch).unwrap();
        f.enroll("1234").unwrap();
        f.change_pin("1234", "5678").unwrap();
        assert_eq!(
            ctap_status(f.pin_token("1234", 1, Some("x.example")).unwrap_err()),
            CtapStatus::CTAP2_ERR_PIN_INVALID
        );
        assert_eq!(f.retries().unwrap(), 7);
        assert_eq!(
            ctap_status(f.pin_token("0000", 1, Some("x.example")).unwrap_err()),
            CtapStatus::CTAP2_ERR_PIN_INVALID
        );
        // Third wrong PIN in a row: PIN_AUTH_BLOCKED, and even the right PIN is refused now.
        assert_eq!(
            ctap_status(f.pin_token("0000", 1, Some("x.example")).unwrap_err()),
            CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED
        );
        assert_eq!(
            ctap_status(f.pin_token("5678", 1, Some("x.example")).unwrap_err()),
            CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED
        );
        assert_eq!(f.retries().unwrap(), 5);
        // PIN policy is checked on the host before anything is sent.
        assert!(matches!(
            f.change_pin("5678", "12"),
            Err(Fido2Error::Pin(_))
        ));
    }
    ch.power_cycle();
    let mut f = Fido2::open(&mut ch).unwrap();
    f.pin_token("5678", 1, Some("x.example")).unwrap();
    assert_eq!(f.retries().unwrap(), 8);
}

#[test]
fn eight_wrong_pins_block_the_pin() {
    let mut ch = InProcessChannel::new(FidoCard::new());
    Fido2::open(&mut ch).unwrap().enroll("1234").unwrap();
    let mut last = None;
    for i in 0..8 {
        if i % 3 == 0 {
            ch.power_cycle();
        }
        let mut f = Fido2::open(&mut ch).unwrap();
        last = Some(ctap_status(
            f.pin_token("9999", 2, Some("x.example")).unwrap_err(),
        ));
    }
    assert_eq!(last, Some(CtapStatus::CTAP2_ERR_PIN_BLOCKED));
    ch.power_cycle();
    let mut f = Fido2::open(&mut ch).unwrap();
    assert_eq!(
        ctap_status(f.pin_token("1234", 2, Some("x.example")).unwrap_err()),
        CtapStatus::CTAP2_ERR_PIN_BLOCKED
    );
    // Reset is the way out: PIN and credentials gone.
    f.reset().unwrap();
    let f = Fido2::open(&mut ch).unwrap();
    assert!(!f.is_enrolled());
}

#[test]
fn token_permissions_and_rp_binding() {
    let mut f = open();
    f.enroll("1234").unwrap();
    // A token for credential management cannot register.
    let token = f.pin_token("1234", 0x04, None).unwrap();
    let r = reg("p.example", "u", false);
    let mut params = vec![
        (Value::int(1), Value::bytes(&r.client_data_hash)),
        (
            Value::int(2),
            Value::map([(Value::text("id"), Value::text("p.example"))]),
        ),
        (
            Value::int(3),
            Value::map([(Value::text("id"), Value::bytes(b"u"))]),
        ),
        (
            Value::int(4),
            Value::Array(vec![Value::map([
                (Value::text("alg"), Value::int(-7)),
                (Value::text("type"), Value::text("public-key")),
            ])]),
        ),
    ];
    params.push((
        Value::int(8),
        Value::Bytes(token.authenticate(&r.client_data_hash)),
    ));
    params.push((Value::int(9), Value::int(2)));
    let e = f
        .card()
        .call(0x01, Some(&Value::map(params.clone())))
        .unwrap_err();
    assert_eq!(
        ctap_status(e),
        CtapStatus::CTAP2_ERR_UNAUTHORIZED_PERMISSION
    );
    // A resident credential needs UV once a PIN is set.
    let e = f.register(&reg("p.example", "u", true), None).unwrap_err();
    assert_eq!(ctap_status(e), CtapStatus::CTAP2_ERR_PUAT_REQUIRED);
    // A forged pinUvAuthParam is refused.
    params.pop();
    params.pop();
    params.push((Value::int(8), Value::Bytes(vec![0; 32])));
    params.push((Value::int(9), Value::int(2)));
    let e = f.card().call(0x01, Some(&Value::map(params))).unwrap_err();
    assert_eq!(ctap_status(e), CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID);
}

#[test]
fn cred_protect_and_hmac_secret_extensions() {
    let mut f = open();
    f.enroll("1234").unwrap();
    let mut r = reg("cp.example", "u", true);
    r.cred_protect = Some(3);
    r.hmac_secret = true;
    let mc = f.register(&r, Some("1234")).unwrap();
    let ext = mc.auth_data.extensions.clone().unwrap();
    assert_eq!(ext.get_text("credProtect").and_then(Value::as_u64), Some(3));
    assert_eq!(
        ext.get_text("hmac-secret").and_then(Value::as_bool),
        Some(true)
    );
    // hmac-secret: stable per credential and salt, different with another salt.
    let id0 = mc.auth_data.attested.clone().unwrap().credential_id;
    let s1 = f
        .hmac_secret("cp.example", &id0, &[1; 32], Some("1234"))
        .unwrap();
    let s1b = f
        .hmac_secret("cp.example", &id0, &[1; 32], Some("1234"))
        .unwrap();
    let s2 = f
        .hmac_secret("cp.example", &id0, &[2; 32], Some("1234"))
        .unwrap();
    assert_eq!(s1.len(), 32);
    assert_eq!(s1, s1b);
    assert_ne!(s1, s2);
    // Level 3: invisible without UV, even with its ID in the allow list.
    let id = mc.auth_data.attested.unwrap().credential_id;
    let e = f
        .authenticate("cp.example", &[0; 32], std::slice::from_ref(&id), None)
        .unwrap_err();
    assert_eq!(ctap_status(e), CtapStatus::CTAP2_ERR_NO_CREDENTIALS);
    assert_eq!(
        f.authenticate("cp.example", &[0; 32], &[id], Some("1234"))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn presence_policies() {
    // Deny: registration refused.
    let mut card = FidoCard::new();
    card.applet.set_presence_policy(PresencePolicy::Deny);
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    let e = f.register(&reg("d.example", "u", false), None).unwrap_err();
    assert_eq!(ctap_status(e), CtapStatus::CTAP2_ERR_OPERATION_DENIED);

    // Status updates: 3 polls, then approved.
    let mut card = FidoCard::new();
    card.applet
        .set_presence_policy(PresencePolicy::AfterPolls(3));
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    f.card().set_poll_policy(PollPolicy {
        interval: std::time::Duration::from_millis(1),
        timeout: std::time::Duration::from_secs(5),
    });
    f.register(&reg("s.example", "u", false), None).unwrap();
    assert_eq!(f.card().status_updates(), 3);
}

#[test]
fn contactless_interface_refuses_the_applet() {
    let e = Fido2::open(InProcessChannel::new(FidoCard::contactless()))
        .err()
        .unwrap();
    match e {
        Fido2Error::AppletRefused { sw } => assert_eq!(sw.0, 0x6985),
        other => panic!("{other}"),
    }
}

#[test]
fn apdu_counts_for_enroll_register_authenticate() {
    let mut f = open();
    let start = f.card().round_trips();
    assert_eq!(start, 2, "SELECT + getInfo");
    f.enroll("1234").unwrap();
    let enroll = f.card().round_trips() - start;
    let r = reg("count.example", "u", false);
    let before = f.card().round_trips();
    let mc = f.register(&r, Some("1234")).unwrap();
    let register = f.card().round_trips() - before;
    let id = mc.auth_data.attested.unwrap().credential_id;
    let before = f.card().round_trips();
    f.authenticate("count.example", &[3; 32], &[id], Some("1234"))
        .unwrap();
    let authenticate = f.card().round_trips() - before;
    println!("APDUs: open 2, enroll {enroll}, register {register}, authenticate {authenticate}");
    // getKeyAgreement + setPIN.
    assert_eq!(enroll, 2);
    // getKeyAgreement + getPinUvAuthToken + makeCredential (extended APDUs: no chaining).
    assert_eq!(register, 3);
    assert_eq!(authenticate, 3);
}
