//! The issuer's master key in a PKCS#11 token (SoftHSM2 under `scripts/with-softhsm.sh`;
//! SKIPPED without it, failed under CI=true): provisioned as a sensitive, non-extractable
//! key, its value unreadable through the token; card keys derived by the token equal the
//! in-process derivation; a full update (EF.DAM + 2 renewals) through the HTTP server whose
//! issuer holds no master key; then the CA key in the token as well, signing the renewed
//! certificates.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use cps_sim::Profile;
use cps_transport::InProcessChannel;
use cps_update::http::HttpService;
use cps_update::issuer::{InProcessKeys, IssuerKeys};
use cps_update::relay::{Outcome, update};
use cps_update::scp::{StaticKeys, TEST_MASTER_KEY};
use cps_update_server::pkcs11::Pkcs11Keys;
use cps_update_server::{AdminKey, Limits, UpdateServer, serve};

static NO: AtomicBool = AtomicBool::new(false);

/// One test at a time in the token: a PKCS#11 library is initialised once per process.
static TOKEN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn token() -> Option<(PathBuf, String, String)> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("CPS_TEST_PKCS11_MODULE"),
        get("CPS_TEST_PKCS11_TOKEN"),
        get("CPS_TEST_PKCS11_PIN"),
    ) {
        (Some(m), Some(t), Some(p)) => Some((m.into(), t, p)),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CPS_TEST_PKCS11_* not set under CI=true (run under scripts/with-softhsm.sh)"
            );
            println!("SKIPPED pkcs11: no token (scripts/with-softhsm.sh)");
            None
        }
    }
}

/// Whether two sets of static keys are the same (they have no accessor): a host session
/// under `a` authenticates to a card session under `b` and a command enciphered under `a`
/// deciphers under `b`.
fn keys_eq(a: &StaticKeys, b: &StaticKeys) -> bool {
    let host = [1u8; 8];
    let mut card = cps_update::scp::CardSession::initialize(b, 0x30, &host, &[2; 8]).unwrap();
    let Ok((mut host_session, ext)) =
        cps_update::scp::HostSession::open(a, 0x30, &host, &card.answer)
    else {
        return false;
    };
    if card.session.external_authenticate(&ext).is_err() {
        return false;
    }
    let apdu = host_session.wrap(0xE0, 0, 0, b"probe").unwrap();
    card.session
        .unwrap(&apdu)
        .is_ok_and(|plain| plain.as_slice() == b"probe")
}

/// What the token answers for `types` of the object of `class` labelled `label`, read through
/// a session of our own (as any other application of the token could).
fn token_attributes(
    module: &std::path::Path,
    pin: &str,
    class: cryptoki::object::ObjectClass,
    label: &str,
    types: &[cryptoki::object::AttributeType],
) -> Vec<cryptoki::object::Attribute> {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::Attribute;
    use cryptoki::session::UserType;
    let ctx = Pkcs11::new(module).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = ctx.get_slots_with_initialized_token().unwrap()[0];
    let s = ctx.open_ro_session(slot).unwrap();
    s.login(
        UserType::User,
        Some(&cryptoki::types::AuthPin::new(pin.to_owned().into())),
    )
    .unwrap();
    let key = s
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .unwrap()[0];
    s.get_attributes(key, types).unwrap()
}

#[test]
fn the_master_key_stays_in_the_token_and_updates_work() {
    let Some((module, label, pin)) = token() else {
        return;
    };
    let _one = TOKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Pkcs11Keys::provision_master(&module, &label, &pin, "cps-update-master", &TEST_MASTER_KEY)
        .unwrap();
    // Its value cannot be read back.
    {
        use cryptoki::object::{Attribute, AttributeType, ObjectClass};
        let attrs = token_attributes(
            &module,
            &pin,
            ObjectClass::SECRET_KEY,
            "cps-update-master",
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Value,
            ],
        );
        assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
        assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
        assert!(
            !attrs.iter().any(|a| matches!(a, Attribute::Value(_))),
            "the token gave the key's value: {attrs:?}"
        );
    }
    let hsm = Pkcs11Keys::open(
        &module,
        &label,
        &pin,
        "cps-update-master",
        InProcessKeys::test_ca([0; 16]).unwrap(),
    )
    .unwrap();
    // The token's derivation equals the in-process one (the simulated cards use it).
    for serial in [
        vec![1u8, 2, 3],
        vec![0x80, 0x25, 0, 0, 1, 4, 1, 0x12, 0x34, 0x5F],
    ] {
        let a = hsm.card_keys(&serial).unwrap();
        let b = StaticKeys::diversify(&TEST_MASTER_KEY, &serial);
        assert!(keys_eq(&a, &b), "card keys differ for {serial:02X?}");
        let wrong = StaticKeys::diversify(&[9; 16], &serial);
        assert!(!keys_eq(&a, &wrong));
    }
    // A full update through the HTTP server whose issuer holds only the token's session
    // (the in-process CA key signs; its master key argument above is all zeros, unused).
    let (store, _) = common::fresh_store(&common::Engine::Sqlite, "node-hsm");
    let server = UpdateServer::with_store_and_keys(Arc::clone(&store), Box::new(hsm))
        .with_admin_key(AdminKey::new(common::ADMIN_KEY))
        .with_limits(Limits::default());
    let h = serve(server, "127.0.0.1:0").unwrap();
    let url = h.url();
    let card = common::register(&url, Profile::Cps4, "dr-martin");
    common::schedule_full_update(&url, &card, "BREST");
    let mut ch = InProcessChannel::new(card);
    let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    );
    h.stop();
}

