//! The error type of this crate.

/// Malformed or out-of-range APDU, TLV or secure-messaging input.
///
/// Every parser of this crate returns one of these instead of panicking; the variants carry
/// the offending lengths so that a log line says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApduError {
    /// A command APDU shorter than its 4-byte header.
    #[error("command APDU too short: {len} bytes, a header needs 4")]
    TooShort {
        /// Bytes received.
        len: usize,
    },
    /// A response APDU shorter than its 2-byte status word.
    #[error("response APDU too short: {len} bytes, the status word needs 2")]
    ResponseTooShort {
        /// Bytes received.
        len: usize,
    },
    /// Lc does not match the number of bytes that follow.
    #[error("Lc is {lc} but {body} bytes follow it (neither case 3 nor case 4)")]
    LengthMismatch {
        /// Announced data length.
        lc: usize,
        /// Bytes actually present after Lc.
        body: usize,
    },
    /// An extended-length marker (`00`) followed by too few bytes.
    #[error("extended length field truncated ({len} bytes in all)")]
    TruncatedExtendedLength {
        /// Total length of the APDU.
        len: usize,
    },
    /// Extended Lc of zero, which ISO 7816-4 forbids.
    #[error("extended Lc of 0 is not allowed")]
    ZeroLc,
    /// Data longer than the encoding allows.
    #[error("command data of {len} bytes exceeds the maximum of {max}")]
    DataTooLong {
        /// Data length.
        len: usize,
        /// Maximum allowed.
        max: usize,
    },
    /// Ne outside 1..=65536.
    #[error("Ne = {ne} is outside 1..=65536")]
    InvalidNe {
        /// The value requested.
        ne: usize,
    },
    /// Short encoding requested for a command that needs extended lengths.
    #[error(
        "command does not fit short APDU encoding (Lc {lc}, Ne {ne:?}); the card must support extended length"
    )]
    DoesNotFitShort {
        /// Data length.
        lc: usize,
        /// Expected length.
        ne: Option<usize>,
    },
    /// Malformed BER-TLV.
    #[error("malformed BER-TLV at offset {offset}: {reason}")]
    Tlv {
        /// Offset of the faulty object in the input.
        offset: usize,
        /// What was wrong.
        reason: crate::tlv::TlvErrorKind,
    },
    /// Command chaining error.
    #[error("command chaining: {0}")]
    Chaining(&'static str),
}
