//! `cps`: the French health-professional card (CPS3 / CPS4) from the command line.
//!
//! Without `--reader`, a card command uses the card in the reader holding one (refused when
//! several or none do); the built-in simulated CPS4 only with `--sim` or when no PC/SC service
//! runs (`cps info` works at once on a fresh machine), its output saying so on its first line.
//! `--reader NAME|N|PART` uses a PC/SC reader, `--reader auto` the first reader holding a card;
//! `--wait [SECONDS]` waits for the card (in any reader without `--reader`).
//!
//! Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | other failure |
//! | 2 | usage error (bad argument, unknown persona, malformed PIN: nothing was sent to the card) |
//! | 3 | no PC/SC service, no reader, or no card (also when `--wait` timed out) |
//! | 4 | reader busy (another application holds the card, or reset it during the command) |
//! | 5 | the card refused a command (application missing, security status, `apdu --check`) |
//! | 6 | wrong PIN or PUK (the message says how many tries are left) |
//! | 7 | PIN or PUK blocked |
//! | 8 | verification failed (signature, certificate chain, `auth-test`, DESFire authentication or door check refused) |
//! | 9 | `cps doctor` found at least one failure |
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cps_apdu::{Command, Response};
use cps_transport::{CardChannel, Exchange, TransportError, spaced_hex};

/// `println!` that does not panic on a failed stdout (closed pipe, full disk): the first
/// failure is remembered and makes the command exit non-zero (see [`stdout_failure`]).
macro_rules! out {
    () => {{
        use std::io::Write as _;
        $crate::stdout_result(writeln!(std::io::stdout()));
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        $crate::stdout_result(writeln!(std::io::stdout(), $($arg)*));
    }};
}

/// The first failed write to stdout, if any.
static STDOUT_ERROR: std::sync::OnceLock<std::io::Error> = std::sync::OnceLock::new();

/// Remembers a failed write to stdout.
pub fn stdout_result(r: std::io::Result<()>) {
    if let Err(e) = r {
        let _ = STDOUT_ERROR.set(e);
    }
}

/// Flushes stdout; the failure to report if any write failed (a closed pipe, as in
/// `cps certs | head`, exits 1 quietly like other tools; anything else is said).
fn stdout_failure() -> Option<Failure> {
    stdout_result(std::io::stdout().flush());
    let e = STDOUT_ERROR.get()?;
    Some(Failure::new(
        1,
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            String::new()
        } else {
            format!("writing the output failed: {e}")
        },
    ))
}

/// Prints a JSON value on stdout. On a simulated card, an object gets a `simulator` field
/// (the notice human output starts with); a list is printed as is and the notice goes to
/// stderr.
pub fn emit(mut value: serde_json::Value) {
    if let Some(notice) = opts::sim_in_use() {
        match value.as_object_mut() {
            Some(object) => {
                object.insert("simulator".into(), notice.into());
            }
            None => eprintln!("cps: {notice}"),
        }
    }
    out!("{value}");
    RESULT_PRINTED.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Whether a JSON result was printed: a failure after it (`certs verify` finding a bad
/// chain, exit 8) is told by that result, not by a second JSON document.
static RESULT_PRINTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// At most `max` characters of something a user or a peer supplied, control characters
/// replaced, for an error message.
pub fn shorten(text: &str, max: usize) -> String {
    cps_update::relay::printable(text, max)
}

#[macro_use]
mod i18n;
mod advice;
mod certs;
mod crypto;
mod desfire;
mod fido2;
mod gestion;
mod help;
mod info;
mod opts;
mod pin;
mod readers;
mod secret;
mod sim;
mod trace;
mod update;

pub use opts::{CardArgs, SecretArgs};

const EXIT_CODES: &str = "\
Card selection: without --reader, the card in the reader holding one (refused when several
or none do); the built-in simulated card only with --sim cps3|cps4 (--persona, --contactless)
or when no PC/SC service runs, and its output says so first. --reader NAME|N|PART picks a
reader by name, number or unique part of its name; --wait [SECONDS] waits for the card.

PINs, PUKs and keys are never taken from the command line: they are asked on the terminal
without echo (default), or read from stdin (--pin-from stdin, one line per secret) or from
the environment (--pin-from env: CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN,
CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY).

Exit codes: 0 success; 1 other failure; 2 usage error (nothing sent to the card); 3 no PC/SC
service, no reader or no card (also pulled, pcscd stopped, no answer); 4 reader busy (or the
card reset by another application); 5 the card refused a command; 6 wrong PIN/PUK;
7 PIN/PUK blocked; 8 verification failed (signature, chain, auth-test, DESFire); 9 `cps
doctor` found a failure.";

/// `cps --version`: version, git commit, build date, what is built in.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit    ",
    env!("CPS_GIT_COMMIT"),
    "\nbuilt     ",
    env!("CPS_BUILD_DATE"),
    " (",
    env!("CPS_BUILD_PROFILE"),
    ")\nfeatures  pcsc (PC/SC readers), sim (built-in simulated CPS3/CPS4, vpcd), fido2, desfire, \
     update (relay and reference update server)"
);