/// The CA key in the token too: provisioned as a sensitive, non-extractable RSA key (its
/// private exponent unreadable), a key that does not match the CA certificate refused, and a
/// full update whose two renewed certificates the token signed, each verifying up to the test
/// root; the server holds neither the master key nor the CA key.
#[test]
fn the_ca_key_signs_in_the_token() {
    let Some((module, label, pin)) = token() else {
        return;
    };
    let _one = TOKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ca_key = cps_x509::test_pki::intermediate_key().unwrap();
    let ca_cert = cps_x509::test_pki::intermediate_certificate().unwrap();
    Pkcs11Keys::provision_master(&module, &label, &pin, "cps-update-master", &TEST_MASTER_KEY)
        .unwrap();
    Pkcs11Keys::provision_ca(&module, &label, &pin, "cps-update-ca", &ca_key).unwrap();
    // A second provisioning finds it and changes nothing.
    assert!(!Pkcs11Keys::provision_ca(&module, &label, &pin, "cps-update-ca", &ca_key).unwrap());
    {
        use cryptoki::object::{Attribute, AttributeType, ObjectClass};
        let attrs = token_attributes(
            &module,
            &pin,
            ObjectClass::PRIVATE_KEY,
            "cps-update-ca",
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::PrivateExponent,
                AttributeType::Prime1,
            ],
        );
        assert!(attrs.contains(&Attribute::Sensitive(true)), "{attrs:?}");
        assert!(attrs.contains(&Attribute::Extractable(false)), "{attrs:?}");
        assert!(
            !attrs
                .iter()
                .any(|a| matches!(a, Attribute::PrivateExponent(_) | Attribute::Prime1(_))),
            "the token gave the CA key's private values: {attrs:?}"
        );
    }
    let open = || {
        Pkcs11Keys::open(
            &module,
            &label,
            &pin,
            "cps-update-master",
            InProcessKeys::test_ca([0; 16]).unwrap(),
        )
        .unwrap()
    };
    // The token's key checked against the certificate: another CA certificate is refused.
    let root = cps_x509::test_pki::root_certificate().unwrap();
    let e = open()
        .with_token_ca("cps-update-ca", root.clone())
        .unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    assert!(
        open()
            .with_token_ca("no-such-key", ca_cert.clone())
            .is_err()
    );
    let hsm = open()
        .with_token_ca("cps-update-ca", ca_cert.clone())
        .unwrap();

    let (store, _) = common::fresh_store(&common::Engine::Sqlite, "node-hsm-ca");
    let server = UpdateServer::with_store_and_keys(Arc::clone(&store), Box::new(hsm))
        .with_admin_key(AdminKey::new(common::ADMIN_KEY))
        .with_limits(Limits::default());
    let h = serve(server, "127.0.0.1:0").unwrap();
    let url = h.url();
    let card = common::register(&url, Profile::Cps4, "pharmacien-durand");
    let before: Vec<Vec<u8>> = [0xC001u16, 0xC002]
        .iter()
        .map(|f| card.file(&[0x3F00, 0x0001, *f]).unwrap().to_vec())
        .collect();
    common::schedule_full_update(&url, &card, "NANTES");
    let mut ch = InProcessChannel::new(card);
    let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    );
    h.stop();
    let card = ch.into_card();
    for (i, f) in [0xC001u16, 0xC002].iter().enumerate() {
        let der = card.file(&[0x3F00, 0x0001, *f]).unwrap();
        assert_ne!(der, before[i].as_slice(), "certificate {f:04X} renewed");
        let c = cps_x509::CpsCertificate::from_der(der).unwrap();
        cps_x509::verify_chain(
            &c,
            std::slice::from_ref(&ca_cert),
            std::slice::from_ref(&root),
            // The renewal's notBefore (common::schedule_full_update) is in 2029.
            cps_x509::UnixTime::from_secs(1_862_000_000),
        )
        .unwrap_or_else(|e| panic!("certificate {f:04X} signed in the token: {e}"));
    }
}
