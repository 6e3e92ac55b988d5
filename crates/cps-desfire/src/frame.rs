//! DESFire framing: native frames, their ISO/IEC 7816-4 wrapping, status codes, and
//! additional-frame (`AF`) chaining in both directions (notes §1).
//!
//! - Native: `CMD [data]` answered by `STATUS [data]` (status byte first).
//! - ISO-wrapped: `90 CMD 00 00 [Lc data] 00` answered by `[data] 91 STATUS`; with no data the
//!   command is the 5 bytes `90 CMD 00 00 00` (libfreefare `desfire_transceive`).
//! - A long command is sent as `CMD part1`, then `AF part2`, ... while the card answers `AF`;
//!   a long response arrives as frames with status `AF`, each fetched by sending `AF`.
//!
//! Everything here is symmetric: the card side uses the same functions to parse what the host
//! sends ([`unwrap_iso_command`], [`CommandAssembler`]) and to answer ([`iso_response`],
//! [`split_response`]).

use alloc::vec::Vec;
use cps_apdu::StatusWord;

/// The additional-frame command and status code.
pub const ADDITIONAL_FRAME: u8 = 0xAF;
/// CLA of ISO-wrapped native commands.
pub const WRAPPED_CLA: u8 = 0x90;
/// SW1 of ISO-wrapped native answers.
pub const WRAPPED_SW1: u8 = 0x91;

macro_rules! statuses {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $label:literal, $msg:literal; )*) => {
        /// A DESFire native status byte (PM3 `include/protocols.h`; notes §1), with its name
        /// and an explanation. Unknown codes are kept in [`DesfireStatus::Other`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DesfireStatus {
            $( $(#[$doc])* $name, )*
            /// Any other status byte.
            Other(u8),
        }

        impl DesfireStatus {
            /// Decodes a status byte.
            pub const fn from_u8(code: u8) -> Self {
                match code {
                    $( $code => DesfireStatus::$name, )*
                    other => DesfireStatus::Other(other),
                }
            }

            /// The status byte.
            pub const fn code(self) -> u8 {
                match self {
                    $( DesfireStatus::$name => $code, )*
                    DesfireStatus::Other(c) => c,
                }
            }

            /// The NXP-style name (e.g. `AUTHENTICATION_ERROR`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( DesfireStatus::$name => $label, )*
                    DesfireStatus::Other(_) => "UNKNOWN_STATUS",
                }
            }

            /// What the status means, for a user.
            pub const fn message(self) -> &'static str {
                match self {
                    $( DesfireStatus::$name => $msg, )*
                    DesfireStatus::Other(_) => "unknown DESFire status",
                }
            }
        }
    };
}

