#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! The CPS4 contactless side as an establishment meets it, through the real PC/SC stack:
//! `cps sim serve --profile cps4 --contactless` in pcscd's vsmartcard reader; native DESFire
//! frames and the reader's pseudo-APDUs with `cps apdu`; `cps desfire provision` (dry run,
//! run, second run) and `cps desfire door-check --profile` at 4 card exchanges; then
//! python-desfire 0.1.5 (PyPI; an implementation no one here wrote, sending native frames
//! through pyscard) runs GetVersion, GetApplicationIDs, PICC authentication with the default
//! key and reads the provisioned badge (scripts/python_desfire_check.py); negative card
//! states (no application, wrong keys, expired badge, another establishment's card).
//!
//! Needs pcscd running (scripts/with-pcscd.sh) and `DESFIRE_PYTHON` naming a Python with
//! `python-desfire==0.1.5` and pyscard (scripts/test.sh prepares `target/py-desfire`).
//! Without them the test prints SKIPPED, except under CI=true where it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use cps_transport::pcsc::PcscContext;

/// The second vpcd slot ("Virtual PCD 00 01").
const PORT: &str = "35964";
const READER: &str = "Virtual PCD 00 01";
const DOOR_KEY: &str = "101112131415161718191A1B1C1D1E1F";
const KEYS: &str = "# establishment keys (TEST)\n\
                    app-master-key = 000102030405060708090A0B0C0D0E0F\n\
                    door-master-key = 101112131415161718191A1B1C1D1E1F\n";
const PROFILE: &str = "# door profile (TEST)\naid = F51001\nfile = 1\nkey = 1\ncomm = mac\n\
                       diversification = uid-aid-key-system\nsystem-id = 43485520416E6E656379\n";

fn skip_or_fail(reason: &str) {
    cps_transport::pcsc::testing::skip_or_fail(&format!(
        "the python-desfire check cannot run: {reason}"
    ));
}

/// A running `cps sim serve --contactless`, stopped (killed) even when an assertion fails,
/// and gone from the reader before the next test binary serves its own card there (pcscd
/// notices a removal about 0.4 s later).
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if let Ok(ctx) = PcscContext::establish() {
            let _ = ctx.wait_for_removal(READER, Duration::from_secs(10));
        }
    }
}

