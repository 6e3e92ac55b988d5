#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! Which card `cps` uses when no `--reader` is given (issue 17 item 3): a card in a reader is
//! never mistaken for the simulator.
//!
//! - no PC/SC service (the client pointed at a socket nobody listens on,
//!   `PCSCLITE_CSOCK_NAME`): the built-in simulator, and the output says so first;
//! - pcscd up, one simulated card inserted through vpcd: that card is used;
//! - pcscd up, no card: refused (exit 3), naming the readers; two cards: refused (exit 2),
//!   naming both; `--wait` waits for a card in any reader;
//! - `--reader` by number or by a unique part of the name; ambiguous parts refused;
//! - `cps --sim cps3 sim serve` serves a CPS3; `doctor`'s advice keeps `--reader`.
//!
//! Without pcscd the PC/SC tests print SKIPPED, except under CI=true where they fail.

use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_sim::{Profile, SimCard};
use cps_transport::pcsc::PcscContext;

const READER0: &str = "Virtual PCD 00 00";
const READER1: &str = "Virtual PCD 00 01";
/// A socket nobody listens on: pcsclite's client finds no PC/SC service.
const NO_PCSC: (&str, &str) = ("PCSCLITE_CSOCK_NAME", "/nonexistent/cps-rs-test/pcscd.comm");

/// One test at a time uses the virtual readers.
static READERS: Mutex<()> = Mutex::new(());

fn readers() -> std::sync::MutexGuard<'static, ()> {
    READERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

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

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn pcscd() -> Option<PcscContext> {
    cps_transport::pcsc::testing::context_or_skip()
}

/// A simulated card in a virtual reader until dropped; waits until pcscd sees it.
struct Served(Option<vpcd::VpcdHandle<SimCard>>, u16);

fn serve(ctx: &PcscContext, profile: Profile, port: u16) -> Served {
    let reader = if port == 35963 { READER0 } else { READER1 };
    ctx.wait_for_removal(reader, Duration::from_secs(10))
        .unwrap();
    let handle = vpcd::spawn(
        SimCard::new(profile, "dr-martin").unwrap(),
        VpcdConfig::with_port(port),
    )
    .unwrap();
    ctx.wait_for_card(Some(reader), Duration::from_secs(10))
        .expect("served card seen by pcscd");
    Served(Some(handle), port)
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(h) = self.0.take() {
            let _ = h.remove();
        }
        let reader = if self.1 == 35963 { READER0 } else { READER1 };
        if let Ok(ctx) = PcscContext::establish() {
            let _ = ctx.wait_for_removal(reader, Duration::from_secs(10));
        }
    }
}

