//! A real Chromium (Debian `chromium`) on the simulated CPS3 and CPS4 through pcscd +
//! vsmartcard-vpcd: our module added to the user's NSS database (`~/.pki/nssdb`, where
//! Chromium on Linux reads PKCS#11 modules) with `modutil`, the certificate chosen by the
//! managed policy `AutoSelectCertificateForUrls`, the PIN asked by the module itself through
//! a pinentry program (the shipped `dist/chromium-cps-rs` in `/etc/chromium.d`, which
//! Debian's `/usr/bin/chromium` sources: `CPS_PKCS11_PINENTRY` — here the fake pinentry of
//! `cps_testkit` — and `CPS_PKCS11_PIN_ON_USE=1`), and
//! `chromium --headless=new --dump-dom` prints the page of a local `openssl s_server -Verify`
//! that requires a client certificate: it must show the holder's name from the card's
//! certificate. TLS 1.2 with RSA PKCS#1 on the CPS3, TLS 1.3 (RSA-PSS) on the CPS4.
//!
//! Why the PIN is asked on use (`CPS_PKCS11_PIN_ON_USE=1`) and not at `C_Login`: NSS calls
//! `C_Login` for a token with `CKF_PROTECTED_AUTHENTICATION_PATH` (with a NULL PIN) only
//! after the application's password callback answered something (`PK11_DoPassword`,
//! `pk11_CheckPassword` in NSS `pk11auth.c`), and Chromium's callback opens its own password
//! dialog (`ShowCryptoModulePasswordDialog`; "TODO(mattm): handle protectedAuthPath"), which
//! nobody answers in headless mode. Observed with Chromium 156 and `CPS_PKCS11_PINENTRY`
//! alone: the pinentry program is never run (no `C_Login`), and `--dump-dom` gives an empty
//! page after `--timeout` ("Page load timed out"). With the PIN asked on use, the token needs
//! no login (no `CKF_LOGIN_REQUIRED`), NSS finds the key without one, and the module runs
//! pinentry at the first signature (docs/pkcs11.md).
//!
//! Nothing is written outside a temporary directory: a private `HOME` (its `.pki/nssdb`),
//! a private profile (`--user-data-dir`), and the policy file and the `chromium.d` file in a
//! private mount namespace (`unshare -m`) where temporary directories are mounted over
//! `/etc/chromium` and `/etc/chromium.d`.
//!
//! Needs root, `unshare`, pcscd with vpcd, `openssl`, `modutil` / `certutil`
//! (libnss3-tools) and `chromium`. Without them the test prints `SKIPPED` and passes,
//! except under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use cps_sim::{Profile, SimCard};
use cps_testkit::{
    TlsServer, fake_pinentry, insert, nss_db_with_module, pinentry_commands, remove, run, run_env,
};

/// The name of the module in the NSS database.
const DEVICE: &str = "CPS (cps-rs)";
/// Chromium's system configuration directory on Debian (its managed policies are in
/// `policies/managed/` there).
const CHROMIUM_ETC: &str = "/etc/chromium";
/// The shell files Debian's `/usr/bin/chromium` sources before starting Chromium.
const CHROMIUM_D: &str = "/etc/chromium.d";

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the Chromium test", reason);
}

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// A fresh NSS database in `home/.pki/nssdb` with our module added, as the README says.
fn nss_db(home: &Path, module: &Path) {
    nss_db_with_module(&home.join(".pki/nssdb"), DEVICE, module);
}