/// Command-line tool for the French health-professional smart card (CPS3 / CPS4).
#[derive(Parser, Debug)]
#[command(
    name = "cps",
    version,
    long_version = LONG_VERSION,
    about,
    after_help = EXIT_CODES
)]
struct Cli {
    /// Machine-readable output (JSON on stdout, errors included).
    #[arg(long, global = true)]
    json: bool,
    /// More on stderr: -v the card used and a summary of the exchanges; -vv every APDU
    /// (secrets hidden) with its timing.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Write the APDUs exchanged with the card to FILE, secrets hidden, with timing: a
    /// transcript for a helpdesk ticket that `cps replay FILE` reads back.
    #[arg(long, global = true, value_name = "FILE")]
    trace: Option<std::path::PathBuf>,
    /// Language of the messages: fr or en [default: from LC_ALL, LC_MESSAGES, LANG].
    #[arg(long, global = true, value_name = "fr|en", value_parser = ["fr", "en"])]
    lang: Option<String>,
    #[command(flatten)]
    card: CardArgs,
    #[command(flatten)]
    secrets: SecretArgs,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The card: generation, family, serial, ATR, applications, PIN tries, certificates.
    Info,
    /// The holder: name, identifiers, profession; with --situations the practice
    /// situations (billing data, needs the PIN).
    Identity {
        /// Also read the practice situations (EF.DAM, billing data): asks the PIN.
        #[arg(long, alias = "billing")]
        situations: bool,
    },
    /// The card's certificates: list (default), export, verify the chain.
    Certs {
        #[command(subcommand)]
        cmd: Option<certs::CertsCmd>,
    },
    /// The holder PIN: status, verify, change, unblock with the PUK.
    #[command(subcommand)]
    Pin(pin::PinCmd),
    /// Sign a file with the card (SHA-256 of the file, signed by the card's key).
    Sign(crypto::SignArgs),
    /// Verify a signature made by `cps sign`, with a certificate file or the card's.
    Verify(crypto::VerifyArgs),
    /// Challenge-response with the authentication key, verified with its certificate.
    AuthTest(crypto::AuthTestArgs),
    /// The FIDO2 applet of the CPS4 (contact interface).
    #[command(subcommand)]
    Fido2(fido2::Fido2Cmd),
    /// The DESFire side of the CPS4 (contactless interface).
    #[command(subcommand)]
    Desfire(desfire::DesfireCmd),
    /// The CPS4 migration checklist for this machine and this card.
    Doctor,
    /// Remote update ("télé mise à jour"): relay the card's pending update (new practice
    /// situations, renewed certificates) from an update service, with a progress bar. Safe
    /// to interrupt: nothing changes on the card before the final commit; run it again to
    /// resume.
    Update {
        /// The update service, e.g. http://127.0.0.1:8700 (`cps update-server`).
        #[arg(long, value_name = "URL")]
        server: String,
    },
    /// The reference update authority (TEST keys and TEST PKI) over HTTP, its records and
    /// pending updates in SQLite; prints its URL and serves until interrupted. The JSON API
    /// is in docs/remote-update.md.
    UpdateServer {
        /// Address to listen on (port 0: any free port).
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        /// SQLite database file (created if missing).
        #[arg(long, default_value = "cps-update.sqlite")]
        db: std::path::PathBuf,
        /// Register the simulated cards of every persona (CPS3 and CPS4).
        #[arg(long)]
        seed_test_cards: bool,
        /// File with the administration key (64 hex digits): the `/v1/cards` API then answers
        /// requests carrying a token signed with it (`cps-update-server admin-token`);
        /// without it, administration over HTTP is refused.
        #[arg(long)]
        admin_key_file: Option<std::path::PathBuf>,
    },
    /// The card-management page: a local web page (French or English) showing the card
    /// and its certificates, changing or unblocking the PIN, running the remote update and
    /// enrolling FIDO2. Prints the page's URL (with this run's secret) first, opens the
    /// browser, and stops once the page has been closed for a while. See docs/gestion.md.
    Gestion(gestion::GestionArgs),
    /// List PC/SC readers, card presence, ATR and interface.
    Readers,
    /// Send raw APDUs (hex) and print the responses with decoded status words.
    ///
    /// GET RESPONSE (61xx) and wrong-Le (6Cxx) are handled unless --raw is given. Without
    /// --reader, the first reader holding a card is used.
    Apdu {
        /// Connect in exclusive mode.
        #[arg(long)]
        exclusive: bool,
        /// Send bytes exactly as given: no GET RESPONSE, no Le correction.
        #[arg(long)]
        raw: bool,
        /// Exit with code 5 if a response status word is not 9000 (91 00 for DESFire, a
        /// native status 00).
        #[arg(long)]
        check: bool,
        /// Native DESFire frames (`60` GetVersion, `AF`, `5A 43 50 53`...): sent exactly as
        /// given, of any length; the answer's first byte is decoded as a DESFire status.
        #[arg(long)]
        native: bool,
        /// APDUs in hex (spaces and colons allowed inside one argument when quoted).
        #[arg(required = true, value_name = "HEX")]
        apdus: Vec<String>,
    },
    /// The simulated CPS cards (test cards without a physical card).
    #[command(subcommand)]
    Sim(SimCmd),
    /// Shell completions on stdout, e.g. `cps completions bash > /etc/bash_completion.d/cps`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Man pages generated from this command line: `cps man` prints cps(1) on stdout;
    /// `--dir DIR` writes cps.1 and one page per command (cps-info.1, ...) into DIR.
    Man {
        /// Write every page into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Read back a trace (`--trace FILE`): without COMMAND, its exchanges decoded; with
    /// COMMAND (`cps replay FILE info`), that command run with the trace as the card (a
    /// secret is matched by length: give one of the same length).
    Replay {
        /// The trace file.
        file: std::path::PathBuf,
        /// A card command and its options.
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum SimCmd {
    /// List the simulated card profiles and holder personas.
    List,
    /// Insert a simulated card into pcscd's virtual reader (vsmartcard-vpcd) so that any
    /// PC/SC application (OpenSC, your software) sees it; runs until interrupted. The holder
    /// is --persona; --contactless presents its contactless interface.
    Serve {
        /// Card profile: cps3 or cps4 (the CPS4: ChipDoc on logical channel 1) [default: the
        /// global --sim, else cps4].
        #[arg(long)]
        profile: Option<String>,
        /// vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01".
        #[arg(long, default_value_t = 35963)]
        port: u16,
        /// When pcscd stops, wait up to SECONDS for it to come back (then insert the same
        /// card again); 0 exits at once. Exit code 3 when it does not come back.
        #[arg(long, default_value_t = 60, value_name = "SECONDS")]
        reconnect_for: u64,
        /// Fault injection (tests): the card executes APDU N, then leaves the reader before
        /// answering; it is reinserted 1 s later (same card state).
        #[arg(long, value_name = "N", hide = true, conflicts_with = "freeze_at")]
        pull_at: Option<u64>,
        /// Fault injection (tests): the card stops answering at APDU N.
        #[arg(long, value_name = "N", hide = true)]
        freeze_at: Option<u64>,
    },
}

/// A failure with the exit code it maps to.
pub struct Failure {
    code: u8,
    message: String,
    /// PIN or PUK tries left, for a wrong or blocked PIN / PUK (`--json` errors).
    tries_left: Option<u8>,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(2, message)
    }

    /// A failure with an explicit exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
            tries_left: None,
        }
    }

