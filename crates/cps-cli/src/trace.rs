//! `--trace FILE` and `-v`: the APDUs a command exchanged with the card, redacted, with
//! timing; `cps replay FILE [COMMAND...]` reads such a file back.
//!
//! The file is a cps-rs APDU transcript (`cps_transport::record`, format v1) whose timing
//! sits in `#` comment lines, so that `Transcript::from_text` replays it as is. Secrets never
//! reach it: every exchange goes through the transcript recorder's [`RedactionPolicy`], which
//! reads the command tables of every protocol ([`command_tables`]: the payloads of VERIFY /
//! CHANGE REFERENCE DATA / RESET RETRY COUNTER, CTAP ClientPIN, DESFire ChangeKey, and of any
//! command no table lists) before it is written. Each exchange is written (and flushed) as it happens: a
//! card pulled or a crash mid-command leaves the trace up to that point.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use cps::Channel;
use cps_transport::record::{RedactionPolicy, ReplayChannel, Transcript};
use cps_transport::{CardChannel, TransportError};

use crate::Failure;

/// The command tables every trace redacts with: those of the facade's protocols
/// ([`cps::command_tables`]) and of the remote-update application.
pub fn command_tables() -> cps_apdu::table::CommandTables {
    cps::command_tables().with(&cps_update::table::TABLE)
}

/// Where the exchanges go: a file (`--trace`), stderr (`-vv`), and counters (`-v`).
pub struct TraceLog {
    file: Option<std::fs::File>,
    verbose: u8,
    policy: RedactionPolicy,
    start: Instant,
    exchanges: u64,
    card_time: Duration,
}

impl TraceLog {
    /// A log writing to `file` (created, truncated) when given, to stderr from `verbose` 2.
    pub fn new(file: Option<&Path>, verbose: u8) -> Result<Self, Failure> {
        let file = match file {
            None => None,
            Some(path) => Some(
                std::fs::File::create(path)
                    .map_err(|e| Failure::usage(format!("--trace {}: {e}", path.display())))?,
            ),
        };
        Ok(TraceLog {
            file,
            verbose,
            policy: RedactionPolicy::new(command_tables()),
            start: Instant::now(),
            exchanges: 0,
            card_time: Duration::ZERO,
        })
    }

    fn write_file(&mut self, text: &str) {
        if let Some(f) = &mut self.file {
            // A trace that cannot be written must not stop the card command half-way.
            if f.write_all(text.as_bytes())
                .and_then(|()| f.flush())
                .is_err()
            {
                eprintln!("cps: --trace: writing the trace failed; tracing stopped");
                self.file = None;
            }
        }
    }

    /// The header: what ran, on which card.
    pub fn begin(&mut self, origin: &str, atr: &[u8]) {
        let mut head = String::from("# cps-rs APDU transcript v1\n");
        let _ = writeln!(
            head,
            "# cps {} (commit {}), secrets redacted (*N = N bytes hidden)",
            env!("CARGO_PKG_VERSION"),
            env!("CPS_GIT_COMMIT")
        );
        let _ = writeln!(head, "# command: {}", crate::advice::command_again());
        let _ = writeln!(head, "# card: {}", one_line(origin));
        let _ = writeln!(head, "atr {}", hex::encode_upper(atr));
        self.write_file(&head);
        if self.verbose >= 1 {
            eprintln!(
                "cps: card: {origin}, ATR {}",
                cps_transport::spaced_hex(atr)
            );
        }
    }

    fn record(
        &mut self,
        command: &[u8],
        result: &Result<Vec<u8>, TransportError>,
        at: Duration,
        took: Duration,
    ) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        match result {
            Ok(response) => {
                self.exchanges += 1;
                self.card_time += took;
                let (c, r) = self.policy.redact(command, response);
                let text = format!(
                    "# #{} at +{:.1} ms, {:.2} ms\n> {}\n< {}\n",
                    self.exchanges,
                    ms(at),
                    ms(took),
                    c.to_text(),
                    r.to_text()
                );
                self.write_file(&text);
                if self.verbose >= 2 {
                    eprintln!(
                        "cps: > {}\ncps: < {}   ({:.2} ms)",
                        c.to_text(),
                        r.to_text(),
                        ms(took)
                    );
                }
            }
            Err(e) => {
                // The command went out (or not) and no answer came: noted, not replayable.
                let (c, _) = self.policy.redact(command, &[0x90, 0x00]);
                let text = format!(
                    "# at +{:.1} ms, after {:.2} ms: no answer to {}: {}\n",
                    ms(at),
                    ms(took),
                    c.to_text(),
                    one_line(&e.to_string())
                );
                self.write_file(&text);
                if self.verbose >= 2 {
                    eprintln!("cps: > {}\ncps: ! {e}", c.to_text());
                }
            }
        }
    }

    fn note(&mut self, what: &str) {
        let text = format!(
            "# at +{:.1} ms: {what}\n",
            self.start.elapsed().as_secs_f64() * 1000.0
        );
        self.write_file(&text);
        if self.verbose >= 2 {
            eprintln!("cps: {what}");
        }
    }
}

