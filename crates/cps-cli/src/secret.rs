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

    /// Its name in the user's language ("holder PIN").
    fn name(self) -> String {
        match self {
            Secret::Pin => tr!("secret-pin"),
            Secret::NewPin => tr!("secret-new-pin"),
            Secret::Puk => tr!("secret-puk"),
            Secret::Fido2Pin => tr!("secret-fido2-pin"),
            Secret::Fido2NewPin => tr!("secret-fido2-new-pin"),
            Secret::DesfireKey => tr!("secret-desfire-key"),
        }
    }

    /// The prompt on the terminal ("holder PIN: ").
    fn prompt(self) -> String {
        format!("{} ", tr!("prompt", what = self.name()))
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
                    return Err(Failure::usage(tr!(
                        "secret-env-missing",
                        var = what.env(),
                        what = what.name()
                    )));
                }
            },
            PinFrom::Stdin => {
                // Capacity reserved up front so that the secret is not copied by regrowth.
                let mut line = Zeroizing::new(String::with_capacity(256));
                let n = std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                    Failure::new(
                        1,
                        tr!(
                            "secret-read-failed",
                            what = what.name(),
                            error = e.to_string()
                        ),
                    )
                })?;
                if n == 0 {
                    return Err(Failure::usage(tr!(
                        "secret-stdin-ended",
                        what = what.name()
                    )));
                }
                let trimmed = line.trim_end_matches(['\r', '\n']).len();
                line.truncate(trimmed);
                line
            }
            PinFrom::Prompt => rpassword::prompt_password(what.prompt())
                .map(Zeroizing::new)
                .map_err(|e| {
                    Failure::usage(tr!(
                        "secret-no-terminal",
                        what = what.name(),
                        error = e.to_string()
                    ))
                })?,
        };
        Ok(value)
    }

    /// Reads a new secret; on the terminal it is asked twice and both must match.
    pub fn read_new(&mut self, what: Secret) -> Result<Zeroizing<String>, Failure> {
        let first = self.read(what)?;
        if self.from == PinFrom::Prompt {
            let again =
                rpassword::prompt_password(format!("{} ", tr!("prompt-again", what = what.name())))
                    .map(Zeroizing::new)
                    .map_err(|e| {
                        Failure::usage(tr!(
                            "secret-read-failed",
                            what = what.name(),
                            error = e.to_string()
                        ))
                    })?;
            let same =
                first.len() == again.len() && bool::from(first.as_bytes().ct_eq(again.as_bytes()));
            if !same {
                return Err(Failure::usage(tr!("secret-differ", what = what.name())));
            }
        }
        Ok(first)
    }
}
