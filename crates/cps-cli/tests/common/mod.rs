//! Shared by the `cps` binary tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_transport::VirtualCard;

const READER1: &str = "Virtual PCD 00 01";

/// Serialises the tests of one binary that use `Virtual PCD 00 01` (vpcd port 35964): one
/// card at a time in that reader.
pub static READER1_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Takes [`READER1_LOCK`], even if a previous holder panicked.
pub fn reader1() -> std::sync::MutexGuard<'static, ()> {
    READER1_LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs `cps` with `args` and extra environment variables, stdin closed.
pub fn cps_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cps")
}

/// Runs `cps`, expects exit code 0 and JSON on stdout.
pub fn ok_json(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let o = cps_env(args, env);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The `cps fido2` commands in sequence on `card`, served in `Virtual PCD 00 01` through
/// pcscd + vpcd (one card across several `cps` processes). Returns without testing (SKIPPED)
/// when pcscd is not running, except under CI=true where it fails.
pub fn fido2_flow<C: VirtualCard + Send + 'static>(card: C) {
    let Some(ctx) = cps_transport::pcsc::testing::context_or_skip() else {
        return;
    };
    let _reader = reader1();
    // pcscd must have seen the previous card leave, or the wait below would return at once
    // and `cps` would connect while the new card is being inserted.
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
    let handle = vpcd::spawn(card, VpcdConfig::with_port(35964)).unwrap();
    assert!(handle.wait_connected(Duration::from_secs(10)));
    ctx.wait_for_card(Some(READER1), Duration::from_secs(10))
        .unwrap();
    let r = ["--reader", READER1, "--json", "--pin-from", "env"];
    fn with<'a>(r: &[&'a str], more: &[&'a str]) -> Vec<&'a str> {
        r.iter().chain(more.iter()).copied().collect()
    }
    let args = |more: &[&'static str]| -> Vec<&'static str> { with(&r, more) };
    let pin = [("CPS_FIDO2_PIN", "123456")];

    let j = ok_json(
        &args(&["fido2", "enroll"]),
        &[("CPS_FIDO2_NEW_PIN", "123456")],
    );
    assert_eq!(j["result"], "FIDO2 PIN set");
    let j = ok_json(&args(&["fido2", "info"]), &[]);
    assert_eq!(j["enrolled"], true);
    assert_eq!(j["pin_retries"], 8);

    let j = ok_json(
        &args(&[
            "fido2",
            "register",
            "--rp",
            "hopital.example",
            "--user",
            "claire",
            "--resident",
        ]),
        &pin,
    );
    let cred = j["credential_id"].as_str().unwrap().to_owned();
    assert!(!cred.is_empty());
    assert_eq!(j["user_verified"], true);

    let j = ok_json(
        &args(&["fido2", "authenticate", "--rp", "hopital.example"]),
        &pin,
    );
    let a = &j["assertions"][0];
    assert_eq!(a["credential_id"], cred.as_str());
    assert_eq!(a["user_verified"], true);

    let j = ok_json(&args(&["fido2", "credentials"]), &pin);
    assert_eq!(j[0]["rp"], "hopital.example");
    assert_eq!(j[0]["user"], "claire");

    // Wrong FIDO2 PIN: exit code 6.
    let o = cps_env(
        &args(&["fido2", "authenticate", "--rp", "hopital.example"]),
        &[("CPS_FIDO2_PIN", "000000")],
    );
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    ok_json(
        &with(&r, &["fido2", "delete", "--credential", cred.as_str()]),
        &pin,
    );
    let j = ok_json(&args(&["fido2", "credentials"]), &pin);
    assert_eq!(j.as_array().unwrap().len(), 0);

    ok_json(
        &args(&["fido2", "change-pin"]),
        &[("CPS_FIDO2_PIN", "123456"), ("CPS_FIDO2_NEW_PIN", "654321")],
    );
    ok_json(
        &args(&["fido2", "credentials"]),
        &[("CPS_FIDO2_PIN", "654321")],
    );

    ok_json(&args(&["fido2", "reset", "--yes"]), &[]);
    let j = ok_json(&args(&["fido2", "info"]), &[]);
    assert_eq!(j["enrolled"], false);

    handle.remove().unwrap();
    let _ = ctx.wait_for_removal(READER1, Duration::from_secs(5));
}

/// At the reference update server `url` (admin token `bearer`): moves the first practice
/// situation of dr-martin's simulated CPS4 to BORDEAUX and schedules the renewal of its
/// certificates, so that the card has an update pending. Returns the card serial (hex).
pub fn schedule_update(url: &str, bearer: &str) -> String {
    let serial = hex::encode_upper(
        cps_sim::SimCard::new(cps_sim::Profile::Cps4, "dr-martin")
            .unwrap()
            .serial(),
    );
    let card: serde_json::Value = minreq::get(format!("{url}/v1/cards/{serial}"))
        .with_header("Authorization", bearer)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut situations = card["situations"].clone();
    situations[0]["city"] = "BORDEAUX".into();
    let r = minreq::put(format!("{url}/v1/cards/{serial}/situations"))
        .with_header("Authorization", bearer)
        .with_json(&situations)
        .unwrap()
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204);
    let r = minreq::post(format!("{url}/v1/cards/{serial}/renewal"))
        .with_header("Authorization", bearer)
        .with_body("{}")
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204);
    serial
}

/// A `cps update-server` on a free loopback port, seeded with the simulated cards, its
/// SQLite database in its own directory, administered with a fixed TEST key; stopped and
/// removed when dropped.
pub struct UpdateServer {
    child: std::process::Child,
    dir: std::path::PathBuf,
    /// Its base URL (`http://127.0.0.1:PORT`), the first line it prints.
    pub url: String,
    /// `Authorization` header value for the administration API (valid 10 minutes).
    pub bearer: String,
}

impl UpdateServer {
    /// Starts one; `name` keeps the directories of concurrent tests apart.
    pub fn start(name: &str) -> UpdateServer {
        use std::io::BufRead as _;
        let dir = std::env::temp_dir().join(format!("cps-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let key_file = dir.join("admin.key");
        std::fs::write(&key_file, "5A".repeat(32)).unwrap();
        let key = cps_update_server::AdminKey::from_hex(&"5A".repeat(32)).unwrap();
        let bearer = format!(
            "Bearer {}",
            key.token(cps_x509::UnixTime::now().secs() + 600)
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_cps"))
            .args([
                "update-server",
                "--listen",
                "127.0.0.1:0",
                "--seed-test-cards",
            ])
            .arg("--admin-key-file")
            .arg(&key_file)
            .arg("--db")
            .arg(dir.join("issuer.sqlite"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut url = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut url)
            .unwrap();
        let url = url.trim().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url:?}");
        UpdateServer {
            child,
            dir,
            url,
            bearer,
        }
    }
}

impl Drop for UpdateServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
