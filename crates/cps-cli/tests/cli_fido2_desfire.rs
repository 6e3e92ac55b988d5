#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! `cps fido2 ...` and `cps desfire ...` on the simulated CPS4.
//!
//! **These tests wait for two simulator features developed in parallel**: the FIDO2 applet
//! plugged into the simulated CPS4 (contact interface) and the simulated DESFire PICC on its
//! contactless interface. Until both are merged, `SimCard::new(Profile::Cps4, ..)` answers
//! `6A82` to the FIDO2 AID and `6D00` to DESFire commands, and these tests fail (they are not
//! skipped: the commands must be proven on the simulator before they are called done).
//!
//! The FIDO2 flow needs one card across several `cps` processes, so it is served through
//! pcscd + vpcd (`Virtual PCD 00 01`); without pcscd it prints SKIPPED, except under CI=true.

mod common;

use common::{cps_env, ok_json};
use cps_sim::{Profile, SimCard};

const AT: &str = "2026-03-01";

#[test]
fn fido2_applet_of_the_simulated_cps4_is_blank() {
    let j = ok_json(&["fido2", "info", "--json"], &[]);
    assert_eq!(j["enrolled"], false);
    assert!(
        j["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_str().unwrap().starts_with("FIDO_2")),
        "{j}"
    );
    let j = ok_json(&["info", "--json", "--at", AT], &[]);
    assert_eq!(j["fido2"]["state"], "present");
    assert_eq!(j["fido2"]["enrolled"], false);
    // Doctor: a blank applet is a warning with the action to take, not a failure.
    let o = cps_env(&["doctor", "--at", AT], &[]);
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(
        report.contains("[warn] FIDO2 applet: blank") && report.contains("cps fido2 enroll"),
        "{report}"
    );
    assert_eq!(o.status.code(), Some(0), "{report}");
}

#[test]
fn fido2_enroll_register_authenticate_manage_through_pcscd() {
    common::fido2_flow(SimCard::new(Profile::Cps4, "dr-martin").unwrap());
}

#[test]
fn desfire_side_of_the_simulated_cps4() {
    let cl = ["--sim", "cps4", "--contactless", "--json"];
    let args = |more: &[&'static str]| -> Vec<&str> {
        cl.iter().copied().chain(more.iter().copied()).collect()
    };
    let j = ok_json(&args(&["desfire", "info"]), &[]);
    assert_eq!(j["uid"].as_str().unwrap().len(), 14, "{j}");
    assert!(j["generation"].as_str().unwrap().starts_with("Ev"), "{j}");
    let j = ok_json(&args(&["info"]), &[]);
    assert_eq!(j["desfire"]["state"], "present");
    // The PICC master key of CPS4 is the all-zero DES key (issuer statement quoted in
    // cps-desfire's documentation).
    let j = ok_json(
        &args(&[
            "desfire",
            "auth",
            "--aid",
            "000000",
            "--key-type",
            "des",
            "--pin-from",
            "env",
        ]),
        &[("CPS_DESFIRE_KEY", "0000000000000000")],
    );
    assert_eq!(j["authenticated"], "ISO (3DES)");
    let o = cps_env(&["--sim", "cps4", "--contactless", "doctor"], &[]);
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(report.contains("[ ok ] DESFire: Ev"), "{report}");
}
