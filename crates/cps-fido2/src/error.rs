//! The errors of the FIDO2 client: [`Fido2Error`] for every operation, [`U2fError`] for a
//! CTAP1/U2F exchange (one of its causes).

use std::time::Duration;

use cps_apdu::StatusWord;
use cps_transport::TransportError;

use crate::ctap::{CtapStatus, MessageError};
use crate::pin::PinError;

/// Everything that can go wrong talking to the FIDO2 applet.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Fido2Error {
    /// Below APDU level.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A request its command table entry does not allow (`cps_fido2::table`): never sent.
    #[error(transparent)]
    Shape(#[from] cps_apdu::table::ShapeError),
    /// The card has no FIDO applet (SELECT answered 6A82), or refused it (e.g. contactless).
    #[error(
        "no FIDO2 applet on this card (SELECT A0000006472F0001 answered {sw}); CPS4 cards carry one, reachable through the contact interface only"
    )]
    NoApplet {
        /// The status word of the SELECT.
        sw: StatusWord,
    },
    /// The card has a FIDO applet but refused to select it (`6985`: e.g. a CPS4 reached
    /// through its contactless interface).
    #[error(
        "the card refused to select its FIDO2 applet ({sw}): on a CPS4 it is reachable through the contact interface only"
    )]
    AppletRefused {
        /// The status word of the SELECT.
        sw: StatusWord,
    },
    /// The applet cannot do what was asked (a U2F-only applet asked for a PIN or a
    /// discoverable credential; authenticatorConfig on an applet that does not offer it).
    #[error("the FIDO applet cannot {what}: {why}")]
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// Why not, and what to do instead.
        why: &'static str,
    },
    /// A CTAP1/U2F command failed.
    #[error(transparent)]
    U2f(#[from] U2fError),
    /// An ISO status word other than 9000 / 9100 / 61xx to a CTAP command.
    #[error("the FIDO2 applet refused {attempted}: {sw}")]
    Status {
        /// What was sent.
        attempted: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// The authenticator answered a CTAP error.
    #[error("{command} failed: {status}")]
    Ctap {
        /// The CTAP command.
        command: &'static str,
        /// Its status.
        status: CtapStatus,
    },
    /// A response of the wrong shape.
    #[error("malformed response to {command}: {source}")]
    Message {
        /// The CTAP command.
        command: &'static str,
        /// What is wrong.
        #[source]
        source: MessageError,
    },
    /// PIN protocol failure (bad key from the card, PIN policy).
    #[error(transparent)]
    Pin(#[from] PinError),
    /// The user did not confirm presence in time (status updates kept coming).
    #[error("timed out after {0:?} waiting for user presence")]
    Timeout(Duration),
    /// A precondition of the high-level API (e.g. enrolling an applet that has a PIN).
    #[error("{0}")]
    Usage(String),
}

/// What went wrong in a CTAP1/U2F exchange.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum U2fError {
    /// `6985`: the card waits for the user's presence (repeat the request once the user
    /// confirmed), or, to a check-only request, "this key handle is mine".
    #[error(
        "U2F {attempted}: user presence required (SW 6985): confirm presence on the card and retry"
    )]
    UserPresenceRequired {
        /// The U2F command.
        attempted: &'static str,
    },
    /// `6A80`: the key handle was not made by this card for this application.
    #[error(
        "U2F {attempted}: the key handle was not created by this card for this application (SW 6A80)"
    )]
    WrongKeyHandle {
        /// The U2F command.
        attempted: &'static str,
    },
    /// Another status word.
    #[error("U2F {attempted} refused: {sw}")]
    Status {
        /// The U2F command.
        attempted: &'static str,
        /// The status word.
        sw: StatusWord,
    },
    /// A response of the wrong shape.
    #[error("malformed U2F {what} response: {detail}")]
    Malformed {
        /// Which response.
        what: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// A request the U2F format cannot carry (key handle longer than 255 bytes).
    #[error("U2F {attempted}: {detail}")]
    Request {
        /// The U2F command.
        attempted: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
}
