//! `cps`: the French health-professional card (CPS3 / CPS4) from the command line.
//!
//! Without `--reader`, every card command runs on the built-in simulated CPS4 (no reader, no
//! pcscd): `cps info` works at once on a fresh machine. `--reader NAME` uses a PC/SC reader,
//! `--reader auto` the first reader holding a card; `--wait [SECONDS]` waits for the card.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | other failure |
//! | 2 | usage error (bad argument, unknown persona, malformed PIN: nothing was sent to the card) |
//! | 3 | no PC/SC service, no reader, or no card (also when `--wait` timed out) |
//! | 4 | reader busy (another application holds the card) |
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

/// `println!` that ignores a closed stdout (e.g. `cps certs | head`) instead of panicking.
macro_rules! out {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod certs;
mod crypto;
mod desfire;
mod fido2;
mod info;
mod opts;
mod pin;
mod readers;
mod secret;
mod sim;
mod update;

pub use opts::{CardArgs, SecretArgs};

const EXIT_CODES: &str = "\
Card selection: without --reader the built-in simulated CPS4 (persona dr-martin) is used;
--sim cps3|cps4, --persona, --contactless choose another simulated card. --reader NAME uses
a PC/SC reader, --reader auto the first reader holding a card; --wait [SECONDS] waits for it.

PINs, PUKs and keys are never taken from the command line: they are asked on the terminal
without echo (default), or read from stdin (--pin-from stdin, one line per secret) or from
the environment (--pin-from env: CPS_PIN, CPS_NEW_PIN, CPS_PUK, CPS_FIDO2_PIN,
CPS_FIDO2_NEW_PIN, CPS_DESFIRE_KEY).

Exit codes: 0 success; 1 other failure; 2 usage error (nothing sent to the card); 3 no PC/SC
service, no reader or no card; 4 reader busy; 5 the card refused a command; 6 wrong PIN/PUK;
7 PIN/PUK blocked; 8 verification failed (signature, chain, auth-test, DESFire); 9 `cps
doctor` found a failure.";

/// Command-line tool for the French health-professional smart card (CPS3 / CPS4).
#[derive(Parser, Debug)]
#[command(name = "cps", version, about, after_help = EXIT_CODES)]
struct Cli {
    /// Machine-readable output (JSON on stdout).
    #[arg(long, global = true)]
    json: bool,
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
        /// Exit with code 5 if a response status word is not 9000.
        #[arg(long)]
        check: bool,
        /// APDUs in hex (spaces and colons allowed inside one argument when quoted).
        #[arg(required = true, value_name = "HEX")]
        apdus: Vec<String>,
    },
    /// The simulated CPS cards (test cards without a physical card).
    #[command(subcommand)]
    Sim(SimCmd),
}

#[derive(Subcommand, Debug)]
enum SimCmd {
    /// List the simulated card profiles and holder personas.
    List,
    /// Insert a simulated card into pcscd's virtual reader (vsmartcard-vpcd) so that any
    /// PC/SC application (OpenSC, your software) sees it; runs until interrupted. The holder
    /// is --persona; --contactless presents its contactless interface.
    Serve {
        /// Card profile: cps3 or cps4.
        #[arg(long, default_value = "cps4")]
        profile: String,
        /// vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01".
        #[arg(long, default_value_t = 35963)]
        port: u16,
    },
}

/// A failure with the exit code it maps to.
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// A usage error (exit code 2).
    pub fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }

    /// A failure with an explicit exit code.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}

/// The exit code of a transport failure.
fn transport_code(e: &TransportError) -> u8 {
    match e {
        TransportError::ServiceUnavailable { .. }
        | TransportError::NoReader
        | TransportError::UnknownReader { .. }
        | TransportError::NoCard { .. }
        | TransportError::CardRemoved
        | TransportError::Timeout { .. } => 3,
        TransportError::ReaderBusy { .. } => 4,
        _ => 1,
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure {
            code: transport_code(&e),
            message: e.to_string(),
        }
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
        Failure {
            code,
            message: e.to_string(),
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut ctx = Ctx {
        json: cli.json,
        secrets: secret::Secrets::new(cli.secrets.pin_from),
        card: cli.card,
    };
    let result = match cli.command {
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
        Cmd::Readers => readers::run(ctx.json),
        Cmd::Apdu {
            exclusive,
            raw,
            check,
            apdus,
        } => run_apdu(&ctx, exclusive, raw, check, &apdus),
        Cmd::Sim(SimCmd::List) => sim::list(ctx.json),
        Cmd::Sim(SimCmd::Serve { profile, port }) => sim::serve(
            &profile,
            ctx.card.persona.as_deref().unwrap_or(opts::DEFAULT_PERSONA),
            port,
            ctx.card.contactless,
        ),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("cps: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn parse_hex_apdu(arg: &str) -> Result<Vec<u8>, Failure> {
    let cleaned: String = arg
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bytes =
        hex::decode(&cleaned).map_err(|e| Failure::usage(format!("{arg:?} is not hex: {e}")))?;
    Command::parse(&bytes)
        .map_err(|e| Failure::usage(format!("{arg:?} is not a valid APDU: {e}")))?;
    Ok(bytes)
}

/// Shows a command, hiding the payload of PIN commands (VERIFY, CHANGE REFERENCE DATA,
/// RESET RETRY COUNTER) as the transcript recorder does.
fn show_command(bytes: &[u8]) -> String {
    let mut policy = cps_transport::record::RedactionPolicy::default();
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
    s.push_str(&r.sw.message().to_string());
    s
}

fn run_apdu(
    ctx: &Ctx,
    exclusive: bool,
    raw: bool,
    check: bool,
    apdus: &[String],
) -> Result<u8, Failure> {
    let commands = apdus
        .iter()
        .map(|a| parse_hex_apdu(a))
        .collect::<Result<Vec<_>, _>>()?;
    let reader = ctx.card.reader.as_deref().filter(|r| *r != "auto");
    let channel = readers::connect(reader, exclusive)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "# reader {:?}, ATR {}",
        channel.reader_name().unwrap_or("?"),
        spaced_hex(channel.atr())
    );
    let mut exchange = Exchange::new(channel);
    let mut all_ok = true;
    for bytes in &commands {
        let _ = writeln!(out, "> {}", show_command(bytes));
        let response = if raw {
            Response::parse(&exchange.transmit_raw(bytes)?).map_err(TransportError::from)?
        } else {
            // Parsing succeeded above.
            let cmd = Command::parse(bytes).map_err(TransportError::from)?;
            exchange.transmit(&cmd)?
        };
        all_ok &= response.sw.is_success();
        let _ = writeln!(out, "< {}", show_response(&response));
    }
    Ok(if check && !all_ok { 5 } else { 0 })
}