#[test]
fn without_pcsc_the_simulator_is_used_and_says_so() {
    let o = cps_env(&["info"], &[NO_PCSC]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let first = text.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("SIMULATED CARD, not a real card: built-in simulator (CPS4 of dr-martin")
            && first.contains("no PC/SC service"),
        "{text}"
    );
    let o = cps_env(&["info", "--json"], &[NO_PCSC]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["simulator"]
            .as_str()
            .unwrap()
            .starts_with("SIMULATED CARD"),
        "{j}"
    );
    // Every command on the simulator says so first.
    for args in [&["identity"][..], &["pin", "status"], &["certs"]] {
        let o = cps_env(args, &[NO_PCSC]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", err(&o));
        assert!(
            out(&o).starts_with("SIMULATED CARD"),
            "{args:?}: {}",
            out(&o)
        );
    }
    // --wait without a reader cannot wait without PC/SC.
    let o = cps_env(&["--wait", "1", "info"], &[NO_PCSC]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(err(&o).contains("--wait"), "{}", err(&o));
    // doctor checks the PC/SC stack, not the simulator.
    let o = cps_env(&["doctor"], &[NO_PCSC]);
    assert_eq!(o.status.code(), Some(9), "{}", out(&o));
    assert!(out(&o).starts_with("[FAIL] PC/SC service"), "{}", out(&o));
}

#[test]
fn asked_simulator_says_so_and_refuses_wait() {
    let o = cps(&["--sim", "cps3", "info"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        out(&o).starts_with(
            "SIMULATED CARD, not a real card: built-in simulator (CPS3 of dr-martin, contact) (--sim)\n"
        ),
        "{}",
        out(&o)
    );
    let o = cps(&["--sim", "cps4", "--wait", "2", "info"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    // DESFire on the contact side: what `info` says, exit 5, not a status word.
    let o = cps(&["--sim", "cps4", "desfire", "info"]);
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    assert!(
        err(&o).contains("DESFire answers through the contactless interface only")
            && !err(&o).contains("6E00")
            && !err(&o).contains("6D00"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_card_in_a_reader_is_used_not_the_simulator() {
    let Some(ctx) = pcscd() else { return };
    let _r = readers();
    let _card = serve(&ctx, Profile::Cps3, 35964);
    let o = cps(&["info"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.starts_with("card          reader \"Virtual PCD 00 01\"\n"),
        "{text}"
    );
    assert!(!text.contains("SIMULATED"), "{text}");
    assert!(text.contains("generation    CPS3"), "{text}");
    let j: serde_json::Value = serde_json::from_slice(&cps(&["info", "--json"]).stdout).unwrap();
    assert_eq!(j["card"], "reader \"Virtual PCD 00 01\"");
    assert!(j.get("simulator").is_none(), "{j}");
    // By number and by a unique part of the name.
    for sel in ["1", "00 01", "pcd 00 01"] {
        let o = cps(&["--reader", sel, "info", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{sel}: {}", err(&o));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["card"], "reader \"Virtual PCD 00 01\"", "{sel}");
    }
    let o = cps(&["--reader", "virtual", "info"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
    assert!(
        err(&o).contains("matches 2 readers")
            && err(&o).contains(READER0)
            && err(&o).contains(READER1),
        "{}",
        err(&o)
    );
    let o = cps(&["--reader", "7", "info"]);
    assert_eq!(o.status.code(), Some(3), "{}", err(&o));
    assert!(err(&o).contains("no reader number 7"), "{}", err(&o));
    // `cps apdu` without --reader: the same card.
    let o = cps(&["apdu", "00A4040008A0000006472F0001"]);
    assert!(
        out(&o).starts_with("# reader \"Virtual PCD 00 01\""),
        "{}",
        out(&o)
    );
    // Traced: the APDUs in the file, a PIN in a VERIFY hidden.
    let file = std::env::temp_dir().join(format!("cps-select-{}.trace", std::process::id()));
    let f = file.display().to_string();
    let o = cps(&[
        "--trace",
        &f,
        "apdu",
        "00A4040008A0000006472F0001",
        "0020000108 39 37 33 31 FF FF FF FF",
    ]);
    assert!(
        out(&o).starts_with("# reader \"Virtual PCD 00 01\""),
        "{}",
        out(&o)
    );
    let trace = std::fs::read_to_string(&file).unwrap();
    assert!(
        trace.contains("# card: reader \"Virtual PCD 00 01\""),
        "{trace}"
    );
    assert!(trace.contains("> 00A4040008A0000006472F0001\n"), "{trace}");
    assert!(trace.contains("> 0020000108 *8\n"), "{trace}");
    assert!(!trace.contains("39373331"), "{trace}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn no_card_or_two_cards_are_refused() {
    let Some(ctx) = pcscd() else { return };
    let _r = readers();
    ctx.wait_for_removal(READER0, Duration::from_secs(10))
        .unwrap();
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
    let o = cps(&["info"]);
    assert_eq!(o.status.code(), Some(3), "{}", out(&o));
    assert!(out(&o).is_empty(), "{}", out(&o));
    let e = err(&o);
    assert!(
        e.contains("no card in any reader")
            && e.contains("0: \"Virtual PCD 00 00\"")
            && e.contains("--sim cps4"),
        "{e}"
    );
    // doctor's advice keeps the reader the user named.
    let o = cps(&["--reader", READER1, "doctor"]);
    assert_eq!(o.status.code(), Some(9), "{}", out(&o));
    assert!(
        out(&o).contains("cps --reader 'Virtual PCD 00 01' doctor --wait 30"),
        "{}",
        out(&o)
    );

    let _c0 = serve(&ctx, Profile::Cps4, 35963);
    let _c1 = serve(&ctx, Profile::Cps3, 35964);
    let o = cps(&["info"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let e = err(&o);
    assert!(
        e.contains("2 readers hold a card") && e.contains(READER0) && e.contains(READER1),
        "{e}"
    );
}

#[test]
fn wait_without_reader_waits_for_any_reader() {
    let Some(ctx) = pcscd() else { return };
    let _r = readers();
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--wait", "20", "info", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let _card = serve(&ctx, Profile::Cps4, 35964);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(err(&o).contains("a card in any reader"), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["card"], "reader \"Virtual PCD 00 01\"");
}

#[test]
fn sim_serve_follows_the_global_sim_option() {
    let Some(ctx) = pcscd() else { return };
    let _r = readers();
    ctx.wait_for_removal(READER1, Duration::from_secs(10))
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--sim", "cps3", "sim", "serve", "--port", "35964"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = ctx.wait_for_card(Some(READER1), Duration::from_secs(10));
    let o = cps(&["--reader", READER1, "info", "--json"]);
    let _ = child.kill();
    let _ = child.wait();
    seen.unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["generation"], "CPS3", "{j}");
    let _ = ctx.wait_for_removal(READER1, Duration::from_secs(10));
    // Two different cards named: refused.
    let o = cps(&["--sim", "cps3", "sim", "serve", "--profile", "cps4"]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}