statuses! {
    /// `00` Successful operation.
    Ok = 0x00, "OPERATION_OK", "successful operation";
    /// `0C` No changes done to backup files, CommitTransaction/AbortTransaction not necessary.
    NoChanges = 0x0C, "NO_CHANGES", "no changes done to backup files";
    /// `0E` Insufficient NV memory to complete the command.
    OutOfEeprom = 0x0E, "OUT_OF_EEPROM_ERROR", "not enough EEPROM memory to complete the command";
    /// `1C` Command code not supported.
    IllegalCommand = 0x1C, "ILLEGAL_COMMAND_CODE", "command code not supported";
    /// `1E` CRC or MAC does not match data, or padding bytes not valid.
    IntegrityError = 0x1E, "INTEGRITY_ERROR", "CRC or MAC does not match the data, or invalid padding";
    /// `40` Invalid key number specified.
    NoSuchKey = 0x40, "NO_SUCH_KEY", "invalid key number";
    /// `7E` Length of command string invalid.
    LengthError = 0x7E, "LENGTH_ERROR", "command length invalid";
    /// `9D` Current configuration or status does not allow the command.
    PermissionDenied = 0x9D, "PERMISSION_DENIED", "permission denied by the current configuration or access rights";
    /// `9E` Value of a parameter invalid.
    ParameterError = 0x9E, "PARAMETER_ERROR", "invalid parameter value";
    /// `A0` Requested AID not present on the PICC.
    ApplicationNotFound = 0xA0, "APPLICATION_NOT_FOUND", "application not found on the card";
    /// `A1` Unrecoverable error within the application; the application will be disabled.
    ApplicationIntegrityError = 0xA1, "APPL_INTEGRITY_ERROR", "unrecoverable error within the application";
    /// `AE` Current authentication status does not allow the command (or authentication failed).
    AuthenticationError = 0xAE, "AUTHENTICATION_ERROR", "the current authentication state does not allow the command";
    /// `AF` Additional frame expected to be sent (or more data to fetch).
    AdditionalFrame = 0xAF, "ADDITIONAL_FRAME", "additional frame expected";
    /// `BE` Attempt to read/write beyond the file's or record's limits, or value limits exceeded.
    BoundaryError = 0xBE, "BOUNDARY_ERROR", "offset or length beyond the file or value limits";
    /// `C1` Unrecoverable error within the PICC; the PICC will be disabled.
    PiccIntegrityError = 0xC1, "PICC_INTEGRITY_ERROR", "unrecoverable error within the card";
    /// `CA` Previous command was not fully completed.
    CommandAborted = 0xCA, "COMMAND_ABORTED", "previous command not fully completed";
    /// `CD` PICC was disabled by an unrecoverable error.
    PiccDisabled = 0xCD, "PICC_DISABLED_ERROR", "card disabled by an unrecoverable error";
    /// `CE` Number of applications limited to 28, no further CreateApplication possible.
    CountError = 0xCE, "COUNT_ERROR", "application count limit reached";
    /// `DE` Creation of a file or application failed because it already exists.
    Duplicate = 0xDE, "DUPLICATE_ERROR", "file or application already exists";
    /// `EE` Could not complete the NV-write operation (power loss).
    EepromError = 0xEE, "EEPROM_ERROR", "EEPROM write could not complete";
    /// `F0` Specified file number does not exist.
    FileNotFound = 0xF0, "FILE_NOT_FOUND", "file not found";
    /// `F1` Unrecoverable error within the file; the file will be disabled.
    FileIntegrityError = 0xF1, "FILE_INTEGRITY_ERROR", "unrecoverable error within the file";
}

impl DesfireStatus {
    /// `true` for `00`.
    pub const fn is_ok(self) -> bool {
        matches!(self, DesfireStatus::Ok)
    }

    /// `true` for anything but `00`, `0C` and `AF`. An error status drops the authentication
    /// and carries no MAC (notes §1).
    pub const fn is_error(self) -> bool {
        !matches!(
            self,
            DesfireStatus::Ok | DesfireStatus::NoChanges | DesfireStatus::AdditionalFrame
        )
    }

    /// The native status of an ISO-wrapped answer's status word (`91xx`), if it is one.
    pub fn from_status_word(sw: StatusWord) -> Option<Self> {
        (sw.sw1() == WRAPPED_SW1).then(|| DesfireStatus::from_u8(sw.sw2()))
    }

    /// The status word that wraps this status (`91xx`).
    pub const fn status_word(self) -> StatusWord {
        StatusWord::new(WRAPPED_SW1, self.code())
    }
}

impl core::fmt::Display for DesfireStatus {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{:02X} {} ({})",
            self.code(),
            self.name(),
            self.message()
        )
    }
}

