#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! The `cps` binary through the real PC/SC stack (pcscd + vsmartcard-vpcd), on a simulated
//! card served by this test with `cps_sim::vpcd`: `cps info` and `cps doctor` through
//! `--reader`, the PIN until it is blocked and unblocked (the card outlives each `cps`
//! process here), signature, no card, unknown reader, and `--wait`.
//!
//! Without pcscd the tests print SKIPPED, except under CI=true where they fail.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Profile, SimCard};
use cps_transport::pcsc::PcscContext;

const AT: &str = "2026-03-01";
const READER0: &str = "Virtual PCD 00 00";
const READER1: &str = "Virtual PCD 00 01";

fn cps_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cps")
}

fn cps(args: &[&str]) -> Output {
    cps_env(args, &[])
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pcscd() -> Option<PcscContext> {
    cps_transport::pcsc::testing::context_or_skip()
}

fn verify_pin(pin: &str) -> Output {
    cps_env(
        &["--reader", READER0, "pin", "verify", "--pin-from", "env"],
        &[("CPS_PIN", pin)],
    )
}

#[test]
fn info_doctor_pin_and_sign_through_pcscd() {
    let Some(ctx) = pcscd() else { return };
    // pcscd must have seen any previous card leave before the new one is awaited.
    ctx.wait_for_removal(READER0, Duration::from_secs(10))
        .unwrap();
    let handle = vpcd::spawn(
        SimCard::new(Profile::Cps4, "dr-martin").unwrap(),
        VpcdConfig::with_port(35963),
    )
    .unwrap();
    ctx.wait_for_card(Some(READER0), Duration::from_secs(10))
        .expect("served card seen by pcscd");

    // cps info through --reader NAME and --reader auto.
    let o = cps(&["--reader", READER0, "info", "--at", AT]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let info = out(&o);
    for expected in [
        "card          reader \"Virtual PCD 00 00\"",
        "generation    CPS4",
        "holder        DR Claire Anne MARTIN (810001234567)",
        "PIN           not verified, 3 tries left",
        "Certificat d'Authentification CPS (authentication, RSA-2048): valid until 2028-06-30",
    ] {
        assert!(info.contains(expected), "{expected:?} missing:\n{info}");
    }
    let o = cps(&["info", "--reader", "auto", "--json", "--at", AT]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["generation"], "CPS4");
    assert_eq!(j["card"], "reader \"Virtual PCD 00 00\"");
    assert_eq!(j["iasecc"]["certificates"].as_array().unwrap().len(), 2);

    // cps doctor through the reader: the PC/SC lines are checked for real.
    let o = cps(&["--reader", READER0, "doctor", "--at", AT]);
    let report = out(&o);
    for expected in [
        "[ ok ] PC/SC service: pcscd reachable",
        "[ ok ] reader \"Virtual PCD 00 00\": card present, contact interface",
        "[ ok ] card generation: CPS4",
        "[ ok ] IAS-ECC application: CPS card",
        "[ ok ] holder PIN: not verified, 3 tries left",
        "[ ok ] certificate Certificat de Signature CPS (signature): valid until 2028-06-30",
    ] {
        assert!(report.contains(expected), "{expected:?} missing:\n{report}");
    }
    assert_eq!(
        o.status.code(),
        Some(if report.contains("[FAIL]") { 9 } else { 0 }),
        "{report}"
    );
    let o = cps(&["--reader", READER0, "doctor", "--json", "--at", AT]);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "PC/SC service" && c["status"] == "ok")
    );

    // Sign through the reader, verify with the card's certificate.
    let dir = std::env::temp_dir().join(format!("cps-pcscd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("doc.txt");
    std::fs::write(&doc, b"ordonnance").unwrap();
    let doc = doc.display().to_string();
    let o = cps_env(
        &[
            "--reader",
            READER0,
            "sign",
            "--in",
            &doc,
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let o = cps(&["--reader", READER0, "verify", "--in", &doc]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let _ = std::fs::remove_dir_all(&dir);

    // Three wrong PINs, one per process (the library never retries): 2, 1, 0 tries left.
    let o = verify_pin("9999");
    assert_eq!(o.status.code(), Some(6));
    assert!(err(&o).contains("2 tries left"), "{}", err(&o));
    let o = verify_pin("9999");
    assert!(err(&o).contains("1 tries left"), "{}", err(&o));
    let o = verify_pin("9999");
    // The third spends the last try: the PIN is now blocked, exit code 7.
    assert_eq!(o.status.code(), Some(7), "{}", err(&o));
    assert!(
        err(&o).contains("0 tries left") && err(&o).contains("blocked"),
        "{}",
        err(&o)
    );
    // Blocked: status exits 7, the right PIN is refused with 7, info and doctor say so.
    let o = cps(&["--reader", READER0, "pin", "status"]);
    assert_eq!(o.status.code(), Some(7), "{}", out(&o));
    assert!(out(&o).contains("PIN           blocked"), "{}", out(&o));
    let o = verify_pin("1234");
    assert_eq!(o.status.code(), Some(7));
    assert!(
        err(&o).contains("PIN blocked (6983): unblock it with the PUK (cps pin unblock)"),
        "{}",
        err(&o)
    );
    let o = cps(&["--reader", READER0, "doctor", "--at", AT]);
    assert_eq!(o.status.code(), Some(9));
    assert!(
        out(&o).contains("[FAIL] holder PIN: blocked") && out(&o).contains("cps pin unblock"),
        "{}",
        out(&o)
    );
    // Unblock with the PUK and a new PIN, which then verifies.
    let o = cps_env(
        &["--reader", READER0, "pin", "unblock", "--pin-from", "env"],
        &[("CPS_PUK", "12345678"), ("CPS_NEW_PIN", "2468")],
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(verify_pin("2468").status.code(), Some(0));

    // No card: exit code 3 with a clear message; an unknown reader too.
    handle.remove().unwrap();
    ctx.wait_for_removal(READER0, Duration::from_secs(5))
        .unwrap();
    let o = cps(&["--reader", READER0, "info"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(
        err(&o).contains("no card in reader \"Virtual PCD 00 00\""),
        "{}",
        err(&o)
    );
    let o = cps(&["--reader", "No Such Reader 99", "info"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(err(&o).contains("not found"), "{}", err(&o));
}

#[test]
fn wait_for_a_card_with_progress_and_timeout() {
    let Some(ctx) = pcscd() else { return };
    let _reader = common::reader1();
    // Nothing in the second virtual reader: the wait times out with code 3.
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
    let o = cps(&["--reader", READER1, "--wait", "2", "info"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(
        err(&o).contains("waiting up to 2 s for a card in \"Virtual PCD 00 01\""),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("timed out after 2.0 s"), "{}", err(&o));

    // A card inserted while `cps` waits is used.
    let child = Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--reader", READER1, "--wait", "20", "info", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let handle = vpcd::spawn(
        SimCard::new(Profile::Cps3, "infirmiere-bernard").unwrap(),
        VpcdConfig::with_port(35964),
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["generation"], "CPS3");
    assert_eq!(j["iasecc"]["holder"], "MME Sophie BERNARD");
    handle.remove().unwrap();
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
}

/// The `cps fido2` commands on the simulated FIDO2 applet of cps-fido2, served alone as a
/// FIDO2-only card (the same flow runs on the simulated CPS4 in cli_fido2_desfire.rs once the
/// applet is plugged into it).
#[test]
fn fido2_commands_on_the_simulated_applet_through_pcscd() {
    common::fido2_flow(cps_sim::fido2::applet::FidoCard::new());
}