    /// The failure as JSON (`--json`): exit code, message, tries left for PIN errors.
    fn json(&self) -> serde_json::Value {
        let mut error = serde_json::json!({
            "exit_code": self.code,
            "kind": exit_kind(self.code),
            "message": self.message,
        });
        if let (Some(n), Some(o)) = (self.tries_left, error.as_object_mut()) {
            o.insert("tries_left".into(), n.into());
        }
        let mut all = serde_json::json!({ "error": error });
        if let (Some(notice), Some(o)) = (opts::sim_in_use(), all.as_object_mut()) {
            o.insert("simulator".into(), notice.into());
        }
        all
    }
}

/// A short name for an exit code (`--json` errors).
fn exit_kind(code: u8) -> &'static str {
    match code {
        2 => "usage",
        3 => "no_card",
        4 => "reader_busy",
        5 => "card_refused",
        6 => "wrong_pin",
        7 => "blocked",
        8 => "verification_failed",
        9 => "doctor_failure",
        _ => "failure",
    }
}

/// The exit code of a transport failure.
fn transport_code(e: &TransportError) -> u8 {
    match e {
        TransportError::ServiceUnavailable { .. }
        | TransportError::PcscLibrary { .. }
        | TransportError::ServiceStopped { .. }
        | TransportError::CardUnresponsive
        | TransportError::NoAnswer { .. }
        | TransportError::NoReader
        | TransportError::UnknownReader { .. }
        | TransportError::NoCard { .. }
        | TransportError::CardRemoved
        | TransportError::Timeout { .. } => 3,
        // Another application holds the card, or reset it under us (its verified PIN and
        // selected application are gone): run the command again.
        TransportError::ReaderBusy { .. } | TransportError::CardReset => 4,
        _ => 1,
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::new(
            transport_code(&e),
            advice::with_advice(cps::describe(&e), advice::for_transport(&e)),
        )
    }
}