/// A framing error (malformed bytes from either side; never a panic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// Fewer bytes than the frame structure needs.
    #[error("frame too short: {len} bytes, at least {min} needed")]
    TooShort {
        /// Bytes received.
        len: usize,
        /// Minimum.
        min: usize,
    },
    /// The answer is not a DESFire `91xx` answer (e.g. `6E00` from a non-DESFire card).
    #[error("not a DESFire answer: status word {0}")]
    NotDesfire(StatusWord),
    /// The command is not an ISO-wrapped native command (`90 CMD 00 00 [Lc data] 00`).
    #[error("not an ISO-wrapped DESFire command")]
    NotWrapped,
    /// A wrapped command's payload does not fit a short APDU.
    #[error("payload of {len} bytes does not fit one ISO-wrapped APDU (255 max)")]
    PayloadTooLong {
        /// Payload length.
        len: usize,
    },
    /// A chunk size of zero.
    #[error("frame payload size must be at least 1")]
    ZeroChunk,
    /// Too many additional frames or too many bytes in a chained message.
    #[error("chained message exceeds {limit} bytes")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// A continuation frame that does not start with `AF`.
    #[error("expected an additional frame (AF), got command {0:02X}")]
    ExpectedAdditionalFrame(u8),
    /// The card ended a chained command before its last frame with a non-error status.
    #[error("the card answered {0} before the last frame of a chained command")]
    ChainCutShort(DesfireStatus),
}

/// The two framings a host can use (notes §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `CMD data` / `STATUS data`.
    Native,
    /// `90 CMD 00 00 [Lc data] 00` / `data 91 STATUS`.
    IsoWrapped,
}

/// `CMD || payload`.
pub fn native_command(code: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(1 + payload.len());
    v.push(code);
    v.extend_from_slice(payload);
    v
}

/// Splits a native command frame into `(CMD, payload)`.
pub fn parse_native_command(frame: &[u8]) -> Result<(u8, &[u8]), FrameError> {
    frame
        .split_first()
        .map(|(c, p)| (*c, p))
        .ok_or(FrameError::TooShort { len: 0, min: 1 })
}

/// `STATUS || data`.
pub fn native_response(status: DesfireStatus, data: &[u8]) -> Vec<u8> {
    native_command(status.code(), data)
}

/// Splits a native answer into `(STATUS, data)`.
pub fn parse_native_response(frame: &[u8]) -> Result<(DesfireStatus, &[u8]), FrameError> {
    frame
        .split_first()
        .map(|(s, d)| (DesfireStatus::from_u8(*s), d))
        .ok_or(FrameError::TooShort { len: 0, min: 1 })
}

/// Wraps a native command in ISO 7816-4: `90 CMD 00 00 [Lc payload] 00`.
pub fn wrap_iso(code: u8, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let lc = u8::try_from(payload.len())
        .map_err(|_| FrameError::PayloadTooLong { len: payload.len() })?;
    let mut v = Vec::with_capacity(6 + payload.len());
    v.extend_from_slice(&[WRAPPED_CLA, code, 0x00, 0x00]);
    if !payload.is_empty() {
        v.push(lc);
        v.extend_from_slice(payload);
    }
    v.push(0x00);
    Ok(v)
}

#[cfg(feature = "card")]
/// Card side: parses `90 CMD 00 00 [Lc data] [00]` into `(CMD, data)`. Le is optional;
/// P1/P2 must be zero.
pub fn unwrap_iso_command(apdu: &[u8]) -> Result<(u8, &[u8]), FrameError> {
    let Some(([cla, ins, p1, p2], body)) = apdu.split_first_chunk::<4>().map(|(h, b)| (*h, b))
    else {
        return Err(FrameError::TooShort {
            len: apdu.len(),
            min: 4,
        });
    };
    if cla != WRAPPED_CLA || p1 != 0 || p2 != 0 {
        return Err(FrameError::NotWrapped);
    }
    match body {
        [] | [0x00] => Ok((ins, &[])),
        [lc, rest @ ..] => {
            let lc = usize::from(*lc);
            match (rest.get(..lc), rest.len() - lc.min(rest.len())) {
                (Some(data), 0) => Ok((ins, data)),
                (Some(data), 1) if rest.last() == Some(&0) => Ok((ins, data)),
                _ => Err(FrameError::NotWrapped),
            }
        }
    }
}

#[cfg(feature = "card")]
/// Card side: `data || 91 STATUS`.
pub fn iso_response(status: DesfireStatus, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(data.len() + 2);
    v.extend_from_slice(data);
    v.extend_from_slice(&[WRAPPED_SW1, status.code()]);
    v
}

