//! Transport errors, worded so that a user knows what to do.

use cps_apdu::{ApduError, StatusWord};

/// Why an exchange with a card failed below the application protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The PC/SC service (pcscd) cannot be reached.
    #[error(
        "PC/SC service unavailable: start pcscd (e.g. `systemctl start pcscd.socket`) ({detail})"
    )]
    ServiceUnavailable {
        /// What the PC/SC layer said.
        detail: String,
    },
    /// The PC/SC service (pcscd) stopped while we were using it.
    #[error("PC/SC service stopped during {operation}: start pcscd again and retry")]
    ServiceStopped {
        /// The PC/SC call that failed.
        operation: &'static str,
    },
    /// No reader is connected.
    #[error("no smart-card reader found: plug one in, or use the simulator")]
    NoReader,
    /// The named reader does not exist.
    #[error("reader {reader:?} not found (see `cps readers`)")]
    UnknownReader {
        /// The name asked for.
        reader: String,
    },
    /// The reader holds no card.
    #[error("no card in reader {reader:?}: insert the card")]
    NoCard {
        /// Reader name.
        reader: String,
    },
    /// Another application holds the card exclusively.
    #[error("reader busy: another application holds the card in {reader:?}")]
    ReaderBusy {
        /// Reader name.
        reader: String,
    },
    /// The card was reset (by another application or a power glitch). The channel has been
    /// reconnected, but every card state is lost: select the application and verify the PIN again.
    #[error("the card was reset by another application: select the application again")]
    CardReset,
    /// The card was removed.
    #[error("the card was removed from the reader")]
    CardRemoved,
    /// The card did not answer or the reader gave up.
    #[error("the card does not respond (mute card or bad contact): reinsert it")]
    CardUnresponsive,
    /// The card (or the reader, or pcscd) did not answer a command in time. The command may
    /// or may not have been executed; it is not sent again.
    #[error(
        "the card did not answer {command} within {seconds:.1} s (card frozen, removed or reader hung): reinsert it"
    )]
    NoAnswer {
        /// The command awaited (its name from `cps_apdu::table`).
        command: &'static str,
        /// The timeout that expired.
        seconds: f64,
    },
    /// The operation was cancelled ([`crate::request_cancel`], Ctrl-C in the CLI) between two
    /// commands: no command was cut in half, the card is as the last complete one left it.
    #[error(
        "cancelled (Ctrl-C) before {next}: no command was cut in half, the card is as the last complete command left it"
    )]
    Cancelled {
        /// What did not happen (the command not sent, or "a card was found").
        next: &'static str,
    },
    /// Waiting for a card or a reader event timed out.
    #[error("timed out after {seconds:.1} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// How long.
        seconds: f64,
    },
    /// Another PC/SC failure, with the PC/SC operation and its message.
    #[error("PC/SC {operation} failed: {detail}")]
    Pcsc {
        /// The PC/SC call (e.g. "SCardTransmit").
        operation: &'static str,
        /// The PC/SC error text.
        detail: String,
    },
    /// A socket or file error (vpcd link, transcript file).
    #[error("{context}: {source}")]
    Io {
        /// What was attempted.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed APDU bytes (from the card, the reader or a file).
    #[error("malformed APDU: {0}")]
    Apdu(#[from] ApduError),
    /// The card answered in a way the exchange layer cannot follow (e.g. endless `61xx`).
    #[error("protocol error while {attempted}: {detail}")]
    Protocol {
        /// What was being done.
        attempted: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// A chained command was refused part-way: the card's status word for that chunk.
    #[error("command chaining refused at chunk {chunk}: {sw}")]
    ChainingRefused {
        /// Zero-based chunk index.
        chunk: usize,
        /// The status word returned.
        sw: StatusWord,
    },
    /// The command needs extended length (or chaining) and the card supports neither.
    #[error(
        "command of {lc} bytes needs extended length or chaining, which this card does not support"
    )]
    CommandTooLong {
        /// Data length.
        lc: usize,
    },
    /// A replayed transcript does not match what the code under test sent.
    #[error("replay mismatch at exchange {index}: expected {expected}, got {got}")]
    ReplayMismatch {
        /// Zero-based exchange number.
        index: usize,
        /// The recorded command (hex, redacted parts shown as such).
        expected: String,
        /// The command sent (hex; redacted the same way).
        got: String,
    },
    /// The transcript ended but the code under test sent another command.
    #[error("replay transcript exhausted after {exchanges} exchanges")]
    ReplayExhausted {
        /// Exchanges played.
        exchanges: usize,
    },
    /// A transcript file is malformed.
    #[error("transcript line {line}: {reason}")]
    Transcript {
        /// One-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

impl TransportError {
    /// Whether the failure means "select the application again" (the card lost its state).
    pub fn is_card_reset(&self) -> bool {
        matches!(self, TransportError::CardReset)
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TransportError::Io {
            context: context.into(),
            source,
        }
    }
}
