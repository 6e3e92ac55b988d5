#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! `cps update-server` and `cps update`: the reference issuer started as a process (seeded
//! with the simulated cards), an update scheduled through its JSON API, then `cps update`
//! relays it to the built-in simulated CPS4 with its progress on stderr; the error paths.

use std::process::{Command, Stdio};

mod common;

use cps_sim::{Profile, SimCard};

fn cps(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn update_server_and_update_on_the_simulated_cps4() {
    let server = common::UpdateServer::start("update");
    let (url, bearer) = (server.url.clone(), server.bearer.clone());

    // The register moves dr-martin and schedules the 3-year renewal.
    let serial = hex::encode_upper(SimCard::new(Profile::Cps4, "dr-martin").unwrap().serial());
    // Holder data is not served without the token.
    let r = minreq::get(format!("{url}/v1/cards/{serial}"))
        .send()
        .unwrap();
    assert_eq!(r.status_code, 401);
    assert_eq!(common::schedule_update(&url, &bearer), serial);

    // The directory snapshots the PKCS#11 module keeps (cps_iasecc::snapshot) are dropped
    // after an update: renewed keys change the card's PKCS#15 structure.
    let cache = std::env::temp_dir().join(format!("cps-update-cache-{}", std::process::id()));
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join(format!("{serial}.p15")), b"kept structure").unwrap();
    std::fs::write(cache.join("notes.txt"), b"not a snapshot").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--sim", "cps4", "update", "--json", "--server", &url])
        .env("CPS_CACHE_DIR", &cache)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(!cache.join(format!("{serial}.p15")).exists());
    assert!(cache.join("notes.txt").exists());
    std::fs::remove_dir_all(&cache).unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["outcome"], "updated");
    assert_eq!(j["sequence"], 1);
    assert_eq!(j["steps"], 5);
    assert!(stderr.contains("generating key 20 on the card"), "{stderr}");
    assert!(stderr.contains("5/6 committing"), "{stderr}");
    let card: serde_json::Value = minreq::get(format!("{url}/v1/cards/{serial}"))
        .with_header("Authorization", &bearer)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(card["sequence"], 1);
    assert!(card["pending"].is_null());

    // A card without the update application (contactless side): exit 5.
    let o = cps(&["--contactless", "update", "--server", &url]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A card the service does not know: refused with the reason.
    let o = cps(&[
        "--persona",
        "etudiant-petit",
        "--sim",
        "cps4",
        "update",
        "--server",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unreachable"));

    drop(server);
}
