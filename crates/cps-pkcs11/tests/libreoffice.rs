//! LibreOffice (Debian 12: 7.4, `libreoffice-writer-nogui`, `python3-uno`) signs a Writer
//! document with the signature key of the simulated CPS3 and CPS4, through our module,
//! pcscd and vsmartcard-vpcd.
//!
//! LibreOffice reads certificates and keys from an NSS database: here a fresh one, named by
//! `MOZILLA_CERTIFICATE_FOLDER` (LibreOffice's first choice before its configured certificate
//! path and the Mozilla profiles), with our module added by `modutil -add` and the TEST PKI's
//! root trusted for e-mail signing (`certutil -A -t ,C,`, so that LibreOffice can call the
//! signer's certificate valid; its intermediate CA added untrusted). Headless LibreOffice
//! answers no PIN dialog (NSS asks the PIN through LibreOffice's interaction handler), so the
//! module asks it itself: `CPS_PKCS11_PINENTRY` (the fake pinentry of `cps_testkit`, answering
//! the test PIN) with `CPS_PKCS11_PIN_ON_USE=1` (no login needed to see the keys; the
//! signature asks the PIN).
//!
//! A headless `soffice` (private profile, `--accept=pipe,...`) is driven by
//! `tests/libreoffice_sign.py` through Python-UNO: it writes a Writer document, takes from
//! the personal certificates of LibreOffice's security environment the holder's certificate
//! with the nonRepudiation key usage (the card's signature certificate), signs the document
//! with it (`DocumentDigitalSignatures.signDocumentWithCertificate`), and has LibreOffice
//! verify the stored file (`verifyDocumentContentSignatures`). The test then checks:
//!
//! - LibreOffice listed exactly the card's two certificates (bytes of the card's files), chose
//!   the signature one, and found one signature, valid, of a valid certificate, whose signer
//!   is the card's signature certificate;
//! - independently of LibreOffice, `xmlsec1` (OpenSSL backend) verifies the XML signature of
//!   `META-INF/documentsignatures.xml` and every reference of it (the package's files),
//!   trusting the TEST PKI's root only, at a fixed date; the signature's `X509Certificate`
//!   is the card's signature certificate;
//! - the signature came from the card: the simulated card counted PSO commands (the
//!   signature) during the run, the pinentry was asked the PIN once, the PIN counter is
//!   full. The private key exists nowhere else LibreOffice could reach;
//! - a wrong PIN (on a CPS3): one dialog, one try spent, no PSO, and no valid signature in the
//!   file. LibreOffice 7.4 reports success all the same (`signDocumentWithCertificate` returns
//!   true) and writes a signature with an empty `SignatureValue`, which its verification and
//!   xmlsec1 call invalid: the test records that, it does not require it.
//!
//! Observed without `CPS_PKCS11_PIN_ON_USE=1` (`CPS_PKCS11_PINENTRY` alone):
//! `getPersonalCertificates()` throws `NoPasswordException` after about 60 s and the pinentry
//! never runs (NSS calls `C_Login` only once LibreOffice's password callback answered).
//! LibreOffice checks the signer's certificate at the current date (`CertificateStatus`): the
//! TEST holders' certificates are valid until 2028-06-30 (`testvectors/pki/README.md`).
//!
//! Needs pcscd with vpcd, `soffice` (libreoffice-writer-nogui), Debian's `/usr/bin/python3`
//! with python3-uno, `certutil` / `modutil` (libnss3-tools) and `xmlsec1`. Without them the
//! test prints `SKIPPED` and passes, except under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use cps_sim::vpcd::VpcdHandle;
use cps_sim::{CardStats, Profile, SimCard};
use cps_testkit::{
    fake_pinentry, insert, nss_db_with_module, pinentry_commands, remove, run, wait,
};
use cps_transport::pcsc::PcscContext;
use serde_json::Value;

