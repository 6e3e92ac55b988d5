//! After a remote renewal, tools no one here wrote accept the result: `openssl verify` checks
//! the renewed certificates against the test PKI, and unmodified OpenSC (pkcs11-tool through
//! pcscd + vsmartcard-vpcd) signs with the card's new RSA key, the signature verified with the
//! new certificate. CPS3 (RSA): OpenSC 0.23's iasecc driver has no ECDSA.
//!
//! Without pcscd / OpenSC / openssl the test prints SKIPPED, except under CI=true where it
//! fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use cps_iasecc::PracticeSituation;
use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Profile, SimCard};
use cps_transport::InProcessChannel;
use cps_transport::pcsc::testing::skip_or_fail;
use cps_update::issuer::{DAM_PATH, Issuer, test_record};
use cps_update::relay::{Outcome, update};
use cps_update::scp::TEST_MASTER_KEY;
use cps_x509::{CpsCertificate, SignatureAlgorithm, SignedData, UnixTime, verify_signature};

const PKCS11: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const READER: &str = "Virtual PCD 00 01";

fn run(program: &str, args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Some((out.status.success(), text))
}

fn pki(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testvectors/pki/ca")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn openssl_and_opensc_accept_the_renewed_card() {
    let Some(ctx) = cps_transport::pcsc::testing::context_or_skip() else {
        return;
    };
    if run("pkcs11-tool", &["--version"]).is_none()
        || !Path::new(PKCS11).exists()
        || run("openssl", &["version"]).is_none()
    {
        return skip_or_fail("OpenSC or openssl is not installed");
    }

    // Renew both RSA keys of a CPS3, certificates valid from now.
    let card = SimCard::new(Profile::Cps3, "pharmacien-durand").unwrap();
    let serial = card.serial();
    let situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    let mut issuer = Issuer::new(TEST_MASTER_KEY).unwrap();
    issuer.register(
        test_record(
            cps_iasecc::Generation::Cps3,
            "pharmacien-durand",
            serial.clone(),
            situations,
        )
        .unwrap(),
    );
    issuer.schedule_renewal(&serial, UnixTime::now()).unwrap();
    let mut ch = InProcessChannel::new(card);
    let outcome = update(&mut ch, &mut issuer, &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 4
        }
    );
    let card = ch.into_card();

    // openssl verify: root as trust anchor, the persons CA as intermediate.
    let dir = std::env::temp_dir().join(format!("cps-update-opensc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut certs = Vec::new();
    for fid in [0xC001u16, 0xC002] {
        let der = card.file(&[0x3F00, 0x0001, fid]).unwrap().to_vec();
        let cert = CpsCertificate::from_der(&der).unwrap();
        let pem = dir.join(format!("{fid:04X}.pem"));
        std::fs::write(&pem, cert.to_pem()).unwrap();
        let (ok, out) = run(
            "openssl",
            &[
                "verify",
                "-CAfile",
                &pki("root.crt.pem"),
                "-untrusted",
                &pki("persons.crt.pem"),
                pem.to_str().unwrap(),
            ],
        )
        .unwrap();
        assert!(
            ok && out.contains(": OK"),
            "openssl verify {fid:04X}: {out}"
        );
        println!("openssl verify renewed {fid:04X}: {}", out.trim());
        certs.push(cert);
    }

    // OpenSC signs with the new authentication key through pcscd.
    // The PKCS#15 iD of the authentication key: the application AID ‖ 02 (as the real CPS3
    // lists it, kept across the renewal).
    let key_id = "e828bd080f8025000001ff001002".to_owned();
    let handle = vpcd::spawn(card, VpcdConfig::with_port(35964)).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let reader = ctx
        .wait_for_card(Some(READER), Duration::from_secs(10))
        .unwrap();
    let digest: [u8; 32] = {
        use sha2::Digest;
        sha2::Sha256::digest(b"ordonnance signee apres renouvellement").into()
    };
    let mut di = hex::decode("3031300d060960864801650304020105000420").unwrap();
    di.extend_from_slice(&digest);
    let input = dir.join("di.bin");
    std::fs::write(&input, &di).unwrap();
    let sig_path = dir.join("sig.bin");
    let (ok, out) = run(
        "pkcs11-tool",
        &[
            "--module",
            PKCS11,
            "--login",
            "--pin",
            "1234",
            "--sign",
            "-m",
            "RSA-PKCS",
            "--id",
            &key_id,
            "-i",
            input.to_str().unwrap(),
            "-o",
            sig_path.to_str().unwrap(),
        ],
    )
    .unwrap();
    assert!(ok, "pkcs11-tool --sign with the renewed key: {out}");
    let sig = std::fs::read(&sig_path).unwrap();
    verify_signature(
        &certs[0],
        SignedData::Sha256Digest(&digest),
        SignatureAlgorithm::RSA_PKCS1V15_SHA256,
        &sig,
    )
    .unwrap();
    println!("OpenSC signed with the renewed key {key_id}; verified with the renewed certificate");
    handle.remove().unwrap();
    ctx.wait_for_removal(&reader, Duration::from_secs(5))
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
