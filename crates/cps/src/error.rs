//! The error type of the facade: the protocol crates' errors, unchanged, plus the failures of
//! opening a card.

use cps_transport::TransportError;

/// Why a card operation failed. Each variant keeps the protocol crate's own error, which says
/// what was attempted and carries the status word; [`describe`] prints it with its causes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No card was found or the reader failed (PC/SC, pcscd, the card left the reader...).
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The IAS-ECC application (identity, certificates, PIN, signature) failed.
    #[error(transparent)]
    IasEcc(#[from] cps_iasecc::Error),
    /// The FIDO2 applet failed.
    #[error(transparent)]
    Fido2(#[from] cps_fido2::Fido2Error),
    /// A DESFire command failed.
    #[error(transparent)]
    Desfire(#[from] cps_desfire::DesfireError),
    /// The built-in simulator could not build the requested card (unknown persona...).
    #[cfg(feature = "sim")]
    #[error(transparent)]
    Simulator(#[from] cps_sim::SimError),
    /// `--reader auto` (first reader holding a card): readers exist but none holds a card.
    #[error("no card in any reader ({readers} reader(s) found)")]
    NoCardInAnyReader {
        /// How many readers were found.
        readers: usize,
    },
}

impl Error {
    /// The transport error behind this error, if the failure happened below the application
    /// protocol (no reader, no card, reader busy, card reset...).
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            Error::Transport(t) => Some(t),
            Error::IasEcc(cps_iasecc::Error::Transport(t)) => Some(t),
            Error::Fido2(cps_fido2::Fido2Error::Transport(t)) => Some(t),
            Error::Desfire(cps_desfire::DesfireError::Transport(t)) => Some(t),
            _ => None,
        }
    }
}

/// The message of an error followed by those of its causes (`what: why: why`), each cause
/// once: library errors keep their cause as a source instead of repeating it in their message.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    let mut depth = 0;
    while let Some(e) = cause {
        let part = e.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = e.source();
        depth += 1;
        if depth >= 8 {
            break;
        }
    }
    text
}
