//! The options every card command shares: which card, which date, where secrets come from;
//! opening the card with a progress indicator while waiting for it.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use cps::x509::UnixTime;
use cps::{Card, CardSource, ReaderChoice, SimSpec, WaitProgress};
use cps_transport::pcsc::PcscContext;

use crate::Failure;
use crate::secret::PinFrom;

/// The persona of the default simulated card.
pub const DEFAULT_PERSONA: &str = "dr-martin";

/// Which card to use.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Card selection")]
pub struct CardArgs {
    /// Use the card in this PC/SC reader: its name, its number in `cps readers` (0, 1...), a
    /// unique part of its name, or `auto` (the first reader holding a card). Without it: the
    /// one reader holding a card.
    #[arg(long, short = 'r', global = true, value_name = "NAME|N|auto")]
    pub reader: Option<String>,
    /// Use the built-in simulated card, cps3 or cps4 (never chosen on its own while a PC/SC
    /// service runs).
    #[arg(long, global = true, value_name = "cps3|cps4")]
    pub sim: Option<String>,
    /// Holder persona of the simulated card (see `cps sim list`) [default: dr-martin].
    #[arg(long, global = true, value_name = "ID")]
    pub persona: Option<String>,
    /// Power the simulated card through its contactless interface (DESFire side).
    #[arg(long, global = true)]
    pub contactless: bool,
    /// Wait up to SECONDS (default 30) for a card in the reader (any reader without --reader),
    /// with a progress indicator.
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
    /// `--json` (set by `main`): the simulator notice goes into the JSON output.
    #[arg(skip)]
    pub json: bool,
    /// `--trace FILE` (set by `main`).
    #[arg(skip)]
    pub trace: Option<std::path::PathBuf>,
    /// `-v` count (set by `main`).
    #[arg(skip)]
    pub verbose: u8,
    /// `cps replay FILE COMMAND`: the card is this trace (set by `main`).
    #[arg(skip)]
    pub replay: Option<std::path::PathBuf>,
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

/// Why the built-in simulator is in use, for the notice on the first line of the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimWhy {
    /// `--sim`, `--persona` or `--contactless` asked for it.
    Asked,
    /// No PC/SC service could be reached.
    NoPcsc,
}

/// The notice the output of a simulated card starts with (human output), or its JSON field.
pub fn sim_notice(origin: &cps::Origin, why: &SimWhy) -> String {
    match why {
        SimWhy::Asked => tr!("sim-notice-asked", origin = origin_text(origin)),
        SimWhy::NoPcsc => tr!("sim-notice-no-pcsc", origin = origin_text(origin)),
    }
}

/// Where the card is, in the user's language (the library's `Display` is English, which the
/// JSON output and traces keep).
pub fn origin_text(origin: &cps::Origin) -> String {
    match origin {
        cps::Origin::Simulator(s) => tr!(
            "origin-simulator",
            generation = s.profile.as_str(),
            persona = s.persona.as_str(),
            interface = if s.contactless {
                tr!("origin-contactless")
            } else {
                tr!("origin-contact")
            }
        ),
        cps::Origin::Reader(name) => tr!("origin-reader", name = format!("{name:?}")),
        _ => origin.to_string(),
    }
}

/// The simulator notice of this process, once a simulated card was opened.
static SIM_NOTICE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The simulator notice, when the command runs on a simulated card.
pub fn sim_in_use() -> Option<&'static str> {
    SIM_NOTICE.get().map(String::as_str)
}

/// Records (and, for human output, prints on stdout) that a simulated card is in use.
pub fn announce_sim(notice: String, json: bool) {
    if SIM_NOTICE.set(notice).is_ok() && !json {
        if let Some(n) = SIM_NOTICE.get() {
            out!("{n}");
        }
    }
}