impl Drop for TraceLog {
    fn drop(&mut self) {
        let summary = format!(
            "{} exchange(s) with the card, {:.1} ms in the card's exchanges, {:.1} ms in all",
            self.exchanges,
            self.card_time.as_secs_f64() * 1000.0,
            self.start.elapsed().as_secs_f64() * 1000.0
        );
        self.write_file(&format!("# end: {summary}\n"));
        if self.verbose >= 1 {
            eprintln!("cps: {summary}");
        }
    }
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn traced_transmit(
    inner: &mut dyn CardChannel,
    log: &mut TraceLog,
    command: &[u8],
) -> Result<Vec<u8>, TransportError> {
    let at = log.start.elapsed();
    let t = Instant::now();
    let result = inner.transmit(command);
    log.record(command, &result, at, t.elapsed());
    result
}

/// A card channel whose exchanges go to a [`TraceLog`].
pub struct Traced {
    inner: Channel,
    log: TraceLog,
}

impl Traced {
    /// Wraps `inner`; the header names `origin`.
    pub fn new(inner: Channel, origin: &str, mut log: TraceLog) -> Self {
        log.begin(origin, inner.atr());
        Traced { inner, log }
    }
}

impl CardChannel for Traced {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        traced_transmit(&mut *self.inner, &mut self.log, command)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.log.note("card reset");
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        let inner = self.inner.transaction()?;
        Ok(Box::new(TracedRef {
            inner,
            log: &mut self.log,
        }))
    }
    fn interface(&self) -> cps_transport::Interface {
        self.inner.interface()
    }
    fn reader_name(&self) -> Option<&str> {
        self.inner.reader_name()
    }
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        self.inner.learn_commands(tables);
    }
}

/// [`Traced`] inside a transaction.
struct TracedRef<'a> {
    inner: Box<dyn CardChannel + 'a>,
    log: &'a mut TraceLog,
}

impl CardChannel for TracedRef<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        traced_transmit(&mut *self.inner, self.log, command)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.log.note("card reset");
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        let inner = self.inner.transaction()?;
        Ok(Box::new(TracedRef {
            inner,
            log: &mut *self.log,
        }))
    }
    fn interface(&self) -> cps_transport::Interface {
        self.inner.interface()
    }
    fn reader_name(&self) -> Option<&str> {
        self.inner.reader_name()
    }
    fn learn_commands(&mut self, tables: &cps_apdu::table::CommandTables) {
        self.inner.learn_commands(tables);
    }
}

/// Reads a trace (or any cps-rs transcript) file: at most 16 MiB.
pub fn load(path: &Path) -> Result<Transcript, Failure> {
    const MAX: u64 = 16 << 20;
    let file = std::fs::File::open(path)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX + 1), &mut text)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    if text.len() as u64 > MAX {
        return Err(Failure::usage(tr!(
            "replay-too-large",
            path = path.display().to_string()
        )));
    }
    Transcript::from_text(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))
}

/// The channel that plays a trace back as the card.
pub fn replay_channel(path: &Path) -> Result<Channel, Failure> {
    Ok(Box::new(ReplayChannel::new(load(path)?)))
}

/// `cps replay FILE` with no command: the exchanges, decoded.
pub fn show(path: &Path) -> Result<u8, Failure> {
    let t = load(path)?;
    out!(
        "# transcript {}, ATR {}",
        path.display(),
        cps_transport::spaced_hex(&t.atr)
    );
    for ex in &t.exchanges {
        out!("> {}", ex.command.to_text());
        let bytes = ex.response.to_bytes_zero_filled();
        let status = match bytes.len() {
            n if n >= 2 && !ex.response.is_redacted() => match cps_apdu::Response::parse(&bytes) {
                Ok(r) => format!("   {}", r.sw.message()),
                Err(_) => String::new(),
            },
            _ => String::new(),
        };
        out!("< {}{status}", ex.response.to_text());
    }
    out!("{}", tr!("replay-exchanges", n = t.exchanges.len()));
    Ok(0)
}
