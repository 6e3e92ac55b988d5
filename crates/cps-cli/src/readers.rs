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
        let card = r
            .card_present
            .then(|| (r.interface.to_string(), r.atr.as_deref()));
        out!("{}", reader_line(crate::i18n::lang(), &r.name, width, card));
    }
    Ok(0)
}

/// One line of `cps readers` in `lang`: the reader's name padded to `width`, then whether it
/// holds a card (`card`: its interface and ATR, when one is present).
fn reader_line(
    lang: crate::i18n::Lang,
    name: &str,
    width: usize,
    card: Option<(String, Option<&[u8]>)>,
) -> String {
    use crate::i18n::text_in;
    match card {
        Some((interface, Some(atr))) => format!(
            "{name:width$}   {}   {interface:11}   {}",
            text_in(lang, "readers-card-present", &[]),
            spaced_hex(atr)
        ),
        Some((_, None)) => format!(
            "{name:width$}   {}   {}",
            text_in(lang, "readers-card-present", &[]),
            text_in(lang, "readers-atr-unavailable", &[])
        ),
        None => format!("{name:width$}   {}", text_in(lang, "readers-no-card", &[])),
    }
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
                    return Err(Failure::new(3, tr!("readers-no-card-anywhere")));
                }
                [first, ..] if reader == Some("auto") => first.clone(),
                [one] => one.clone(),
                several => {
                    return Err(Failure::usage(tr!(
                        "readers-several-cards",
                        count = several.len(),
                        readers = several
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn reader_lines_in_french_and_english() {
        let atr = [0x3B, 0x8F];
        let card = || Some(("contact".to_owned(), Some(&atr[..])));
        assert_eq!(
            reader_line(Lang::En, "R", 3, card()),
            "R     card present   contact       3B 8F"
        );
        assert_eq!(
            reader_line(Lang::Fr, "R", 3, card()),
            "R     carte présente   contact       3B 8F"
        );
        assert_eq!(
            reader_line(Lang::En, "R", 1, Some(("contact".to_owned(), None))),
            "R   card present   (ATR unavailable)"
        );
        assert_eq!(
            reader_line(Lang::Fr, "R", 1, Some(("contact".to_owned(), None))),
            "R   carte présente   (ATR indisponible)"
        );
        assert_eq!(reader_line(Lang::En, "R", 1, None), "R   no card");
        assert_eq!(reader_line(Lang::Fr, "R", 1, None), "R   pas de carte");
    }
}
