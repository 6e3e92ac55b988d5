//! The official module's update extension (`C_StartUpdate`, `C_TransmitMessage`,
//! `C_KeepAlive`, `C_EndUpdate`, read past `C_WaitForSlotEvent` in the function list as
//! editors do with Cryptolib) relaying a real remote update: the reference update server
//! (in-process, HTTP on loopback) renews the keys of the simulated CPS4 in vpcd, driven by a
//! Python program through the module's C ABI (`tests/update_relay.py`, ctypes). Checked: the
//! table layout, the refusals (before `C_StartUpdate`, a VERIFY, other operations during the
//! update), the two-call convention without a second sending, the update committed on the
//! card and recorded by the server, and the card usable again afterwards.
//!
//! Needs pcscd with vpcd and `python3`. Without them the test prints `SKIPPED` and passes,
//! except under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::Path;

use cps_sim::{Profile, SimCard};
use cps_testkit::{insert, remove, run, run_env};

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the update relay test", reason);
}

#[test]
fn update_relayed_through_the_module() {
    let module = cps_testkit::pkcs11_module();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if run("python3", &["--version"]).is_none() {
        return skip_or_fail("python3 is not installed");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-update-relay-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // The reference update server, the simulated CPS4 registered, its key renewal scheduled.
    let card = SimCard::new(Profile::Cps4, "dr-martin").unwrap();
    let serial = card.serial();
    let situations = card
        .file(&cps_update::issuer::DAM_PATH)
        .map(cps_iasecc::PracticeSituation::parse_all)
        .transpose()
        .unwrap()
        .unwrap_or_default();
    let key = cps_update_server::AdminKey::new([0x5A; 32]);
    let bearer = format!(
        "Bearer {}",
        key.token(cps_x509::UnixTime::now().secs() + 600)
    );
    let server = cps_update_server::UpdateServer::open(&dir.join("issuer.sqlite"))
        .unwrap()
        .with_admin_key(key);
    server
        .register(
            &cps_update::issuer::test_record(
                cps_iasecc::Generation::Cps4,
                "dr-martin",
                serial.clone(),
                situations,
            )
            .unwrap(),
        )
        .unwrap();
    let handle = cps_update_server::serve(server, "127.0.0.1:0").unwrap();
    let url = handle.url();
    let serial_hex = hex::encode_upper(&serial);
    let r = minreq::post(format!("{url}/v1/cards/{serial_hex}/renewal"))
        .with_header("Authorization", &bearer)
        .with_body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204);

    let vpcd = insert(&ctx, card);
    let sig_cert = |v: &cps_sim::vpcd::VpcdHandle<SimCard>| {
        v.card()
            .file(&[0x3F00, 0x0001, 0xC002])
            .map(<[u8]>::to_vec)
            .unwrap()
    };
    let before = sig_cert(&vpcd);
    vpcd.card().reset_stats();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/update_relay.py");
    let (ok, out) = run_env(
        "python3",
        &[script.to_str().unwrap(), module.to_str().unwrap(), &url],
        &[("CPS_CACHE_DIR", dir.join("cache").to_str().unwrap())],
    )
    .unwrap();
    eprintln!("{out}");
    assert!(ok, "{out}");
    let results: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT "))
        .collect();
    assert_eq!(
        results[..9],
        [
            "table=ok",
            "transmit_before_start=OPERATION_NOT_INITIALIZED",
            "start_again=OPERATION_ACTIVE",
            "token_info_during_update=OPERATION_ACTIVE",
            "verify_relayed=FUNCTION_NOT_SUPPORTED",
            "too_small=BUFFER_TOO_SMALL",
            "hello_len=True sw=9000",
            "relayed=20",
            r#"finished={"updated": {"sequence": 1, "steps": 4}}"#,
        ],
        "{out}"
    );
    assert_eq!(results[9], "end_again=OPERATION_NOT_INITIALIZED");
    // The SELECT of the update application asked three times (length, too small, answer)
    // reached the card once: three SELECTs in all, the other two by `C_OpenSession` (the
    // module's own connection to the CPS4: ChipDoc, then the IAS application). No VERIFY
    // reached the card.
    let stats = vpcd.card().stats().clone();
    assert_eq!(stats.count(0xA4), 3, "{}", stats.summary());
    assert_eq!(stats.count(0x20), 0, "{}", stats.summary());
    assert_eq!(vpcd.card().tries_left(0x01), Some(3));
    // Committed on the card (a new signature certificate) and recorded by the server.
    assert_ne!(sig_cert(&vpcd), before, "the certificate was not renewed");
    let record: serde_json::Value = minreq::get(format!("{url}/v1/cards/{serial_hex}"))
        .with_header("Authorization", &bearer)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(record["sequence"], 1);
    assert!(record["pending"].is_null(), "{record}");

    // The card works through the module again: the renewed certificate is the one listed.
    let (ok, listing) = cps_testkit::p11(&module, &["-O", "--type", "cert"]);
    assert!(ok, "{listing}");
    assert!(listing.contains("Certificat de Signature CPS"), "{listing}");

    remove(&ctx, vpcd);
    handle.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