impl From<cps::Error> for Failure {
    fn from(e: cps::Error) -> Self {
        use cps::fido2::Fido2Error;
        use cps::fido2::ctap::CtapStatus;
        use cps::iasecc::Error as Ias;
        let code = if let Some(t) = e.transport() {
            transport_code(t)
        } else {
            match &e {
                cps::Error::NoCardInAnyReader { .. } => 3,
                cps::Error::Simulator(_) => 2,
                cps::Error::IasEcc(i) => match i {
                    // The last try spent: the PIN (PUK) is now blocked.
                    Ias::WrongPin { retries_left: 0 } | Ias::WrongPuk { retries_left: 0 } => 7,
                    Ias::WrongPin { .. } | Ias::WrongPuk { .. } => 6,
                    Ias::PinBlocked | Ias::PukBlocked => 7,
                    Ias::InvalidPinFormat { .. } => 2,
                    Ias::NotACpsCard { .. }
                    | Ias::FileNotFound { .. }
                    | Ias::SecurityStatusNotSatisfied { .. }
                    | Ias::KeyNotFound { .. }
                    | Ias::Card { .. } => 5,
                    _ => 1,
                },
                cps::Error::Fido2(f) => match f {
                    Fido2Error::Ctap { status, .. }
                        if *status == CtapStatus::CTAP2_ERR_PIN_INVALID =>
                    {
                        6
                    }
                    Fido2Error::Ctap { status, .. }
                        if *status == CtapStatus::CTAP2_ERR_PIN_BLOCKED
                            || *status == CtapStatus::CTAP2_ERR_PIN_AUTH_BLOCKED =>
                    {
                        7
                    }
                    Fido2Error::Usage(_) | Fido2Error::Pin(_) => 2,
                    Fido2Error::NoApplet { .. }
                    | Fido2Error::Status { .. }
                    | Fido2Error::Ctap { .. } => 5,
                    _ => 1,
                },
                cps::Error::Desfire(d) => match d {
                    cps::desfire::DesfireError::Auth(_) => 8,
                    cps::desfire::DesfireError::NotDesfire(_)
                    | cps::desfire::DesfireError::Status { .. }
                    | cps::desfire::DesfireError::NotAuthenticated => 5,
                    cps::desfire::DesfireError::Command(_) => 2,
                    _ => 1,
                },
                _ => 1,
            }
        };
        let tries_left = match &e {
            cps::Error::IasEcc(Ias::WrongPin { retries_left } | Ias::WrongPuk { retries_left }) => {
                Some(*retries_left)
            }
            cps::Error::IasEcc(Ias::PinBlocked | Ias::PukBlocked) => Some(0),
            _ => None,
        };
        let message = match &e {
            cps::Error::IasEcc(Ias::WrongPin { retries_left: 0 }) => {
                tr!("error-wrong-pin-now-blocked", sw = "63C0")
            }
            cps::Error::IasEcc(Ias::WrongPin { retries_left }) => tr!(
                "error-wrong-pin",
                sw = format!("63C{retries_left:X}"),
                n = *retries_left
            ),
            cps::Error::IasEcc(Ias::WrongPuk { retries_left: 0 }) => {
                tr!("error-wrong-puk-now-blocked", sw = "63C0")
            }
            cps::Error::IasEcc(Ias::WrongPuk { retries_left }) => tr!(
                "error-wrong-puk",
                sw = format!("63C{retries_left:X}"),
                n = *retries_left
            ),
            cps::Error::IasEcc(Ias::PinBlocked) => tr!("error-pin-blocked"),
            cps::Error::IasEcc(Ias::PukBlocked) => tr!("error-puk-blocked"),
            _ => cps::describe(&e),
        };
        Failure {
            code,
            message: advice::with_advice(message, advice::for_error(&e)),
            tries_left,
        }
    }
}

/// Wraps a protocol-crate error into the facade error, then into a failure.
pub fn fail(e: impl Into<cps::Error>) -> Failure {
    Failure::from(e.into())
}

