//! Status words (SW1 SW2) with their ISO/IEC 7816-4:2020 §5.6 meaning.
//!
//! Values and meanings: ISO/IEC 7816-4:2020 Tables 6 and 7 (interindustry responses), plus the
//! `91xx` family that MIFARE DESFire uses when its native commands are wrapped in ISO 7816-4
//! (NXP data sheet MF3D(H)x3, "ISO/IEC 7816-4 wrapping").

use core::fmt;

/// A status word: SW1 in the high byte, SW2 in the low byte.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatusWord(pub u16);

/// How a status word should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SwClass {
    /// `9000`: normal processing.
    Success,
    /// `61xx`: normal processing, `xx` more bytes available with GET RESPONSE (`00` = 256 or more).
    MoreData(u16),
    /// `6Cxx`: wrong Le; resend the same command with Le = `xx` (`00` = 256).
    WrongLe(u16),
    /// `62xx`: warning, non-volatile memory unchanged.
    WarningUnchanged,
    /// `63Cx`: verification failed (or counter), `x` tries left.
    RetriesLeft(u8),
    /// `63xx` other than `63Cx`: warning, non-volatile memory changed.
    WarningChanged,
    /// `64xx` / `65xx` / `66xx`: execution error.
    ExecutionError,
    /// `67xx` to `6Fxx`: checking error (the command was refused).
    CheckingError,
    /// `91xx` (DESFire native status wrapped in ISO 7816-4), with the native status byte.
    Proprietary91(u8),
    /// `90xx` other than `9000`, or any other SW1 outside ISO 7816-4's ranges.
    Other,
}

