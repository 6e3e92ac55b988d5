//! The module asking the PIN itself (protected authentication path), with the `cryptoki`
//! crate on the simulated CPS4 through pcscd + vsmartcard-vpcd: with `CPS_PKCS11_PINENTRY`
//! naming a pinentry program, the token has `CKF_PROTECTED_AUTHENTICATION_PATH` and
//! `C_Login` with a NULL PIN runs that program (GnuPG's Assuan protocol). Here the program is
//! a fake pinentry (`cps_testkit::FAKE_PINENTRY`, a shell script) that logs the commands it receives
//! and answers `GETPIN` with what the test put in a file beside it: the right PIN
//! (percent-encoded in part, as Assuan allows), a wrong PIN, a cancel.
//!
//! Asserted: the dialog names the card and shows the tries left (3, then 2 after a wrong PIN);
//! a wrong PIN is `CKR_PIN_INCORRECT` with exactly one try spent and one dialog (no automatic
//! re-prompt); a cancel is `CKR_FUNCTION_CANCELED` with no try spent; the right PIN logs in
//! (the private keys appear) and restores the counter; a PIN passed by the application still
//! works without any dialog; a missing program, or GnuPG's `pinentry-curses` without a
//! terminal (it accepts every command up to `GETPIN`), is `CKR_FUNCTION_FAILED`; without the
//! setting, the flag is absent and a NULL PIN is `CKR_ARGUMENTS_BAD`. With the PIN asked on
//! use (`CPS_PKCS11_PIN_ON_USE=1`): no `CKF_LOGIN_REQUIRED`, the signature key listed without
//! login, and the signature asks the PIN once (a wrong one: `CKR_PIN_INCORRECT` from
//! `C_SignInit`, one try spent; the right one: signed).
//!
//! The module reads the setting at `C_Initialize`; the environment of a running test cannot
//! be changed safely (edition 2024), so each step runs in a child process (this test binary
//! again, running the ignored test `pinentry_step`) with its own environment, while this
//! process keeps the simulated card and reads its try counter.
//!
//! Needs pcscd with vpcd, `/bin/sh` and `pinentry-curses`. Without them the test (or that
//! step) prints `SKIPPED` and passes, except under `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::path::Path;
use std::process::Command;

use cps_sim::{Profile, SimCard};
use cps_testkit::{SIG_ID, fake_pinentry, insert, pinentry_commands, remove};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::Error;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

/// The step a child process runs (see [`pinentry_step`]).
const STEP: &str = "CPS_PKCS11_TEST_PINENTRY_STEP";
/// The module's setting.
const PINENTRY: &str = "CPS_PKCS11_PINENTRY";
/// GnuPG's terminal pinentry on Debian.
const PINENTRY_CURSES: &str = "/usr/bin/pinentry-curses";

fn rv(r: Result<(), Error>) -> String {
    match r {
        Ok(()) => "ok".to_owned(),
        Err(Error::Pkcs11(rv, _)) => format!("{rv:?}"),
        Err(e) => format!("{e}"),
    }
}

/// One step, in a child process started by the test below: initialise the module (which
/// reads `CPS_PKCS11_PINENTRY`), log in on the card's token with a NULL PIN (`null`) or the
/// PIN `1234` (`given`), or sign without login (`use`, the PIN asked on use), and print what
/// happened.
#[test]
#[ignore = "one step of pinentry_asks_the_pin_once, run by it in a child process"]
fn pinentry_step() {
    let Ok(step) = std::env::var(STEP) else {
        return;
    };
    let p11 = Pkcs11::new(cps_testkit::pkcs11_module()).unwrap();
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p11.get_slots_with_token().unwrap()[0];
    let info = p11.get_token_info(slot).unwrap();
    println!("RESULT protected={}", info.protected_authentication_path());
    let session = p11.open_ro_session(slot).unwrap();
    if step == "use" {
        // The PIN asked on use: no login; the keys are listed, the signature asks the PIN.
        println!("RESULT login_required={}", info.login_required());
        let keys = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Id(hex::decode(SIG_ID).unwrap()),
            ])
            .unwrap();
        println!("RESULT keys_before_login={}", keys.len());
        // What the card would refuse anyway is refused without asking the PIN: the
        // signature key cannot decrypt.
        let refused = session
            .decrypt(&Mechanism::RsaPkcs, keys[0], &[0u8; 256])
            .map(|_| ());
        println!("RESULT decrypt_with_signature_key={}", rv(refused));
        let signed = session
            .sign(&Mechanism::Sha256RsaPkcs, keys[0], b"ordonnance n. 8")
            .map(|_| ());
        println!("RESULT sign={}", rv(signed));
    } else {
        let login = match step.as_str() {
            "given" => session.login(UserType::User, Some(&AuthPin::new("1234".into()))),
            _ => session.login(UserType::User, None),
        };
        println!("RESULT login={}", rv(login));
    }
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    println!("RESULT keys={}", keys.len());
    drop(session);
    p11.finalize().unwrap();
}