/// What every command gets: output mode, card selection, where secrets come from.
pub struct Ctx {
    /// `--json`.
    pub json: bool,
    /// Card selection.
    pub card: CardArgs,
    /// Secret source.
    pub secrets: secret::Secrets,
}

/// The command line as documented: the global options shown once (in `cps --help`) rather
/// than in every command's help (for help and man pages only; parsing uses [`Cli`] as
/// derived).
fn command() -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = help::localize(Cli::command());
    cmd.build();
    let cmd = help::headings(cmd);
    let globals: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .map(|a| a.get_id().clone())
        .collect();
    hide_globals(cmd, &globals)
}

fn hide_globals(cmd: clap::Command, globals: &[clap::Id]) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut cmd = cmd;
    for name in names {
        cmd = cmd.mut_subcommand(name, |mut sub| {
            let own: Vec<clap::Id> = sub.get_arguments().map(|a| a.get_id().clone()).collect();
            for id in globals.iter().filter(|id| own.contains(id)) {
                sub = sub.mut_arg(id.clone(), |a| a.hide(true));
            }
            if sub.get_after_help().is_none() {
                sub = sub.after_help(tr!("help-global-hint"));
            }
            hide_globals(sub, globals)
        });
    }
    cmd
}

/// `cps CMD... --help` (or `cps help CMD...`): the help of CMD without the global options.
fn concise_help(args: &[String]) -> Option<String> {
    let mut cmd = command();
    let mut path = Vec::new();
    let mut current = &mut cmd;
    for arg in args.iter().skip(1) {
        if arg.starts_with('-') || (path.is_empty() && arg == "help") {
            continue;
        }
        if current.find_subcommand(arg).is_some() {
            path.push(arg.clone());
            current = current.find_subcommand_mut(arg)?;
        }
    }
    if path.is_empty() {
        // `cps --help`, `cps -h`.
        let help = if args.iter().any(|a| a == "--help") {
            cmd.render_long_help()
        } else {
            cmd.render_help()
        };
        return Some(help.to_string());
    }
    let name = format!("cps {}", path.join(" "));
    Some(
        current
            .clone()
            .bin_name(name)
            .render_long_help()
            .to_string(),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // --lang first: the help and the errors of the parsing below are in that language.
    if let Some(lang) = lang_arg(&args) {
        i18n::set_lang(lang);
    }
    let cli = {
        use clap::FromArgMatches;
        let parsed = help::localize(<Cli as clap::CommandFactory>::command())
            .try_get_matches_from(&args)
            .and_then(|m| Cli::from_arg_matches(&m));
        match parsed {
            Ok(cli) => cli,
            Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
                match concise_help(&args) {
                    Some(help) => {
                        out!("{}", help.trim_end());
                        return ExitCode::SUCCESS;
                    }
                    None => e.exit(),
                }
            }
            // A usage error under --json: JSON on stdout as for any other error.
            Err(e) if e.exit_code() == 2 && args.iter().any(|a| a == "--json") => {
                let message = e.to_string();
                let message = message
                    .lines()
                    .next()
                    .unwrap_or("usage error")
                    .trim_start_matches("error: ");
                out!("{}", Failure::usage(message).json());
                let _ = std::io::stdout().flush();
                let _ = e.print();
                return ExitCode::from(2);
            }
            // `cps`, `cps pin`: the help (in the user's language) on stderr, exit code 2.
            Err(e)
                if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand =>
            {
                match concise_help(&args) {
                    Some(help) => {
                        eprintln!("{}", help.trim_end());
                        return ExitCode::from(2);
                    }
                    None => e.exit(),
                }
            }
            Err(e) => e.exit(),
        }
    };
    // Ctrl-C: the current card command finishes, nothing more is sent (the card is left as
    // a complete command left it); a second Ctrl-C quits at once. The update server keeps
    // the default (it holds no card), and so does the page server (each card command of the
    // page is short; a remote update interrupted there resumes on the next run).
    if !matches!(cli.command, Cmd::UpdateServer { .. } | Cmd::Gestion(_)) {
        let _ = ctrlc::set_handler(|| {
            if cps_transport::cancel_flag().swap(true, std::sync::atomic::Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\ncps: {}", tr!("ctrl-c"));
        });
    }
    if let Some(seconds) = cli.card.timeout {
        cps_transport::pcsc::set_default_timeouts(cps_transport::pcsc::Timeouts::uniform(
            std::time::Duration::from_secs_f64(seconds),
        ));
    }
    let result = run(cli, None);
    let result = match (result, stdout_failure()) {
        (Ok(_), Some(f)) => Err(f),
        (r, _) => r,
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if JSON_MODE.load(std::sync::atomic::Ordering::Relaxed)
                && !f.message.is_empty()
                && !RESULT_PRINTED.load(std::sync::atomic::Ordering::Relaxed)
            {
                out!("{}", f.json());
                let _ = std::io::stdout().flush();
            }
            if !f.message.is_empty() {
                eprintln!("cps: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// The value of `--lang fr|en` (or `--lang=...`), before clap parses the command line.
fn lang_arg(args: &[String]) -> Option<i18n::Lang> {
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        if arg == "--" {
            break;
        }
        if let Some(v) = arg.strip_prefix("--lang=") {
            return i18n::Lang::parse(v);
        }
        if arg == "--lang" {
            return it.next().and_then(|v| i18n::Lang::parse(v));
        }
    }
    None
}

/// `--json` of the command that runs (for its error).
static JSON_MODE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Runs one command; `replay`: the card is the transcript in this file.
fn run(cli: Cli, replay_of: Option<std::path::PathBuf>) -> Result<u8, Failure> {
    let json = cli.json;
    JSON_MODE.store(json, std::sync::atomic::Ordering::Relaxed);
    let mut card = cli.card;
    card.json = cli.json;
    card.trace = cli.trace;
    card.verbose = cli.verbose;
    card.replay = replay_of;
    let mut ctx = Ctx {
        json: cli.json,
        secrets: secret::Secrets::new(cli.secrets.pin_from),
        card,
    };
    match cli.command {
        Cmd::Info => info::info(&mut ctx),
        Cmd::Identity { situations } => info::identity(&mut ctx, situations),
        Cmd::Certs { cmd } => certs::run(&mut ctx, cmd.unwrap_or(certs::CertsCmd::List)),
        Cmd::Pin(cmd) => pin::run(&mut ctx, cmd),
        Cmd::Sign(args) => crypto::sign(&mut ctx, &args),
        Cmd::Verify(args) => crypto::verify(&mut ctx, &args),
        Cmd::AuthTest(args) => crypto::auth_test(&mut ctx, &args),
        Cmd::Fido2(cmd) => fido2::run(&mut ctx, cmd),
        Cmd::Desfire(cmd) => desfire::run(&mut ctx, cmd),
        Cmd::Doctor => info::doctor(&mut ctx),
        Cmd::Update { server } => update::run(&mut ctx, &server),
        Cmd::UpdateServer {
            listen,
            db,
            seed_test_cards,
            admin_key_file,
        } => update::serve(&listen, &db, seed_test_cards, admin_key_file.as_deref()),
        Cmd::Gestion(args) => gestion::run(&mut ctx, &args),
        Cmd::Readers => readers::run(ctx.json),
        Cmd::Apdu {
            exclusive,
            raw,
            check,
            native,
            apdus,
        } => run_apdu(&ctx, exclusive, raw, check, native, &apdus),
        Cmd::Sim(SimCmd::List) => sim::list(ctx.json),
        Cmd::Completions { shell } => {
            let mut out = Vec::new();
            // The derived definition: the global options complete after every command.
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "cps",
                &mut out,
            );
            stdout_result(std::io::stdout().write_all(&out));
            Ok(0)
        }
        Cmd::Man { dir } => man(dir.as_deref()),
        Cmd::Replay { file, command } if command.is_empty() => trace::show(&file),
        Cmd::Replay { file, command } => replay(&file, &command, json),
        Cmd::Sim(SimCmd::Serve {
            profile,
            port,
            reconnect_for,
            pull_at,
            freeze_at,
        }) => match (profile, ctx.card.sim.clone()) {
            (Some(p), Some(s)) if !p.eq_ignore_ascii_case(&s) => Err(Failure::usage(format!(
                "--sim {} and --profile {} name two different cards",
                shorten(&s, 16),
                shorten(&p, 16)
            ))),
            (p, s) => sim::serve(
                &p.or(s).unwrap_or_else(|| "cps4".to_owned()),
                ctx.card.persona.as_deref().unwrap_or(opts::DEFAULT_PERSONA),
                port,
                ctx.card.contactless,
                std::time::Duration::from_secs(reconnect_for),
                pull_at
                    .map(cps_sim::vpcd::Fault::PullAt)
                    .or(freeze_at.map(cps_sim::vpcd::Fault::FreezeAt)),
            ),
        },
    }
}

/// `cps replay FILE COMMAND...`: COMMAND run with the trace as the card.
fn replay(file: &std::path::Path, command: &[String], json: bool) -> Result<u8, Failure> {
    let args = std::iter::once("cps".to_owned()).chain(command.iter().cloned());
    let mut inner = Cli::try_parse_from(args).map_err(|e| {
        Failure::usage(format!(
            "cps replay FILE COMMAND: {}",
            e.to_string().lines().next().unwrap_or("bad command")
        ))
    })?;
    let card_command = matches!(
        inner.command,
        Cmd::Info
            | Cmd::Identity { .. }
            | Cmd::Certs { .. }
            | Cmd::Pin(_)
            | Cmd::Sign(_)
            | Cmd::Verify(_)
            | Cmd::AuthTest(_)
            | Cmd::Fido2(_)
            | Cmd::Desfire(_)
    );
    if !card_command {
        return Err(Failure::usage(
            "cps replay FILE COMMAND: COMMAND is a card command (info, identity, certs, pin, \
             sign, verify, auth-test, fido2, desfire)",
        ));
    }
    if inner.card.reader.is_some() || inner.card.sim.is_some() || inner.card.trace.is_some() {
        return Err(Failure::usage(
            "cps replay FILE COMMAND: the card is the trace (no --reader, --sim or --trace)",
        ));
    }
    inner.json |= json;
    run(inner, Some(file.to_owned()))
}

/// `cps man`: cps(1) on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<u8, Failure> {
    let cmd = command();
    let Some(dir) = dir else {
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut page)
            .map_err(|e| Failure::new(1, format!("man page: {e}")))?;
        stdout_result(std::io::stdout().write_all(&page));
        return Ok(0);
    };
    let written = write_pages(cmd, "cps", dir).map_err(|e| {
        Failure::new(
            1,
            tr!(
                "man-write-failed",
                dir = dir.display().to_string(),
                error = e.to_string()
            ),
        )
    })?;
    out!(
        "{}",
        tr!("man-written", n = written, dir = dir.display().to_string())
    );
    Ok(0)
}

/// Writes the page of `cmd` (named `name`) and its commands' pages; the number written.
fn write_pages(cmd: clap::Command, name: &str, dir: &std::path::Path) -> std::io::Result<usize> {
    let mut written = 0;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let sub_name = format!("{name}-{}", sub.get_name());
        let sub = sub.clone().name(sub_name.clone());
        written += write_pages(sub, &sub_name, dir)?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.name(name.to_owned())).render(&mut page)?;
    std::fs::write(dir.join(format!("{name}.1")), page)?;
    Ok(written + 1)
}