macro_rules! status_words {
    ($( $(#[$doc:meta])* $name:ident = $value:literal => $msg:literal; )*) => {
        impl StatusWord {
            $( $(#[$doc])* pub const $name: StatusWord = StatusWord($value); )*

            /// The ISO 7816-4 name of an exact status word, if it is a well-known one.
            pub fn known_message(self) -> Option<&'static str> {
                match self.0 {
                    $( $value => Some($msg), )*
                    _ => None,
                }
            }
        }
    };
}

status_words! {
    /// `9000` Normal processing.
    SUCCESS = 0x9000 => "success";
    /// `6200` No information given (warning, memory unchanged).
    WARNING_NO_INFO = 0x6200 => "warning: no information given (memory unchanged)";
    /// `6281` Part of returned data may be corrupted.
    DATA_CORRUPTED = 0x6281 => "warning: part of the returned data may be corrupted";
    /// `6282` End of file or record reached before reading Ne bytes.
    END_OF_FILE = 0x6282 => "warning: end of file or record reached before reading Ne bytes";
    /// `6283` Selected file deactivated.
    FILE_DEACTIVATED = 0x6283 => "warning: selected file is deactivated";
    /// `6284` File control information not formatted according to 7816-4.
    FCI_BADLY_FORMATTED = 0x6284 => "warning: file control information not formatted per ISO 7816-4";
    /// `6285` Selected file in termination state.
    FILE_TERMINATED = 0x6285 => "warning: selected file is in termination state";
    /// `6300` No information given (warning, memory changed) — often "verification failed".
    VERIFY_FAILED = 0x6300 => "warning: verification failed or memory changed (no information given)";
    /// `6381` File filled up by the last write.
    FILE_FILLED = 0x6381 => "warning: file filled up by the last write";
    /// `6400` Execution error, memory unchanged.
    EXECUTION_ERROR = 0x6400 => "execution error: memory unchanged";
    /// `6581` Memory failure.
    MEMORY_FAILURE = 0x6581 => "execution error: memory failure";
    /// `6700` Wrong length.
    WRONG_LENGTH = 0x6700 => "wrong length (Lc or Le)";
    /// `6881` Logical channel not supported.
    LOGICAL_CHANNEL_NOT_SUPPORTED = 0x6881 => "logical channel not supported";
    /// `6882` Secure messaging not supported.
    SM_NOT_SUPPORTED = 0x6882 => "secure messaging not supported";
    /// `6883` Last command of the chain expected.
    LAST_COMMAND_EXPECTED = 0x6883 => "last command of the chain expected";
    /// `6884` Command chaining not supported.
    CHAINING_NOT_SUPPORTED = 0x6884 => "command chaining not supported";
    /// `6981` Command incompatible with file structure.
    INCOMPATIBLE_FILE_STRUCTURE = 0x6981 => "command incompatible with file structure";
    /// `6982` Security status not satisfied.
    SECURITY_STATUS_NOT_SATISFIED = 0x6982 => "security status not satisfied (verify the PIN or authenticate first)";
    /// `6983` Authentication method blocked.
    AUTH_METHOD_BLOCKED = 0x6983 => "authentication method blocked (PIN blocked: unblock it with the PUK)";
    /// `6984` Reference data not usable.
    REFERENCE_DATA_NOT_USABLE = 0x6984 => "reference data not usable (e.g. PIN not set or invalidated)";
    /// `6985` Conditions of use not satisfied.
    CONDITIONS_NOT_SATISFIED = 0x6985 => "conditions of use not satisfied (wrong command order or state)";
    /// `6986` Command not allowed (no current EF).
    COMMAND_NOT_ALLOWED = 0x6986 => "command not allowed (no current EF)";
    /// `6987` Expected secure-messaging data objects missing.
    SM_OBJECTS_MISSING = 0x6987 => "expected secure-messaging data objects missing";
    /// `6988` Incorrect secure-messaging data objects.
    SM_OBJECTS_INCORRECT = 0x6988 => "incorrect secure-messaging data objects";
    /// `6A80` Incorrect parameters in the command data field.
    WRONG_DATA = 0x6A80 => "incorrect parameters in the command data field";
    /// `6A81` Function not supported.
    FUNCTION_NOT_SUPPORTED = 0x6A81 => "function not supported";
    /// `6A82` File or application not found.
    FILE_NOT_FOUND = 0x6A82 => "file or application not found";
    /// `6A83` Record not found.
    RECORD_NOT_FOUND = 0x6A83 => "record not found";
    /// `6A84` Not enough memory space in the file.
    NOT_ENOUGH_MEMORY = 0x6A84 => "not enough memory space in the file";
    /// `6A86` Incorrect parameters P1-P2.
    INCORRECT_P1P2 = 0x6A86 => "incorrect parameters P1-P2";
    /// `6A88` Referenced data or reference data not found.
    REFERENCED_DATA_NOT_FOUND = 0x6A88 => "referenced data or reference data not found";
    /// `6A89` File already exists.
    FILE_EXISTS = 0x6A89 => "file already exists";
    /// `6A8A` DF name already exists.
    DF_NAME_EXISTS = 0x6A8A => "DF name already exists";
    /// `6B00` Wrong parameters P1-P2 (e.g. offset outside the EF).
    WRONG_P1P2 = 0x6B00 => "wrong parameters P1-P2 (e.g. offset outside the file)";
    /// `6D00` Instruction code not supported or invalid.
    INS_NOT_SUPPORTED = 0x6D00 => "instruction not supported";
    /// `6E00` Class not supported.
    CLA_NOT_SUPPORTED = 0x6E00 => "class not supported";
    /// `6F00` No precise diagnosis.
    UNKNOWN_ERROR = 0x6F00 => "no precise diagnosis (card error)";
    /// `9100` DESFire: operation OK (native status 00 wrapped in ISO 7816-4).
    DESFIRE_OK = 0x9100 => "DESFire: operation OK";
    /// `91AF` DESFire: additional frame expected.
    DESFIRE_ADDITIONAL_FRAME = 0x91AF => "DESFire: additional frame expected";
}

impl StatusWord {
    /// Builds a status word from SW1 and SW2.
    pub const fn new(sw1: u8, sw2: u8) -> Self {
        StatusWord(((sw1 as u16) << 8) | sw2 as u16)
    }

    /// SW1.
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// SW2.
    pub const fn sw2(self) -> u8 {
        (self.0 & 0xFF) as u8
    }

    /// The two bytes, SW1 first.
    pub const fn to_bytes(self) -> [u8; 2] {
        self.0.to_be_bytes()
    }

    /// `true` for `9000` only.
    pub const fn is_success(self) -> bool {
        self.0 == 0x9000
    }

    /// `true` for `9000`, `61xx` and the `62xx`/`63xx` warnings (ISO 7816-4 "normal processing"
    /// and "warning processing"): the command was executed.
    pub fn is_ok_or_warning(self) -> bool {
        matches!(self.sw1(), 0x90 | 0x61 | 0x62 | 0x63) && (self.sw1() != 0x90 || self.sw2() == 0)
    }

    /// Classifies the status word.
    pub fn class(self) -> SwClass {
        let (sw1, sw2) = (self.sw1(), self.sw2());
        match sw1 {
            0x90 if sw2 == 0 => SwClass::Success,
            0x61 => SwClass::MoreData(if sw2 == 0 { 256 } else { u16::from(sw2) }),
            0x6C => SwClass::WrongLe(if sw2 == 0 { 256 } else { u16::from(sw2) }),
            0x62 => SwClass::WarningUnchanged,
            0x63 if sw2 & 0xF0 == 0xC0 => SwClass::RetriesLeft(sw2 & 0x0F),
            0x63 => SwClass::WarningChanged,
            0x64..=0x66 => SwClass::ExecutionError,
            0x67..=0x6F => SwClass::CheckingError,
            0x91 => SwClass::Proprietary91(sw2),
            _ => SwClass::Other,
        }
    }

    /// For `63Cx`, the number of tries left (`x`).
    pub fn retries_left(self) -> Option<u8> {
        match self.class() {
            SwClass::RetriesLeft(n) => Some(n),
            _ => None,
        }
    }

    /// A human message for any status word (never empty).
    pub fn message(self) -> StatusMessage {
        StatusMessage(self)
    }
}

/// A displayable explanation of a status word; see [`StatusWord::message`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusMessage(StatusWord);

impl fmt::Display for StatusMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sw = self.0;
        if let Some(m) = sw.known_message() {
            return f.write_str(m);
        }
        let (sw1, sw2) = (sw.sw1(), sw.sw2());
        match sw.class() {
            SwClass::Success => f.write_str("success"),
            SwClass::MoreData(n) => write!(f, "{n} more bytes available (GET RESPONSE)"),
            SwClass::WrongLe(n) => write!(f, "wrong Le: resend with Le = {n}"),
            SwClass::RetriesLeft(0) => f.write_str("verification failed: no tries left (blocked)"),
            SwClass::RetriesLeft(n) => write!(f, "verification failed: {n} tries left"),
            SwClass::WarningUnchanged => write!(f, "warning (memory unchanged), SW2 {sw2:02X}"),
            SwClass::WarningChanged => write!(f, "warning (memory changed), SW2 {sw2:02X}"),
            SwClass::ExecutionError => write!(f, "execution error {sw1:02X}{sw2:02X}"),
            SwClass::CheckingError => match sw1 {
                0x67 => f.write_str("wrong length"),
                0x68 => f.write_str("functions in CLA not supported"),
                0x69 => f.write_str("command not allowed"),
                0x6A => f.write_str("wrong parameters P1-P2 or data"),
                0x6B => f.write_str("wrong parameters P1-P2"),
                0x6D => f.write_str("instruction not supported"),
                0x6E => f.write_str("class not supported"),
                _ => write!(f, "checking error {sw1:02X}{sw2:02X}"),
            },
            SwClass::Proprietary91(code) => write!(f, "DESFire native status {code:02X}"),
            SwClass::Other => write!(f, "unknown status {sw1:02X}{sw2:02X}"),
        }
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusWord({:04X})", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X} ({})", self.0, self.message())
    }
}

