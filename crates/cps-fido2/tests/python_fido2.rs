//! python-fido2 2.2.1 (an implementation no one here wrote) against the simulated applet,
//! through the real PC/SC stack: pcscd + vsmartcard-vpcd + pyscard.
//!
//! Needs pcscd running (scripts/with-pcscd.sh) and `FIDO2_PYTHON` naming a Python with
//! `fido2==2.2.1` and pyscard (scripts/test.sh prepares `target/py-fido2`). Without them the
//! test prints SKIPPED, except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::process::Command;
use std::time::Duration;

use cps_fido2::applet::FidoCard;
use cps_transport::vpcd::{self, VpcdConfig};

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn skip_or_fail(reason: &str) {
    assert!(
        !in_ci(),
        "python-fido2 check cannot run under CI=true: {reason}"
    );
    eprintln!("SKIPPED: {reason}");
}

#[test]
fn python_fido2_drives_the_simulated_applet_through_pcscd() {
    let Ok(python) = std::env::var("FIDO2_PYTHON") else {
        return skip_or_fail("FIDO2_PYTHON not set (run scripts/test.sh)");
    };
    if !std::path::Path::new("/run/pcscd/pcscd.comm").exists() {
        return skip_or_fail("pcscd not running (run scripts/test.sh)");
    }
    // The second vpcd slot, so that the other PC/SC tests keep "Virtual PCD 00 00".
    let handle = vpcd::spawn(FidoCard::new(), VpcdConfig::with_port(35964)).unwrap();
    assert!(
        handle.wait_connected(Duration::from_secs(10)),
        "vpcd connection"
    );
    std::thread::sleep(Duration::from_millis(800));
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/python_fido2_check.py"
    );
    let out = Command::new(&python)
        .arg(script)
        .arg("Virtual PCD 00 01")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python-fido2 failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("python-fido2 checks: all passed"),
        "{stdout}"
    );
    let stats = handle.remove().unwrap();
    println!(
        "APDUs answered by the simulated applet for the python-fido2 session: {}",
        stats.apdus
    );
}
