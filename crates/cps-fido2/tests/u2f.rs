//! CTAP1/U2F: our client against the simulated applet in both modes (CTAP2 applet that also
//! answers U2F, U2F-only applet), the high-level fallback, and the typed failures.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use std::time::Duration;

use cps_fido2::ctap::CtapStatus;
use cps_fido2::pin::public_key_from_cose;
use cps_fido2::u2f::{U2fError, control};
use cps_fido2::{Fido2, Fido2Error, PollPolicy, Registration};
use cps_sim::fido2::applet::FidoCard;
use cps_sim::fido2::authenticator::{ATTESTATION_CERT, PresencePolicy};
use cps_transport::InProcessChannel;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{DerSignature, VerifyingKey};
use sha2::{Digest, Sha256};

fn reg(rp: &str) -> Registration {
    Registration {
        rp_id: rp.into(),
        rp_name: rp.into(),
        user_id: b"u".to_vec(),
        user_name: "u".into(),
        user_display_name: "U".into(),
        client_data_hash: Sha256::digest(format!("create {rp}")).into(),
        resident_key: false,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    }
}

fn fast(f: &mut Fido2<InProcessChannel<FidoCard>>, timeout_ms: u64) {
    f.card().set_poll_policy(PollPolicy {
        interval: Duration::from_millis(1),
        timeout: Duration::from_millis(timeout_ms),
    });
}

fn attestation_key() -> VerifyingKey {
    // The public key of the TEST attestation certificate: the last 65 bytes of its
    // SubjectPublicKeyInfo, found after the id-ecPublicKey / prime256v1 OIDs.
    let spki_prefix = [
        0x03, 0x42, 0x00, // BIT STRING, 66 bytes, no unused bits
    ];
    let pos = ATTESTATION_CERT
        .windows(3)
        .position(|w| w == spki_prefix)
        .unwrap();
    VerifyingKey::from_sec1_bytes(&ATTESTATION_CERT[pos + 3..pos + 3 + 65]).unwrap()
}

fn verify(key: &VerifyingKey, msg: &[u8], sig: &[u8]) {
    key.verify(msg, &DerSignature::try_from(sig).unwrap())
        .expect("signature verifies");
}

#[test]
fn raw_u2f_on_the_ctap2_applet() {
    let mut f = Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap();
    assert!(!f.is_u2f_only());
    assert_eq!(f.u2f().version().unwrap(), "U2F_V2");
    let app: [u8; 32] = Sha256::digest(b"u2f.example").into();
    let chal = [0x11; 32];
    let r = f.u2f().register(&chal, &app).unwrap();
    assert_eq!(r.attestation_certificate, ATTESTATION_CERT);
    // U2F §4.3: the attestation key signs 00 ‖ app ‖ challenge ‖ key handle ‖ public key.
    verify(
        &attestation_key(),
        &r.signed_data(&app, &chal),
        &r.signature,
    );

    // check-only: 6985 for our handle, 6A80 for a foreign one or another application.
    let e = f
        .u2f()
        .authenticate(control::CHECK_ONLY, &chal, &app, &r.key_handle)
        .unwrap_err();
    assert!(matches!(
        e,
        Fido2Error::U2f(U2fError::UserPresenceRequired { .. })
    ));
    let mut forged = r.key_handle.clone();
    forged[20] ^= 1;
    let e = f
        .u2f()
        .authenticate(control::ENFORCE_USER_PRESENCE, &chal, &app, &forged)
        .unwrap_err();
    assert!(
        matches!(e, Fido2Error::U2f(U2fError::WrongKeyHandle { .. })),
        "{e}"
    );
    assert!(e.to_string().contains("6A80"), "{e}");
    let other: [u8; 32] = Sha256::digest(b"other.example").into();
    let e = f
        .u2f()
        .authenticate(control::ENFORCE_USER_PRESENCE, &chal, &other, &r.key_handle)
        .unwrap_err();
    assert!(matches!(
        e,
        Fido2Error::U2f(U2fError::WrongKeyHandle { .. })
    ));

    // Signatures over app ‖ UP ‖ counter ‖ challenge with the user key; counter increases.
    let user_key = VerifyingKey::from_sec1_bytes(&r.public_key).unwrap();
    let mut last = 0;
    for (ctl, up) in [
        (control::ENFORCE_USER_PRESENCE, 1),
        (control::DONT_ENFORCE_USER_PRESENCE, 0),
    ] {
        let a = f
            .u2f()
            .authenticate(ctl, &[0x22; 32], &app, &r.key_handle)
            .unwrap();
        assert_eq!(a.user_presence, up);
        assert!(a.counter > last);
        last = a.counter;
        let mut msg = app.to_vec();
        msg.push(a.user_presence);
        msg.extend_from_slice(&a.counter.to_be_bytes());
        msg.extend_from_slice(&[0x22; 32]);
        verify(&user_key, &msg, &a.signature);
    }

    // A U2F credential is a CTAP2 credential of rpId "u2f.example" and back (CTAP 2.1 §10).
    let asr = f
        .authenticate(
            "u2f.example",
            &[0x33; 32],
            std::slice::from_ref(&r.key_handle),
            None,
        )
        .unwrap();
    assert_eq!(asr[0].credential_id, r.key_handle);
    let mc = f.register(&reg("ctap2.example"), None).unwrap();
    let id = mc.auth_data.attested.unwrap().credential_id;
    let app2: [u8; 32] = Sha256::digest(b"ctap2.example").into();
    f.u2f()
        .authenticate(control::ENFORCE_USER_PRESENCE, &chal, &app2, &id)
        .unwrap();
}

