//! authenticatorConfig (CTAP 2.1 §6.11): our client against the simulated applet —
//! toggleAlwaysUv, setMinPINLength with forceChangePin, and the permission rules.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_fido2::client::permissions;
use cps_fido2::ctap::CtapStatus;
use cps_fido2::{Fido2, Fido2Error, Registration};
use cps_sim::fido2::applet::FidoCard;
use cps_transport::InProcessChannel;

fn open() -> Fido2<InProcessChannel<FidoCard>> {
    Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap()
}

fn status(r: Result<impl std::fmt::Debug, Fido2Error>) -> CtapStatus {
    match r {
        Err(Fido2Error::Ctap { status, .. }) => status,
        other => panic!("expected a CTAP error, got {other:?}"),
    }
}

fn reg() -> Registration {
    Registration {
        rp_id: "cfg.example".into(),
        rp_name: "cfg".into(),
        user_id: b"u".to_vec(),
        user_name: "u".into(),
        user_display_name: "U".into(),
        client_data_hash: [5; 32],
        resident_key: false,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    }
}

#[test]
fn get_info_advertises_authenticator_config() {
    let f = open();
    let i = f.info();
    assert_eq!(i.option("authnrCfg"), Some(true));
    assert_eq!(i.option("alwaysUv"), Some(false));
    assert_eq!(i.option("setMinPINLength"), Some(true));
    assert_eq!(i.option("makeCredUvNotRqd"), Some(true));
    assert_eq!(i.min_pin_length, Some(4));
    assert_eq!(i.force_pin_change, Some(false));
}

#[test]
fn toggle_always_uv_with_and_without_pin() {
    let mut f = open();
    // No PIN yet: no pinUvAuthParam needed (§6.11.1).
    assert!(f.toggle_always_uv(None).unwrap());
    assert_eq!(f.info().option("makeCredUvNotRqd"), Some(false));
    // U2F is off while alwaysUv is on: getInfo and SELECT stop naming it.
    assert!(!f.info().supports("U2F_V2"));
    assert_eq!(
        status(f.register(&reg(), None)),
        CtapStatus::CTAP2_ERR_PIN_NOT_SET
    );
    assert!(!f.toggle_always_uv(None).unwrap());
    assert!(f.info().supports("U2F_V2"));

    f.enroll("2468").unwrap();
    // With a PIN: a token with the acfg permission is required.
    assert_eq!(
        status(f.config_with_token(None, 0x02, None)),
        CtapStatus::CTAP2_ERR_PUAT_REQUIRED
    );
    assert!(f.toggle_always_uv(Some("2468")).unwrap());
    // Every makeCredential / getAssertion now needs the PIN.
    assert_eq!(
        status(f.register(&reg(), None)),
        CtapStatus::CTAP2_ERR_PUAT_REQUIRED
    );
    let mc = f.register(&reg(), Some("2468")).unwrap();
    assert!(mc.auth_data.user_verified());
    let id = mc.auth_data.attested.unwrap().credential_id;
    assert_eq!(
        status(f.authenticate("cfg.example", &[1; 32], std::slice::from_ref(&id), None)),
        CtapStatus::CTAP2_ERR_PUAT_REQUIRED
    );
    f.authenticate("cfg.example", &[1; 32], &[id], Some("2468"))
        .unwrap();
    // U2F REGISTER is refused while alwaysUv is on.
    match f.u2f().register(&[0; 32], &[0; 32]) {
        Err(Fido2Error::U2f(cps_fido2::u2f::U2fError::Status { sw, .. })) => {
            assert_eq!(sw.0, 0x6D00)
        }
        other => panic!("{other:?}"),
    }
    assert!(!f.toggle_always_uv(Some("2468")).unwrap());
}

#[test]
fn config_needs_the_acfg_permission_and_a_valid_param() {
    let mut f = open();
    f.enroll("2468").unwrap();
    // A token without acfg: UNAUTHORIZED_PERMISSION (§6.11.1, permission check).
    let t = f
        .pin_token("2468", permissions::GET_ASSERTION, Some("cfg.example"))
        .unwrap();
    assert_eq!(
        status(f.config_with_token(Some(&t), 0x02, None)),
        CtapStatus::CTAP2_ERR_UNAUTHORIZED_PERMISSION
    );
    // A token with acfg whose param does not match the sent subcommand: PIN_AUTH_INVALID.
    let t = f
        .pin_token("2468", permissions::AUTHENTICATOR_CONFIG, None)
        .unwrap();
    let stale = t;
    let fresh = f
        .pin_token("2468", permissions::AUTHENTICATOR_CONFIG, None)
        .unwrap();
    // `stale` was replaced on the card by `fresh` (one token at a time, §6.5.5.7).
    assert_eq!(
        status(f.config_with_token(Some(&stale), 0x02, None)),
        CtapStatus::CTAP2_ERR_PIN_AUTH_INVALID
    );
    assert!(!f.info().option("alwaysUv").unwrap());
    f.config_with_token(Some(&fresh), 0x02, None).unwrap();
    assert_eq!(f.info().option("alwaysUv"), Some(true));
    // enableEnterpriseAttestation is not implemented (no `ep` in getInfo).
    assert_eq!(
        status(f.config_with_token(Some(&fresh), 0x01, None)),
        CtapStatus::CTAP2_ERR_INVALID_SUBCOMMAND
    );
}

#[test]
fn set_min_pin_length_and_forced_change() {
    let mut f = open();
    f.enroll("2468").unwrap();
    f.set_min_pin_length(Some("2468"), Some(6), false).unwrap();
    assert_eq!(f.info().min_pin_length, Some(6));
    // The current 4-digit PIN is shorter than the new minimum: it must be changed.
    assert_eq!(f.info().force_pin_change, Some(true));
    assert_eq!(
        status(f.pin_token("2468", permissions::GET_ASSERTION, Some("cfg.example"))),
        CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION
    );
    // The new PIN must meet the minimum.
    assert_eq!(
        status(f.change_pin("2468", "13579")),
        CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION
    );
    f.change_pin("2468", "135790").unwrap();
    f.refresh_info().unwrap();
    assert_eq!(f.info().force_pin_change, Some(false));
    f.pin_token("135790", permissions::GET_ASSERTION, Some("cfg.example"))
        .unwrap();
    // The minimum never goes down.
    assert_eq!(
        status(f.set_min_pin_length(Some("135790"), Some(5), false)),
        CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION
    );
    // forceChangePin alone.
    f.set_min_pin_length(Some("135790"), None, true).unwrap();
    assert_eq!(f.info().force_pin_change, Some(true));
    assert_eq!(f.info().min_pin_length, Some(6));
    f.change_pin("135790", "246802").unwrap();
    // Reset restores the defaults.
    f.reset().unwrap();
    f.refresh_info().unwrap();
    assert_eq!(f.info().min_pin_length, Some(4));
}

#[test]
fn force_change_needs_a_pin() {
    let mut f = open();
    assert_eq!(
        status(f.set_min_pin_length(None, None, true)),
        CtapStatus::CTAP2_ERR_PIN_NOT_SET
    );
    // Without a PIN the minimum can be raised freely; enroll then follows it.
    f.set_min_pin_length(None, Some(8), false).unwrap();
    assert_eq!(
        status(f.enroll("1234567")),
        CtapStatus::CTAP2_ERR_PIN_POLICY_VIOLATION
    );
    f.enroll("12345678").unwrap();
}
