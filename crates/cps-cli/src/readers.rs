//! `cps readers`, and finding the card for the other commands.

use std::time::Duration;

use cps_transport::pcsc::{PcscChannel, PcscContext, ShareMode};
use cps_transport::{TransportError, spaced_hex};

use crate::Failure;

/// Lists the readers; exit code 3 when PC/SC is unavailable or no reader exists.
pub fn run(json: bool) -> Result<u8, Failure> {
    let ctx = PcscContext::establish()?;
    let readers = ctx.list_readers()?;
    if json {
        let list: Vec<serde_json::Value> = readers
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "card_present": r.card_present,
                    "atr": r.atr.as_deref().map(hex::encode_upper),
                    "interface": r.card_present.then(|| r.interface.to_string()),
                })
            })
            .collect();
        out!("{}", serde_json::Value::Array(list));
        return Ok(if readers.is_empty() { 3 } else { 0 });
    }
    if readers.is_empty() {
        return Err(TransportError::NoReader.into());
    }
    let width = readers.iter().map(|r| r.name.len()).max().unwrap_or(0);
    for r in &readers {
        match (&r.atr, r.card_present) {
            (Some(atr), true) => out!(
                "{:width$}   card present   {:11}   {}",
                r.name,
                r.interface.to_string(),
                spaced_hex(atr)
            ),
            (None, true) => out!("{:width$}   card present   (ATR unavailable)", r.name),
            _ => out!("{:width$}   no card", r.name),
        }
    }
    Ok(0)
}

/// Connects to the reader named on the command line (its name, number or a unique part of
/// it), to the first reader holding a card for `auto`, or without `--reader` to the one reader
/// holding a card (refused when several do).
pub fn connect(reader: Option<&str>, exclusive: bool) -> Result<PcscChannel, Failure> {
    let ctx = PcscContext::establish()?;
    let name = match reader {
        Some(name) if name != "auto" => crate::opts::resolve_reader(name, &ctx.reader_names()?)?,
        _ => {
            let readers = ctx.list_readers()?;
            if readers.is_empty() {
                return Err(TransportError::NoReader.into());
            }
            let with_card: Vec<String> = readers
                .into_iter()
                .filter(|r| r.card_present)
                .map(|r| r.name)
                .collect();
            match with_card.as_slice() {
                [] => {
                    return Err(Failure::new(
                        3,
                        "no card in any reader: insert a card (see `cps readers`)",
                    ));
                }
                [first, ..] if reader == Some("auto") => first.clone(),
                [one] => one.clone(),
                several => {
                    return Err(Failure::usage(format!(
                        "{} readers hold a card: {}; choose one with --reader NAME or --reader \
                         NUMBER",
                        several.len(),
                        several
                            .iter()
                            .map(|n| format!("{n:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    // A card being inserted right now gets a short grace period.
    ctx.wait_for_card(Some(&name), Duration::from_millis(200))
        .map_err(|e| match e {
            TransportError::Timeout { .. } => TransportError::NoCard {
                reader: name.clone(),
            },
            e => e,
        })?;
    let share = if exclusive {
        ShareMode::Exclusive
    } else {
        ShareMode::Shared
    };
    Ok(ctx.connect(&name, share)?)
}
