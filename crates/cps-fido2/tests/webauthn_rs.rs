//! webauthn-rs-core 0.6.2 (kanidm; an implementation no one here wrote) verifies what our
//! client obtains from the simulated applet: packed attestation at registration, then
//! assertions with an increasing signature counter.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use cps_fido2::{Fido2, Registration};
use cps_sim::fido2::applet::FidoCard;
use cps_transport::InProcessChannel;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, PublicKeyCredential, RegisterPublicKeyCredential,
    UserVerificationPolicy,
};

const ORIGIN: &str = "https://hopital.example";

fn client_data(kind: &str, challenge: &str) -> Vec<u8> {
    json!({"type": kind, "challenge": challenge, "origin": ORIGIN, "crossOrigin": false})
        .to_string()
        .into_bytes()
}

#[test]
fn webauthn_rs_core_verifies_registration_and_assertions() {
    let core = WebauthnCore::new_unsafe_experts_only(
        "Hopital",
        "hopital.example",
        vec![Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    );
    let mut fido = Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap();
    fido.enroll("7531").unwrap();

    // Registration.
    let builder = core
        .new_challenge_register_builder(b"user-42", "dr.martin", "Dr Claire Martin")
        .unwrap()
        .attestation(AttestationConveyancePreference::Direct)
        .user_verification_policy(UserVerificationPolicy::Required);
    let (ccr, reg_state) = core.generate_challenge_register(builder).unwrap();
    let challenge = serde_json::to_value(&ccr).unwrap()["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let cdj = client_data("webauthn.create", &challenge);
    let reg = Registration {
        rp_id: "hopital.example".into(),
        rp_name: "Hopital".into(),
        user_id: b"user-42".to_vec(),
        user_name: "dr.martin".into(),
        user_display_name: "Dr Claire Martin".into(),
        client_data_hash: Sha256::digest(&cdj).into(),
        resident_key: true,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    };
    let mc = fido.register(&reg, Some("7531")).unwrap();
    let cred_id = mc
        .auth_data
        .attested
        .as_ref()
        .unwrap()
        .credential_id
        .clone();
    let rpkc: RegisterPublicKeyCredential = serde_json::from_value(json!({
        "id": B64.encode(&cred_id),
        "rawId": B64.encode(&cred_id),
        "type": "public-key",
        "response": {
            "attestationObject": B64.encode(mc.attestation_object()),
            "clientDataJSON": B64.encode(&cdj),
        },
        "extensions": {},
    }))
    .unwrap();
    let cred = core.register_credential(&rpkc, &reg_state, None).unwrap();
    let attestation = format!("{:?}", cred.attestation.data);
    assert!(
        attestation.starts_with("Basic"),
        "packed basic attestation expected: {attestation}"
    );

    // Two authentications: both verify, the counter increases.
    let mut last = 0;
    for _ in 0..2 {
        let (rcr, auth_state) = core
            .generate_challenge_authenticate(
                core.new_challenge_authenticate_builder(vec![cred.clone()], None)
                    .unwrap(),
            )
            .unwrap();
        let challenge = serde_json::to_value(&rcr).unwrap()["publicKey"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        let cdj = client_data("webauthn.get", &challenge);
        let cdh: [u8; 32] = Sha256::digest(&cdj).into();
        let asr = fido
            .authenticate(
                "hopital.example",
                &cdh,
                std::slice::from_ref(&cred_id),
                Some("7531"),
            )
            .unwrap();
        let a = &asr[0];
        let pkc: PublicKeyCredential = serde_json::from_value(json!({
            "id": B64.encode(&a.credential_id),
            "rawId": B64.encode(&a.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&a.auth_data_raw),
                "clientDataJSON": B64.encode(&cdj),
                "signature": B64.encode(&a.signature),
                "userHandle": a.user_id.as_ref().map(|u| B64.encode(u)),
            },
            "extensions": {},
        }))
        .unwrap();
        let res = core.authenticate_credential(&pkc, &auth_state).unwrap();
        assert!(res.user_verified());
        assert!(
            res.counter() > last,
            "counter {} after {}",
            res.counter(),
            last
        );
        last = res.counter();
    }
    println!(
        "webauthn-rs-core: registration ({attestation:.40}…) and 2 assertions verified, last counter {last}"
    );
}

/// The CTAP1/U2F fallback: a U2F-only applet, our client building the CTAP2-shaped results
/// (CTAP 2.1 §10), webauthn-rs-core verifying the `fido-u2f` attestation (WebAuthn §8.6) and
/// the assertions (user present, not verified: U2F has no PIN).
#[test]
fn webauthn_rs_core_verifies_the_u2f_fallback() {
    let core = WebauthnCore::new_unsafe_experts_only(
        "Hopital",
        "hopital.example",
        vec![Url::parse(ORIGIN).unwrap()],
        Duration::from_secs(60),
        None,
        None,
    );
    let mut fido = Fido2::open(InProcessChannel::new(FidoCard::u2f_only())).unwrap();
    assert!(fido.is_u2f_only());

    let builder = core
        .new_challenge_register_builder(b"user-7", "inf.bernard", "Infirmiere Bernard")
        .unwrap()
        .attestation(AttestationConveyancePreference::Direct)
        .user_verification_policy(UserVerificationPolicy::Discouraged_DO_NOT_USE);
    let (ccr, reg_state) = core.generate_challenge_register(builder).unwrap();
    let challenge = serde_json::to_value(&ccr).unwrap()["publicKey"]["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    let cdj = client_data("webauthn.create", &challenge);
    let reg = Registration {
        rp_id: "hopital.example".into(),
        rp_name: "Hopital".into(),
        user_id: b"user-7".to_vec(),
        user_name: "inf.bernard".into(),
        user_display_name: "Infirmiere Bernard".into(),
        client_data_hash: Sha256::digest(&cdj).into(),
        resident_key: false,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    };
    let mc = fido.register(&reg, None).unwrap();
    assert_eq!(mc.fmt, "fido-u2f");
    let cred_id = mc
        .auth_data
        .attested
        .as_ref()
        .unwrap()
        .credential_id
        .clone();
    let rpkc: RegisterPublicKeyCredential = serde_json::from_value(json!({
        "id": B64.encode(&cred_id),
        "rawId": B64.encode(&cred_id),
        "type": "public-key",
        "response": {
            "attestationObject": B64.encode(mc.attestation_object()),
            "clientDataJSON": B64.encode(&cdj),
        },
        "extensions": {},
    }))
    .unwrap();
    let cred = core.register_credential(&rpkc, &reg_state, None).unwrap();
    let attestation = format!("{:?}", cred.attestation.data);
    assert!(
        attestation.starts_with("Basic"),
        "fido-u2f attestation is basic: {attestation}"
    );
    assert_eq!(
        format!("{:?}", cred.attestation_format),
        "FIDOU2F",
        "attestation format"
    );

    let mut last = 0;
    for _ in 0..2 {
        let (rcr, auth_state) = core
            .generate_challenge_authenticate(
                core.new_challenge_authenticate_builder(vec![cred.clone()], None)
                    .unwrap(),
            )
            .unwrap();
        let challenge = serde_json::to_value(&rcr).unwrap()["publicKey"]["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        let cdj = client_data("webauthn.get", &challenge);
        let cdh: [u8; 32] = Sha256::digest(&cdj).into();
        let asr = fido
            .authenticate(
                "hopital.example",
                &cdh,
                std::slice::from_ref(&cred_id),
                None,
            )
            .unwrap();
        let a = &asr[0];
        let pkc: PublicKeyCredential = serde_json::from_value(json!({
            "id": B64.encode(&a.credential_id),
            "rawId": B64.encode(&a.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&a.auth_data_raw),
                "clientDataJSON": B64.encode(&cdj),
                "signature": B64.encode(&a.signature),
                "userHandle": null,
            },
            "extensions": {},
        }))
        .unwrap();
        let res = core.authenticate_credential(&pkc, &auth_state).unwrap();
        assert!(!res.user_verified(), "U2F cannot verify the user");
        assert!(
            res.counter() > last,
            "counter {} after {last}",
            res.counter()
        );
        last = res.counter();
    }
    println!(
        "webauthn-rs-core: U2F fallback registration ({attestation:.40}…, fido-u2f) and 2 assertions verified, last counter {last}"
    );
}
