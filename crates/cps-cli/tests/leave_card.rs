//! The card is left as found: another application's verified PIN survives `cps info` and
//! `cps pin status` (read-only work: the connection is released without reset), and does not
//! survive `cps pin verify` (a PIN went through: the connection resets the card when it ends,
//! so that no security state it opened outlives it).
//!
//! Two PC/SC clients on one simulated CPS3, then CPS4, served by `cps sim serve` into pcscd's vpcd reader:
//! this test's own connection (the "other application", our IAS-ECC client) and the `cps`
//! processes. Needs pcscd running (scripts/with-pcscd.sh); without it the test prints SKIPPED,
//! except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, reason = "tests")]

use std::process::{Child, Command};
use std::time::Duration;

use cps_iasecc::{CpsCard, Error, Pin, PinStatus};
use cps_transport::TransportError;
use cps_transport::pcsc::{PcscContext, ShareMode};

/// The second vpcd slot, as the other `cps sim serve` tests.
const PORT: &str = "35964";
const READER: &str = "Virtual PCD 00 01";

/// A running `cps sim serve`, stopped (killed) even when an assertion fails.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cps(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--reader", READER])
        .args(args)
        .env("CPS_PIN", "1234")
        .output()
        .unwrap()
}

#[test]
fn another_applications_verified_pin_survives_read_only_commands() {
    if !std::path::Path::new("/run/pcscd/pcscd.comm").exists() {
        return cps_transport::pcsc::testing::skip_or_fail(
            "pcscd not running (run scripts/test.sh)",
        );
    }
    let ctx = PcscContext::establish().unwrap();
    for profile in ["cps3", "cps4"] {
        // No card of an earlier test (or iteration) still in the slot.
        let _ = ctx.wait_for_removal(READER, Duration::from_secs(5));
        let served = Served(
            Command::new(env!("CARGO_BIN_EXE_cps"))
                .args([
                    "sim",
                    "serve",
                    "--profile",
                    profile,
                    "--persona",
                    "dr-martin",
                    "--port",
                    PORT,
                ])
                .spawn()
                .unwrap(),
        );
        let reader = ctx
            .wait_for_card(Some(READER), Duration::from_secs(10))
            .unwrap();
        let mut channel = ctx.connect(&reader, ShareMode::Shared).unwrap();
        {
            let mut other = CpsCard::open(&mut channel).unwrap();
            other.verify_pin(&Pin::new("1234").unwrap()).unwrap();
            assert_eq!(other.pin_status().unwrap(), PinStatus::Verified);

            for args in [&["info"][..], &["pin", "status"][..]] {
                let o = cps(args);
                assert_eq!(
                    o.status.code(),
                    Some(0),
                    "{profile}: cps {args:?}: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
                // Not reset: our session and its verified PIN are still there.
                assert_eq!(
                    other.pin_status().unwrap(),
                    PinStatus::Verified,
                    "{profile}: after cps {args:?}"
                );
            }

            // A PIN went through `cps pin verify`: it resets the card when it lets it go.
            let o = cps(&["pin", "verify", "--pin-from", "env"]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "{profile}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            match other.pin_status() {
                Err(Error::Transport(TransportError::CardReset)) => {}
                Ok(PinStatus::RetriesLeft(_)) => {}
                other => {
                    panic!("{profile}: expected the card reset after cps pin verify, got {other:?}")
                }
            }
        }
        drop(channel);
        drop(served);
    }
}