/// The name of the module in the NSS database.
const DEVICE: &str = "CPS (cps-rs)";
/// Debian's Python, where python3-uno installs the `uno` module (a `python3` found first in
/// `PATH`, e.g. pyenv's, does not have it).
const PYTHON: &str = "/usr/bin/python3";
/// The card's signature and authentication certificates (`profiles/cps3.json`,
/// `profiles/cps4.json` of cps-sim).
const SIG_CERT: [u16; 3] = [0x3F00, 0x0001, 0xC002];
const AUT_CERT: [u16; 3] = [0x3F00, 0x0001, 0xC001];
/// PERFORM SECURITY OPERATION (ISO 7816-8): the signature.
const INS_PSO: u8 = 0x2A;
/// `com.sun.star.security.CertificateValidity.VALID`.
const CERTIFICATE_VALID: i64 = 0;
/// How long LibreOffice may take to start and exit.
const SOFFICE_TIMEOUT: Duration = Duration::from_secs(60);

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the LibreOffice test", reason);
}

fn soffice() -> String {
    std::env::var("SOFFICE").unwrap_or_else(|_| "soffice".to_owned())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/libreoffice_sign.py")
}

fn test_pki(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testvectors/pki/ca")
        .join(file)
}

/// The NSS database LibreOffice reads: our module, the TEST PKI's root trusted for e-mail
/// (document) signatures, its intermediate CA known.
fn nss_db(dir: &Path, module: &Path) -> PathBuf {
    let db = dir.join("nssdb");
    let sql = nss_db_with_module(&db, DEVICE, module);
    for (nick, file, trust) in [
        ("TEST root CPS-RS", "root.crt.der", ",C,"),
        ("TEST persons CPS-RS", "persons.crt.der", ",,"),
    ] {
        let (ok, out) = run(
            "certutil",
            &[
                "-A",
                "-d",
                &sql,
                "-n",
                nick,
                "-t",
                trust,
                "-i",
                test_pki(file).to_str().unwrap(),
            ],
        )
        .unwrap();
        assert!(ok, "certutil -A {nick}: {out}");
    }
    db
}

/// A headless `soffice` listening on a pipe, in its own process group (`soffice` starts
/// `oosplash`, which starts `soffice.bin`): the group is killed if it does not exit.
struct Soffice {
    child: Child,
    log: PathBuf,
}