/// Host side: splits an ISO-wrapped answer into `(STATUS, data)`; fails when SW1 is not `91`.
pub fn parse_iso_response(resp: &[u8]) -> Result<(DesfireStatus, &[u8]), FrameError> {
    let (data, sw) = resp.split_last_chunk::<2>().ok_or(FrameError::TooShort {
        len: resp.len(),
        min: 2,
    })?;
    let sw = StatusWord::from(*sw);
    match DesfireStatus::from_status_word(sw) {
        Some(status) => Ok((status, data)),
        None => Err(FrameError::NotDesfire(sw)),
    }
}

/// Splits `CMD || payload` into frames of at most `max_payload` payload bytes each:
/// `(CMD, part1)`, `(AF, part2)`, ... (an empty payload gives one frame).
pub fn split_command(
    code: u8,
    payload: &[u8],
    max_payload: usize,
) -> Result<Vec<(u8, &[u8])>, FrameError> {
    if max_payload == 0 {
        return Err(FrameError::ZeroChunk);
    }
    if payload.is_empty() {
        return Ok(alloc::vec![(code, payload)]);
    }
    Ok(payload
        .chunks(max_payload)
        .enumerate()
        .map(|(i, part)| (if i == 0 { code } else { ADDITIONAL_FRAME }, part))
        .collect())
}

#[cfg(feature = "card")]
/// Card side: splits a response into frames of at most `max_payload` bytes: all but the last
/// carry status `AF`, the last carries `status`.
pub fn split_response(
    status: DesfireStatus,
    data: &[u8],
    max_payload: usize,
) -> Result<Vec<(DesfireStatus, &[u8])>, FrameError> {
    if max_payload == 0 {
        return Err(FrameError::ZeroChunk);
    }
    if data.is_empty() {
        return Ok(alloc::vec![(status, data)]);
    }
    let n = data.len().div_ceil(max_payload);
    Ok(data
        .chunks(max_payload)
        .enumerate()
        .map(|(i, part)| {
            (
                if i + 1 == n {
                    status
                } else {
                    DesfireStatus::AdditionalFrame
                },
                part,
            )
        })
        .collect())
}

/// Host side: collects a response delivered in `AF` frames.
#[derive(Debug, Clone)]
pub struct ResponseAssembler {
    data: Vec<u8>,
    limit: usize,
    frames: usize,
}

/// What to do after feeding a frame to a [`ResponseAssembler`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// Status `AF`: send `AF` to get the next frame.
    More,
    /// The final status; the collected data is in the assembler.
    Done(DesfireStatus),
}

impl ResponseAssembler {
    /// An assembler that refuses responses longer than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        ResponseAssembler {
            data: Vec::new(),
            limit,
            frames: 0,
        }
    }

    /// Feeds one frame's status and data.
    pub fn push(&mut self, status: DesfireStatus, data: &[u8]) -> Result<Assembled, FrameError> {
        if self.data.len().saturating_add(data.len()) > self.limit {
            return Err(FrameError::TooLong { limit: self.limit });
        }
        self.data.extend_from_slice(data);
        self.frames += 1;
        Ok(if status == DesfireStatus::AdditionalFrame {
            Assembled::More
        } else {
            Assembled::Done(status)
        })
    }

    /// Frames fed so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// The collected data.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    /// The collected data so far.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
}

#[cfg(feature = "card")]
/// Card side: reassembles a command sent in `AF` frames. The card decides (from the command
/// code and header) how long the command is and calls [`CommandAssembler::push`] with each
/// continuation frame until it has everything.
#[derive(Debug, Clone)]
pub struct CommandAssembler {
    code: u8,
    payload: Vec<u8>,
    limit: usize,
}

#[cfg(feature = "card")]
impl CommandAssembler {
    /// Starts with the first frame (`CMD part1`); refuses more than `limit` payload bytes.
    pub fn new(first_frame: &[u8], limit: usize) -> Result<Self, FrameError> {
        let (code, part) = parse_native_command(first_frame)?;
        if part.len() > limit {
            return Err(FrameError::TooLong { limit });
        }
        Ok(CommandAssembler {
            code,
            payload: part.to_vec(),
            limit,
        })
    }