fn serve() -> Served {
    Served(
        Command::new(env!("CARGO_BIN_EXE_cps"))
            .args([
                "sim",
                "serve",
                "--profile",
                "cps4",
                "--persona",
                "dr-martin",
                "--contactless",
                "--port",
                PORT,
            ])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn cps(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(["--reader", READER])
        .args(args)
        .stdin(Stdio::null())
        .env_remove("CPS_DESFIRE_DOOR_MASTER_KEY")
        .env_remove("CPS_DESFIRE_APP_MASTER_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {:?}", text(o)))
}

/// A private directory with the door profile and the key file.
fn files() -> (PathBuf, String, String) {
    let dir = std::env::temp_dir().join(format!("cps-desfire-python-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profile = dir.join("door.conf");
    let keys = dir.join("establishment.keys");
    std::fs::write(&profile, PROFILE).unwrap();
    std::fs::write(&keys, KEYS).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    (
        dir,
        profile.display().to_string(),
        keys.display().to_string(),
    )
}

#[test]
fn establishment_badge_through_pcscd_with_python_desfire() {
    let Ok(python) = std::env::var("DESFIRE_PYTHON") else {
        return skip_or_fail("DESFIRE_PYTHON not set (run scripts/test.sh)");
    };
    if !std::path::Path::new("/run/pcscd/pcscd.comm").exists() {
        return skip_or_fail("pcscd not running (run scripts/test.sh)");
    }
    let ctx = PcscContext::establish().unwrap();
    let (dir, profile, keys) = files();
    // A card a previous test left in the reader is gone first.
    ctx.wait_for_removal(READER, Duration::from_secs(10))
        .unwrap();
    let _served = serve();
    ctx.wait_for_card(Some(READER), Duration::from_secs(10))
        .expect("served contactless CPS4 seen by pcscd");
    let door_env = [("CPS_DESFIRE_DOOR_MASTER_KEY", DOOR_KEY)];
    let provision = |extra: &[&str]| {
        let mut args = vec![
            "--json",
            "desfire",
            "provision",
            "--profile",
            &profile,
            "--keys",
            &keys,
            "--holder",
            "810001234567",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2026-12-31",
        ];
        args.extend_from_slice(extra);
        cps(&args, &[])
    };
    let door = |extra: &[&str], env: &[(&str, &str)]| {
        let mut args = vec!["--json", "desfire", "door-check", "--profile", &profile];
        args.extend_from_slice(extra);
        cps(&args, env)
    };

    // Native frames through pcscd: the 1-byte GetVersion is answered (it used to hang).
    let o = cps(&["apdu", "--native", "60", "AF", "AF", "60 00"], &[]);
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("< AF 04 01 01 33 00 1A 05   DESFire AF ADDITIONAL_FRAME"),
        "{stdout}"
    );
    assert!(stdout.contains("DESFire 00 OPERATION_OK"), "{stdout}");
    assert!(
        stdout.contains("< 7E   DESFire 7E LENGTH_ERROR"),
        "{stdout}"
    );
    // The reader's pseudo-APDUs and ISO-wrapped statuses with their names.
    let o = cps(
        &[
            "apdu",
            "FF CA 00 00 00",
            "FF CA 01 00 00",
            "FF CA 02 00 00",
            "90 5A 00 00 03 01 10 F5 00",
        ],
        &[],
    );
    let (stdout, _) = text(&o);
    let uid_line = stdout
        .lines()
        .find(|l| l.starts_with("< ") && l.ends_with("success"))
        .unwrap();
    let uid: String = uid_line[2..uid_line.len() - "90 00   success".len()]
        .split_whitespace()
        .collect();
    assert_eq!(uid.len(), 14, "7-byte UID: {stdout}");
    assert!(stdout.contains("< 80 90 00"), "{stdout}");
    assert!(stdout.contains("< 6A 81"), "{stdout}");
    assert!(
        stdout.contains("91 A0   DESFire A0 APPLICATION_NOT_FOUND"),
        "{stdout}"
    );

    // Before provisioning: no application, the door refuses (exit 8).
    let o = door(&[], &door_env);
    assert_eq!(o.status.code(), Some(8), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("application F51001 not found"),
        "{:?}",
        text(&o)
    );

    // Dry run: the plan, nothing written.
    let o = provision(&["--dry-run"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let plan = json(&o);
    assert_eq!(plan["changed"], false);
    assert_eq!(plan["uid"], uid.as_str());
    let would = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == "would_do")
        .count();
    assert_eq!(would, 6, "{plan}");
    assert_eq!(door(&[], &door_env).status.code(), Some(8));

    // The run, then a second one that changes nothing.
    let o = provision(&[]);
    assert!(o.status.success(), "{:?}", text(&o));
    let first = json(&o);
    assert_eq!(first["changed"], true);
    let o = provision(&[]);
    let second = json(&o);
    assert_eq!(second["changed"], false, "{second}");
    println!(
        "provisioning through pcscd: {} exchanges, second run {}",
        first["exchanges"], second["exchanges"]
    );

    // The door: the UID from the reader, 4 card exchanges.
    let o = door(&["--at", "2026-06-15"], &door_env);
    assert!(o.status.success(), "{:?}", text(&o));
    let granted = json(&o);
    assert_eq!(granted["granted"], true);
    assert_eq!(granted["exchanges"], 4);
    assert_eq!(granted["uid_from_reader"], true);
    assert_eq!(granted["holder"], "810001234567");
    // Expired, another door key: refused, the cause said once.
    let o = door(&["--at", "2027-02-01"], &door_env);
    assert_eq!(o.status.code(), Some(8));
    assert!(text(&o).1.contains("not on 2027-02-01"), "{:?}", text(&o));
    let o = door(
        &[],
        &[(
            "CPS_DESFIRE_DOOR_MASTER_KEY",
            "00112233445566778899AABBCCDDEEFF",
        )],
    );
    assert_eq!(o.status.code(), Some(8));
    let (_, stderr) = text(&o);
    assert_eq!(
        stderr.matches("authentication failed").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("AE AUTHENTICATION_ERROR"), "{stderr}");
    // No door key anywhere: a usage error, nothing sent.
    let o = door(&[], &[]);
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));

    // python-desfire 0.1.5, native frames: GetVersion, GetApplicationIDs, PICC
    // authentication with the default key, the badge read with the diversified door key.
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/python_desfire_check.py"
    );
    let out = Command::new(&python)
        .args([
            script,
            READER,
            &uid,
            "F51001",
            "43485520416E6E656379",
            "1",
            "1",
            "810001234567",
        ])
        .env("CPS_DESFIRE_DOOR_MASTER_KEY", DOOR_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "python-desfire failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("python-desfire checks: all passed"),
        "{stdout}"
    );

    // Another establishment (other master keys) on this card: refused, nothing overwritten.
    let other = std::path::Path::new(&dir).join("other.keys");
    std::fs::write(
        &other,
        "app-master-key = F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF\ndoor-master-key = E0E1E2E3E4E5E6E7E8E9EAEBECEDEEEF\n",
    )
    .unwrap();
    let o = cps(
        &[
            "desfire",
            "provision",
            "--profile",
            &profile,
            "--keys",
            &other.display().to_string(),
            "--holder",
            "X1",
            "--valid-from",
            "2026-01-01",
            "--valid-until",
            "2026-01-31",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(5), "{:?}", text(&o));
    assert!(
        text(&o)
            .1
            .contains("neither the default key nor the establishment's"),
        "{:?}",
        text(&o)
    );
    let o = door(&["--at", "2026-06-15"], &door_env);
    assert!(o.status.success(), "the badge is intact: {:?}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