/// A copy of the packaged files of `from` in `to` (for the mount namespace).
fn copy_files(from: &str, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// `/etc/chromium.d` for the mount namespace: the packaged files, plus the shipped
/// `crates/cps-pkcs11/dist/chromium-cps-rs` as `cps-rs`, its pinentry set to `pinentry`.
fn chromium_d(dir: &Path, pinentry: &Path) -> PathBuf {
    let d = dir.join("etc-chromium.d");
    copy_files(CHROMIUM_D, &d);
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/chromium-cps-rs"))
            .unwrap();
    let line = "export CPS_PKCS11_PINENTRY=/usr/bin/pinentry";
    assert!(shipped.lines().any(|l| l == line), "{shipped}");
    assert!(
        shipped
            .lines()
            .any(|l| l == "export CPS_PKCS11_PIN_ON_USE=1"),
        "{shipped}"
    );
    let file = shipped.replace(
        line,
        &format!("export CPS_PKCS11_PINENTRY={}", pinentry.display()),
    );
    std::fs::write(d.join("cps-rs"), file).unwrap();
    d
}

/// `/etc/chromium` for the mount namespace: the packaged files, plus the managed policy that
/// selects the client certificate for `https://127.0.0.1:<port>` without asking.
fn chromium_etc(dir: &Path, port: u16) -> PathBuf {
    let etc = dir.join("etc-chromium");
    copy_files(CHROMIUM_ETC, &etc);
    std::fs::create_dir_all(etc.join("policies/managed")).unwrap();
    let rule = serde_json::json!({ "pattern": format!("https://127.0.0.1:{port}"), "filter": {} });
    let policy = serde_json::json!({ "AutoSelectCertificateForUrls": [rule.to_string()] });
    std::fs::write(
        etc.join("policies/managed/cps-rs.json"),
        serde_json::to_vec_pretty(&policy).unwrap(),
    )
    .unwrap();
    etc
}

/// One card: Chromium opens the server's page. Returns a line for the report.
fn browse(generation: &str, dir: &Path, home: &Path, chromium_d: &Path) -> String {
    let (tls, extra, protocol): (&str, &[&str], &str) = if generation == "CPS3" {
        (
            "-tls1_2",
            &["-client_sigalgs", "RSA+SHA256:RSA+SHA1"],
            "TLSv1.2",
        )
    } else {
        ("-tls1_3", &[], "TLSv1.3")
    };
    let server = TlsServer::start(dir, tls, extra);
    let etc = chromium_etc(dir, server.port);
    let profile = dir.join(format!("profile-{generation}"));
    let url = format!("https://127.0.0.1:{}/", server.port);
    let home_s = home.to_str().unwrap().to_owned();
    let chromium = chromium();
    let profile_arg = format!("--user-data-dir={}", profile.display());
    let args = [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount --bind "$1" "$2" && mount --bind "$3" "$4" && shift 4 && exec "$@""#,
        "sh",
        etc.to_str().unwrap(),
        CHROMIUM_ETC,
        chromium_d.to_str().unwrap(),
        CHROMIUM_D,
        &chromium,
        "--headless=new",
        "--no-sandbox",
        "--ignore-certificate-errors",
        "--disable-gpu",
        "--no-first-run",
        // Stop waiting for the page after 30 s (then the DOM so far is printed).
        "--timeout=30000",
        &profile_arg,
        "--dump-dom",
        &url,
    ];
    let started = Instant::now();
    let (ok, page) = run_env(
        "unshare",
        &args,
        &[("HOME", home_s.as_str()), ("CPS_PKCS11_DEBUG", "1")],
    )
    .unwrap();
    let elapsed = started.elapsed();
    drop(server);
    let commands = pinentry_commands(dir);
    eprintln!("--- [{generation}] chromium --dump-dom {url}\n{page}");
    eprintln!("[{generation}] the pinentry received {commands:?}");
    assert!(ok, "{page}");
    assert!(
        page.contains("Client certificate") && page.contains("MARTIN") && page.contains("CLAIRE"),
        "the page does not show the card holder's certificate:\n{page}"
    );
    assert!(page.contains(&format!("Protocol  : {protocol}")), "{page}");
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
    let holder = page
        .lines()
        .find(|l| l.contains("Subject:") && l.contains("MARTIN"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    format!(
        "{generation} Chromium: module in ~/.pki/nssdb, certificate by AutoSelectCertificateForUrls, PIN by pinentry, {protocol}, page shows \"{holder}\" ({:.1} s)",
        elapsed.as_secs_f64()
    )
}

#[test]
fn chromium_client_auth_on_the_simulated_cards() {
    let module = cps_testkit::pkcs11_module();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    match run(&chromium(), &["--version"]) {
        Some((true, _)) => {}
        _ => {
            return skip_or_fail(
                "chromium is not installed (Debian package chromium; .ci/run installs it)",
            );
        }
    }
    if run("modutil", &["-help"]).is_none() || run("certutil", &["-H"]).is_none() {
        return skip_or_fail("modutil / certutil (libnss3-tools) are not installed");
    }
    if run("openssl", &["version"]).is_none() {
        return skip_or_fail("openssl is not installed");
    }
    if !Path::new(CHROMIUM_ETC).is_dir() || !Path::new(CHROMIUM_D).is_dir() {
        return skip_or_fail(&format!("{CHROMIUM_ETC} or {CHROMIUM_D} does not exist"));
    }
    match run("unshare", &["-m", "true"]) {
        Some((true, _)) => {}
        Some((false, out)) => {
            return skip_or_fail(&format!("no private mount namespace (root needed): {out}"));
        }
        None => return skip_or_fail("unshare (util-linux) is not installed"),
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-chromium-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let home = dir.join("home");
    nss_db(&home, &module);
    let pinentry = fake_pinentry(&dir, "1234");
    let chromium_d = chromium_d(&dir, &pinentry);

    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        report.push(browse(generation, &dir, &home, &chromium_d));
        assert_eq!(
            handle.card().tries_left(0x01),
            Some(3),
            "the PIN was presented once, right"
        );
        remove(&ctx, handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== Chromium on the simulated cards\n{}",
        report.join("\n")
    );
}