fn parse_hex_apdu(arg: &str, native: bool) -> Result<Vec<u8>, Failure> {
    let cleaned: String = arg
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    // The argument may be huge or hostile: quote a short prefix only.
    let shown = || format!("{:?}", shorten(arg, 32));
    let bytes = hex::decode(&cleaned)
        .map_err(|e| Failure::usage(tr!("apdu-not-hex", arg = shown(), error = e.to_string())))?;
    if native {
        if bytes.is_empty() {
            return Err(Failure::usage(tr!("apdu-native-empty", arg = shown())));
        }
        return Ok(bytes);
    }
    Command::parse(&bytes)
        .map_err(|e| Failure::usage(tr!("apdu-not-valid", arg = shown(), error = e.to_string())))?;
    Ok(bytes)
}

/// Shows a command, hiding the payload of secret commands (VERIFY, CHANGE REFERENCE DATA,
/// RESET RETRY COUNTER for every class byte, DESFire ChangeKey, CTAP ClientPIN) as the
/// transcript recorder does: both read the same command tables (`trace::command_tables`).
fn show_command(bytes: &[u8]) -> String {
    let mut policy = cps_transport::record::RedactionPolicy::new(trace::command_tables());
    let (cmd, _) = policy.redact(bytes, &[0x90, 0x00]);
    let mut out = String::new();
    for seg in &cmd.0 {
        if !out.is_empty() {
            out.push(' ');
        }
        match seg {
            cps_transport::record::Segment::Bytes(b) => out.push_str(&spaced_hex(b)),
            cps_transport::record::Segment::Redacted(n) => {
                out.push_str(&format!("<{n} bytes hidden>"))
            }
        }
    }
    out
}

