#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! Drives the `cps` binary: argument errors without any card, and (with pcscd + vpcd) the
//! `readers` and `apdu` commands on a virtual card inserted through our vpcd client.

use std::process::{Command, Output};
use std::time::Duration;

use cps_sim::vpcd::{self, VpcdConfig};
use cps_transport::VirtualCard;
use cps_transport::pcsc::PcscContext;

fn cps(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(args)
        .output()
        .expect("run cps")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn help_lists_the_commands() {
    let out = cps(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    assert!(help.contains("readers") && help.contains("apdu"), "{help}");
}

#[test]
fn bad_hex_and_bad_apdus_are_usage_errors() {
    let out = cps(&["apdu", "zz"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not hex"),
        "{}",
        text(&out.stderr)
    );
    let out = cps(&["apdu", "00A4"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a valid APDU"),
        "{}",
        text(&out.stderr)
    );
    // Lc says 5 bytes, 1 follows.
    let out = cps(&["apdu", "00A4040005A0"]);
    assert_eq!(out.status.code(), Some(2));
}

/// A card that knows one AID and has a PIN, and answers 6A82 / 6D00 otherwise.
struct DemoCard;

impl VirtualCard for DemoCard {
    fn atr(&self) -> Vec<u8> {
        // T=1 ATR with historical bytes "cps-rs" (TCK computed below).
        let mut atr = vec![0x3B, 0x86, 0x80, 0x01, b'c', b'p', b's', b'-', b'r', b's'];
        let tck = atr[1..].iter().fold(0, |a, b| a ^ b);
        atr.push(tck);
        atr
    }
    fn power_on(&mut self) {}
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        match apdu {
            [0x00, 0xA4, 0x04, _, 0x03, 0xF0, 0x01, 0x02, ..] => vec![0x90, 0x00],
            [0x00, 0xA4, ..] => vec![0x6A, 0x82],
            [0x00, 0x20, 0x00, 0x01] => vec![0x63, 0xC3],
            [0x00, 0x20, 0x00, 0x01, 0x04, ..] => vec![0x63, 0xC2],
            _ => vec![0x6D, 0x00],
        }
    }
}

fn pcscd_available() -> bool {
    cps_transport::pcsc::testing::context_or_skip().is_some()
}

#[test]
fn readers_and_apdu_through_pcscd() {
    if !pcscd_available() {
        return;
    }
    let handle = vpcd::spawn(DemoCard, VpcdConfig::with_port(35963)).unwrap();
    let ctx = PcscContext::establish().unwrap();
    let reader = ctx
        .wait_for_card(Some("Virtual PCD 00 00"), Duration::from_secs(5))
        .expect("virtual card seen by pcscd");

    let out = cps(&["readers"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(
        listing.contains("Virtual PCD 00 00")
            && listing.contains("card present")
            && listing.contains("3B 86 80 01 63 70 73 2D 72 73"),
        "{listing}"
    );
    assert!(
        listing.contains("contactless"),
        "PC/SC part 3 shape: {listing}"
    );

    let out = cps(&["readers", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == reader.as_str())
        .unwrap();
    assert_eq!(entry["card_present"], true);
    assert_eq!(entry["atr"].as_str().unwrap().len(), 22);

    let out = cps(&[
        "apdu",
        "--reader",
        &reader,
        "00A4040003F00102",
        "00 A4 04 00 02 E8 28",
        "0020000104 31323334",
        "00200001",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("< 90 00   success"), "{shown}");
    assert!(
        shown.contains("< 6A 82   file or application not found"),
        "{shown}"
    );
    assert!(
        shown.contains("< 63 C3   verification failed: 3 tries left"),
        "{shown}"
    );
    assert!(shown.contains("<4 bytes hidden>"), "{shown}");
    assert!(!shown.contains("31 32 33 34"), "PIN echoed: {shown}");

    // --check turns a refused command into exit code 5.
    let out = cps(&["apdu", "--reader", &reader, "--check", "00CA0000"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stdout));

    handle.remove().unwrap();
    ctx.wait_for_removal(&reader, Duration::from_secs(5))
        .unwrap();
    let out = cps(&["apdu", "--reader", &reader, "00A4040003F00102"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no card"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn sim_list_names_the_personas() {
    let out = cps(&["sim", "list"]);
    assert!(out.status.success());
    let text = text(&out.stdout);
    for id in [
        "dr-martin",
        "pharmacien-durand",
        "etudiant-petit",
        "directeur-leroy",
    ] {
        assert!(text.contains(id), "{text}");
    }
    let out = cps(&["sim", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["personas"].as_array().unwrap().len(), 6);
    let out = cps(&["sim", "serve", "--profile", "cps9"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sim_serve_inserts_a_card_that_pcsc_applications_see() {
    if !pcscd_available() {
        return;
    }
    /// Stops the served card (kills `cps sim serve`) even when an assertion fails.
    struct Served(std::process::Child);
    impl Drop for Served {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _served = Served(
        Command::new(env!("CARGO_BIN_EXE_cps"))
            .args([
                "sim",
                "serve",
                "--profile",
                "cps3",
                "--persona",
                "pharmacien-durand",
                "--port",
                "35964",
            ])
            .spawn()
            .unwrap(),
    );
    let ctx = PcscContext::establish().unwrap();
    let reader = ctx.wait_for_card(Some("Virtual PCD 00 01"), Duration::from_secs(10));
    {
        let reader = reader.expect("served card seen by pcscd");
        let out = cps(&["readers"]);
        let listing = text(&out.stdout);
        // The CPx ATR of a CPS3 card (shared notes), contact interface.
        assert!(
            listing.contains("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"),
            "{listing}"
        );
        // SELECT the IAS-ECC application by AID, then PIN status without spending a try.
        let out = cps(&[
            "apdu",
            "--reader",
            &reader,
            "--check",
            "00A4040C0DE828BD080F8025000001FF0010",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
        let out = cps(&["apdu", "--reader", &reader, "00200001"]);
        assert!(text(&out.stdout).contains("63 C3"), "{}", text(&out.stdout));
    }
}