#[test]
fn u2f_only_applet_falls_back_with_ctap2_shaped_results() {
    let mut f = Fido2::open(InProcessChannel::new(FidoCard::u2f_only())).unwrap();
    assert!(f.is_u2f_only());
    assert_eq!(f.card().select_answer(), b"U2F_V2");
    assert_eq!(f.info().versions, ["U2F_V2"]);
    // SELECT + the refused getInfo.
    assert_eq!(f.card().round_trips(), 2);

    let r = reg("fallback.example");
    let before = f.card().round_trips();
    let mc = f.register(&r, None).unwrap();
    let register_apdus = f.card().round_trips() - before;
    assert_eq!(mc.fmt, "fido-u2f");
    assert!(mc.auth_data.user_present() && !mc.auth_data.user_verified());
    assert_eq!(mc.auth_data.sign_count, 0);
    let att = mc.auth_data.attested.clone().unwrap();
    assert_eq!(att.aaguid, [0; 16]);
    let rp_hash: [u8; 32] = Sha256::digest(b"fallback.example").into();
    assert_eq!(mc.auth_data.rp_id_hash, rp_hash);
    // WebAuthn §8.6 step: the fido-u2f signature covers 00 ‖ rpIdHash ‖ cdh ‖ credId ‖ point.
    let point = {
        let k = public_key_from_cose(&att.public_key).unwrap();
        k.to_sec1_bytes().to_vec()
    };
    let mut signed = vec![0];
    signed.extend_from_slice(&rp_hash);
    signed.extend_from_slice(&r.client_data_hash);
    signed.extend_from_slice(&att.credential_id);
    signed.extend_from_slice(&point);
    let sig = mc
        .att_stmt
        .get_text("sig")
        .and_then(|v| v.as_bytes())
        .unwrap();
    verify(&attestation_key(), &signed, sig);

    let cdh = [0x44; 32];
    let before = f.card().round_trips();
    let asr = f
        .authenticate(
            "fallback.example",
            &cdh,
            std::slice::from_ref(&att.credential_id),
            None,
        )
        .unwrap();
    let authenticate_apdus = f.card().round_trips() - before;
    let a = &asr[0];
    assert!(a.auth_data.user_present() && a.auth_data.sign_count >= 1);
    assert_eq!(a.auth_data_raw.len(), 37);
    let key = VerifyingKey::from(public_key_from_cose(&att.public_key).unwrap());
    let mut msg = a.auth_data_raw.clone();
    msg.extend_from_slice(&cdh);
    verify(&key, &msg, &a.signature);
    println!(
        "U2F fallback APDUs: open 2, register {register_apdus}, authenticate {authenticate_apdus}"
    );
    // Extended-length card: one APDU each.
    assert_eq!((register_apdus, authenticate_apdus), (1, 1));

    // Several candidates: check-only finds ours (foreign handle → 6A80, ours → 6985).
    let foreign = vec![0x01; 62];
    let before = f.card().round_trips();
    let asr = f
        .authenticate(
            "fallback.example",
            &cdh,
            &[foreign.clone(), att.credential_id.clone()],
            None,
        )
        .unwrap();
    assert_eq!(asr[0].credential_id, att.credential_id);
    assert_eq!(f.card().round_trips() - before, 3);
    // None of ours: NO_CREDENTIALS, as CTAP2 would say.
    for allow in [vec![foreign.clone()], vec![foreign.clone(), vec![2; 40]]] {
        match f.authenticate("fallback.example", &cdh, &allow, None) {
            Err(Fido2Error::Ctap { status, .. }) => {
                assert_eq!(status, CtapStatus::CTAP2_ERR_NO_CREDENTIALS)
            }
            other => panic!("{other:?}"),
        }
    }
    // The exclude list is checked with check-only.
    let mut again = r.clone();
    again.exclude = vec![foreign, att.credential_id.clone()];
    match f.register(&again, None) {
        Err(Fido2Error::Ctap { status, .. }) => {
            assert_eq!(status, CtapStatus::CTAP2_ERR_CREDENTIAL_EXCLUDED)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn u2f_only_refuses_what_u2f_cannot_do() {
    let mut f = Fido2::open(InProcessChannel::new(FidoCard::u2f_only())).unwrap();
    fn unsupported<T>(r: Result<T, Fido2Error>) -> &'static str {
        match r {
            Err(Fido2Error::Unsupported { what, why }) => {
                assert!(why.contains("U2F only"), "{why}");
                what
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("accepted"),
        }
    }
    assert!(unsupported(f.enroll("1234")).contains("PIN"));
    assert!(unsupported(f.register(&reg("x.example"), Some("1234"))).contains("PIN"));
    let mut rk = reg("x.example");
    rk.resident_key = true;
    assert!(unsupported(f.register(&rk, None)).contains("discoverable"));
    let mut cp = reg("x.example");
    cp.cred_protect = Some(2);
    assert!(unsupported(f.register(&cp, None)).contains("credProtect"));
    assert!(unsupported(f.authenticate("x.example", &[0; 32], &[], None)).contains("allow list"));
    assert!(unsupported(f.credentials("1234")).contains("PIN"));
    assert!(unsupported(f.toggle_always_uv(None)).contains("alwaysUv"));
    // CTAP2 INS 10 is really refused by the applet.
    match f.card().get_info() {
        Err(Fido2Error::Status { sw, .. }) => assert_eq!(sw.0, 0x6D00),
        other => panic!("{other:?}"),
    }
}

#[test]
fn u2f_presence_denied_or_late() {
    // Denied: the card keeps answering 6985; the client gives up at its timeout (typed).
    let mut card = FidoCard::u2f_only();
    card.applet.set_presence_policy(PresencePolicy::Deny);
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    fast(&mut f, 30);
    let e = f.register(&reg("deny.example"), None).unwrap_err();
    assert!(matches!(e, Fido2Error::Timeout(_)), "{e}");
    // One attempt at the low level: UserPresenceRequired.
    let e = f.u2f().register(&[0; 32], &[0; 32]).unwrap_err();
    assert!(
        matches!(
            e,
            Fido2Error::U2f(U2fError::UserPresenceRequired {
                attempted: "REGISTER"
            })
        ),
        "{e}"
    );
    assert!(e.to_string().contains("6985"));

    // Late: two refusals, then the user confirms; the client repeats the request.
    let mut card = FidoCard::u2f_only();
    card.applet
        .set_presence_policy(PresencePolicy::AfterPolls(2));
    let mut f = Fido2::open(InProcessChannel::new(card)).unwrap();
    fast(&mut f, 5000);
    let before = f.card().round_trips();
    let mc = f.register(&reg("late.example"), None).unwrap();
    assert_eq!(f.card().round_trips() - before, 3);
    let id = mc.auth_data.attested.unwrap().credential_id;
    let before = f.card().round_trips();
    f.authenticate("late.example", &[1; 32], &[id], None)
        .unwrap();
    assert_eq!(f.card().round_trips() - before, 3);
}

#[test]
fn u2f_request_framing_errors() {
    use cps_transport::VirtualCard;
    let mut card = FidoCard::new();
    let select = hex::decode("00a4040008a0000006472f000100").unwrap();
    assert_eq!(card.process(&select), b"U2F_V2\x90\x00");
    // VERSION with data, REGISTER with 63 bytes, AUTHENTICATE with a bad L: 6700.
    assert_eq!(card.process(&[0x00, 0x03, 0, 0, 1, 0xAA, 0]), [0x67, 0x00]);
    let mut reg63 = vec![0x00, 0x01, 0, 0, 63];
    reg63.extend([0; 63]);
    assert_eq!(card.process(&reg63), [0x67, 0x00]);
    let mut auth = vec![0x00, 0x02, 0x03, 0, 66];
    auth.extend([0; 64]);
    auth.extend([5, 0]);
    assert_eq!(card.process(&auth), [0x67, 0x00]);
    // Unknown control byte: 6A86 (after the key-handle length is checked).
    auth[2] = 0x09;
    auth[4] = 65;
    auth.truncate(5 + 65);
    auth[5 + 64] = 0;
    assert_eq!(card.process(&auth), [0x6A, 0x86]);
    // A U2F instruction with CLA 80: not a U2F command.
    assert_eq!(card.process(&[0x80, 0x03, 0, 0, 0]), [0x6D, 0x00]);
    // Long register answer on a short APDU: 256 bytes then 61xx, GET RESPONSE CLA 00 or 80.
    let mut reg = vec![0x00, 0x01, 0, 0, 64];
    reg.extend([7; 64]);
    reg.push(0);
    let first = card.process(&reg);
    assert_eq!(first.len(), 258);
    assert_eq!(first[256], 0x61);
    let mut all = first[..256].to_vec();
    let mut sw = [first[256], first[257]];
    for cla in [0x80, 0x00, 0x80, 0x00] {
        if sw[0] != 0x61 {
            break;
        }
        let next = card.process(&[cla, 0xC0, 0, 0, sw[1]]);
        let (data, last) = next.split_at(next.len() - 2);
        all.extend_from_slice(data);
        sw = [last[0], last[1]];
    }
    assert_eq!(sw, [0x90, 0x00]);
    let r = cps_fido2::u2f::RegisterResponse::parse(&all).unwrap();
    assert_eq!(r.attestation_certificate, ATTESTATION_CERT);
    assert_eq!(
        all.len(),
        1 + 65 + 1 + r.key_handle.len() + ATTESTATION_CERT.len() + r.signature.len()
    );
}
