//! The p11-kit module file (`crates/cps-pkcs11/dist/cps-rs.module`) installed as an
//! administrator installs it, in p11-kit's system module directory
//! (`/usr/share/p11-kit/modules/`), on the simulated CPS3 and CPS4 through pcscd +
//! vsmartcard-vpcd: `p11-kit list-modules` shows the module and the card's token, and
//! OpenSC's `pkcs11-tool` through p11-kit's proxy module (`p11-kit-proxy.so`, what GnuTLS,
//! GLib and other p11-kit users load) lists the token and, after login, the card's keys.
//!
//! p11-kit reads user module files (`~/.config/pkcs11/modules/`) only in programs not
//! running as root, and tests run as root in CI: the test installs the file in the system
//! directory, but in a private mount namespace (`unshare -m`) where a temporary directory is
//! mounted over `/usr/share/p11-kit/modules`, so nothing outside the test sees it. The file
//! is the shipped one with its `module:` line pointing at the library cargo built.
//!
//! Needs root, `unshare` (util-linux), pcscd with vpcd, p11-kit (`p11-kit`,
//! `p11-kit-modules`) and `pkcs11-tool`. Without them the test prints `SKIPPED` and passes,
//! except under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};

use cps_sim::{Profile, SimCard};
use cps_testkit::{insert, remove, run};

/// p11-kit's system module directory on Debian.
const SYSTEM_MODULES: &str = "/usr/share/p11-kit/modules";
/// p11-kit's proxy module on Debian (package p11-kit-modules).
const PROXY: &str = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so";

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the p11-kit test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// Runs `args` in a private mount namespace where `modules` is p11-kit's system module
/// directory: (success, output).
fn with_modules(modules: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec![
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        r#"mount --bind "$1" "$2" && shift 2 && exec "$@""#,
        "sh",
        modules.to_str().unwrap(),
        SYSTEM_MODULES,
    ];
    all.extend_from_slice(args);
    run("unshare", &all).expect("unshare is installed")
}

#[test]
fn p11_kit_module_file_on_the_simulated_cards() {
    let module = ours();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if run("p11-kit", &["--help"]).is_none() || !Path::new(PROXY).exists() {
        return skip_or_fail("p11-kit and p11-kit-modules are not installed");
    }
    if run("pkcs11-tool", &["--help"]).is_none() {
        return skip_or_fail("pkcs11-tool (opensc) is not installed");
    }
    if !Path::new(SYSTEM_MODULES).is_dir() {
        return skip_or_fail(&format!("{SYSTEM_MODULES} does not exist"));
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

    // The shipped module file, its library path set to the one cargo built.
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/cps-rs.module"))
            .unwrap();
    assert!(
        shipped
            .lines()
            .any(|l| l == "module: /usr/local/lib/libcps_pkcs11.so"),
        "{shipped}"
    );
    let file = shipped.replace(
        "module: /usr/local/lib/libcps_pkcs11.so",
        &format!("module: {}", module.display()),
    );
    let dir = std::env::temp_dir().join(format!("cps-p11kit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cps-rs.module"), file).unwrap();

    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        let label = format!("{generation} dr-martin");

        let (ok, out) = with_modules(&dir, &["p11-kit", "list-modules"]);
        eprintln!("--- [{generation}] p11-kit list-modules\n{out}");
        assert!(ok, "{out}");
        assert!(
            out.contains(&format!("cps-rs: {}", module.display())),
            "p11-kit did not load the module file: {out}"
        );
        assert!(
            out.contains(&format!("token: {label}")) && out.contains("model: IAS ECC"),
            "{out}"
        );

        let (ok, out) = with_modules(&dir, &["pkcs11-tool", "--module", PROXY, "-L"]);
        eprintln!("--- [{generation}] pkcs11-tool via p11-kit-proxy -L\n{out}");
        assert!(
            ok && out.contains(&format!("token label        : {label}")),
            "{out}"
        );
        let (ok, out) = with_modules(
            &dir,
            &[
                "pkcs11-tool",
                "--module",
                PROXY,
                "--token-label",
                &label,
                "--login",
                "--pin",
                "1234",
                "-O",
                "--type",
                "privkey",
            ],
        );
        eprintln!("--- [{generation}] pkcs11-tool via p11-kit-proxy -O --login\n{out}");
        assert!(
            ok && out.contains("CPS_PRIV_SIG") && out.contains("CPS_PRIV_AUT"),
            "{out}"
        );
        assert_eq!(handle.card().tries_left(0x01), Some(3));
        report.push(format!(
            "{generation} p11-kit: list-modules shows cps-rs and \"{label}\"; pkcs11-tool via p11-kit-proxy.so lists the token and both keys after login"
        ));
        remove(&ctx, handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== p11-kit on the simulated cards\n{}",
        report.join("\n")
    );
}