/// A reader named on the command line: the exact name, an index in `cps readers` order, or a
/// unique part of a name (case-insensitive). A name matching nothing is returned as given (the
/// library then says the reader is not found).
pub fn resolve_reader(arg: &str, names: &[String]) -> Result<String, Failure> {
    if names.iter().any(|n| n == arg) {
        return Ok(arg.to_owned());
    }
    if !arg.is_empty() && arg.len() <= 3 && arg.bytes().all(|b| b.is_ascii_digit()) {
        let index: usize = arg.parse().unwrap_or(usize::MAX);
        return names.get(index).cloned().ok_or_else(|| {
            Failure::new(
                3,
                format!(
                    "no reader number {index}: {} reader(s) found{}",
                    names.len(),
                    numbered(names.iter())
                ),
            )
        });
    }
    let needle = arg.to_lowercase();
    let matches: Vec<&String> = names
        .iter()
        .filter(|n| n.to_lowercase().contains(&needle))
        .collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Ok(arg.to_owned()),
        several => Err(Failure::usage(format!(
            "--reader {:?} matches {} readers: {}; give more of the name or its number",
            crate::shorten(arg, 64),
            several.len(),
            several
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

fn numbered<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<String> = names
        .enumerate()
        .map(|(i, n)| format!("{i}: {n:?}"))
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!(" ({})", list.join(", "))
    }
}

impl CardArgs {
    /// Whether a simulated card was asked for explicitly.
    fn sim_asked(&self) -> bool {
        self.sim.is_some() || self.persona.is_some() || self.contactless
    }

    fn sim_spec(&self) -> Result<CardSource, Failure> {
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

    /// The card source these options name, without looking at PC/SC: `None` when the choice
    /// depends on the readers (no --reader, no --sim).
    pub fn explicit_source(&self) -> Result<Option<CardSource>, Failure> {
        if let Some(reader) = &self.reader {
            if self.sim_asked() {
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
            return Ok(Some(CardSource::Reader {
                reader,
                wait: self.wait.map(Duration::from_secs),
            }));
        }
        if self.sim_asked() {
            if self.wait.is_some() {
                return Err(Failure::usage(
                    "--wait waits for a card in a reader: the simulated card (--sim, --persona, \
                     --contactless) is always there",
                ));
            }
            return self.sim_spec().map(Some);
        }
        Ok(None)
    }

    /// The card source: `--reader` (the exact name, an index or a unique part of a name);
    /// the simulator when asked (`--sim`, `--persona`, `--contactless`); otherwise the one
    /// reader holding a card (refused when several do or none does; with `--wait`, the first
    /// card inserted in any reader), and the simulator only when no PC/SC service is reachable.
    pub fn source(&self) -> Result<(CardSource, Option<SimWhy>), Failure> {
        match self.explicit_source()? {
            Some(CardSource::Reader {
                reader: ReaderChoice::Named(name),
                wait,
            }) => {
                // Index or part of a name: resolved against the readers pcscd lists. Without
                // PC/SC the name goes on as given (the library reports the service).
                let resolved = match PcscContext::establish() {
                    Ok(ctx) => resolve_reader(&name, &ctx.reader_names()?)?,
                    Err(_) => name,
                };
                Ok((
                    CardSource::Reader {
                        reader: ReaderChoice::Named(resolved),
                        wait,
                    },
                    None,
                ))
            }
            Some(source @ CardSource::Simulator(_)) => Ok((source, Some(SimWhy::Asked))),
            Some(source) => Ok((source, None)),
            None => self.source_from_readers(),
        }
    }

    /// The card `cps doctor` checks: as [`Self::source`], except that without --reader and
    /// --sim the PC/SC stack is always what is checked (no service, no reader or no card are
    /// the checklist's findings, not a reason to use the simulator).
    pub fn doctor_source(&self) -> Result<(CardSource, Option<SimWhy>), Failure> {
        if self.explicit_source()?.is_some() {
            return self.source();
        }
        let first = CardSource::Reader {
            reader: ReaderChoice::FirstWithCard,
            wait: self.wait.map(Duration::from_secs),
        };
        if PcscContext::establish().is_err() {
            return Ok((first, None));
        }
        match self.source_from_readers() {
            Err(f) if f.code == 3 => Ok((first, None)),
            other => other,
        }
    }

    fn source_from_readers(&self) -> Result<(CardSource, Option<SimWhy>), Failure> {
        let wait = self.wait.map(Duration::from_secs);
        let ctx = match PcscContext::establish() {
            Ok(ctx) => ctx,
            Err(e) if wait.is_some() => {
                return Err(Failure::new(
                    3,
                    format!("--wait: cannot wait for a card: {e}"),
                ));
            }
            Err(_) => return Ok((self.sim_spec()?, Some(SimWhy::NoPcsc))),
        };
        let readers = ctx.list_readers()?;
        let with_card: Vec<&str> = readers
            .iter()
            .filter(|r| r.card_present)
            .map(|r| r.name.as_str())
            .collect();
        match with_card.as_slice() {
            [one] => Ok((
                CardSource::Reader {
                    reader: ReaderChoice::Named((*one).to_owned()),
                    wait: None,
                },
                None,
            )),
            [] if wait.is_some() => Ok((
                CardSource::Reader {
                    reader: ReaderChoice::FirstWithCard,
                    wait,
                },
                None,
            )),
            [] if readers.is_empty() => Err(Failure::new(3, tr!("no-reader-found"))),
            [] => Err(Failure::new(
                3,
                tr!(
                    "no-card-in-readers",
                    readers = numbered(readers.iter().map(|r| &r.name))
                ),
            )),
            several => Err(Failure::new(
                2,
                tr!(
                    "several-cards",
                    count = several.len(),
                    readers = several
                        .iter()
                        .map(|n| format!("{n:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
        }
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
    ///
    /// On a simulated card, the notice saying so is printed first (human output) or kept
    /// for the JSON output's `simulator` field.
    pub fn open(&self) -> Result<Card, Failure> {
        let mut card = self.open_untraced()?;
        if self.trace.is_some() || self.verbose > 0 {
            let log = crate::trace::TraceLog::new(self.trace.as_deref(), self.verbose)?;
            let origin = card.origin().to_string();
            let channel = card.channel_mut();
            // The channel is moved into the tracer; a blank replay stands in for a moment.
            let inner = std::mem::replace(
                channel,
                Box::new(cps_transport::record::ReplayChannel::new(Default::default())),
            );
            *channel = Box::new(crate::trace::Traced::new(inner, &origin, log));
        }
        Ok(card)
    }

    fn open_untraced(&self) -> Result<Card, Failure> {
        if let Some(path) = &self.replay {
            let channel = crate::trace::replay_channel(path)?;
            announce_sim(
                tr!("replay-notice", file = path.display().to_string()),
                self.json,
            );
            return Ok(Card::from_channel(
                channel,
                cps::Origin::Reader(format!("trace {}", path.display())),
            ));
        }
        let (source, why) = self.source()?;
        let mut progress = Progress::new(&source);
        let card = Card::open_with_progress(&source, &mut |p| progress.show(p));
        progress.finish();
        let card = card?;
        if let Some(why) = why {
            announce_sim(sim_notice(card.origin(), &why), self.json);
        }
        Ok(card)
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
            } => tr!("wait-card-in", reader = format!("{n:?}")),
            _ => tr!("wait-any-reader"),
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
                "\r{} ",
                tr!(
                    "wait-progress",
                    what = self.what.as_str(),
                    elapsed = format!("{:>3}", p.elapsed.as_secs()),
                    timeout = p.timeout.as_secs()
                )
            );
            let _ = err.flush();
        } else if !self.shown {
            let _ = writeln!(
                err,
                "{}",
                tr!(
                    "wait-start",
                    timeout = p.timeout.as_secs(),
                    what = self.what.as_str()
                )
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
        let asked = CardArgs {
            sim: Some("cps4".into()),
            ..CardArgs::default()
        };
        assert_eq!(
            asked.explicit_source().ok().flatten(),
            Some(CardSource::Simulator(SimSpec::default()))
        );
        let persona = CardArgs {
            persona: Some("dr-martin".into()),
            ..CardArgs::default()
        };
        assert!(matches!(
            persona.explicit_source(),
            Ok(Some(CardSource::Simulator(_)))
        ));
        // Nothing said: the readers decide (not known without PC/SC).
        assert!(matches!(CardArgs::default().explicit_source(), Ok(None)));
        let auto = CardArgs {
            reader: Some("auto".into()),
            wait: Some(5),
            ..CardArgs::default()
        };
        assert_eq!(
            auto.explicit_source().ok().flatten(),
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
        assert!(mixed.explicit_source().is_err());
        let sim_wait = CardArgs {
            sim: Some("cps3".into()),
            wait: Some(3),
            ..CardArgs::default()
        };
        assert_eq!(sim_wait.explicit_source().err().map(|f| f.code), Some(2));
    }

    #[test]
    fn readers_by_name_index_or_part() {
        let names: Vec<String> = ["Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR39U 00 00"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        let r = |a: &str| resolve_reader(a, &names).map_err(|f| (f.code, f.message));
        assert_eq!(
            r("Virtual PCD 00 01").ok().as_deref(),
            Some("Virtual PCD 00 01")
        );
        assert_eq!(r("0").ok().as_deref(), Some("Virtual PCD 00 00"));
        assert_eq!(r("2").ok().as_deref(), Some("ACS ACR39U 00 00"));
        assert_eq!(r("acr39").ok().as_deref(), Some("ACS ACR39U 00 00"));
        assert_eq!(r("00 01").ok().as_deref(), Some("Virtual PCD 00 01"));
        let (code, msg) = r("3").err().unwrap_or_default();
        assert_eq!(code, 3);
        assert!(
            msg.contains("no reader number 3") && msg.contains("2: \"ACS"),
            "{msg}"
        );
        let (code, msg) = r("virtual").err().unwrap_or_default();
        assert_eq!(code, 2);
        assert!(
            msg.contains("matches 2 readers")
                && msg.contains("\"Virtual PCD 00 00\"")
                && msg.contains("\"Virtual PCD 00 01\""),
            "{msg}"
        );
        // Nothing matches: passed on as given (the library says it is not found).
        assert_eq!(r("Gemalto").ok().as_deref(), Some("Gemalto"));
    }
}
