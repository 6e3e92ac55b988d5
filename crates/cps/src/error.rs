//! The error type of the facade: the protocol crates' errors, unchanged, plus the failures of
//! opening a card.

use cps_transport::TransportError;

/// Why a card operation failed. Each variant keeps the protocol crate's own error, which says
/// what was attempted, carries the status word and tells the user how to fix it.
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
    #[error("DESFire: {0}")]
    Desfire(#[from] cps_desfire::DesfireError),
    /// The built-in simulator could not build the requested card (unknown persona...).
    #[cfg(feature = "sim")]
    #[error("simulated card: {0}")]
    Simulator(#[from] cps_sim::SimError),
    /// `--reader auto` (first reader holding a card): readers exist but none holds a card.
    #[error("no card in any reader ({readers} reader(s) found): insert a card (see `cps readers`)")]
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
