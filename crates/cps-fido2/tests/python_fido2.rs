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
use cps_fido2::{Fido2, Registration};
use cps_transport::pcsc::{PcscContext, ShareMode};
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
    // Our own client on a fresh blank applet through the same PC/SC stack.
    let handle = vpcd::spawn(FidoCard::new(), VpcdConfig::with_port(35964)).unwrap();
    let ctx = PcscContext::establish().unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let reader = ctx
        .wait_for_card(Some("Virtual PCD 00 01"), Duration::from_secs(10))
        .unwrap();
    let channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
    let mut fido = Fido2::open(channel).unwrap();
    assert!(!fido.is_enrolled(), "a new simulated applet is blank");
    fido.enroll("1357").unwrap();
    let reg = Registration {
        rp_id: "pcsc.example".into(),
        rp_name: "PC/SC".into(),
        user_id: b"u".to_vec(),
        user_name: "u".into(),
        user_display_name: "U".into(),
        client_data_hash: [9; 32],
        resident_key: true,
        cred_protect: Some(2),
        hmac_secret: true,
        exclude: vec![],
    };
    let before = fido.card().round_trips();
    let mc = fido.register(&reg, Some("1357")).unwrap();
    let register_apdus = fido.card().round_trips() - before;
    let before = fido.card().round_trips();
    let asr = fido
        .authenticate("pcsc.example", &[8; 32], &[], Some("1357"))
        .unwrap();
    let authenticate_apdus = fido.card().round_trips() - before;
    assert_eq!(
        asr[0].credential_id,
        mc.auth_data.attested.unwrap().credential_id
    );
    assert_eq!(fido.credentials("1357").unwrap().len(), 1);
    println!(
        "our client through pcscd: register {register_apdus} APDUs, authenticate {authenticate_apdus} APDUs (with PIN)"
    );
    drop(fido);
    handle.remove().unwrap();
}
