//! A real mail client on the simulated CPS3 and CPS4 through pcscd + vsmartcard-vpcd:
//! headless Thunderbird (Debian `thunderbird`) loads our module by enterprise policy
//! (`SecurityDevices`, as Firefox in `tests/firefox.rs`), refuses a wrong PIN after one try
//! on the card, takes the right one, shows the card's certificates in its certificate
//! database, and signs a mail with the card's signature certificate by Thunderbird's own
//! S/MIME code; `openssl cms -verify` checks that mail against the test PKI, and refuses it
//! once its text is changed.
//!
//! The signing path is the one Thunderbird's composer takes when it sends a signed message
//! (`modules/MimeMessage.sys.mjs` in its `omni.ja` → `nsIMsgComposeSecure`): the top-level
//! headers written, an identity whose `signing_cert_dbkey` is the card's certificate,
//! `beginCryptoEncapsulation` (which checks the certificate for e-mail signing, writes the
//! `multipart/signed` header and starts the SHA-256 hash), the body part through
//! `mimeCryptoWriteBlock`, and `finishCryptoEncapsulation`, which builds the detached
//! CMS signature (`nsICMSMessage.CreateSigned` + `nsICMSEncoder`, C++ only: neither is
//! scriptable in Thunderbird 153, so the test cannot call them directly) and appends it as
//! `smime.p7s`. The card signs the CMS signed attributes (SHA-256, RSA PKCS#1 v1.5: the
//! CMS `rsaEncryption` signature algorithm, checked).
//!
//! Like the Firefox test, nothing is written outside a temporary directory: Thunderbird runs
//! from a private copy of its installation directory (its binary copied, everything else
//! linked) whose `distribution/policies.json` holds the policy, with a fresh profile and
//! `HOME`, driven through Marionette in its chrome context.
//!
//! Needs pcscd with vpcd, `openssl` and Thunderbird (`/usr/lib/thunderbird`, or the
//! directory in `THUNDERBIRD_DIR`). Without them the test prints `SKIPPED` and passes, except
//! under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use cps_sim::vpcd::VpcdHandle;
use cps_sim::{Profile, SimCard};
use cps_testkit::gecko::{DEVICE, Gecko, LOGIN, MODULES, Marionette, free_port};
use cps_testkit::{insert, openssl, remove, run};
use serde_json::{Value, json};
use sha2::Digest as _;

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the Thunderbird test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// Where Thunderbird is installed (Debian: `/usr/lib/thunderbird`).
fn thunderbird_dir() -> PathBuf {
    std::env::var_os("THUNDERBIRD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/thunderbird"))
}

/// The test PKI (`testvectors/pki`).
fn pki() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testvectors/pki")
}

