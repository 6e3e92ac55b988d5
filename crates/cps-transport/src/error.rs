//! Transport errors, worded so that a user knows what to do.

use cps_apdu::{ApduError, StatusWord};

/// Why an exchange with a card failed below the application protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The PC/SC service (pcscd) cannot be reached.
    #[error("PC/SC service unavailable ({detail})")]
    ServiceUnavailable {
        /// What the PC/SC layer said.
        detail: String,
    },
    /// The PC/SC service (pcscd) stopped while we were using it.
    #[error("PC/SC service stopped during {operation}")]
    ServiceStopped {
        /// The PC/SC call that failed.
        operation: &'static str,
    },
    /// No reader is connected.
    #[error("no smart-card reader found")]
    NoReader,
    /// The named reader does not exist.
    #[error("reader {reader:?} not found")]
    UnknownReader {
        /// The name asked for.
        reader: String,
    },
    /// The reader holds no card.
    #[error("no card in reader {reader:?}")]
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
    #[error("the card was reset by another application")]
    CardReset,
    /// The card was removed.
    #[error("the card was removed from the reader")]
    CardRemoved,
    /// The card did not answer or the reader gave up.
    #[error("the card does not respond (mute card or bad contact)")]
    CardUnresponsive,
    /// The card (or the reader, or pcscd) did not answer a command in time. The command may
    /// or may not have been executed; it is not sent again.
    #[error(
        "the card did not answer {command} within {seconds:.1} s (card frozen, removed or reader hung)"
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
    /// Another PC/SC failure: the PC/SC operation, its error code and what it usually means.
    #[error("PC/SC {operation} failed: {error}{hint}")]
    Pcsc {
        /// The PC/SC call (e.g. "SCardTransmit").
        operation: &'static str,
        /// The PC/SC error code.
        error: PcscError,
        /// What the code usually means here (may be empty), starting with ": ".
        hint: &'static str,
    },
    /// The PC/SC library (pcsc-lite's `libpcsclite.so.1`) could not be loaded: readers cannot
    /// be used (the simulated card can). It is loaded at run time, when a reader is first used.
    #[error("PC/SC library {library} could not be loaded: {detail}")]
    PcscLibrary {
        /// The library file asked for.
        library: &'static str,
        /// The loader's message.
        detail: String,
    },
    /// A socket or file error (vpcd link, transcript file).
    #[error("{context}")]
    Io {
        /// What was attempted.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Malformed APDU bytes (from the card, the reader or a file).
    #[error("malformed APDU")]
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

    /// An I/O failure while doing `context` (e.g. "reading from vpcd").
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        TransportError::Io {
            context: context.into(),
            source,
        }
    }
}