fn show_response(r: &Response) -> String {
    let mut s = String::new();
    if !r.data.is_empty() {
        s.push_str(&spaced_hex(&r.data));
        s.push(' ');
    }
    s.push_str(&spaced_hex(&r.sw.to_bytes()));
    s.push_str("   ");
    match cps::desfire::DesfireStatus::from_status_word(r.sw) {
        // 91xx: an ISO-wrapped DESFire answer; its status byte has a name of its own.
        Some(status) => s.push_str(&format!("DESFire {status}")),
        None => s.push_str(&r.sw.message().to_string()),
    }
    s
}

/// Shows a native DESFire answer: the status byte first, then the data.
fn show_native_response(r: &[u8]) -> String {
    match r.split_first() {
        Some((&status, data)) => {
            let status = cps::desfire::DesfireStatus::from_u8(status);
            let mut s = format!("{:02X}", status.code());
            if !data.is_empty() {
                s.push(' ');
                s.push_str(&spaced_hex(data));
            }
            format!("{s}   DESFire {status}")
        }
        None => "(no answer)".to_string(),
    }
}

fn run_apdu(
    ctx: &Ctx,
    exclusive: bool,
    raw: bool,
    check: bool,
    native: bool,
    apdus: &[String],
) -> Result<u8, Failure> {
    let commands = apdus
        .iter()
        .map(|a| parse_hex_apdu(a, native))
        .collect::<Result<Vec<_>, _>>()?;
    let channel = readers::connect(ctx.card.reader.as_deref(), exclusive)?;
    let mut out = std::io::stdout().lock();
    stdout_result(writeln!(
        out,
        "# reader {:?}, ATR {}",
        channel.reader_name().unwrap_or("?"),
        spaced_hex(channel.atr())
    ));
    let channel: cps::Channel = Box::new(channel);
    let channel: cps::Channel = if ctx.card.trace.is_some() || ctx.card.verbose > 0 {
        let origin = format!("reader {:?}", channel.reader_name().unwrap_or("?"));
        let log = trace::TraceLog::new(ctx.card.trace.as_deref(), ctx.card.verbose)?;
        Box::new(trace::Traced::new(channel, &origin, log))
    } else {
        channel
    };
    let mut exchange = Exchange::new(channel);
    // Raw APDUs of any protocol: the PC/SC channel judges each one by every table.
    exchange.register_all(&trace::command_tables());
    let mut all_ok = true;
    for bytes in &commands {
        if native {
            stdout_result(writeln!(out, "> {}", spaced_hex(bytes)));
            let answer = exchange.transmit_raw(bytes)?;
            all_ok &= answer.first() == Some(&0x00);
            stdout_result(writeln!(out, "< {}", show_native_response(&answer)));
            continue;
        }
        stdout_result(writeln!(out, "> {}", show_command(bytes)));
        let response = if raw {
            Response::parse(&exchange.transmit_raw(bytes)?).map_err(TransportError::from)?
        } else {
            // Parsing succeeded above.
            let cmd = Command::parse(bytes).map_err(TransportError::from)?;
            exchange.transmit(&cmd)?
        };
        all_ok &= response.sw.is_success() || response.sw.to_bytes() == [0x91, 0x00];
        stdout_result(writeln!(out, "< {}", show_response(&response)));
    }
    Ok(if check && !all_ok { 5 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_payloads_are_hidden_for_every_class_byte() {
        for cla in [0x00u8, 0x01, 0x0C, 0x80, 0x81, 0x84, 0xA0] {
            for ins in [0x20u8, 0x21, 0x24, 0x2C] {
                let apdu = [cla, ins, 0x00, 0x01, 0x04, 0x31, 0x32, 0x33, 0x34];
                let shown = show_command(&apdu);
                assert!(!shown.contains("31 32"), "{cla:02X} {ins:02X}: {shown}");
                assert!(shown.contains("<4 bytes hidden>"), "{shown}");
            }
        }
        // DESFire ChangeKey and CTAP ClientPIN.
        let shown = show_command(&[0x90, 0xC4, 0, 0, 2, 0xAA, 0xBB, 0]);
        assert!(!shown.contains("AA BB"), "{shown}");
        let shown = show_command(&[0x80, 0x10, 0x80, 0, 3, 0x06, 0xAA, 0xBB, 0]);
        assert!(!shown.contains("AA BB"), "{shown}");
        // A read is shown whole.
        assert_eq!(show_command(&[0x00, 0xB0, 0, 0, 8]), "00 B0 00 00 08");
    }

    #[test]
    fn a_bad_apdu_argument_is_quoted_short() {
        let huge = "zz".repeat(65_000);
        let e = parse_hex_apdu(&huge, false)
            .err()
            .map(|f| (f.code, f.message));
        let (code, msg) = e.unwrap_or_default();
        assert_eq!(code, 2);
        assert!(msg.len() < 200, "{} bytes", msg.len());
        let e = parse_hex_apdu("00A4\u{1b}[2J", false)
            .err()
            .map(|f| f.message);
        assert!(!e.unwrap_or_default().contains('\u{1b}'));
    }
}