/// Runs one step in a child process with the pinentry `program` (none: the setting unset)
/// and, for the step `use`, the PIN asked on use (`CPS_PKCS11_PIN_ON_USE=1`): its `RESULT`
/// lines.
fn step(name: &str, program: Option<&Path>) -> Vec<String> {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    // No terminal for a terminal pinentry.
    cmd.env_remove("GPG_TTY");
    cmd.args([
        "--exact",
        "pinentry_step",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(STEP, name);
    match program {
        Some(p) => cmd.env(PINENTRY, p),
        None => cmd.env_remove(PINENTRY),
    };
    if name == "use" {
        cmd.env("CPS_PKCS11_PIN_ON_USE", "1");
    } else {
        cmd.env_remove("CPS_PKCS11_PIN_ON_USE");
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "step {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<String> = stdout
        .lines()
        // libtest may print "test pinentry_step ... " before the first line.
        .filter_map(|l| l.split_once("RESULT ").map(|(_, r)| r.to_owned()))
        .collect();
    eprintln!("[{name}] {results:?}");
    results
}

fn described(commands: &[String]) -> String {
    commands
        .iter()
        .find_map(|c| c.strip_prefix("SETDESC "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn pinentry_asks_the_pin_once() {
    if !Path::new("/bin/sh").exists() {
        return cps_testkit::skip_or_fail("the pinentry test", "/bin/sh is missing");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return cps_testkit::skip_or_fail("the pinentry test", &why),
    };
    let dir = std::env::temp_dir().join(format!("cps-pinentry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fake = fake_pinentry(&dir, "9999");
    let answer = |a: &str| std::fs::write(dir.join("answer"), a).unwrap();
    let handle = insert(&ctx, SimCard::new(Profile::Cps4, "dr-martin").unwrap());
    let tries = || handle.card().tries_left(0x01);

    // Not configured: no flag, a NULL PIN is refused, no dialog.
    let r = step("null", None);
    assert_eq!(r, ["protected=false", "login=ArgumentsBad", "keys=0"]);
    assert!(pinentry_commands(&dir).is_empty());

    // A wrong PIN: one dialog (card named, 3 tries), CKR_PIN_INCORRECT, one try spent.
    answer("9999");
    let r = step("null", Some(&fake));
    assert_eq!(r, ["protected=true", "login=PinIncorrect", "keys=0"]);
    let commands = pinentry_commands(&dir);
    eprintln!("[wrong PIN] the fake pinentry received {commands:?}");
    assert_eq!(
        commands.iter().filter(|c| *c == "GETPIN").count(),
        1,
        "one dialog, no re-prompt: {commands:?}"
    );
    assert!(commands.iter().any(|c| c.starts_with("SETTITLE ")));
    assert!(commands.iter().any(|c| c == "SETPROMPT PIN:"));
    let desc = described(&commands);
    assert!(
        desc.contains("CPS4 dr-martin") && desc.contains("3 tries left"),
        "{desc}"
    );
    assert_eq!(tries(), Some(2), "exactly one try spent");

    // Cancelled: CKR_FUNCTION_CANCELED, nothing sent to the card; the dialog showed 2 tries.
    answer("cancel");
    let r = step("null", Some(&fake));
    assert_eq!(r, ["protected=true", "login=FunctionCanceled", "keys=0"]);
    let commands = pinentry_commands(&dir);
    assert!(
        described(&commands).contains("2 tries left"),
        "{commands:?}"
    );
    assert!(!commands.iter().any(|c| c == "BYE"), "{commands:?}");
    assert_eq!(tries(), Some(2));

    // The right PIN, percent-encoded in part ("1%3234" is 1234): logged in, keys listed,
    // counter restored.
    answer("1%3234");
    let r = step("null", Some(&fake));
    assert_eq!(r, ["protected=true", "login=ok", "keys=2"]);
    let commands = pinentry_commands(&dir);
    assert!(
        described(&commands).contains("2 tries left"),
        "{commands:?}"
    );
    assert_eq!(commands.last().map(String::as_str), Some("BYE"));
    assert_eq!(tries(), Some(3));

    // A PIN given by the application: no dialog.
    answer("9999");
    let r = step("given", Some(&fake));
    assert_eq!(r, ["protected=true", "login=ok", "keys=2"]);
    assert!(
        pinentry_commands(&dir).is_empty(),
        "no dialog for a given PIN"
    );

    // A program that does not exist: CKR_FUNCTION_FAILED, no try spent.
    let r = step("null", Some(&dir.join("no-such-pinentry")));
    assert_eq!(r, ["protected=true", "login=FunctionFailed", "keys=0"]);
    assert_eq!(tries(), Some(3));

    // GnuPG's pinentry-curses (Debian package pinentry-curses) takes every command up to
    // GETPIN, which it refuses without a terminal (no GPG_TTY here): CKR_FUNCTION_FAILED, no
    // try spent.
    let curses = Path::new(PINENTRY_CURSES);
    if curses.exists() {
        let r = step("null", Some(curses));
        assert_eq!(r, ["protected=true", "login=FunctionFailed", "keys=0"]);
        assert_eq!(tries(), Some(3));
    } else {
        cps_testkit::skip_or_fail(
            "the pinentry test's step with GnuPG's pinentry",
            &format!("{PINENTRY_CURSES} is not installed (Debian package pinentry-curses)"),
        );
    }

    // The PIN asked on use (CPS_PKCS11_PIN_ON_USE=1): no CKF_LOGIN_REQUIRED, the signature
    // key listed without login, the signature asks the PIN once (wrong: CKR_PIN_INCORRECT
    // from C_SignInit, one try spent; right: signed, private data objects then listed).
    answer("9999");
    let r = step("use", Some(&fake));
    assert_eq!(
        r,
        [
            "protected=true",
            "login_required=false",
            "keys_before_login=1",
            "decrypt_with_signature_key=KeyFunctionNotPermitted",
            "sign=PinIncorrect",
            "keys=2"
        ]
    );
    assert_eq!(
        pinentry_commands(&dir)
            .iter()
            .filter(|c| *c == "GETPIN")
            .count(),
        1
    );
    assert_eq!(tries(), Some(2));
    answer("1234");
    let r = step("use", Some(&fake));
    assert_eq!(
        r,
        [
            "protected=true",
            "login_required=false",
            "keys_before_login=1",
            "decrypt_with_signature_key=KeyFunctionNotPermitted",
            "sign=ok",
            "keys=2"
        ]
    );
    let commands = pinentry_commands(&dir);
    assert_eq!(commands.iter().filter(|c| *c == "GETPIN").count(), 1);
    assert!(
        described(&commands).contains("2 tries left"),
        "{commands:?}"
    );
    assert_eq!(tries(), Some(3));

    // A pinentry that closes its input and greets: the module's next write fails with EPIPE.
    // Loaded by a C program that does not ignore SIGPIPE (pkcs11-tool logs in with a NULL PIN
    // on a protected-path token), the module must give an error, not a signal that kills it.
    let early = dir.join("early-exit-pinentry");
    std::fs::write(&early, "#!/bin/sh\nexec 0<&-\necho 'OK ready'\nsleep 1\n").unwrap();
    std::fs::set_permissions(&early, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    match Command::new("pkcs11-tool")
        .args(["--module", cps_testkit::pkcs11_module().to_str().unwrap()])
        .args(["--login", "--list-objects"])
        .env(PINENTRY, &early)
        .env_remove("CPS_PKCS11_PIN_ON_USE")
        .output()
    {
        Ok(out) => {
            use std::os::unix::process::ExitStatusExt as _;
            assert_eq!(
                out.status.signal(),
                None,
                "pkcs11-tool killed by a signal: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(!out.status.success());
            assert_eq!(tries(), Some(3));
        }
        Err(e) => cps_testkit::skip_or_fail(
            "the pinentry test's step with pkcs11-tool",
            &format!("pkcs11-tool (OpenSC) cannot run: {e}"),
        ),
    }

    remove(&ctx, handle);
    let _ = std::fs::remove_dir_all(&dir);
}
