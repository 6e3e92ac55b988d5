//! `cps pin status|verify|change|unblock`. The PIN is tried once per command: a wrong PIN
//! exits with code 6 and the tries left, a blocked one with code 7.

use clap::Subcommand;
use cps::iasecc::{Pin, PinStatus, Puk};
use serde_json::json;

use crate::info::line;
use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// `cps pin` subcommands.
#[derive(Subcommand, Debug)]
pub enum PinCmd {
    /// PIN and PUK state, without spending a try (exit code 7 when the PIN is blocked).
    Status,
    /// Verify the holder PIN (one try).
    Verify,
    /// Change the holder PIN (asks the current PIN, then the new one).
    Change,
    /// Unblock the holder PIN with the PUK and set a new PIN (asks the PUK, then the new PIN).
    Unblock,
}

fn status_json(p: PinStatus) -> serde_json::Value {
    match p {
        PinStatus::Verified => json!({"state": "verified"}),
        PinStatus::RetriesLeft(n) => json!({"state": "not_verified", "tries_left": n}),
        PinStatus::Blocked => json!({"state": "blocked", "tries_left": 0}),
    }
}

/// Runs a `cps pin` subcommand.
pub fn run(ctx: &mut Ctx, cmd: PinCmd) -> Result<u8, Failure> {
    // Secrets are read before the card is opened: a typing mistake costs nothing.
    let (first, second) = match cmd {
        PinCmd::Status => (None, None),
        PinCmd::Verify => (Some(ctx.secrets.read(Secret::Pin)?), None),
        PinCmd::Change => (
            Some(ctx.secrets.read(Secret::Pin)?),
            Some(ctx.secrets.read_new(Secret::NewPin)?),
        ),
        PinCmd::Unblock => (
            Some(ctx.secrets.read(Secret::Puk)?),
            Some(ctx.secrets.read_new(Secret::NewPin)?),
        ),
    };
    let pin = |s: &Option<zeroize::Zeroizing<String>>| -> Result<Pin, Failure> {
        Pin::new(s.as_deref().map_or("", |s| s.as_str())).map_err(fail)
    };
    let mut card = ctx.card.open()?;
    let mut ias = card.iasecc()?;
    let done = match cmd {
        PinCmd::Status => {
            let p = ias.pin_status().map_err(fail)?;
            let k = ias.puk_status().map_err(fail)?;
            if ctx.json {
                crate::emit(json!({"pin": status_json(p), "puk": status_json(k)}));
            } else {
                line(&tr!("label-pin"), crate::info::pin_text(p));
                line(&tr!("label-puk"), crate::info::pin_text(k));
            }
            return Ok(if p == PinStatus::Blocked { 7 } else { 0 });
        }
        PinCmd::Verify => {
            ias.verify_pin(&pin(&first)?).map_err(fail)?;
            ("PIN verified", tr!("pin-result-verified"))
        }
        PinCmd::Change => {
            let (old, new) = (pin(&first)?, pin(&second)?);
            ias.change_pin(&old, &new).map_err(fail)?;
            ("PIN changed", tr!("pin-result-changed"))
        }
        PinCmd::Unblock => {
            let puk = Puk::new(first.as_deref().map_or("", |s| s.as_str())).map_err(fail)?;
            let new = pin(&second)?;
            ias.unblock_pin(&puk, &new).map_err(fail)?;
            ("PIN unblocked and replaced", tr!("pin-result-unblocked"))
        }
    };
    // JSON keeps its English result; the human line is in the user's language.
    let (code, text) = done;
    if ctx.json {
        crate::emit(json!({"result": code}));
    } else {
        out!("{text}");
    }
    Ok(0)
}
