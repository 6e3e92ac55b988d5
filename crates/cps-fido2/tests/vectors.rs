//! testvectors/fido2.json (copied from the shared notes §6, each group with its source),
//! reproduced byte for byte by our CBOR encoder, PIN protocols and P-256 signatures.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_fido2::cbor::{self, Value};
use cps_fido2::ctap::{self, AssertionResponse, MakeCredentialResponse};
use cps_fido2::pin::{KeyAgreement, PinProtocol, padded_pin, pin_hash};
use p256::ecdsa::{DerSignature, SigningKey, signature::Signer};
use sha2::{Digest, Sha256};

fn vectors() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testvectors/fido2.json"
    ))
    .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hx(v: &serde_json::Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap_or_else(|| panic!("missing {key}"))).unwrap()
}

fn h32(b: Vec<u8>) -> [u8; 32] {
    b.try_into().unwrap()
}

fn iv(start: u8) -> [u8; 16] {
    std::array::from_fn(|i| start + i as u8)
}

#[test]
fn python_fido2_pin_protocol_1() {
    let v = &vectors()["pin_protocol_1_python_fido2"];
    let plat = KeyAgreement::from_scalar(&h32(hx(v, "platform_private"))).unwrap();
    let peer = Value::map([
        (Value::int(1), Value::int(2)),
        (Value::int(3), Value::int(-25)),
        (Value::int(-1), Value::int(1)),
        (
            Value::int(-2),
            Value::Bytes(hx(v, "authenticator_public_x")),
        ),
        (
            Value::int(-3),
            Value::Bytes(hx(v, "authenticator_public_y")),
        ),
    ]);
    let s = plat.shared_secret(PinProtocol::V1, &peer).unwrap();
    assert_eq!(s.hmac_key().to_vec(), hx(v, "shared_secret"));
    let pin = v["pin"].as_str().unwrap();
    assert_eq!(
        s.encrypt(pin_hash(pin).as_ref()).unwrap(),
        hx(v, "pin_hash_enc")
    );
    assert_eq!(s.encrypt(&hx(v, "token")).unwrap(), hx(v, "token_enc"));
    let enc = s.encrypt(&padded_pin(pin).unwrap()).unwrap();
    assert_eq!(enc, hx(v, "set_pin_new_pin_enc"));
    assert_eq!(s.authenticate(&enc), hx(v, "set_pin_param"));
    let new = s
        .encrypt(&padded_pin(v["change_pin_new"].as_str().unwrap()).unwrap())
        .unwrap();
    assert_eq!(new, hx(v, "change_pin_new_pin_enc"));
    let mut msg = new;
    msg.extend(s.encrypt(pin_hash(pin).as_ref()).unwrap());
    assert_eq!(s.authenticate(&msg), hx(v, "change_pin_param"));
}

#[test]
fn protocol_2_kdf() {
    let v = &vectors()["pin_protocol_2_kdf"];
    let s = PinProtocol::V2.kdf(&h32(hx(v, "z")));
    assert_eq!(s.hmac_key().to_vec(), hx(v, "hmac_key"));
}