impl Soffice {
    fn start(dir: &Path, pipe: &str, env: &[(&str, &str)]) -> Soffice {
        let profile = format!(
            "-env:UserInstallation=file://{}",
            dir.join("lo-profile").display()
        );
        let accept = format!("--accept=pipe,name={pipe};urp;StarOffice.ComponentContext");
        let log = dir.join(format!("soffice-{pipe}.log"));
        let child = Process::new(soffice())
            .args([
                "--headless",
                "--invisible",
                "--nologo",
                "--norestore",
                "--nodefault",
                "--nolockcheck",
                &profile,
                &accept,
            ])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(&log).unwrap())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", soffice()));
        Soffice { child, log }
    }

    /// Waits for it to exit (the script terminated the desktop): whether it did in time.
    fn exited(&mut self) -> bool {
        let deadline = Instant::now() + SOFFICE_TIMEOUT;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Soffice {
    fn drop(&mut self) {
        // The group of the process we started (its id): oosplash and soffice.bin.
        let group = format!("-{}", self.child.id());
        let _ = run("kill", &["-KILL", "--", &group]);
        let _ = self.child.wait();
    }
}

/// The card's file at `path`: the DER certificate it holds (hex).
fn card_certificate(handle: &VpcdHandle<SimCard>, path: &[u16]) -> String {
    let card = handle.card();
    let file = card.file(path).unwrap();
    // A DER SEQUENCE with a two-byte length (the certificates are 1 KiB): the EF may be
    // longer than the certificate.
    assert_eq!(
        &file[..2],
        &[0x30, 0x82],
        "{path:04X?} holds no DER certificate"
    );
    let len = 4 + usize::from(u16::from_be_bytes([file[2], file[3]]));
    hex::encode(&file[..len])
}

/// What one run of LibreOffice did.
struct Run {
    /// The script's JSON.
    report: Value,
    /// The card's counts during the run.
    stats: CardStats,
    /// The commands the pinentry received.
    commands: Vec<String>,
    /// The time from starting soffice to its exit.
    elapsed: Duration,
    /// Where the script extracted the signed document.
    unzipped: PathBuf,
}

/// Starts soffice with the NSS database `db` and the module's pinentry mode, runs the script
/// (a new document `ordonnance-<name>.odt` signed and verified), and waits for soffice to exit.
fn libreoffice(
    name: &str,
    handle: &VpcdHandle<SimCard>,
    dir: &Path,
    db: &Path,
    pinentry: &Path,
) -> Run {
    handle.card().reset_stats();
    let _ = pinentry_commands(dir);
    let doc = dir.join(format!("ordonnance-{name}.odt"));
    let unzipped = dir.join(format!("unzipped-{name}"));
    let pipe = format!("cps-rs-lo-{}-{name}", std::process::id());
    let started = Instant::now();
    let mut soffice = Soffice::start(
        dir,
        &pipe,
        &[
            ("HOME", dir.join("home").to_str().unwrap()),
            ("MOZILLA_CERTIFICATE_FOLDER", db.to_str().unwrap()),
            ("CPS_PKCS11_PINENTRY", pinentry.to_str().unwrap()),
            ("CPS_PKCS11_PIN_ON_USE", "1"),
        ],
    );
    let (ok, out) = run(
        PYTHON,
        &[
            script().to_str().unwrap(),
            &pipe,
            doc.to_str().unwrap(),
            "MARTIN",
            unzipped.to_str().unwrap(),
        ],
    )
    .unwrap();
    // The script terminates LibreOffice, also when it fails.
    let exited = soffice.exited();
    let elapsed = started.elapsed();
    let soffice_log = std::fs::read_to_string(&soffice.log).unwrap_or_default();
    drop(soffice);
    let commands = pinentry_commands(dir);
    let stats = handle.card().stats().clone();
    eprintln!("--- [{name}] {}\n{out}", script().display());
    eprintln!("[{name}] soffice: {soffice_log}");
    eprintln!("[{name}] the pinentry received {commands:?}");
    eprintln!("[{name}] the card: {}", stats.summary());
    assert!(
        ok,
        "the LibreOffice script failed: {out}\nsoffice: {soffice_log}"
    );
    assert!(exited, "soffice did not exit after the script");
    let report: Value = out
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no JSON from the script: {out}"));
    Run {
        report,
        stats,
        commands,
        elapsed,
        unzipped,
    }
}

/// One card: LibreOffice signs, LibreOffice and xmlsec1 verify. Returns a line for the report.
fn sign(
    (profile, generation): (Profile, &str),
    ctx: &PcscContext,
    dir: &Path,
    db: &Path,
    pinentry: &Path,
) -> String {
    let handle = insert(ctx, SimCard::new(profile, "dr-martin").unwrap());
    let sig_cert = card_certificate(&handle, &SIG_CERT);
    let aut_cert = card_certificate(&handle, &AUT_CERT);
    let Run {
        report,
        stats,
        commands,
        elapsed,
        unzipped,
    } = libreoffice(generation, &handle, dir, db, pinentry);

    // LibreOffice saw the card's two certificates (keys listed without login) and nothing
    // else, and chose the signature one.
    let mut listed: Vec<&str> = report["personal_certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["der_hex"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected = vec![sig_cert.as_str(), aut_cert.as_str()];
    expected.sort_unstable();
    assert_eq!(listed, expected, "LibreOffice's personal certificates");
    assert_eq!(report["chosen"]["der_hex"], sig_cert.as_str());
    assert_eq!(report["signed"], true);

    // LibreOffice's own verification of the stored file.
    let signatures = report["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1, "{signatures:?}");
    let s = &signatures[0];
    assert_eq!(s["valid"], true, "SignatureIsValid: {s}");
    assert_eq!(s["partial"], false, "the whole document is signed: {s}");
    assert_eq!(
        s["certificate_status"], CERTIFICATE_VALID,
        "CertificateStatus (the TEST root trusted): {s}"
    );
    assert_eq!(s["signer"]["der_hex"], sig_cert.as_str());
    let signer = s["signer"]["subject"].as_str().unwrap();
    assert!(signer.contains("SN=MARTIN+givenName=CLAIRE"), "{signer}");

    // The XML signature itself, without LibreOffice.
    let xml = report["xml_signatures"].as_array().unwrap();
    assert_eq!(xml.len(), 1, "{xml:?}");
    assert_eq!(
        xml[0]["x509_certificates"],
        serde_json::json!([sig_cert.as_str()]),
        "the signature's X509Certificate"
    );
    assert_eq!(
        xml[0]["signature_method"],
        serde_json::json!(["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"])
    );
    assert_eq!(
        xml[0]["signature_value_bytes"],
        serde_json::json!([256]),
        "one RSA-2048 signature value"
    );
    let references = xml[0]["references"].as_array().unwrap();
    assert!(
        references.iter().any(|r| r == "content.xml"),
        "the text is signed: {references:?}"
    );
    let xmlsec = xmlsec1_verify(&unzipped, references.len());

    // The signature came from the card.
    assert!(
        stats.count(INS_PSO) >= 1,
        "the card made no signature: {}",
        stats.summary()
    );
    assert_eq!(
        commands.iter().filter(|c| *c == "GETPIN").count(),
        1,
        "the PIN is asked once: {commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("SETDESC ") && c.contains(&format!("{generation} dr-martin"))),
        "the dialog names the card: {commands:?}"
    );
    assert_eq!(handle.card().tries_left(0x01), Some(3), "the PIN was right");
    remove(ctx, handle);
    format!(
        "{generation} LibreOffice 7.4: \"{signer}\" chosen among {} certificates, signed ({:.2} s), \
         SignatureIsValid, CertificateStatus VALID; xmlsec1: {xmlsec}; card: {} PSO of {} APDUs; \
         {:.1} s with soffice start",
        listed.len(),
        report["sign_seconds"].as_f64().unwrap_or_default(),
        stats.count(INS_PSO),
        stats.apdus,
        elapsed.as_secs_f64()
    )
}

/// A wrong PIN from the pinentry: LibreOffice's signature fails, the document stays
/// unsigned, one try is spent, the card signed nothing.
fn wrong_pin(ctx: &PcscContext, dir: &Path, db: &Path, pinentry: &Path) -> String {
    let handle = insert(ctx, SimCard::new(Profile::Cps3, "dr-martin").unwrap());
    // The fake pinentry answers what its file `answer` holds.
    std::fs::write(dir.join("answer"), "0000").unwrap();
    let Run {
        report,
        stats,
        commands,
        unzipped,
        ..
    } = libreoffice("CPS3-wrong-PIN", &handle, dir, db, pinentry);
    std::fs::write(dir.join("answer"), "1234").unwrap();
    // LibreOffice 7.4 reports success (signDocumentWithCertificate returns true) and writes a
    // signature whose SignatureValue is empty; its own verification calls it invalid.
    let signatures = report["signatures"].as_array().unwrap();
    assert!(
        signatures.iter().all(|s| s["valid"] == false),
        "a valid signature without the PIN: {signatures:?}"
    );
    let values: Vec<&Value> = report["xml_signatures"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["signature_value_bytes"].as_array().unwrap())
        .collect();
    assert!(
        values.iter().all(|v| **v == 0),
        "signature values: {values:?}"
    );
    if !signatures.is_empty() {
        let (ok, out) = xmlsec1(&unzipped);
        assert!(
            !ok,
            "xmlsec1 accepted the signature made without the PIN: {out}"
        );
    }
    assert_eq!(
        commands.iter().filter(|c| *c == "GETPIN").count(),
        1,
        "one dialog: {commands:?}"
    );
    assert_eq!(handle.card().tries_left(0x01), Some(2), "one try spent");
    assert_eq!(
        stats.count(INS_PSO),
        0,
        "the card signed: {}",
        stats.summary()
    );
    remove(ctx, handle);
    format!(
        "CPS3 wrong PIN: one pinentry dialog, 2 tries left, no PSO; LibreOffice: signed={}, \
         {} signature(s), none valid (empty SignatureValue), xmlsec1 refuses",
        report["signed"],
        signatures.len()
    )
}

/// `xmlsec1 --verify` of `META-INF/documentsignatures.xml`, copied to the root of the
/// extracted package and run there, so that its relative references (`content.xml`,
/// `META-INF/manifest.xml`...) name the package's files. Only the TEST PKI's root is
/// trusted; the date is fixed (inside the certificates' validity): (success, output).
fn xmlsec1(unzipped: &Path) -> (bool, String) {
    std::fs::copy(
        unzipped.join("META-INF/documentsignatures.xml"),
        unzipped.join("documentsignatures.xml"),
    )
    .unwrap();
    let trusted = test_pki("root.crt.der");
    let untrusted = test_pki("persons.crt.der");
    let args = [
        "--verify",
        "--trusted-der",
        trusted.to_str().unwrap(),
        "--untrusted-der",
        untrusted.to_str().unwrap(),
        "--verification-time",
        "2026-01-01 00:00:00",
        // The ID attributes LibreOffice's references point at.
        "--id-attr:Id",
        "SignatureProperty",
        "--id-attr:Id",
        "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        "documentsignatures.xml",
    ];
    // xmlsec1 opens a relative reference from its working directory.
    let child = Process::new("xmlsec1")
        .args(args)
        .current_dir(unzipped)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, "xmlsec1", &args)
}

/// [`xmlsec1`] accepts the signature and its `references` references, and refuses it once
/// the document's text is changed. Returns a line for the report.
fn xmlsec1_verify(unzipped: &Path, references: usize) -> String {
    let (ok, out) = xmlsec1(unzipped);
    let all = format!("SignedInfo References (ok/all): {references}/{references}");
    assert!(
        ok && out.contains("OK\n") && out.contains(&all),
        "xmlsec1: {out}"
    );

    let content = unzipped.join("content.xml");
    let text = std::fs::read_to_string(&content).unwrap();
    assert!(text.contains("Ordonnance de test"), "{text}");
    std::fs::write(
        &content,
        text.replace("Ordonnance de test", "Ordonnance modifiée"),
    )
    .unwrap();
    let (ok, out) = xmlsec1(unzipped);
    assert!(!ok, "xmlsec1 accepted a changed content.xml: {out}");
    format!("signature and {references}/{references} references OK, a changed text refused")
}

#[test]
fn libreoffice_signs_with_the_simulated_cards() {
    let module = cps_testkit::pkcs11_module();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if run(&soffice(), &["--version"]).is_none() {
        return skip_or_fail(
            "soffice is not installed (Debian package libreoffice-writer-nogui; .ci/run installs it)",
        );
    }
    match run(PYTHON, &["-c", "import uno"]) {
        Some((true, _)) => {}
        _ => return skip_or_fail("python3-uno is not installed (import uno in /usr/bin/python3)"),
    }
    if run("modutil", &["-help"]).is_none() || run("certutil", &["-H"]).is_none() {
        return skip_or_fail("modutil / certutil (libnss3-tools) are not installed");
    }
    if run("xmlsec1", &["--version"]).is_none() {
        return skip_or_fail("xmlsec1 is not installed");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-libreoffice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("home")).unwrap();
    let db = nss_db(&dir, &module);
    let pinentry = fake_pinentry(&dir, "1234");

    let mut report: Vec<String> = [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")]
        .into_iter()
        .map(|card| sign(card, &ctx, &dir, &db, &pinentry))
        .collect();
    report.push(wrong_pin(&ctx, &dir, &db, &pinentry));
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== LibreOffice on the simulated cards\n{}",
        report.join("\n")
    );
}