/// The base64 of the DER inside a PEM file (its lines between the armour lines).
fn pem_base64(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

/// SHA-256 of `der` as NSS shows fingerprints (`AB:CD:...`).
fn fingerprint(der: &[u8]) -> String {
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// In Thunderbird's chrome context, arguments `[label]`: the certificates of the certificate
/// database (`nsIX509CertDB`) that live on the token `label`.
const CERTS: &str = r#"
const [label] = arguments;
const db = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
return db.getCerts()
  .filter(c => c.tokenName === label)
  .map(c => ({ subject: c.subjectName, fingerprint: c.sha256Fingerprint, dbKey: c.dbKey }));
"#;

/// In Thunderbird's chrome context, arguments `[root, intermediate, dbKey, body]`: the test
/// PKI's CA certificates (base64 DER) trusted for e-mail, then a mail whose body part is
/// `body`, signed as Thunderbird's composer does (see the module documentation) with the
/// certificate `dbKey` into an in-memory stream. Returns `{mail}` or `{error, stage}`.
const SIGN: &str = r#"
const [root, intermediate, dbKey, body] = arguments;
const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
const db = Cc["@mozilla.org/security/x509certdb;1"].getService(Ci.nsIX509CertDB);
let stage = "trust the test CA";
try {
  db.addCertFromBase64(root, "C,C,C");
  db.addCertFromBase64(intermediate, ",,");
  stage = "identity";
  const identity = MailServices.accounts.createIdentity();
  identity.fullName = "Claire Martin";
  identity.email = "claire.martin@cps-rs.invalid";
  identity.setCharAttribute("signing_cert_dbkey", dbKey);
  const fields = Cc["@mozilla.org/messengercompose/composefields;1"]
    .createInstance(Ci.nsIMsgCompFields);
  fields.from = "Claire Martin <claire.martin@cps-rs.invalid>";
  fields.to = "secretariat@cps-rs.invalid";
  fields.subject = "Compte rendu";
  const secure = Cc["@mozilla.org/messengercompose/composesecure;1"]
    .createInstance(Ci.nsIMsgComposeSecure);
  secure.signMessage = true;
  stage = "requiresCryptoEncapsulation";
  if (!secure.requiresCryptoEncapsulation(identity, fields)) {
    return { error: "signing not required", stage };
  }
  const storage = Cc["@mozilla.org/storagestream;1"].createInstance(Ci.nsIStorageStream);
  storage.init(4096, 0xffffffff);
  const out = storage.getOutputStream(0);
  const headers = "From: " + fields.from + "\r\nTo: " + fields.to + "\r\nSubject: "
    + fields.subject + "\r\nMIME-Version: 1.0\r\n";
  out.write(headers, headers.length);
  stage = "beginCryptoEncapsulation";
  // Thunderbird 153: (stream, recipients, fields, top-level headers, identity, report, draft).
  secure.beginCryptoEncapsulation(out, fields.to, fields, headers, identity, null, false);
  stage = "mimeCryptoWriteBlock";
  const part = "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
    + body;
  for (const line of part.split(/(?<=\r\n)/)) {
    secure.mimeCryptoWriteBlock(line, line.length);
  }
  stage = "finishCryptoEncapsulation";
  secure.finishCryptoEncapsulation(false, null);
  out.close();
  const input = Cc["@mozilla.org/scriptableinputstream;1"]
    .createInstance(Ci.nsIScriptableInputStream);
  input.init(storage.newInputStream(0));
  return { mail: input.read(input.available()) };
} catch (e) {
  return { error: String(e), stage };
}
"#;

/// The tries left of the card's PIN (reference 01); the card's lock is held only for the read.
fn tries(card: &VpcdHandle<SimCard>) -> Option<u8> {
    card.card().tries_left(0x01)
}

/// The mail's body part text: CRLF lines, as a composer writes them.
const BODY: &str =
    "Bonjour,\r\n\r\nCompte rendu de consultation signe par la carte.\r\n\r\nDr Claire MARTIN\r\n";

/// `openssl cms -verify` of the mail `mail` (written to `dir/name`) against the test PKI's
/// CA, as a recipient's mail client does: the `multipart/signed` read as S/MIME (its text in
/// canonical CRLF form, so without `-binary`), the signature checked over the first part and
/// the signer's certificate chained to the test PKI. Returns (success, openssl's output, the
/// verified content, the signer's certificate DER).
fn verify(dir: &Path, name: &str, mail: &str) -> (bool, String, Vec<u8>, Vec<u8>) {
    let file = dir.join(name);
    let content = dir.join(format!("{name}.content"));
    let signer = dir.join(format!("{name}.signer.pem"));
    let _ = std::fs::remove_file(&content);
    let _ = std::fs::remove_file(&signer);
    std::fs::write(&file, mail).unwrap();
    let chain = pki().join("ca/chain.pem");
    let (ok, out) = openssl(&[
        "cms",
        "-verify",
        "-inform",
        "SMIME",
        "-in",
        file.to_str().unwrap(),
        "-CAfile",
        chain.to_str().unwrap(),
        "-out",
        content.to_str().unwrap(),
        "-signer",
        signer.to_str().unwrap(),
    ]);
    let signer_der = if ok {
        let der = dir.join(format!("{name}.signer.der"));
        let (converted, msg) = openssl(&[
            "x509",
            "-in",
            signer.to_str().unwrap(),
            "-outform",
            "DER",
            "-out",
            der.to_str().unwrap(),
        ]);
        assert!(converted, "{msg}");
        std::fs::read(der).unwrap()
    } else {
        Vec::new()
    };
    (
        ok,
        out,
        std::fs::read(&content).unwrap_or_default(),
        signer_der,
    )
}

/// One card: Thunderbird started with the policy, a wrong PIN then the right one, the card's
/// certificates, a signed mail checked by openssl. Returns a line for the report.
fn sign_mail(generation: &str, dir: &Path, binary: &Path, card: &VpcdHandle<SimCard>) -> String {
    let label = format!("{generation} dr-martin");
    let port = free_port();
    let started = Instant::now();
    let mut tb = Gecko::start(
        binary,
        dir,
        port,
        &[
            ("mail.shell.checkDefaultClient", json!(false)),
            ("mailnews.start_page.enabled", json!(false)),
        ],
    );
    let mut m = Marionette::connect(port, &mut tb, json!({}));
    m.context("chrome");

    // 1. The module from the policy, with the card's token.
    let modules = m.script(MODULES, json!([]));
    let module = modules
        .as_array()
        .unwrap()
        .iter()
        .find(|mo| mo["name"] == json!(DEVICE))
        .cloned()
        .unwrap_or_else(|| panic!("the policy did not load the module: {modules}"));
    assert_eq!(module["lib"], json!(ours().to_str().unwrap()), "{module}");
    assert!(
        module["tokens"].as_array().unwrap().contains(&json!(label)),
        "the card's token is not in {module}"
    );

    // 4. A wrong PIN: NSS presents it once, asks again (the test cancels), the card counts
    // one failed try.
    assert_eq!(tries(card), Some(3));
    let wrong = m.script(LOGIN, json!([DEVICE, ["0000"]]));
    eprintln!("[{generation}] Thunderbird, wrong PIN: {wrong}");
    assert_eq!(wrong["token"], json!(label), "{wrong}");
    assert_eq!(wrong["loggedIn"], json!(false), "{wrong}");
    // 0x805a1ff1: NSS's SEC_ERROR_BAD_PASSWORD (-8177) as a Gecko nsresult.
    assert!(
        wrong["error"]
            .as_str()
            .is_some_and(|e| e.contains("0x805a1ff1")),
        "the login did not fail with SEC_ERROR_BAD_PASSWORD: {wrong}"
    );
    assert_eq!(
        wrong["asked"].as_array().map(Vec::len),
        Some(2),
        "NSS asks again after the wrong PIN (the test cancels): {wrong}"
    );
    assert_eq!(
        tries(card),
        Some(2),
        "the wrong PIN was presented exactly once to the card"
    );

    // The right PIN.
    let login = m.script(LOGIN, json!([DEVICE, ["1234"]]));
    eprintln!("[{generation}] Thunderbird, right PIN: {login}");
    assert_eq!(login["module"], json!(ours().to_str().unwrap()), "{login}");
    assert_eq!(login["token"], json!(label), "{login}");
    assert_eq!(login["error"], Value::Null, "the login failed: {login}");
    assert_eq!(login["loggedIn"], json!(true), "{login}");
    assert_eq!(
        login["asked"].as_array().map(Vec::len),
        Some(1),
        "the PIN is asked once: {login}"
    );
    assert_eq!(tries(card), Some(3), "the right PIN restores the tries");

    // 2. The card's certificates in Thunderbird's certificate database.
    let certs = m.script(CERTS, json!([label]));
    eprintln!("[{generation}] certificates on the token: {certs}");
    let certs = certs.as_array().unwrap().clone();
    assert!(certs.len() >= 2, "authentication and signature: {certs:?}");
    for c in &certs {
        let subject = c["subject"].as_str().unwrap();
        assert!(
            subject.contains("MARTIN") && subject.contains("CLAIRE"),
            "{subject}"
        );
    }
    let sign_der = std::fs::read(pki().join("rsa2048/dr-martin/sign.crt.der")).unwrap();
    let sign = certs
        .iter()
        .find(|c| c["fingerprint"] == json!(fingerprint(&sign_der)))
        .unwrap_or_else(|| panic!("the signature certificate is not in {certs:?}"));

    // 3. A signed mail by Thunderbird's S/MIME code.
    let signed = m.script(
        SIGN,
        json!([
            pem_base64(&pki().join("ca/root.crt.pem")),
            pem_base64(&pki().join("ca/persons.crt.pem")),
            sign["dbKey"],
            BODY
        ]),
    );
    m.quit();
    let elapsed = started.elapsed();
    drop(tb);
    let mail = signed["mail"]
        .as_str()
        .unwrap_or_else(|| panic!("Thunderbird did not sign: {signed}"))
        .to_owned();
    assert!(
        mail.contains("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256;"),
        "{mail}"
    );
    assert!(mail.contains("filename=\"smime.p7s\""), "{mail}");
    let (ok, out, content, signer) = verify(dir, &format!("{generation}.eml"), &mail);
    assert!(
        ok,
        "openssl cms -verify refused Thunderbird's mail: {out}\n{mail}"
    );
    assert!(
        String::from_utf8_lossy(&content).contains("Compte rendu de consultation"),
        "the verified content: {}",
        String::from_utf8_lossy(&content)
    );
    assert_eq!(
        signer, sign_der,
        "the signer is the card's signature certificate"
    );
    // The CMS structure: SHA-256 digest, RSA PKCS#1 v1.5 signature (rsaEncryption).
    let eml = dir.join(format!("{generation}.eml"));
    let (printed, cms) = openssl(&[
        "cms",
        "-cmsout",
        "-print",
        "-noout",
        "-inform",
        "SMIME",
        "-in",
        eml.to_str().unwrap(),
    ]);
    assert!(printed, "{cms}");
    assert!(
        cms.contains("algorithm: sha256") && cms.contains("algorithm: rsaEncryption"),
        "{cms}"
    );
    // The signature covers the text: one changed word and openssl refuses the mail.
    let tampered = mail.replacen(
        "Compte rendu de consultation",
        "Compte rendu de consultatiom",
        1,
    );
    assert_ne!(tampered, mail);
    let (ok, out, _, _) = verify(dir, &format!("{generation}-changed.eml"), &tampered);
    assert!(!ok, "openssl accepted a changed mail: {out}");
    assert!(
        out.contains("digest failure") || out.contains("verification failure"),
        "{out}"
    );
    eprintln!("[{generation}] changed mail refused: {}", out.trim());
    format!(
        "{generation} Thunderbird: module by policy, token \"{label}\", wrong PIN refused after one try on the card (3 -> 2), right PIN (-> 3), {} certificates of the holder, S/MIME multipart/signed (sha-256) verified by openssl cms against the test PKI, changed text refused ({:.1} s)",
        certs.len(),
        elapsed.as_secs_f64()
    )
}

#[test]
fn thunderbird_smime_signing_on_the_simulated_cards() {
    let module = ours();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if !thunderbird_dir().join("thunderbird-bin").exists() {
        return skip_or_fail(&format!(
            "Thunderbird is not installed in {} (Debian package thunderbird; .ci/run installs it)",
            thunderbird_dir().display()
        ));
    }
    if run("openssl", &["version"]).is_none() {
        return skip_or_fail("openssl is not installed");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-thunderbird-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // `thunderbird` is a link to `thunderbird-bin`, the real binary.
    let binary = cps_testkit::gecko::private_install(
        &thunderbird_dir(),
        &dir.join("thunderbird"),
        "thunderbird-bin",
        &["thunderbird"],
    );
    cps_testkit::gecko::write_policies(
        binary.parent().unwrap(),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/policies.json"),
        Some(&module),
    );

    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        report.push(sign_mail(generation, &dir, &binary, &handle));
        remove(&ctx, handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== Thunderbird on the simulated cards\n{}",
        report.join("\n")
    );
}