#[test]
fn reference_requests_responses_and_signatures() {
    let all = vectors();
    let r = &all["reference"]["values"];
    let auth = KeyAgreement::from_scalar(&h32(hx(r, "authenticator_ka_priv"))).unwrap();
    let plat = KeyAgreement::from_scalar(&h32(hx(r, "platform_ka_priv"))).unwrap();
    assert_eq!(
        cbor::encode(&Value::map([(Value::int(1), auth.cose_public_key())])),
        hx(r, "getKeyAgreement resp")
    );
    assert_eq!(
        cbor::encode(&plat.cose_public_key()),
        hx(r, "platform keyAgreement")
    );
    let s2 = plat
        .shared_secret(PinProtocol::V2, &auth.cose_public_key())
        .unwrap();
    assert_eq!(s2.hmac_key().to_vec(), hx(r, "hmacKey"));

    // clientPIN setPIN request, protocol 2, fixed IV: our encoder gives the same bytes.
    let new_pin_enc = s2
        .encrypt_with_iv(&padded_pin("1234").unwrap(), Some(iv(0x10)))
        .unwrap();
    assert_eq!(new_pin_enc, hx(r, "newPinEnc (iv2)"));
    let params = Value::map([
        (Value::int(1), Value::int(2)),
        (Value::int(2), Value::int(3)),
        (Value::int(3), plat.cose_public_key()),
        (Value::int(4), Value::Bytes(s2.authenticate(&new_pin_enc))),
        (Value::int(5), Value::Bytes(new_pin_enc)),
    ]);
    assert_eq!(
        ctap::request(0x06, Some(&params)),
        hx(r, "clientPIN setPIN request (06 ‖ CBOR)")
    );

    // getPinUvAuthTokenUsingPinWithPermissions(mc|ga, example.com).
    let pin_hash_enc = s2
        .encrypt_with_iv(pin_hash("1234").as_ref(), Some(iv(0)))
        .unwrap();
    let params = Value::map([
        (Value::int(1), Value::int(2)),
        (Value::int(2), Value::int(9)),
        (Value::int(3), plat.cose_public_key()),
        (Value::int(6), Value::Bytes(pin_hash_enc)),
        (Value::int(9), Value::int(3)),
        (Value::int(0x0A), Value::text("example.com")),
    ]);
    assert_eq!(
        ctap::request(0x06, Some(&params)),
        hx(
            r,
            "clientPIN getPinUvAuthTokenUsingPinWithPermissions(mc|ga, \"example.com\") request"
        )
    );

    // The makeCredential response re-encodes canonically and its signature is reproduced by
    // p256's RFC 6979 signing with the credential key.
    let mc_bytes = hx(
        r,
        "makeCredential response (status byte stripped; python-fido2 verifies: SELF)",
    );
    let mc_value = cbor::decode(&mc_bytes).unwrap();
    assert_eq!(cbor::encode(&mc_value), mc_bytes);
    let mc = MakeCredentialResponse::from_cbor(&mc_value).unwrap();
    assert_eq!(mc.attestation_object(), hx(r, "WebAuthn attestationObject"));
    let key = SigningKey::from_bytes(hx(r, "credential_priv").as_slice().into()).unwrap();
    let mut signed = mc.auth_data_raw.clone();
    signed.extend(hx(r, "clientDataHash(create)"));
    let sig: DerSignature = key.sign(&signed);
    assert_eq!(sig.as_bytes(), hx(r, "packed self sig"));
    assert_eq!(
        cbor::encode(&cps_fido2::pin::cose_p256(&key.verifying_key().into(), -7)),
        hx(r, "COSE_Key (ES256)")
    );
    assert_eq!(
        mc.auth_data.rp_id_hash.to_vec(),
        Sha256::digest(b"example.com").to_vec()
    );

    let ga = AssertionResponse::from_cbor(&cbor::decode(&hx(r, "getAssertion response")).unwrap())
        .unwrap();
    let mut signed = ga.auth_data_raw.clone();
    signed.extend(hx(r, "clientDataHash(get)"));
    let sig: DerSignature = key.sign(&signed);
    assert_eq!(sig.as_bytes(), hx(r, "assertion sig"));
    assert_eq!(ga.auth_data_raw, hx(r, "authData GA (UP|UV, count 1)"));
}

#[test]
fn apdu_framing() {
    let a = &vectors()["apdu"];
    let select = cps_apdu::Command::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(&cps_fido2::FIDO_AID)
        .with_ne(256);
    assert_eq!(select.to_bytes(), hx(a, "select"));
    let get_info = cps_apdu::Command::new(0x80, 0x10, 0x80, 0x00)
        .with_data(&[0x04])
        .with_ne(256);
    assert_eq!(get_info.to_bytes(), hx(a, "get_info_short_p1_80"));
}