/// A PC/SC error code: every code pcsc-lite defines (`/usr/include/PCSC/pcsclite.h`,
/// "ErrorCodes", pcsc-lite 1.9.9), and [`PcscError::Unknown`] for any other value (a driver or
/// another PC/SC implementation may return one: an error, never a panic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PcscError {
    /// `SCARD_F_INTERNAL_ERROR` (0x80100001): An internal consistency check failed.
    InternalError,
    /// `SCARD_E_CANCELLED` (0x80100002): The action was cancelled by an SCardCancel request.
    Cancelled,
    /// `SCARD_E_INVALID_HANDLE` (0x80100003): The supplied handle was invalid.
    InvalidHandle,
    /// `SCARD_E_INVALID_PARAMETER` (0x80100004): One or more of the supplied parameters could not be properly interpreted.
    InvalidParameter,
    /// `SCARD_E_INVALID_TARGET` (0x80100005): Registry startup information is missing or invalid.
    InvalidTarget,
    /// `SCARD_E_NO_MEMORY` (0x80100006): Not enough memory available to complete this command.
    NoMemory,
    /// `SCARD_F_WAITED_TOO_LONG` (0x80100007): An internal consistency timer has expired.
    WaitedTooLong,
    /// `SCARD_E_INSUFFICIENT_BUFFER` (0x80100008): The data buffer to receive returned data is too small for the returned data.
    InsufficientBuffer,
    /// `SCARD_E_UNKNOWN_READER` (0x80100009): The specified reader name is not recognized.
    UnknownReader,
    /// `SCARD_E_TIMEOUT` (0x8010000A): The user-specified timeout value has expired.
    Timeout,
    /// `SCARD_E_SHARING_VIOLATION` (0x8010000B): The smart card cannot be accessed because of other connections outstanding.
    SharingViolation,
    /// `SCARD_E_NO_SMARTCARD` (0x8010000C): The operation requires a Smart Card, but no Smart Card is currently in the device.
    NoSmartcard,
    /// `SCARD_E_UNKNOWN_CARD` (0x8010000D): The specified smart card name is not recognized.
    UnknownCard,
    /// `SCARD_E_CANT_DISPOSE` (0x8010000E): The system could not dispose of the media in the requested manner.
    CantDispose,
    /// `SCARD_E_PROTO_MISMATCH` (0x8010000F): The requested protocols are incompatible with the protocol currently in use with the smart card.
    ProtoMismatch,
    /// `SCARD_E_NOT_READY` (0x80100010): The reader or smart card is not ready to accept commands.
    NotReady,
    /// `SCARD_E_INVALID_VALUE` (0x80100011): One or more of the supplied parameters values could not be properly interpreted.
    InvalidValue,
    /// `SCARD_E_SYSTEM_CANCELLED` (0x80100012): The action was cancelled by the system, presumably to log off or shut down.
    SystemCancelled,
    /// `SCARD_F_COMM_ERROR` (0x80100013): An internal communications error has been detected.
    CommError,
    /// `SCARD_F_UNKNOWN_ERROR` (0x80100014): An internal error has been detected, but the source is unknown.
    UnknownError,
    /// `SCARD_E_INVALID_ATR` (0x80100015): An ATR obtained from the registry is not a valid ATR string.
    InvalidAtr,
    /// `SCARD_E_NOT_TRANSACTED` (0x80100016): An attempt was made to end a non-existent transaction.
    NotTransacted,
    /// `SCARD_E_READER_UNAVAILABLE` (0x80100017): The specified reader is not currently available for use.
    ReaderUnavailable,
    /// `SCARD_P_SHUTDOWN` (0x80100018): The operation has been aborted to allow the server application to exit.
    Shutdown,
    /// `SCARD_E_PCI_TOO_SMALL` (0x80100019): The PCI Receive buffer was too small.
    PciTooSmall,
    /// `SCARD_E_READER_UNSUPPORTED` (0x8010001A): The reader driver does not meet minimal requirements for support.
    ReaderUnsupported,
    /// `SCARD_E_DUPLICATE_READER` (0x8010001B): The reader driver did not produce a unique reader name.
    DuplicateReader,
    /// `SCARD_E_CARD_UNSUPPORTED` (0x8010001C): The smart card does not meet minimal requirements for support.
    CardUnsupported,
    /// `SCARD_E_NO_SERVICE` (0x8010001D): The Smart card resource manager is not running.
    NoService,
    /// `SCARD_E_SERVICE_STOPPED` (0x8010001E): The Smart card resource manager has shut down.
    ServiceStopped,
    /// `SCARD_E_UNEXPECTED` (0x8010001F): An unexpected card error has occurred. (pcsclite.h gives SCARD_E_UNSUPPORTED_FEATURE the same value.)
    Unexpected,
    /// `SCARD_E_ICC_INSTALLATION` (0x80100020): No primary provider can be found for the smart card.
    IccInstallation,
    /// `SCARD_E_ICC_CREATEORDER` (0x80100021): The requested order of object creation is not supported.
    IccCreateorder,
    /// `SCARD_E_DIR_NOT_FOUND` (0x80100023): The identified directory does not exist in the smart card.
    DirNotFound,
    /// `SCARD_E_FILE_NOT_FOUND` (0x80100024): The identified file does not exist in the smart card.
    FileNotFound,
    /// `SCARD_E_NO_DIR` (0x80100025): The supplied path does not represent a smart card directory.
    NoDir,
    /// `SCARD_E_NO_FILE` (0x80100026): The supplied path does not represent a smart card file.
    NoFile,
    /// `SCARD_E_NO_ACCESS` (0x80100027): Access is denied to this file.
    NoAccess,
    /// `SCARD_E_WRITE_TOO_MANY` (0x80100028): The smart card does not have enough memory to store the information.
    WriteTooMany,
    /// `SCARD_E_BAD_SEEK` (0x80100029): There was an error trying to set the smart card file object pointer.
    BadSeek,
    /// `SCARD_E_INVALID_CHV` (0x8010002A): The supplied PIN is incorrect.
    InvalidChv,
    /// `SCARD_E_UNKNOWN_RES_MNG` (0x8010002B): An unrecognized error code was returned from a layered component.
    UnknownResMng,
    /// `SCARD_E_NO_SUCH_CERTIFICATE` (0x8010002C): The requested certificate does not exist.
    NoSuchCertificate,
    /// `SCARD_E_CERTIFICATE_UNAVAILABLE` (0x8010002D): The requested certificate could not be obtained.
    CertificateUnavailable,
    /// `SCARD_E_NO_READERS_AVAILABLE` (0x8010002E): Cannot find a smart card reader.
    NoReadersAvailable,
    /// `SCARD_E_COMM_DATA_LOST` (0x8010002F): A communications error with the smart card has been detected. Retry the operation.
    CommDataLost,
    /// `SCARD_E_NO_KEY_CONTAINER` (0x80100030): The requested key container does not exist on the smart card.
    NoKeyContainer,
    /// `SCARD_E_SERVER_TOO_BUSY` (0x80100031): The Smart Card Resource Manager is too busy to complete this operation.
    ServerTooBusy,
    /// `SCARD_W_UNSUPPORTED_CARD` (0x80100065): The reader cannot communicate with the card, due to ATR string configuration conflicts.
    UnsupportedCard,
    /// `SCARD_W_UNRESPONSIVE_CARD` (0x80100066): The smart card is not responding to a reset.
    UnresponsiveCard,
    /// `SCARD_W_UNPOWERED_CARD` (0x80100067): Power has been removed from the smart card, so that further communication is not possible.
    UnpoweredCard,
    /// `SCARD_W_RESET_CARD` (0x80100068): The smart card has been reset, so any shared state information is invalid.
    ResetCard,
    /// `SCARD_W_REMOVED_CARD` (0x80100069): The smart card has been removed, so further communication is not possible.
    RemovedCard,
    /// `SCARD_W_SECURITY_VIOLATION` (0x8010006A): Access was denied because of a security violation.
    SecurityViolation,
    /// `SCARD_W_WRONG_CHV` (0x8010006B): The card cannot be accessed because the wrong PIN was presented.
    WrongChv,
    /// `SCARD_W_CHV_BLOCKED` (0x8010006C): The card cannot be accessed because the maximum number of PIN entry attempts has been reached.
    ChvBlocked,
    /// `SCARD_W_EOF` (0x8010006D): The end of the smart card file has been reached.
    Eof,
    /// `SCARD_W_CANCELLED_BY_USER` (0x8010006E): The user pressed "Cancel" on a Smart Card Selection Dialog.
    CancelledByUser,
    /// `SCARD_W_CARD_NOT_AUTHENTICATED` (0x8010006F): No PIN was presented to the smart card.
    CardNotAuthenticated,
    /// A code pcsclite.h does not define.
    Unknown(u32),
}