    /// Adds a continuation frame (`AF partN`).
    pub fn push(&mut self, frame: &[u8]) -> Result<(), FrameError> {
        let (code, part) = parse_native_command(frame)?;
        if code != ADDITIONAL_FRAME {
            return Err(FrameError::ExpectedAdditionalFrame(code));
        }
        if self.payload.len().saturating_add(part.len()) > self.limit {
            return Err(FrameError::TooLong { limit: self.limit });
        }
        self.payload.extend_from_slice(part);
        Ok(())
    }

    /// The command code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// The payload collected so far.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping() {
        assert_eq!(wrap_iso(0x60, &[]).unwrap(), [0x90, 0x60, 0, 0, 0]);
        assert_eq!(
            wrap_iso(0x5A, &[1, 2, 3]).unwrap(),
            [0x90, 0x5A, 0, 0, 3, 1, 2, 3, 0]
        );
        assert!(wrap_iso(0x3D, &[0; 256]).is_err());
        assert_eq!(
            unwrap_iso_command(&[0x90, 0x5A, 0, 0, 3, 1, 2, 3, 0]).unwrap(),
            (0x5A, &[1u8, 2, 3][..])
        );
        assert_eq!(
            unwrap_iso_command(&[0x90, 0x60, 0, 0, 0]).unwrap(),
            (0x60, &[][..])
        );
        assert!(unwrap_iso_command(&[0x90, 0x5A, 0, 0, 5, 1, 2, 3, 0]).is_err());
        assert!(unwrap_iso_command(&[0x90, 0x5A, 0, 0, 2, 1, 2, 3, 0]).is_err());
        assert!(unwrap_iso_command(&[0x00, 0xA4, 4, 0, 0]).is_err());
        let (s, d) = parse_iso_response(&[1, 2, 0x91, 0xAF]).unwrap();
        assert_eq!((s, d), (DesfireStatus::AdditionalFrame, &[1u8, 2][..]));
        assert_eq!(
            parse_iso_response(&[0x6E, 0x00]),
            Err(FrameError::NotDesfire(StatusWord(0x6E00)))
        );
    }

    #[test]
    fn status_names() {
        for code in [
            0x00u8, 0x0C, 0xAF, 0x0E, 0x1C, 0x1E, 0x40, 0x7E, 0x9D, 0x9E, 0xA0, 0xA1, 0xAE, 0xBE,
            0xC1, 0xCA, 0xCD, 0xCE, 0xDE, 0xEE, 0xF0, 0xF1,
        ] {
            let s = DesfireStatus::from_u8(code);
            assert!(!matches!(s, DesfireStatus::Other(_)), "{code:02X}");
            assert_eq!(s.code(), code);
            assert_ne!(s.name(), "UNKNOWN_STATUS");
        }
        assert_eq!(DesfireStatus::from_u8(0x42), DesfireStatus::Other(0x42));
        assert!(DesfireStatus::AuthenticationError.is_error());
        assert!(!DesfireStatus::AdditionalFrame.is_error());
    }

    #[test]
    fn chunking() {
        let frames = split_command(0x3D, &[7; 10], 4).unwrap();
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].0, 0x3D);
        assert_eq!(frames[2], (0xAF, &[7u8, 7][..]));
        let r = split_response(DesfireStatus::Ok, &[1; 9], 4).unwrap();
        assert_eq!(r[0].0, DesfireStatus::AdditionalFrame);
        assert_eq!(r[2], (DesfireStatus::Ok, &[1u8][..]));
        let mut a = ResponseAssembler::new(5);
        assert_eq!(
            a.push(DesfireStatus::AdditionalFrame, &[1, 2]),
            Ok(Assembled::More)
        );
        assert!(a.push(DesfireStatus::Ok, &[3, 4, 5, 6]).is_err());
    }
}
