#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! `cps fido2 ...` and `cps desfire ...` on the simulated CPS4: its FIDO2 applet (contact
//! interface) and its DESFire PICC with the access-control application (contactless).
//!
//! The FIDO2 flow needs one card across several `cps` processes, so it is served through
//! pcscd + vpcd (`Virtual PCD 00 01`); without pcscd it prints SKIPPED, except under CI=true.

mod common;

use common::{cps_env, ok_json};
use cps_sim::{Profile, SimCard};

const AT: &str = "2026-03-01";

#[test]
fn fido2_applet_of_the_simulated_cps4_is_blank() {
    let j = ok_json(&["--sim", "cps4", "fido2", "info", "--json"], &[]);
    assert_eq!(j["enrolled"], false);
    assert!(
        j["versions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v.as_str().unwrap().starts_with("FIDO_2")),
        "{j}"
    );
    let j = ok_json(&["--sim", "cps4", "info", "--json", "--at", AT], &[]);
    assert_eq!(j["fido2"]["state"], "present");
    assert_eq!(j["fido2"]["enrolled"], false);
    // Doctor: a blank applet is a warning with the action to take, not a failure.
    let o = cps_env(&["--sim", "cps4", "doctor", "--at", AT], &[]);
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

#[test]
fn desfire_read_and_door_check_on_the_simulated_cps4() {
    use cps_sim::desfire::access_control as ac;
    let master = hex::encode(ac::DOOR_MASTER_KEY);
    let system = hex::encode(ac::SYSTEM_IDENTIFIER);
    let aid = "535043";
    // The door check grants access with the door system's master key, diversified per card.
    let door = |key: &str| {
        cps_env(
            &[
                "--sim",
                "cps4",
                "--contactless",
                "--json",
                "desfire",
                "door-check",
                "--aid",
                aid,
                "--key-no",
                "1",
                "--file",
                "1",
                "--diversify",
                "--system-id",
                &system,
                "--show-data",
                "--pin-from",
                "env",
            ],
            &[("CPS_DESFIRE_KEY", key)],
        )
    };
    let o = door(&master);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The credential: "CPS4:" then the national identifier, zero-padded to 32 bytes.
    let mut credential = b"CPS4:810001234567".to_vec();
    credential.resize(32, 0);
    assert_eq!(j["granted"], true, "{j}");
    assert_eq!(j["credential"], hex::encode_upper(&credential), "{j}");
    // Another master key: refused, exit 8, the card's reason given.
    let o = door(&"42".repeat(16));
    assert_eq!(
        o.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    // The public file reads without authentication.
    let j = ok_json(
        &[
            "--sim",
            "cps4",
            "--contactless",
            "--json",
            "desfire",
            "read",
            "--aid",
            aid,
            "--file",
            "5",
            "--no-auth",
        ],
        &[],
    );
    let text = serde_json::to_string(&j).unwrap();
    assert!(
        text.contains(&hex::encode_upper(b"CPS4 simulated card")),
        "{j}"
    );
    // The credential file is read with key 1 (or the read-write key 0): key 2 is refused.
    let o = cps_env(
        &[
            "--sim",
            "cps4",
            "--contactless",
            "desfire",
            "read",
            "--aid",
            aid,
            "--key-no",
            "2",
            "--file",
            "1",
            "--pin-from",
            "env",
        ],
        &[("CPS_DESFIRE_KEY", &hex::encode(ac::WRITE_KEY))],
    );
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("PERMISSION_DENIED") || err.to_lowercase().contains("permission"),
        "{err}"
    );
    // A CPS3 badge: its contactless side is MIFARE Classic, which CPS4 drops.
    let o = cps_env(
        &[
            "--sim",
            "cps3",
            "--contactless",
            "desfire",
            "door-check",
            "--aid",
            aid,
            "--key-no",
            "1",
            "--file",
            "1",
            "--diversify",
            "--system-id",
            &system,
            "--pin-from",
            "env",
        ],
        &[("CPS_DESFIRE_KEY", &master)],
    );
    assert_eq!(o.status.code(), Some(8));
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("MIFARE Classic"), "{out}");
}
