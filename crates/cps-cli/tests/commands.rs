#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! Drives the `cps` binary on the built-in simulated cards (no reader, no pcscd): every card
//! command in human and JSON output, and the error paths that one process can reach (wrong
//! PIN, malformed PIN, missing secrets, failed verifications). The blocked PIN and the
//! reader paths need a card that outlives one process: they are in `cli_pcscd.rs`.
//!
//! Certificate dates are evaluated with `--at 2026-03-01` so that no result depends on the
//! clock (the test PKI's holder certificates run from 2025-07-01 to 2028-06-30).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const AT: &str = "2026-03-01";

fn cps_with(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(args)
        .env_remove("CPS_PIN")
        .env_remove("CPS_NEW_PIN")
        .env_remove("CPS_PUK")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run cps");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn cps(args: &[&str]) -> Output {
    cps_with(args, &[], None)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "stderr: {}\nstdout: {}",
        stderr(o),
        stdout(o)
    );
    stdout(o)
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), stderr(o)))
}

fn pki(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testvectors/pki")
        .join(rel)
        .display()
        .to_string()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cps-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_documents_commands_card_selection_secrets_and_exit_codes() {
    let help = ok(&cps(&["--help"]));
    for word in [
        "info",
        "identity",
        "certs",
        "pin",
        "sign",
        "verify",
        "auth-test",
        "fido2",
        "desfire",
        "doctor",
        "readers",
        "apdu",
        "sim",
        "--reader",
        "--sim",
        "--persona",
        "--contactless",
        "--wait",
        "--json",
        "--pin-from",
        "CPS_PIN",
        "Exit codes",
        "blocked",
    ] {
        assert!(help.contains(word), "{word} missing from --help:\n{help}");
    }
    let pin_help = ok(&cps(&["pin", "--help"]));
    assert!(pin_help.contains("unblock") && pin_help.contains("status"));
    assert!(ok(&cps(&["--version"])).starts_with("cps "));
}

#[test]
fn info_on_the_default_simulated_cps4() {
    let out = ok(&cps(&["--sim", "cps4", "info", "--at", AT]));
    for expected in [
        "built-in simulator (CPS4 of dr-martin, contact)",
        "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44",
        "generation    CPS4",
        "family        CPS",
        "holder        DR Claire Anne MARTIN (810001234567)",
        "PIN           not verified, 3 tries left",
        "IAS-ECC       present",
        "Certificat de Signature CPS (signature, RSA-2048): valid until 2028-06-30 (852 days left)",
        "TEST PKI",
    ] {
        assert!(out.contains(expected), "{expected:?} missing:\n{out}");
    }
    // Without a contactless interface DESFire is not looked for, and says so.
    assert!(out.contains("DESFire       not checked"), "{out}");

    let j = json(&cps(&["--sim", "cps4", "info", "--json", "--at", AT]));
    assert_eq!(j["generation"], "CPS4");
    assert_eq!(j["interface"], "contact");
    assert_eq!(j["iasecc"]["state"], "present");
    assert_eq!(j["iasecc"]["family"], "CPS");
    assert_eq!(j["iasecc"]["pin"]["tries_left"], 3);
    let certs = j["iasecc"]["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert!(
        certs
            .iter()
            .all(|c| c["renewal"]["state"] == "valid" && c["renewal"]["days_left"] == 852)
    );
    assert_eq!(j["desfire"]["state"], "not checked");
    // The FIDO2 line is present whatever the simulator carries (see cli_fido2_desfire.rs).
    assert!(j["fido2"]["state"].is_string());
}

#[test]
fn info_on_cps3_contactless_and_certificate_dates() {
    let j = json(&cps(&["--sim", "cps3", "info", "--json", "--at", AT]));
    assert_eq!(j["generation"], "CPS3");
    assert_eq!(j["iasecc"]["certificates"].as_array().unwrap().len(), 2);
    // CPS3 cards carry no FIDO2 applet: the simulator answers 6A82.
    assert_eq!(j["fido2"]["state"], "absent");

    let j = json(&cps(&["--sim", "cps4", "--contactless", "info", "--json"]));
    assert_eq!(j["interface"], "contactless");
    assert_eq!(j["iasecc"]["state"], "not checked");
    assert_eq!(j["fido2"]["state"], "not checked");

    // After the holder certificates' notAfter: expired, in both outputs.
    let out = ok(&cps(&["--sim", "cps4", "info", "--at", "2028-08-01"]));
    assert!(out.contains("EXPIRED on 2028-06-30 (31 days ago)"), "{out}");
    // Within the 90-day window: renewal due.
    let j = json(&cps(&[
        "--sim",
        "cps4",
        "info",
        "--json",
        "--at",
        "2028-05-01",
    ]));
    assert_eq!(
        j["iasecc"]["certificates"][0]["renewal"]["state"],
        "renewal_due"
    );
}

#[test]
fn identity_and_practice_situations_after_the_pin() {
    let out = ok(&cps(&["--sim", "cps4", "identity"]));
    assert!(out.contains("DR Claire Anne MARTIN"), "{out}");
    assert!(out.contains("RPPS          10001234567"), "{out}");
    assert!(out.contains("not read"), "{out}");
    let j = json(&cps(&[
        "--sim",
        "cps3",
        "--persona",
        "pharmacien-durand",
        "identity",
        "--json",
    ]));
    assert_eq!(j["family_name"], "DURAND");
    assert!(j["practice_situations"].is_null());

    let out = ok(&cps_with(
        &[
            "--sim",
            "cps4",
            "identity",
            "--situations",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert!(out.contains("situation 2   CHU d'Angers"), "{out}");
    let j = json(&cps_with(
        &[
            "--sim",
            "cps4",
            "identity",
            "--billing",
            "--json",
            "--pin-from",
            "stdin",
        ],
        &[],
        Some("1234\n"),
    ));
    assert_eq!(
        j["practice_situations"][1]["structure_name"],
        "CHU d'Angers"
    );
    // From the CPS_ACTIVITY_02_PS data object: the sector labelled from DICO-FR.GIP (R02).
    assert_eq!(
        j["practice_situations"][1]["activity_sector"],
        "Etablissement public de santé (SA01)"
    );

    // Wrong PIN: exit code 6, tries left in the message, the PIN is never echoed.
    let o = cps_with(
        &[
            "--sim",
            "cps4",
            "identity",
            "--situations",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "9876")],
        None,
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));
    assert!(stderr(&o).contains("2 tries left"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("9876") && !stdout(&o).contains("9876"));
}

#[test]
fn pin_commands_and_their_error_paths() {
    let j = json(&cps(&["--sim", "cps4", "pin", "status", "--json"]));
    assert_eq!(j["pin"]["tries_left"], 3);
    assert_eq!(j["puk"]["tries_left"], 3);
    assert!(
        ok(&cps(&["--sim", "cps4", "pin", "status"]))
            .contains("PIN           not verified, 3 tries left")
    );

    assert!(
        ok(&cps_with(
            &["--sim", "cps4", "pin", "verify", "--pin-from", "stdin"],
            &[],
            Some("1234\n")
        ))
        .contains("PIN verified")
    );
    let j = json(&cps_with(
        &[
            "--sim",
            "cps4",
            "pin",
            "verify",
            "--json",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert_eq!(j["result"], "PIN verified");

    let o = cps_with(
        &["--sim", "cps4", "pin", "verify", "--pin-from", "stdin"],
        &[],
        Some("0000\n"),
    );
    assert_eq!(o.status.code(), Some(6));
    assert!(
        stderr(&o).contains("wrong PIN (63C2): 2 tries left"),
        "{}",
        stderr(&o)
    );

    // A malformed PIN is refused before any APDU: usage error, no try spent.
    let o = cps_with(
        &["--sim", "cps4", "pin", "verify", "--pin-from", "stdin"],
        &[],
        Some("12a4\n"),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no try was spent"), "{}", stderr(&o));

    // No terminal to prompt on, nothing on stdin, no variable: clear usage errors.
    let o = cps(&["--sim", "cps4", "pin", "verify"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--pin-from"), "{}", stderr(&o));
    let o = cps_with(
        &["--sim", "cps4", "pin", "verify", "--pin-from", "stdin"],
        &[],
        Some(""),
    );
    assert_eq!(o.status.code(), Some(2));
    let o = cps(&["--sim", "cps4", "pin", "verify", "--pin-from", "env"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("CPS_PIN"), "{}", stderr(&o));

    // Change: current then new PIN on stdin; the wrong current PIN is refused by the card.
    let out = ok(&cps_with(
        &["--sim", "cps4", "pin", "change", "--pin-from", "stdin"],
        &[],
        Some("1234\n5678\n"),
    ));
    assert!(out.contains("PIN changed"), "{out}");
    let o = cps_with(
        &["--sim", "cps4", "pin", "change", "--pin-from", "env"],
        &[("CPS_PIN", "1111"), ("CPS_NEW_PIN", "5678")],
        None,
    );
    assert_eq!(o.status.code(), Some(6), "{}", stderr(&o));

    // Unblock with the PUK (the simulated card's PUK is 12345678), and a wrong PUK.
    let out = ok(&cps_with(
        &["--sim", "cps4", "pin", "unblock", "--pin-from", "env"],
        &[("CPS_PUK", "12345678"), ("CPS_NEW_PIN", "4321")],
        None,
    ));
    assert!(out.contains("PIN unblocked"), "{out}");
    let o = cps_with(
        &["--sim", "cps4", "pin", "unblock", "--pin-from", "env"],
        &[("CPS_PUK", "00000000"), ("CPS_NEW_PIN", "4321")],
        None,
    );
    assert_eq!(o.status.code(), Some(6));
    assert!(stderr(&o).contains("wrong PUK"), "{}", stderr(&o));
}

/// `cps sign`'s APDUs, PIN included, from opening the card: CPS3 = SELECT of the application,
/// VERIFY, MSE SET DST, PSO HASH, PSO CDS (5); CPS4 = SELECT of ChipDoc on channel 1 and of
/// the application, VERIFY, MSE SET DST, PSO CDS, GET RESPONSE (6, T=0). The official
/// module's "find + login + sign" on the same simulated cards is measured by
/// crates/cps-sim/tests/cryptolib.rs, which checks it takes at least twice as many.
#[test]
fn sign_round_trips() {
    let dir = scratch("sign-apdus");
    let doc = dir.join("fse.txt");
    std::fs::write(&doc, b"feuille de soins electronique").unwrap();
    let doc_s = doc.display().to_string();
    for (profile, expected) in [("cps3", 5), ("cps4", 6)] {
        let j = json(&cps_with(
            &[
                "--sim",
                profile,
                "sign",
                "--in",
                &doc_s,
                "--pin-from",
                "env",
                "--json",
            ],
            &[("CPS_PIN", "1234")],
            None,
        ));
        assert_eq!(j["apdus"], expected, "{profile}");
    }
}

#[test]
fn sign_then_verify_with_the_card_and_with_a_certificate_file() {
    let dir = scratch("sign");
    let doc = dir.join("feuille.txt");
    std::fs::write(&doc, b"feuille de soins electronique").unwrap();
    let doc_s = doc.display().to_string();
    let cert = dir.join("signer.pem").display().to_string();

    // CPS4: its RSA-2048 signature key, PKCS#1 v1.5.
    let out = ok(&cps_with(
        &[
            "--sim",
            "cps4",
            "sign",
            "--in",
            &doc_s,
            "--cert-out",
            &cert,
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert!(out.contains("CPS_PRIV_SIG (RSA-2048)"), "{out}");
    let sig = std::fs::read(dir.join("feuille.txt.sig")).unwrap();
    assert_eq!(sig.len(), 256, "RSA-2048 signature");

    let out = ok(&cps(&[
        "--sim", "cps4", "verify", "--in", &doc_s, "--cert", &cert,
    ]));
    assert!(
        out.contains("signature OK (RSA PKCS#1 v1.5 SHA-256)"),
        "{out}"
    );
    let j = json(&cps(&["--sim", "cps4", "verify", "--in", &doc_s, "--json"]));
    assert_eq!(j["valid"], true);

    // The other persona's certificate does not verify it: exit code 8.
    let other = pki("rsa2048/pharmacien-durand/sign.crt.pem");
    let o = cps(&["--sim", "cps4", "verify", "--in", &doc_s, "--cert", &other]);
    assert_eq!(o.status.code(), Some(8), "{}", stdout(&o));
    assert!(stdout(&o).contains("signature INVALID"));

    // A modified document does not verify either.
    let mut f = std::fs::OpenOptions::new().append(true).open(&doc).unwrap();
    f.write_all(b"!").unwrap();
    drop(f);
    let o = cps(&["--sim", "cps4", "verify", "--in", &doc_s, "--cert", &cert]);
    assert_eq!(o.status.code(), Some(8));

    // CPS3 RSA, authentication key, JSON; verified with the card's certificate.
    let sig2 = dir.join("auth.sig").display().to_string();
    let j = json(&cps_with(
        &[
            "--sim",
            "cps3",
            "sign",
            "--key",
            "auth",
            "--in",
            &doc_s,
            "--out",
            &sig2,
            "--json",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert_eq!(j["key"], "CPS_PRIV_AUT");
    assert_eq!(j["signature_bytes"], 256);
    let j = json(&cps(&[
        "--sim", "cps3", "verify", "--in", &doc_s, "--sig", &sig2, "--key", "auth", "--json",
    ]));
    assert_eq!(j["valid"], true);
    assert_eq!(j["algorithm"], "RSA PKCS#1 v1.5 SHA-256");

    // RSA-PSS on the CPS4, checked by `cps verify --pss` (and refused as PKCS#1 v1.5);
    // refused on a CPS3 as a usage error, before any PIN is asked.
    let pss = dir.join("pss.sig");
    let pss_s = pss.display().to_string();
    ok(&cps_with(
        &[
            "--sim",
            "cps4",
            "sign",
            "--pss",
            "--in",
            &doc_s,
            "--out",
            &pss_s,
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    let o = cps(&[
        "--sim", "cps4", "verify", "--in", &doc_s, "--sig", &pss_s, "--cert", &cert,
    ]);
    assert_eq!(o.status.code(), Some(8), "PSS is not PKCS#1 v1.5");
    let out = ok(&cps(&[
        "--sim", "cps4", "verify", "--pss", "--in", &doc_s, "--sig", &pss_s, "--cert", &cert,
    ]));
    assert!(out.contains("signature OK (RSA-PSS SHA-256)"), "{out}");
    let v15 = dir.join("v15.sig").display().to_string();
    ok(&cps_with(
        &[
            "--sim",
            "cps4",
            "sign",
            "--in",
            &doc_s,
            "--out",
            &v15,
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    ));
    ok(&cps(&[
        "--sim", "cps4", "verify", "--in", &doc_s, "--sig", &v15, "--cert", &cert,
    ]));
    let o = cps(&[
        "--sim", "cps4", "verify", "--pss", "--in", &doc_s, "--sig", &v15, "--cert", &cert,
    ]);
    assert_eq!(o.status.code(), Some(8), "PKCS#1 v1.5 is not PSS");
    let o = cps_with(
        &[
            "--sim",
            "cps3",
            "sign",
            "--pss",
            "--in",
            &doc_s,
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "1234")],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Without the PIN nothing is signed; a wrong PIN exits 6.
    let o = cps_with(
        &["--sim", "cps4", "sign", "--in", &doc_s, "--pin-from", "env"],
        &[("CPS_PIN", "1111")],
        None,
    );
    assert_eq!(o.status.code(), Some(6));
    let o = cps(&[
        "--sim",
        "cps4",
        "sign",
        "--in",
        "/nonexistent/file",
        "--pin-from",
        "env",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auth_test_on_both_generations() {
    let out = ok(&cps_with(
        &["--sim", "cps4", "auth-test", "--pin-from", "env"],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert!(out.contains("CPS_PRIV_AUT (RSA-2048)"), "{out}");
    assert!(
        out.contains("OK: the response verifies with the certificate"),
        "{out}"
    );
    let j = json(&cps_with(
        &["--sim", "cps3", "auth-test", "--json", "--pin-from", "env"],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert_eq!(j["verified"], true);
    assert_eq!(j["response_bytes"], 256);
    let j = json(&cps_with(
        &["--sim", "cps4", "auth-test", "--json", "--pin-from", "env"],
        &[("CPS_PIN", "1234")],
        None,
    ));
    assert_eq!(j["key"], "CPS_PRIV_AUT");
    let o = cps_with(
        &["--sim", "cps4", "auth-test", "--pin-from", "env"],
        &[("CPS_PIN", "4444")],
        None,
    );
    assert_eq!(o.status.code(), Some(6));
}

#[test]
fn certs_list_export_and_chain_verification() {
    let out = ok(&cps(&["--sim", "cps4", "certs", "--at", AT]));
    assert!(
        out.contains("label         Certificat d'Authentification CPS"),
        "{out}"
    );
    assert!(
        out.contains("validity      2025-07-01 → 2028-06-30"),
        "{out}"
    );
    let j = json(&cps(&[
        "--sim", "cps3", "certs", "list", "--json", "--at", AT,
    ]));
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["serial"], "2503010100");

    let dir = scratch("certs");
    let d = dir.display().to_string();
    let out = ok(&cps(&["--sim", "cps4", "certs", "export", "--out", &d]));
    // The simulator notice, then one line per certificate written.
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.starts_with("SIMULATED CARD, not a real card"), "{out}");
    let pem = std::fs::read_to_string(dir.join("Certificat_de_Signature_CPS.pem")).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    // The exported certificate is the test PKI's own.
    // (the simulated CPS4 carries the RSA certificates of the test PKI's cps3 branch: no
    // simulated card carries its P-256 cps4 certificates any more).
    let expected = std::fs::read(pki("rsa2048/dr-martin/sign.crt.der")).unwrap();
    let j = json(&cps(&[
        "--sim", "cps4", "certs", "export", "--out", &d, "--format", "der", "--json",
    ]));
    assert_eq!(j["written"].as_array().unwrap().len(), 2);
    let der = std::fs::read(dir.join("Certificat_de_Signature_CPS.der")).unwrap();
    assert_eq!(der, expected);

    let root = pki("ca/root.crt.pem");
    let persons = pki("ca/persons.crt.pem");
    let out = ok(&cps(&[
        "--sim",
        "cps4",
        "certs",
        "verify",
        "--root",
        &root,
        "--intermediates",
        &persons,
        "--at",
        AT,
    ]));
    assert_eq!(out.matches("chain OK").count(), 2, "{out}");
    // Without the intermediate CA the chain cannot be built: exit code 8.
    let o = cps(&[
        "--sim", "cps4", "certs", "verify", "--root", &root, "--at", AT, "--json",
    ]);
    assert_eq!(o.status.code(), Some(8));
    let j = json(&o);
    assert!(
        j["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["valid"] == false)
    );
    // After expiry: invalid.
    let o = cps(&[
        "--sim",
        "cps4",
        "certs",
        "verify",
        "--root",
        &root,
        "--intermediates",
        &persons,
        "--at",
        "2029-01-01",
    ]);
    assert_eq!(o.status.code(), Some(8));
    assert!(stdout(&o).contains("expired"), "{}", stdout(&o));
    // A root file that is not a certificate: usage error.
    let o = cps(&[
        "--sim",
        "cps4",
        "certs",
        "verify",
        "--root",
        &pki("personas.json"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn doctor_on_the_simulator_says_what_it_did_not_check() {
    let o = cps(&["--sim", "cps4", "doctor", "--at", AT]);
    let out = stdout(&o);
    assert!(
        out.contains("[ -- ] PC/SC service: built-in simulator in use"),
        "{out}"
    );
    assert!(out.contains("[ ok ] card generation: CPS4"), "{out}");
    assert!(
        out.contains("[ ok ] IAS-ECC application: CPS card"),
        "{out}"
    );
    assert!(
        out.contains("[ ok ] certificates readable: 2 readable"),
        "{out}"
    );
    assert!(
        out.contains(
            "[ ok ] certificate Certificat de Signature CPS (signature): valid until 2028-06-30"
        ),
        "{out}"
    );
    assert!(
        out.contains("[ -- ] DESFire: DESFire answers through the contactless"),
        "{out}"
    );
    // Exit code 9 exactly when a line failed.
    let failed = out.contains("[FAIL]");
    assert_eq!(o.status.code(), Some(if failed { 9 } else { 0 }), "{out}");

    let j = json(&cps(&[
        "--sim",
        "cps4",
        "doctor",
        "--json",
        "--at",
        "2028-08-01",
    ]));
    let checks = j["checks"].as_array().unwrap();
    let expired: Vec<_> = checks
        .iter()
        .filter(|c| c["check"].as_str().unwrap().starts_with("certificate "))
        .collect();
    assert_eq!(expired.len(), 2);
    assert!(
        expired
            .iter()
            .all(|c| c["status"] == "failure" && c["action"].is_string())
    );
    assert_eq!(j["failed"], true);

    // CPS3: generation warning; through its contactless interface the badge relies on
    // MIFARE Classic, which CPS4 drops.
    let j = json(&cps(&["--sim", "cps3", "doctor", "--json", "--at", AT]));
    let generation = j["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "card generation")
        .unwrap()
        .clone();
    assert_eq!(generation["status"], "warning");
    let o = cps(&["--sim", "cps3", "--contactless", "doctor"]);
    let out = stdout(&o);
    assert!(
        out.contains("[warn] DESFire") && out.contains("MIFARE Classic"),
        "{out}"
    );
}

#[test]
fn desfire_door_check_refuses_a_cps3_badge() {
    // The CPS3's contactless side is MIFARE Classic (not simulated): the door check says so.
    let o = cps_with(
        &[
            "--sim",
            "cps3",
            "--contactless",
            "desfire",
            "door-check",
            "--aid",
            "F51230",
            "--file",
            "1",
            "--pin-from",
            "env",
        ],
        &[("CPS_DESFIRE_KEY", "00000000000000000000000000000000")],
        None,
    );
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("relies on MIFARE Classic"),
        "{}",
        stderr(&o)
    );
    // Keys are checked before anything is sent.
    let o = cps_with(
        &[
            "--sim",
            "cps3",
            "--contactless",
            "desfire",
            "auth",
            "--aid",
            "F51230",
            "--pin-from",
            "env",
        ],
        &[("CPS_DESFIRE_KEY", "0011")],
        None,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = cps(&["--sim", "cps4", "desfire", "auth", "--aid", "F5123"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn desfire_provision_dry_run_keys_and_profile_errors() {
    let dir = std::env::temp_dir().join(format!("cps-desfire-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("door.conf");
    std::fs::write(
        &profile,
        "aid = F51001\nfile = 1\nkey = 1\ncomm = full\nsystem-id = 4350\n",
    )
    .unwrap();
    let profile = profile.display().to_string();
    let keys = [
        (
            "CPS_DESFIRE_APP_MASTER_KEY",
            "000102030405060708090A0B0C0D0E0F",
        ),
        (
            "CPS_DESFIRE_DOOR_MASTER_KEY",
            "101112131415161718191A1B1C1D1E1F",
        ),
    ];
    let base = [
        "--sim",
        "cps4",
        "--contactless",
        "desfire",
        "provision",
        "--profile",
        &profile,
        "--holder",
        "810001234567",
        "--valid-from",
        "2026-01-01",
        "--valid-until",
        "2026-12-31",
    ];
    // Dry run on the built-in card (keys from the environment): the plan, with progress.
    let o = cps_with(&[&base[..], &["--dry-run"]].concat(), &keys, None);
    let out = ok(&o);
    assert!(
        out.contains("would be provisioned in application F51001"),
        "{out}"
    );
    assert!(
        stderr(&o).contains("creating the application: would do"),
        "{}",
        stderr(&o)
    );
    // A real run on the built-in card (which the process then drops).
    let out = ok(&cps_with(&base, &keys, None));
    assert!(out.contains("provisioned in application F51001"), "{out}");
    // Usage errors, nothing sent: no keys; a key on a key file line that is not hex; a
    // validity backwards; a profile with an unknown setting.
    let o = cps_with(&base, &[], None);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("app-master-key"), "{}", stderr(&o));
    let bad = [keys[0], ("CPS_DESFIRE_DOOR_MASTER_KEY", "not-hex-at-all")];
    let o = cps_with(&base, &bad, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains("not-hex"), "the value is never echoed");
    let mut backwards = base.to_vec();
    backwards[12] = "2025-12-31";
    assert_eq!(cps_with(&backwards, &keys, None).status.code(), Some(2));
    let odd = dir.join("odd.conf");
    std::fs::write(
        &odd,
        "aid = F51001\nfile = 1\nkey = 1\ncomm = full\ncolour = red\n",
    )
    .unwrap();
    let odd = odd.display().to_string();
    let mut with_odd = base.to_vec();
    with_odd[6] = &odd;
    let o = cps_with(&with_odd, &keys, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("line 5: unknown setting"),
        "{}",
        stderr(&o)
    );
    // The door on a card without the establishment's application: refused (exit 8).
    let o = cps_with(
        &[
            "--sim",
            "cps4",
            "--contactless",
            "desfire",
            "door-check",
            "--profile",
            &profile,
        ],
        &keys,
        None,
    );
    assert_eq!(o.status.code(), Some(8), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("application F51001 not found"),
        "{}",
        stderr(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_errors() {
    for args in [
        &["--sim", "cps9", "info"][..],
        &["--persona", "nobody", "info"],
        &["--reader", "X", "--sim", "cps3", "info"],
        &["info", "--at", "2026-13-45"],
        &["fido2", "reset"],
        &["certs", "verify"],
        &["pin"],
    ] {
        let o = cps(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

/// Issue 17 item 5: one holder name everywhere — the civility the card carries, the given
/// names, the family name — in `info` and `identity`, human and JSON, for every persona.
#[test]
fn holder_named_the_same_way_everywhere() {
    let list = json(&cps(&["sim", "list", "--json"]));
    let personas: Vec<String> = list["personas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(personas.len() >= 6);
    for profile in ["cps3", "cps4"] {
        for p in &personas {
            let who = json(&cps(&[
                "--sim",
                profile,
                "--persona",
                p,
                "identity",
                "--json",
            ]));
            let civility = who["civility"].as_str().unwrap();
            let expected = format!("{civility} {}", who["name"].as_str().unwrap());
            assert_eq!(who["holder"], expected.as_str(), "{profile} {p}");
            let info = json(&cps(&["--sim", profile, "--persona", p, "info", "--json"]));
            assert_eq!(info["iasecc"]["holder"], expected.as_str(), "{profile} {p}");
            let human = ok(&cps(&["--sim", profile, "--persona", p, "info"]));
            assert!(
                human.contains(&format!("holder        {expected} (")),
                "{profile} {p}: {human}"
            );
            let human = ok(&cps(&["--sim", profile, "--persona", p, "identity"]));
            assert!(
                human.contains(&format!("holder        {expected}\n")),
                "{profile} {p}: {human}"
            );
        }
    }
}
