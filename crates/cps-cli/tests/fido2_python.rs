//! The FIDO2 applet of the simulated CPS4 through the real PC/SC stack: `cps sim serve
//! --profile cps4` inserts the whole card (IAS-ECC + FIDO2) into pcscd's vsmartcard reader,
//! python-fido2 2.2.1 (an implementation no one here wrote) drives the blank applet
//! (scripts/python_fido2_check.py), then our own clients do, FIDO2 and IAS-ECC on one card.
//!
//! Needs pcscd running (scripts/with-pcscd.sh) and `FIDO2_PYTHON` naming a Python with
//! `fido2==2.2.1` and pyscard (scripts/test.sh prepares `target/py-fido2`). Without them the
//! test prints SKIPPED, except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::process::{Child, Command};
use std::time::Duration;

use cps_fido2::{Fido2, Registration};
use cps_iasecc::{CpsCard, Digest, KeyRole, Pin};
use cps_transport::pcsc::{PcscContext, ShareMode};

/// The second vpcd slot ("Virtual PCD 00 01"), as the other `cps sim serve` test.
const PORT: &str = "35964";
const READER: &str = "Virtual PCD 00 01";

fn skip_or_fail(reason: &str) {
    cps_transport::pcsc::testing::skip_or_fail(&format!(
        "the python-fido2 check cannot run: {reason}"
    ));
}

/// A running `cps sim serve`, stopped (killed) even when an assertion fails.
struct Served(Child);

impl Served {
    fn cps4() -> Served {
        Served(
            Command::new(env!("CARGO_BIN_EXE_cps"))
                .args([
                    "sim",
                    "serve",
                    "--profile",
                    "cps4",
                    "--persona",
                    "dr-martin",
                    "--port",
                    PORT,
                ])
                .spawn()
                .unwrap(),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn python_fido2_and_our_clients_drive_the_served_cps4() {
    let Ok(python) = std::env::var("FIDO2_PYTHON") else {
        return skip_or_fail("FIDO2_PYTHON not set (run scripts/test.sh)");
    };
    if !std::path::Path::new("/run/pcscd/pcscd.comm").exists() {
        return skip_or_fail("pcscd not running (run scripts/test.sh)");
    }
    let ctx = PcscContext::establish().unwrap();
    {
        let _served = Served::cps4();
        ctx.wait_for_card(Some(READER), Duration::from_secs(10))
            .expect("served CPS4 seen by pcscd");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/python_fido2_check.py"
        );
        let out = Command::new(&python)
            .arg(script)
            .arg(READER)
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
    }

    // A fresh card: our FIDO2 client, then the IAS-ECC client, on the same PC/SC channel.
    let _served = Served::cps4();
    // pcscd notices the removal of the first card before it sees the new one.
    std::thread::sleep(Duration::from_millis(800));
    let reader = ctx
        .wait_for_card(Some(READER), Duration::from_secs(10))
        .unwrap();
    let mut channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
    let (enroll_apdus, register_apdus, authenticate_apdus) = {
        let mut fido = Fido2::open(&mut channel).unwrap();
        assert!(
            !fido.is_enrolled(),
            "the served CPS4's FIDO2 applet is blank"
        );
        let before = fido.card().round_trips();
        fido.enroll("1357").unwrap();
        let enroll = fido.card().round_trips() - before;
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
        let register = fido.card().round_trips() - before;
        let before = fido.card().round_trips();
        let asr = fido
            .authenticate("pcsc.example", &[8; 32], &[], Some("1357"))
            .unwrap();
        let authenticate = fido.card().round_trips() - before;
        assert_eq!(
            asr[0].credential_id,
            mc.auth_data.attested.unwrap().credential_id
        );
        assert_eq!(fido.credentials("1357").unwrap().len(), 1);
        (enroll, register, authenticate)
    };
    // The IAS-ECC application of the same card: PIN verify + signature after FIDO2 use.
    let mut card = CpsCard::open(&mut channel).unwrap();
    card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
    let digest = Digest::sha256_of(b"after FIDO2, through pcscd");
    let sig = card.sign(KeyRole::Signature, &digest).unwrap();
    let key = card.resolve_key(KeyRole::Signature).unwrap();
    let cert = card
        .certificate_for(&key)
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    sig.verify(&cert, &digest).unwrap();
    println!(
        "our client through pcscd on the served CPS4: enroll {enroll_apdus}, register {register_apdus}, authenticate {authenticate_apdus} APDUs (with PIN); IAS-ECC PIN + signature verified afterwards"
    );
}
