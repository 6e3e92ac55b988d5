//! A real browser on the simulated CPS3 and CPS4 through pcscd + vsmartcard-vpcd: headless
//! Firefox ESR (Debian `firefox-esr`) loads our module by enterprise policy
//! (`SecurityDevices`), the test gives the PIN to the token, Firefox chooses the card's
//! certificate by itself (`security.default_personal_cert` = `Select Automatically`) when a
//! local `openssl s_server -Verify` asks for one, and the page shows the holder's name taken
//! from the certificate. TLS 1.2 with RSA PKCS#1 on the CPS3, TLS 1.3 (RSA-PSS) on the CPS4.
//!
//! Nothing is written outside a temporary directory: Firefox runs from a private copy of its
//! installation directory (its launcher copied, everything else linked), whose
//! `distribution/policies.json` holds the policy — where Firefox looks for policies next to
//! its binary when `/etc/firefox-esr/policies/policies.json` does not exist — with a fresh
//! profile (`user.js`) and `HOME`. The test drives it through Marionette (`--marionette`,
//! length-prefixed JSON) and, in its chrome context, logs into the token as the Security
//! Devices dialog does (`nsIPK11Token.login`), answering the PIN question NSS asks through
//! Firefox's prompter (replaced for that moment by one that answers the test's PIN).
//!
//! Needs pcscd with vpcd, `openssl` and Firefox ESR (`/usr/lib/firefox-esr`, or the directory
//! in `FIREFOX_ESR_DIR`). Without them the test prints `SKIPPED` and passes, except under
//! `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cps_sim::{Profile, SimCard};
use cps_testkit::gecko::{DEVICE, Gecko, LOGIN, MODULES, Marionette, free_port};
use cps_testkit::{TlsServer, insert, remove, run};
use serde_json::{Value, json};

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the Firefox test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// Where Firefox ESR is installed (Debian: `/usr/lib/firefox-esr`).
fn firefox_dir() -> PathBuf {
    std::env::var_os("FIREFOX_ESR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/firefox-esr"))
}

/// The shipped policy snippet.
fn shipped_policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/policies.json")
}

/// A private Firefox installation in `dir` (its launcher copied, every other entry linked)
/// whose `distribution/policies.json` loads `module` as a security device.
fn private_install(dir: &Path, module: &Path) -> PathBuf {
    let binary = cps_testkit::gecko::private_install(
        &firefox_dir(),
        &dir.join("firefox"),
        "firefox-esr",
        &["firefox-bin"],
    );
    write_policies(binary.parent().unwrap(), Some(module));
    binary
}

/// The policies of the private installation: the shipped snippet with its path set to
/// `module`, or none.
fn write_policies(app: &Path, module: Option<&Path>) {
    cps_testkit::gecko::write_policies(app, &shipped_policies(), module);
}

/// Starts Firefox with a fresh profile in `dir` and Marionette on `port`.
fn start_firefox(binary: &Path, dir: &Path, port: u16) -> Gecko {
    Gecko::start(
        binary,
        dir,
        port,
        &[
            // The certificate is chosen without a dialog.
            (
                "security.default_personal_cert",
                json!("Select Automatically"),
            ),
            ("browser.shell.checkDefaultBrowser", json!(false)),
            ("browser.safebrowsing.update.enabled", json!(false)),
        ],
    )
}

/// Connects to Firefox's Marionette port and opens a WebDriver session that accepts the
/// local server's self-signed certificate.
fn connect(port: u16, firefox: &mut Gecko) -> Marionette {
    Marionette::connect(port, firefox, json!({ "acceptInsecureCerts": true }))
}