impl From<u16> for StatusWord {
    fn from(v: u16) -> Self {
        StatusWord(v)
    }
}

impl From<[u8; 2]> for StatusWord {
    fn from(v: [u8; 2]) -> Self {
        StatusWord(u16::from_be_bytes(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn classification() {
        assert_eq!(StatusWord::SUCCESS.class(), SwClass::Success);
        assert_eq!(StatusWord(0x6110).class(), SwClass::MoreData(16));
        assert_eq!(StatusWord(0x6100).class(), SwClass::MoreData(256));
        assert_eq!(StatusWord(0x6C20).class(), SwClass::WrongLe(32));
        assert_eq!(StatusWord(0x6C00).class(), SwClass::WrongLe(256));
        assert_eq!(StatusWord(0x6282).class(), SwClass::WarningUnchanged);
        assert_eq!(StatusWord(0x63C2).class(), SwClass::RetriesLeft(2));
        assert_eq!(StatusWord(0x63C2).retries_left(), Some(2));
        assert_eq!(StatusWord(0x6300).class(), SwClass::WarningChanged);
        assert_eq!(StatusWord(0x6581).class(), SwClass::ExecutionError);
        for sw in [
            0x6982u16, 0x6983, 0x6984, 0x6985, 0x6A82, 0x6A86, 0x6A88, 0x6D00, 0x6E00,
        ] {
            assert_eq!(StatusWord(sw).class(), SwClass::CheckingError, "{sw:04X}");
            assert!(StatusWord(sw).known_message().is_some(), "{sw:04X}");
        }
        assert_eq!(StatusWord(0x91AE).class(), SwClass::Proprietary91(0xAE));
        assert_eq!(StatusWord(0x9001).class(), SwClass::Other);
        assert!(StatusWord(0x6283).is_ok_or_warning());
        assert!(!StatusWord(0x6A82).is_ok_or_warning());
        assert!(!StatusWord(0x9001).is_ok_or_warning());
    }

    #[test]
    fn messages_help_the_user() {
        assert!(StatusWord(0x6983).to_string().contains("PUK"));
        assert_eq!(
            StatusWord(0x63C1).message().to_string(),
            "verification failed: 1 tries left"
        );
        assert_eq!(
            StatusWord(0x6A82).to_string(),
            "6A82 (file or application not found)"
        );
        // Every value gives a non-empty message.
        for v in [0u16, 0x1234, 0x6789, 0x6F12, 0x9F00, 0xFFFF] {
            assert!(!StatusWord(v).message().to_string().is_empty());
        }
    }

    #[test]
    fn bytes() {
        let sw = StatusWord::new(0x6A, 0x82);
        assert_eq!(sw, StatusWord::FILE_NOT_FOUND);
        assert_eq!(sw.to_bytes(), [0x6A, 0x82]);
        assert_eq!(StatusWord::from([0x90, 0x00]), StatusWord::SUCCESS);
    }
}
