//! `cps`: talk to CPS3 / CPS4 health-professional cards from the command line.
//!
//! Exit codes: 0 success; 1 other failure; 2 usage error; 3 no PC/SC service, no reader or no
//! card; 4 reader busy; 5 the card refused a command (`--check`).

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cps_apdu::{Command, Response};
use cps_transport::{CardChannel, Exchange, TransportError, spaced_hex};

mod readers;
mod sim;

/// Command-line tool for the French health-professional smart card (CPS3 / CPS4).
#[derive(Parser, Debug)]
#[command(name = "cps", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List PC/SC readers, card presence, ATR and interface.
    Readers {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Send raw APDUs (hex) and print the responses with decoded status words.
    ///
    /// GET RESPONSE (61xx) and wrong-Le (6Cxx) are handled unless --raw is given.
    Apdu {
        /// Reader name (default: the first reader holding a card).
        #[arg(long, short)]
        reader: Option<String>,
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
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Insert a simulated card into pcscd's virtual reader (vsmartcard-vpcd) so that any
    /// PC/SC application (OpenSC, your software) sees it; runs until interrupted.
    Serve {
        /// Card profile: cps3 or cps4.
        #[arg(long, default_value = "cps4")]
        profile: String,
        /// Holder persona (see `cps sim list`).
        #[arg(long, default_value = "dr-martin")]
        persona: String,
        /// vpcd port: 35963 = "Virtual PCD 00 00", 35964 = "Virtual PCD 00 01".
        #[arg(long, default_value_t = 35963)]
        port: u16,
        /// Present the card through its contactless interface.
        #[arg(long)]
        contactless: bool,
    },
}

/// A failure with the exit code it maps to.
struct Failure {
    code: u8,
    message: String,
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        let code = match e {
            TransportError::ServiceUnavailable { .. }
            | TransportError::NoReader
            | TransportError::UnknownReader { .. }
            | TransportError::NoCard { .. }
            | TransportError::CardRemoved => 3,
            TransportError::ReaderBusy { .. } => 4,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Readers { json } => readers::run(json),
        Cmd::Apdu {
            reader,
            exclusive,
            raw,
            check,
            apdus,
        } => run_apdu(reader.as_deref(), exclusive, raw, check, &apdus),
        Cmd::Sim(SimCmd::List { json }) => sim::list(json),
        Cmd::Sim(SimCmd::Serve {
            profile,
            persona,
            port,
            contactless,
        }) => sim::serve(&profile, &persona, port, contactless),
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
    let bytes = hex::decode(&cleaned).map_err(|e| Failure {
        code: 2,
        message: format!("{arg:?} is not hex: {e}"),
    })?;
    Command::parse(&bytes).map_err(|e| Failure {
        code: 2,
        message: format!("{arg:?} is not a valid APDU: {e}"),
    })?;
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
    reader: Option<&str>,
    exclusive: bool,
    raw: bool,
    check: bool,
    apdus: &[String],
) -> Result<u8, Failure> {
    let commands = apdus
        .iter()
        .map(|a| parse_hex_apdu(a))
        .collect::<Result<Vec<_>, _>>()?;
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
