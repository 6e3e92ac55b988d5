#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! What a helpdesk and a packager expect of `cps` (issue 17 item 4): errors as JSON under
//! `--json` with the same exit codes, `--version` with commit, date and features, shell
//! completions and man pages from the command definition, concise subcommand help. All on the
//! built-in simulator (`--sim`), no PC/SC needed.

use std::process::{Command, Output, Stdio};

fn cps_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run cps")
}

fn cps(args: &[&str]) -> Output {
    cps_env(args, &[])
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn json_errors_on_stdout_with_the_same_exit_codes() {
    // A wrong PIN: exit 6, the tries left in the JSON.
    let o = cps_env(
        &[
            "--sim",
            "cps4",
            "--json",
            "pin",
            "verify",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "0000")],
    );
    assert_eq!(o.status.code(), Some(6));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"]["exit_code"], 6, "{j}");
    assert_eq!(j["error"]["kind"], "wrong_pin", "{j}");
    assert_eq!(j["error"]["tries_left"], 2, "{j}");
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 tries left"),
        "{j}"
    );
    assert!(
        j["simulator"]
            .as_str()
            .unwrap()
            .starts_with("SIMULATED CARD")
    );
    // The PIN itself is nowhere in the output.
    assert!(!out(&o).contains("0000"));
    // A usage error (no PIN in the environment): exit 2, nothing sent.
    let o = cps(&[
        "--sim",
        "cps4",
        "--json",
        "pin",
        "verify",
        "--pin-from",
        "env",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"]["exit_code"], 2, "{j}");
    assert_eq!(j["error"]["kind"], "usage", "{j}");
    assert!(j["error"].get("tries_left").is_none(), "{j}");
    // A bad argument under --json: JSON too, exit 2.
    let o = cps(&["--json", "info", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "usage", "{j}");
    assert!(
        j["error"]["message"].as_str().unwrap().contains("--bogus"),
        "{j}"
    );
    // Without --json: nothing on stdout but the simulator notice, the message on stderr.
    let o = cps(&["--sim", "cps4", "pin", "verify", "--pin-from", "env"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out(&o).contains("error"), "{}", out(&o));
}

#[test]
fn version_says_commit_date_and_features() {
    let o = cps(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let v = out(&o);
    let lines: Vec<&str> = v.lines().collect();
    assert!(lines[0].starts_with("cps 0."), "{v}");
    let commit = lines[1].strip_prefix("commit    ").unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{v}"
    );
    let date = lines[2].strip_prefix("built     ").unwrap();
    assert!(date.len() > 10 && date.as_bytes()[4] == b'-', "{v}");
    assert!(lines[3].starts_with("features  pcsc"), "{v}");
    // -V stays one line.
    assert_eq!(out(&cps(&["-V"])).lines().count(), 1);
}

#[test]
fn completions_for_four_shells() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef cps"),
        ("fish", "complete -c cps"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let o = cps(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0), "{shell}");
        let text = out(&o);
        assert!(text.contains(marker), "{shell}: no {marker:?}");
        assert!(
            text.contains("--reader") && text.contains("doctor"),
            "{shell}"
        );
    }
    assert_eq!(cps(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_pages_from_the_definition() {
    let o = cps(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    let page = out(&o);
    assert!(
        page.contains(".TH cps 1") && page.contains("\\-\\-reader"),
        "{page}"
    );
    let dir = std::env::temp_dir().join(format!("cps-man-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.display().to_string();
    let o = cps(&["man", "--dir", &d]);
    assert_eq!(o.status.code(), Some(0));
    for name in [
        "cps.1",
        "cps-info.1",
        "cps-pin-verify.1",
        "cps-desfire-door-check.1",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(text.contains(".TH"), "{name}");
    }
    assert!(!dir.join("cps-help.1").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn subcommand_help_is_concise_and_global_help_complete() {
    let o = cps(&["readers", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = out(&o);
    // Was 43 lines with the 8 global options repeated.
    assert!(help.lines().count() <= 12, "{help}");
    assert!(!help.contains("--pin-from <"), "{help}");
    assert!(help.contains("Usage: cps readers"), "{help}");
    assert!(help.contains("`cps --help`"), "{help}");
    // Own options are still shown.
    let help = out(&cps(&["help", "sim", "serve"]));
    assert!(
        help.contains("--profile") && !help.contains("--pin-from <"),
        "{help}"
    );
    let help = out(&cps(&["--help"]));
    for global in [
        "--reader",
        "--sim",
        "--wait",
        "--json",
        "--pin-from",
        "--at",
    ] {
        assert!(help.contains(global), "{global}: {help}");
    }
}

fn scratch(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("cps-helpdesk-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn trace_and_replay_info() {
    let file = scratch("info.trace");
    let f = file.display().to_string();
    let o = cps(&["--sim", "cps4", "--trace", &f, "info", "--at", "2026-03-01"]);
    assert_eq!(o.status.code(), Some(0));
    let live = out(&o);
    let trace = std::fs::read_to_string(&file).unwrap();
    assert!(
        trace.starts_with("# cps-rs APDU transcript v1\n"),
        "{trace}"
    );
    assert!(trace.contains("# card: built-in simulator (CPS4 of dr-martin, contact)"));
    // 28 exchanges, each with its timing line.
    assert_eq!(
        trace.lines().filter(|l| l.starts_with("> ")).count(),
        28,
        "{trace}"
    );
    assert_eq!(trace.lines().filter(|l| l.starts_with("# #")).count(), 28);
    assert!(trace.contains("# end: 28 exchange(s)"), "{trace}");
    // Replayed: the same card data, the first lines saying where it comes from.
    let o = cps(&["replay", &f, "info", "--at", "2026-03-01"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let replayed = out(&o);
    assert!(
        replayed.starts_with("REPLAYED TRACE, not a card"),
        "{replayed}"
    );
    let body = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| {
                !l.starts_with("SIMULATED") && !l.starts_with("REPLAYED") && !l.starts_with("card ")
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(body(&live), body(&replayed));
    // Another command than the one traced: the mismatch is reported, not hidden.
    let o = cps(&["replay", &f, "certs"]);
    assert_ne!(o.status.code(), Some(0));
    // Without a command: the exchanges decoded.
    let o = cps(&["replay", &f]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).ends_with("28 exchange(s)\n"), "{}", out(&o));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn a_traced_pin_never_reaches_the_file() {
    let file = scratch("pin.trace");
    let f = file.display().to_string();
    // A wrong PIN (9731): exit 6, traced.
    let o = cps_env(
        &[
            "--sim",
            "cps4",
            "--trace",
            &f,
            "-v",
            "pin",
            "verify",
            "--pin-from",
            "env",
        ],
        &[("CPS_PIN", "9731")],
    );
    assert_eq!(o.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("exchange(s) with the card"), "{stderr}");
    let trace = std::fs::read_to_string(&file).unwrap();
    let verify: Vec<&str> = trace
        .lines()
        .filter(|l| l.starts_with("> ") && l[2..].get(2..4) == Some("20"))
        .collect();
    assert_eq!(verify.len(), 1, "{trace}");
    assert!(verify[0].contains(" *"), "VERIFY not redacted: {trace}");
    assert!(
        !trace.contains("39373331") && !trace.contains("9731"),
        "{trace}"
    );
    assert!(trace.contains("< 63C2"), "{trace}");
    // Replayed with another PIN of the same length: the card's answer as recorded.
    let o = cps_env(
        &["replay", &f, "pin", "verify", "--pin-from", "env"],
        &[("CPS_PIN", "0000")],
    );
    assert_eq!(
        o.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("2 tries left"));
    // -vv shows every APDU on stderr, the PIN hidden there too.
    let o = cps_env(
        &["--sim", "cps4", "-vv", "pin", "verify", "--pin-from", "env"],
        &[("CPS_PIN", "9731")],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("cps: > ") && stderr.contains("*"),
        "{stderr}"
    );
    assert!(!stderr.contains("39373331"), "{stderr}");
    let _ = std::fs::remove_file(&file);
}
