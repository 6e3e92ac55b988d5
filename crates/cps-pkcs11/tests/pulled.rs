//! The card pulled *during* a signature, through pcscd + vsmartcard-vpcd with the simulated
//! CPS3 and CPS4, with the `cryptoki` crate: the link's fault injection
//! (`cps_sim::vpcd::Fault::PullAt`) lets the card execute the second APDU of the
//! signature and leave the reader before answering. `C_Sign` must come back quickly with an
//! error (no hang, no crash, no signature), the PIN's try counter is untouched, and the card
//! inserted again is a fresh token that signs after a new login.
//!
//! Which APDU is the signature's second is measured by a first run without fault (the same
//! calls in a fresh module state); the faulted run checks that it sent as many APDUs before
//! the signature.
//!
//! Needs pcscd with vpcd. Without it the test prints `SKIPPED` and passes, except under
//! `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cps_sim::vpcd::{self, Fault, VpcdConfig, VpcdHandle};
use cps_sim::{Profile, SimCard};
use cps_testkit::{READER, SIG_ID, insert};
use cps_transport::pcsc::PcscContext;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the card-pulled-during-signature test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// Inserts `card` with a fault at APDU `n` of the link.
fn insert_faulty(ctx: &PcscContext, card: SimCard, n: u64) -> VpcdHandle<SimCard> {
    let cfg = VpcdConfig {
        fault: Some(Fault::PullAt(n)),
        ..VpcdConfig::with_port(vpcd::DEFAULT_PORT)
    };
    let handle = vpcd::spawn(card, cfg).unwrap();
    assert!(handle.wait_connected(Duration::from_secs(5)));
    ctx.wait_for_card(Some(READER), Duration::from_secs(5))
        .unwrap();
    handle
}

/// Initialise, log in, find the signature key, sign: (APDUs before the signature, the
/// signature's result, how long `C_Sign` took). The module is finalised at the end.
fn login_and_sign(handle: &VpcdHandle<SimCard>) -> (u64, Result<Vec<u8>, Error>, Duration) {
    let p11 = Pkcs11::new(ours()).unwrap();
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p11.get_slots_with_token().unwrap()[0];
    let session = p11.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(hex::decode(SIG_ID).unwrap()),
        ])
        .unwrap();
    assert_eq!(key.len(), 1);
    let before = handle.card().stats().apdus;
    let start = Instant::now();
    let r = session.sign(&Mechanism::Sha256RsaPkcs, key[0], b"ordonnance n. 7");
    let took = start.elapsed();
    drop(session);
    p11.finalize().unwrap();
    (before, r, took)
}

#[test]
fn card_pulled_during_a_signature() {
    if !ours().exists() {
        return skip_or_fail(&format!("{} was not built", ours().display()));
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        // Without fault: how many APDUs come before the signature, and how many it takes.
        // Twice: the first run may fill the module's directory cache (then the next runs
        // send fewer APDUs before the signature, all the same number).
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        login_and_sign(&handle).1.unwrap();
        handle.card().reset_stats();
        let (before, r, _) = login_and_sign(&handle);
        r.unwrap();
        let total = handle.card().stats().apdus;
        cps_testkit::remove(&ctx, handle);
        assert!(
            total >= before + 2,
            "the signature took {} APDUs",
            total - before
        );

        // The card leaves after executing the signature's second APDU.
        let n = before + 2;
        let handle = insert_faulty(&ctx, SimCard::new(profile, "dr-martin").unwrap(), n);
        let (again, r, took) = login_and_sign(&handle);
        assert_eq!(again, before, "the APDUs before the signature changed");
        assert!(
            matches!(
                r,
                Err(Error::Pkcs11(
                    RvError::DeviceRemoved | RvError::DeviceError | RvError::SessionHandleInvalid,
                    _
                ))
            ),
            "{generation}: C_Sign with the card pulled at APDU {n}: {r:?}"
        );
        assert!(took < Duration::from_secs(10), "C_Sign took {took:?}");
        assert_eq!(
            handle.card().tries_left(0x01),
            Some(3),
            "{generation}: the PIN's tries"
        );
        ctx.wait_for_removal(READER, Duration::from_secs(5))
            .unwrap();
        drop(handle);

        // Inserted again: a fresh token, which signs after a new login.
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        let (_, again_ok, _) = login_and_sign(&handle);
        assert!(again_ok.is_ok(), "{again_ok:?}");
        cps_testkit::remove(&ctx, handle);
        let line = format!(
            "{generation} card pulled at the signature's APDU {} of {} (link APDU {n}): C_Sign {} in {:.0} ms, PIN tries 3, the card signs again after reinsertion",
            2,
            total - before,
            match &r {
                Err(Error::Pkcs11(rv, _)) => format!("{rv:?}"),
                other => format!("{other:?}"),
            },
            took.as_secs_f64() * 1e3
        );
        eprintln!("{line}");
        report.push(line);
    }
    eprintln!(
        "\n=== card pulled during a signature\n{}",
        report.join("\n")
    );
}
