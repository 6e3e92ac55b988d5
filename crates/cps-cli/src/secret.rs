//! PINs, PUKs and keys: asked on the terminal without echo, or read from stdin or the
//! environment for scripts. Never from the command line (argv is visible to every user of the
//! machine through `ps` and lands in shell histories). Values are wiped when dropped and never
//! printed.

use std::io::BufRead;

use clap::ValueEnum;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::Failure;

/// Where secrets come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PinFrom {
    /// Ask on the terminal, without echo.
    Prompt,
    /// One line per secret on standard input.
    Stdin,
    /// Environment variables.
    Env,
}

/// A secret the commands ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// Holder PIN of the IAS-ECC application.
    Pin,
    /// New holder PIN.
    NewPin,
    /// PUK.
    Puk,
    /// FIDO2 PIN.
    Fido2Pin,
    /// New FIDO2 PIN.
    Fido2NewPin,
    /// A DESFire key (hex).
    DesfireKey,
}

impl Secret {
    fn env(self) -> &'static str {
        match self {
            Secret::Pin => "CPS_PIN",
            Secret::NewPin => "CPS_NEW_PIN",
            Secret::Puk => "CPS_PUK",
            Secret::Fido2Pin => "CPS_FIDO2_PIN",
            Secret::Fido2NewPin => "CPS_FIDO2_NEW_PIN",
            Secret::DesfireKey => "CPS_DESFIRE_KEY",
        }
    }

    fn prompt(self) -> &'static str {
        match self {
            Secret::Pin => "holder PIN: ",
            Secret::NewPin => "new holder PIN: ",
            Secret::Puk => "PUK (unblocking code): ",
            Secret::Fido2Pin => "FIDO2 PIN: ",
            Secret::Fido2NewPin => "new FIDO2 PIN: ",
            Secret::DesfireKey => "DESFire key (hex): ",
        }
    }

    fn name(self) -> &'static str {
        self.prompt().trim_end_matches(": ")
    }
}

/// Reads secrets from the chosen source.
pub struct Secrets {
    from: PinFrom,
}

impl Secrets {
    /// Secrets from `from`.
    pub fn new(from: PinFrom) -> Self {
        Secrets { from }
    }

    /// Reads one secret.
    pub fn read(&mut self, what: Secret) -> Result<Zeroizing<String>, Failure> {
        let value = match self.from {
            PinFrom::Env => match std::env::var(what.env()) {
                Ok(v) => Zeroizing::new(v),
                Err(_) => {
                    return Err(Failure::usage(format!(
                        "--pin-from env: set {} to the {}",
                        what.env(),
                        what.name()
                    )));
                }
            },
            PinFrom::Stdin => {
                // Capacity reserved up front so that the secret is not copied by regrowth.
                let mut line = Zeroizing::new(String::with_capacity(256));
                let n = std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| Failure::new(1, format!("reading the {}: {e}", what.name())))?;
                if n == 0 {
                    return Err(Failure::usage(format!(
                        "--pin-from stdin: standard input ended before the {}",
                        what.name()
                    )));
                }
                let trimmed = line.trim_end_matches(['\r', '\n']).len();
                line.truncate(trimmed);
                line
            }
            PinFrom::Prompt => rpassword::prompt_password(what.prompt())
                .map(Zeroizing::new)
                .map_err(|e| {
                    Failure::usage(format!(
                        "cannot ask the {} on a terminal ({e}): use --pin-from stdin or --pin-from env",
                        what.name()
                    ))
                })?,
        };
        Ok(value)
    }

    /// Reads a new secret; on the terminal it is asked twice and both must match.
    pub fn read_new(&mut self, what: Secret) -> Result<Zeroizing<String>, Failure> {
        let first = self.read(what)?;
        if self.from == PinFrom::Prompt {
            let again = rpassword::prompt_password(format!("{} (again): ", what.name()))
                .map(Zeroizing::new)
                .map_err(|e| Failure::usage(format!("reading the {}: {e}", what.name())))?;
            let same =
                first.len() == again.len() && bool::from(first.as_bytes().ct_eq(again.as_bytes()));
            if !same {
                return Err(Failure::usage(format!(
                    "the two {}s differ: nothing was sent to the card",
                    what.name()
                )));
            }
        }
        Ok(first)
    }
}