/// One card: Firefox started with the policy, the PIN answered, the page of a server that
/// requires a client certificate. Returns a line for the report.
fn browse(generation: &str, dir: &Path, binary: &Path) -> String {
    let (tls, extra, protocol): (&str, &[&str], &str) = if generation == "CPS3" {
        // A CPS3 signs PKCS#1 v1.5 only: TLS 1.2 with RSA signature algorithms.
        (
            "-tls1_2",
            &["-client_sigalgs", "RSA+SHA256:RSA+SHA1"],
            "TLSv1.2",
        )
    } else {
        ("-tls1_3", &[], "TLSv1.3")
    };
    let server = TlsServer::start(dir, tls, extra);
    let port = free_port();
    let started = Instant::now();
    let mut firefox = start_firefox(binary, dir, port);
    let mut m = connect(port, &mut firefox);

    m.context("chrome");
    let login = m.script(LOGIN, json!([DEVICE, ["1234"]]));
    eprintln!("[{generation}] Firefox security devices: {login}");
    assert_eq!(
        login["module"],
        json!(ours().to_str().unwrap()),
        "the policy did not load the module: {login}"
    );
    assert_eq!(
        login["token"],
        json!(format!("{generation} dr-martin")),
        "{login}"
    );
    assert_eq!(
        login["asked"].as_array().map(Vec::len),
        Some(1),
        "the PIN is asked once: {login}"
    );
    assert!(
        login["asked"][0]
            .as_str()
            .is_some_and(|q| q.contains(&format!("{generation} dr-martin"))),
        "Firefox names the token when it asks the PIN: {login}"
    );
    assert_eq!(login["error"], Value::Null, "the login failed: {login}");
    assert_eq!(login["loggedIn"], json!(true), "{login}");

    m.context("content");
    let url = format!("https://127.0.0.1:{}/", server.port);
    m.command("WebDriver:Navigate", json!({ "url": url }))
        .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    let page = m.script("return document.body.innerText;", json!([]));
    let page = page.as_str().unwrap_or_default().to_owned();
    m.quit();
    let elapsed = started.elapsed();
    drop(firefox);
    drop(server);
    // s_server -www shows the protocol and the client's certificate (its subject and PEM).
    assert!(
        page.contains("Client certificate") && page.contains("MARTIN") && page.contains("CLAIRE"),
        "the page does not show the card holder's certificate:\n{page}"
    );
    assert!(page.contains(&format!("Protocol  : {protocol}")), "{page}");
    let holder = page
        .lines()
        .find(|l| l.contains("Subject:") && l.contains("MARTIN"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    eprintln!("[{generation}] page: {holder}");
    format!(
        "{generation} Firefox ESR: module by policy, PIN answered, certificate chosen automatically, {protocol}, page shows \"{holder}\" ({:.1} s)",
        elapsed.as_secs_f64()
    )
}

/// The test extension's id, added to the manifest's `allowed_extensions` in the test copy.
const EXTENSION_ID: &str = "cps-rs-test@cps-rs.invalid";

/// The Firefox native manifest (`crates/cps-pkcs11/dist/cps_rs.json`) as a user installs it
/// (`~/.mozilla/pkcs11-modules/`, in the test's `HOME`), its `path` set to the library cargo
/// built and the test extension allowed: Firefox without the policy, a temporary extension
/// with the `pkcs11` permission calls `browser.pkcs11.installModule("cps_rs")`, and the
/// module then shows the card's token. Returns a line for the report.
fn native_manifest(generation: &str, dir: &Path, binary: &Path) -> String {
    let shipped: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/cps_rs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        shipped["name"],
        json!("cps_rs"),
        "the file name is the name"
    );
    assert_eq!(shipped["type"], json!("pkcs11"));
    assert_eq!(shipped["path"], json!("/usr/local/lib/libcps_pkcs11.so"));
    let description = shipped["description"].as_str().unwrap().to_owned();
    let mut manifest = shipped.clone();
    manifest["path"] = json!(ours());
    manifest["allowed_extensions"] = json!([EXTENSION_ID]);
    let manifests = dir.join("home/.mozilla/pkcs11-modules");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("cps_rs.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let ext = dir.join("extension");
    std::fs::create_dir_all(&ext).unwrap();
    let ext_manifest = json!({
        "manifest_version": 2,
        "name": "cps-rs PKCS#11 test",
        "version": "1.0",
        "browser_specific_settings": { "gecko": { "id": EXTENSION_ID } },
        "permissions": ["pkcs11"],
        "background": { "scripts": ["background.js"] },
    });
    std::fs::write(
        ext.join("manifest.json"),
        serde_json::to_vec_pretty(&ext_manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(
        ext.join("background.js"),
        "browser.pkcs11.installModule(\"cps_rs\").catch(e => console.error(\"cps-rs test: \" + e.message));\n",
    )
    .unwrap();

    write_policies(binary.parent().unwrap(), None);
    let port = free_port();
    let mut firefox = start_firefox(binary, dir, port);
    let mut m = connect(port, &mut firefox);
    m.context("chrome");
    let before = m.script(MODULES, json!([]));
    assert!(
        !before.to_string().contains(ours().to_str().unwrap()),
        "the module is loaded before the extension asks: {before}"
    );
    m.command(
        "Addon:Install",
        json!({ "path": ext.to_str().unwrap(), "temporary": true }),
    )
    .unwrap_or_else(|e| panic!("installing the test extension: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let module = loop {
        let modules = m.script(MODULES, json!([]));
        let found = modules
            .as_array()
            .unwrap()
            .iter()
            .find(|mo| mo["lib"] == json!(ours().to_str().unwrap()))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the extension did not install the module: {modules}\n{}",
            std::fs::read_to_string(&firefox.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    m.quit();
    drop(firefox);
    write_policies(binary.parent().unwrap(), Some(&ours()));
    eprintln!("[{generation}] module installed by the extension: {module}");
    assert_eq!(module["name"], json!(description), "{module}");
    let label = format!("{generation} dr-martin");
    assert!(
        module["tokens"].as_array().unwrap().contains(&json!(label)),
        "the card's token is not in {module}"
    );
    format!(
        "{generation} Firefox ESR: native manifest cps_rs.json in ~/.mozilla/pkcs11-modules, browser.pkcs11.installModule(\"cps_rs\") by a test extension: module \"{description}\" shows \"{label}\""
    )
}

#[test]
fn firefox_esr_client_auth_on_the_simulated_cards() {
    let module = ours();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if !firefox_dir().join("firefox-esr").exists() {
        return skip_or_fail(&format!(
            "Firefox ESR is not installed in {} (Debian package firefox-esr; .ci/run installs it)",
            firefox_dir().display()
        ));
    }
    if run("openssl", &["version"]).is_none() {
        return skip_or_fail("openssl is not installed");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-firefox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let binary = private_install(&dir, &module);

    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        report.push(browse(generation, &dir, &binary));
        if generation == "CPS4" {
            report.push(native_manifest(generation, &dir, &binary));
        }
        assert_eq!(
            handle.card().tries_left(0x01),
            Some(3),
            "the PIN was presented once, right"
        );
        remove(&ctx, handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== Firefox ESR on the simulated cards\n{}",
        report.join("\n")
    );
}