/// Code, variant and pcsclite.h name of every known PC/SC error.
const PCSC_CODES: &[(u32, PcscError, &str)] = &[
    (
        0x8010_0001,
        PcscError::InternalError,
        "SCARD_F_INTERNAL_ERROR",
    ),
    (0x8010_0002, PcscError::Cancelled, "SCARD_E_CANCELLED"),
    (
        0x8010_0003,
        PcscError::InvalidHandle,
        "SCARD_E_INVALID_HANDLE",
    ),
    (
        0x8010_0004,
        PcscError::InvalidParameter,
        "SCARD_E_INVALID_PARAMETER",
    ),
    (
        0x8010_0005,
        PcscError::InvalidTarget,
        "SCARD_E_INVALID_TARGET",
    ),
    (0x8010_0006, PcscError::NoMemory, "SCARD_E_NO_MEMORY"),
    (
        0x8010_0007,
        PcscError::WaitedTooLong,
        "SCARD_F_WAITED_TOO_LONG",
    ),
    (
        0x8010_0008,
        PcscError::InsufficientBuffer,
        "SCARD_E_INSUFFICIENT_BUFFER",
    ),
    (
        0x8010_0009,
        PcscError::UnknownReader,
        "SCARD_E_UNKNOWN_READER",
    ),
    (0x8010_000A, PcscError::Timeout, "SCARD_E_TIMEOUT"),
    (
        0x8010_000B,
        PcscError::SharingViolation,
        "SCARD_E_SHARING_VIOLATION",
    ),
    (0x8010_000C, PcscError::NoSmartcard, "SCARD_E_NO_SMARTCARD"),
    (0x8010_000D, PcscError::UnknownCard, "SCARD_E_UNKNOWN_CARD"),
    (0x8010_000E, PcscError::CantDispose, "SCARD_E_CANT_DISPOSE"),
    (
        0x8010_000F,
        PcscError::ProtoMismatch,
        "SCARD_E_PROTO_MISMATCH",
    ),
    (0x8010_0010, PcscError::NotReady, "SCARD_E_NOT_READY"),
    (
        0x8010_0011,
        PcscError::InvalidValue,
        "SCARD_E_INVALID_VALUE",
    ),
    (
        0x8010_0012,
        PcscError::SystemCancelled,
        "SCARD_E_SYSTEM_CANCELLED",
    ),
    (0x8010_0013, PcscError::CommError, "SCARD_F_COMM_ERROR"),
    (
        0x8010_0014,
        PcscError::UnknownError,
        "SCARD_F_UNKNOWN_ERROR",
    ),
    (0x8010_0015, PcscError::InvalidAtr, "SCARD_E_INVALID_ATR"),
    (
        0x8010_0016,
        PcscError::NotTransacted,
        "SCARD_E_NOT_TRANSACTED",
    ),
    (
        0x8010_0017,
        PcscError::ReaderUnavailable,
        "SCARD_E_READER_UNAVAILABLE",
    ),
    (0x8010_0018, PcscError::Shutdown, "SCARD_P_SHUTDOWN"),
    (0x8010_0019, PcscError::PciTooSmall, "SCARD_E_PCI_TOO_SMALL"),
    (
        0x8010_001A,
        PcscError::ReaderUnsupported,
        "SCARD_E_READER_UNSUPPORTED",
    ),
    (
        0x8010_001B,
        PcscError::DuplicateReader,
        "SCARD_E_DUPLICATE_READER",
    ),
    (
        0x8010_001C,
        PcscError::CardUnsupported,
        "SCARD_E_CARD_UNSUPPORTED",
    ),
    (0x8010_001D, PcscError::NoService, "SCARD_E_NO_SERVICE"),
    (
        0x8010_001E,
        PcscError::ServiceStopped,
        "SCARD_E_SERVICE_STOPPED",
    ),
    (0x8010_001F, PcscError::Unexpected, "SCARD_E_UNEXPECTED"),
    (
        0x8010_0020,
        PcscError::IccInstallation,
        "SCARD_E_ICC_INSTALLATION",
    ),
    (
        0x8010_0021,
        PcscError::IccCreateorder,
        "SCARD_E_ICC_CREATEORDER",
    ),
    (0x8010_0023, PcscError::DirNotFound, "SCARD_E_DIR_NOT_FOUND"),
    (
        0x8010_0024,
        PcscError::FileNotFound,
        "SCARD_E_FILE_NOT_FOUND",
    ),
    (0x8010_0025, PcscError::NoDir, "SCARD_E_NO_DIR"),
    (0x8010_0026, PcscError::NoFile, "SCARD_E_NO_FILE"),
    (0x8010_0027, PcscError::NoAccess, "SCARD_E_NO_ACCESS"),
    (
        0x8010_0028,
        PcscError::WriteTooMany,
        "SCARD_E_WRITE_TOO_MANY",
    ),
    (0x8010_0029, PcscError::BadSeek, "SCARD_E_BAD_SEEK"),
    (0x8010_002A, PcscError::InvalidChv, "SCARD_E_INVALID_CHV"),
    (
        0x8010_002B,
        PcscError::UnknownResMng,
        "SCARD_E_UNKNOWN_RES_MNG",
    ),
    (
        0x8010_002C,
        PcscError::NoSuchCertificate,
        "SCARD_E_NO_SUCH_CERTIFICATE",
    ),
    (
        0x8010_002D,
        PcscError::CertificateUnavailable,
        "SCARD_E_CERTIFICATE_UNAVAILABLE",
    ),
    (
        0x8010_002E,
        PcscError::NoReadersAvailable,
        "SCARD_E_NO_READERS_AVAILABLE",
    ),
    (
        0x8010_002F,
        PcscError::CommDataLost,
        "SCARD_E_COMM_DATA_LOST",
    ),
    (
        0x8010_0030,
        PcscError::NoKeyContainer,
        "SCARD_E_NO_KEY_CONTAINER",
    ),
    (
        0x8010_0031,
        PcscError::ServerTooBusy,
        "SCARD_E_SERVER_TOO_BUSY",
    ),
    (
        0x8010_0065,
        PcscError::UnsupportedCard,
        "SCARD_W_UNSUPPORTED_CARD",
    ),
    (
        0x8010_0066,
        PcscError::UnresponsiveCard,
        "SCARD_W_UNRESPONSIVE_CARD",
    ),
    (
        0x8010_0067,
        PcscError::UnpoweredCard,
        "SCARD_W_UNPOWERED_CARD",
    ),
    (0x8010_0068, PcscError::ResetCard, "SCARD_W_RESET_CARD"),
    (0x8010_0069, PcscError::RemovedCard, "SCARD_W_REMOVED_CARD"),
    (
        0x8010_006A,
        PcscError::SecurityViolation,
        "SCARD_W_SECURITY_VIOLATION",
    ),
    (0x8010_006B, PcscError::WrongChv, "SCARD_W_WRONG_CHV"),
    (0x8010_006C, PcscError::ChvBlocked, "SCARD_W_CHV_BLOCKED"),
    (0x8010_006D, PcscError::Eof, "SCARD_W_EOF"),
    (
        0x8010_006E,
        PcscError::CancelledByUser,
        "SCARD_W_CANCELLED_BY_USER",
    ),
    (
        0x8010_006F,
        PcscError::CardNotAuthenticated,
        "SCARD_W_CARD_NOT_AUTHENTICATED",
    ),
];

impl PcscError {
    /// The error for a PC/SC return code (`SCARD_S_SUCCESS`, 0, is not an error: it maps to
    /// `Unknown(0)`).
    pub fn from_code(code: u32) -> Self {
        PCSC_CODES
            .iter()
            .find(|(c, _, _)| *c == code)
            .map_or(PcscError::Unknown(code), |(_, e, _)| *e)
    }

    /// The PC/SC code (e.g. `0x80100069` for `SCARD_W_REMOVED_CARD`).
    pub fn code(self) -> u32 {
        match self {
            PcscError::Unknown(code) => code,
            known => PCSC_CODES
                .iter()
                .find(|(_, e, _)| *e == known)
                .map_or(0, |(c, _, _)| *c),
        }
    }

    /// The constant's name in pcsclite.h (e.g. `SCARD_W_REMOVED_CARD`).
    pub fn name(self) -> &'static str {
        PCSC_CODES
            .iter()
            .find(|(_, e, _)| *e == self)
            .map_or("unknown PC/SC code", |(_, _, n)| *n)
    }
}

impl std::fmt::Display for PcscError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:#010X})", self.name(), self.code())
    }
}

impl std::error::Error for PcscError {}
