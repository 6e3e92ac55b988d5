//! The options every card command shares: which card, which date, where secrets come from;
//! opening the card with a progress indicator while waiting for it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use cps::x509::UnixTime;
use cps::{Card, CardSource, ReaderChoice, SimSpec, WaitProgress};

use crate::Failure;
use crate::secret::PinFrom;

/// The persona of the default simulated card.
pub const DEFAULT_PERSONA: &str = "dr-martin";

/// Which card to use.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Card selection")]
pub struct CardArgs {
    /// Use the card in this PC/SC reader (`cps readers` lists them); `auto`: the first reader
    /// holding a card. Without --reader, the built-in simulated card is used.
    #[arg(long, short = 'r', global = true, value_name = "NAME|auto")]
    pub reader: Option<String>,
    /// Built-in simulated card: cps3 or cps4 (the default card when --reader is not given is
    /// the simulated cps4).
    #[arg(long, global = true, value_name = "cps3|cps4")]
    pub sim: Option<String>,
    /// Holder persona of the simulated card (see `cps sim list`) [default: dr-martin].
    #[arg(long, global = true, value_name = "ID")]
    pub persona: Option<String>,
    /// Power the simulated card through its contactless interface (DESFire side).
    #[arg(long, global = true)]
    pub contactless: bool,
    /// Wait up to SECONDS (default 30) for a card in the reader, with a progress indicator.
    #[arg(
        long,
        global = true,
        num_args = 0..=1,
        default_missing_value = "30",
        value_name = "SECONDS"
    )]
    pub wait: Option<u64>,
    /// Give up on a card that does not answer one command within SECONDS (PC/SC readers;
    /// default 20 for contact, 5 for contactless, 120 for on-card key generation).
    #[arg(long, global = true, value_name = "SECONDS", value_parser = parse_timeout)]
    pub timeout: Option<f64>,
    /// Evaluate certificate validity at this date (YYYY-MM-DD, UTC) instead of now.
    #[arg(long, global = true, value_name = "DATE")]
    pub at: Option<String>,
}

fn parse_timeout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && (0.1..=3600.0).contains(&t) => Ok(t),
        _ => Err("a number of seconds from 0.1 to 3600".into()),
    }
}

/// Where secrets come from.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Secrets (never on the command line)")]
pub struct SecretArgs {
    /// prompt: ask on the terminal without echo; stdin: one line per secret, in the order
    /// the command asks them; env: CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN,
    /// CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY.
    #[arg(long, global = true, value_enum, default_value_t = PinFrom::Prompt)]
    pub pin_from: PinFrom,
}

impl CardArgs {
    /// The card source these options name.
    pub fn source(&self) -> Result<CardSource, Failure> {
        if let Some(reader) = &self.reader {
            if self.sim.is_some() || self.persona.is_some() || self.contactless {
                return Err(Failure::usage(
                    "--reader uses a real card: --sim, --persona and --contactless choose a \
                     simulated card and cannot be combined with it",
                ));
            }
            let reader = if reader == "auto" {
                ReaderChoice::FirstWithCard
            } else {
                ReaderChoice::Named(reader.clone())
            };
            return Ok(CardSource::Reader {
                reader,
                wait: self.wait.map(Duration::from_secs),
            });
        }
        let profile = match self.sim.as_deref() {
            None => cps::sim::Profile::Cps4,
            Some(name) => crate::sim::profile(name)?,
        };
        Ok(CardSource::Simulator(SimSpec {
            profile,
            persona: self
                .persona
                .clone()
                .unwrap_or_else(|| DEFAULT_PERSONA.to_owned()),
            contactless: self.contactless,
        }))
    }

    /// The date at which certificates are evaluated.
    pub fn at(&self) -> Result<UnixTime, Failure> {
        match &self.at {
            None => Ok(UnixTime::now()),
            Some(text) => parse_date(text)
                .ok_or_else(|| Failure::usage(format!("--at {text:?}: expected YYYY-MM-DD"))),
        }
    }

    /// Opens the card, showing progress on stderr while waiting for it.
    pub fn open(&self) -> Result<Card, Failure> {
        let source = self.source()?;
        let mut progress = Progress::new(&source);
        let card = Card::open_with_progress(&source, &mut |p| progress.show(p));
        progress.finish();
        Ok(card?)
    }
}

fn parse_date(text: &str) -> Option<UnixTime> {
    let mut it = text.split('-');
    let y = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    let d = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    UnixTime::from_ymd(y, m, d)
}

/// The "waiting for a card" indicator: one updating line on a terminal, one line otherwise.
pub struct Progress {
    what: String,
    shown: bool,
    tty: bool,
}

impl Progress {
    /// For a card source.
    pub fn new(source: &CardSource) -> Self {
        let what = match source {
            CardSource::Reader {
                reader: ReaderChoice::Named(n),
                ..
            } => format!("a card in {n:?}"),
            _ => "a card in any reader".to_owned(),
        };
        Progress {
            what,
            shown: false,
            tty: std::io::stderr().is_terminal(),
        }
    }

    /// Reports progress.
    pub fn show(&mut self, p: WaitProgress) {
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(
                err,
                "\rwaiting for {}... {:>3} s / {} s (Ctrl-C to give up) ",
                self.what,
                p.elapsed.as_secs(),
                p.timeout.as_secs()
            );
            let _ = err.flush();
        } else if !self.shown {
            let _ = writeln!(
                err,
                "waiting up to {} s for {}...",
                p.timeout.as_secs(),
                self.what
            );
        }
        self.shown = true;
    }

    /// Ends the indicator line.
    pub fn finish(&mut self) {
        if self.shown && self.tty {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("2026-03-01"), UnixTime::from_ymd(2026, 3, 1));
        for bad in [
            "2026-13-01",
            "2026-03",
            "26-3-1-1",
            "",
            "x-y-z",
            "2026-02-30",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn sources() {
        let def = CardArgs::default().source().ok().unwrap_or_default();
        assert_eq!(def, CardSource::Simulator(SimSpec::default()));
        let auto = CardArgs {
            reader: Some("auto".into()),
            wait: Some(5),
            ..CardArgs::default()
        };
        assert_eq!(
            auto.source().ok(),
            Some(CardSource::Reader {
                reader: ReaderChoice::FirstWithCard,
                wait: Some(Duration::from_secs(5))
            })
        );
        let mixed = CardArgs {
            reader: Some("X".into()),
            sim: Some("cps3".into()),
            ..CardArgs::default()
        };
        assert!(mixed.source().is_err());
    }
}
