//! The error type of the crate: every failure says what was attempted and carries the card's
//! status word when there is one. What to do about it is the application's to say (the `cps`
//! command adds its advice).

use cps_apdu::StatusWord;
use cps_transport::TransportError;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a CPS card operation failed.
///
/// Secrets never appear in an error: PIN-related variants carry counters, not values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The card could not be reached, or the exchange failed below the application protocol.
    #[error(transparent)]
    Transport(#[from] TransportError),

    /// A request its command table entry does not allow (`cps_iasecc::table`): never sent.
    #[error(transparent)]
    Shape(#[from] cps_apdu::table::ShapeError),

    /// The card has no CPS IAS-ECC application.
    #[error("not a CPS card ({detail})")]
    NotACpsCard {
        /// What was looked for and not found.
        detail: String,
    },

    /// A file named by the card layout or the PKCS#15 directory is missing (`6A82`).
    #[error(
        "file {path} not found on the card (6A82): the card does not follow the CPS layout \
         (docs/card-layout.md)"
    )]
    FileNotFound {
        /// The path, e.g. `3F00/0001/4402`, or `SFI 01`.
        path: String,
    },

    /// VERIFY / CHANGE REFERENCE DATA with a wrong PIN (`63Cx`).
    #[error(
        "wrong PIN (63C{retries_left:X}): {retries_left} tries left{}",
        if *retries_left == 0 { " (the PIN is now blocked)" } else { "" }
    )]
    WrongPin {
        /// Tries left before the PIN is blocked.
        retries_left: u8,
    },

    /// The holder PIN is blocked (`6983`).
    #[error("PIN blocked (6983)")]
    PinBlocked,

    /// RESET RETRY COUNTER with a wrong PUK (`63Cx`).
    #[error(
        "wrong PUK (63C{retries_left:X}): {retries_left} tries left{}",
        if *retries_left == 0 { " (the PUK is now blocked)" } else { "" }
    )]
    WrongPuk {
        /// Tries left before the PUK is blocked.
        retries_left: u8,
    },

    /// The PUK is blocked (`6983` on RESET RETRY COUNTER): nothing can unblock the PIN.
    #[error("PUK blocked (6983): the PIN can no longer be unblocked")]
    PukBlocked,

    /// The operation needs the holder PIN verified in this session (`6982`).
    #[error("{attempted}: security status not satisfied (6982)")]
    SecurityStatusNotSatisfied {
        /// What was attempted.
        attempted: &'static str,
    },

    /// A PIN or PUK typed by the user has the wrong format; nothing was sent to the card, so
    /// no try was spent.
    #[error("invalid {what}: {reason} (nothing was sent to the card, no try was spent)")]
    InvalidPinFormat {
        /// `"PIN"` or `"PUK"`.
        what: &'static str,
        /// The rule that was broken (never the value).
        reason: &'static str,
    },

    /// No key on the card matches the request.
    #[error("no {what} on this card")]
    KeyNotFound {
        /// The key that was looked for, e.g. "P-256 signature key".
        what: String,
    },

    /// The request cannot be carried out with this key, digest or card.
    #[error("{what} is not supported: {detail}")]
    Unsupported {
        /// What was asked.
        what: &'static str,
        /// Why it cannot be done, and what works instead.
        detail: String,
    },

    /// Data read from the card (or given by the caller) does not have the expected structure.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which object, e.g. "EF.IDENT" or "PrKDF".
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },

    /// The CPS4's logical channel 1 was closed (`6881`: the card was reset, e.g. by another
    /// application). The client selected the ChipDoc applet again, but did not send the
    /// command again because it has an effect or carries a secret; the PIN verification was
    /// lost with the reset.
    #[error(
        "{attempted}: the card was reset by another application (6881, logical channel 1 \
         closed); the channel is open again, verify the PIN again and retry"
    )]
    ChannelClosed {
        /// The command that was not sent again.
        attempted: &'static str,
    },

    /// The decrypted block is not a PKCS#1 v1.5 encryption block (RFC 8017 §7.2.2): wrong
    /// key, or a corrupted or forged cryptogram. Which check failed is not told.
    #[error("decryption failed: the plaintext block is not PKCS#1 v1.5 (wrong key or cryptogram)")]
    DecryptionFailed,

    /// The card refused a command with a status word that has no more specific variant.
    #[error("{attempted}: the card answered {sw}")]
    Card {
        /// What was attempted.
        attempted: &'static str,
        /// The status word returned.
        sw: StatusWord,
    },
}

impl Error {
    /// The card's status word behind this error, when the card gave one.
    pub fn status_word(&self) -> Option<StatusWord> {
        match self {
            Error::WrongPin { retries_left } | Error::WrongPuk { retries_left } => {
                Some(StatusWord(0x63C0 | u16::from(*retries_left & 0x0F)))
            }
            Error::PinBlocked | Error::PukBlocked => Some(StatusWord::AUTH_METHOD_BLOCKED),
            Error::SecurityStatusNotSatisfied { .. } => {
                Some(StatusWord::SECURITY_STATUS_NOT_SATISFIED)
            }
            Error::FileNotFound { .. } => Some(StatusWord::FILE_NOT_FOUND),
            Error::Card { sw, .. } => Some(*sw),
            Error::ChannelClosed { .. } => Some(StatusWord(0x6881)),
            _ => None,
        }
    }

    /// Whether the card lost its state (reset by another application): open the card again
    /// (or call [`CpsCard::reselect`](crate::CpsCard::reselect)) and verify the PIN again.
    pub fn is_card_reset(&self) -> bool {
        matches!(self, Error::ChannelClosed { .. })
            || matches!(self, Error::Transport(t) if t.is_card_reset())
    }

    pub(crate) fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Error::Malformed {
            what,
            detail: detail.into(),
        }
    }

    /// The generic mapping of a status word other than `9000`.
    pub(crate) fn from_sw(attempted: &'static str, sw: StatusWord) -> Self {
        match sw.0 {
            0x6982 => Error::SecurityStatusNotSatisfied { attempted },
            _ => Error::Card { attempted, sw },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_short_and_carry_the_status_word() {
        assert_eq!(Error::PinBlocked.to_string(), "PIN blocked (6983)");
        let e = Error::SecurityStatusNotSatisfied {
            attempted: "reading EF.DAM",
        };
        assert_eq!(
            e.to_string(),
            "reading EF.DAM: security status not satisfied (6982)"
        );
        assert_eq!(e.status_word(), Some(StatusWord(0x6982)));
        let w = Error::WrongPin { retries_left: 2 };
        assert_eq!(w.status_word(), Some(StatusWord(0x63C2)));
        assert!(w.to_string().contains("2 tries left"));
        assert!(
            Error::WrongPin { retries_left: 0 }
                .to_string()
                .contains("the PIN is now blocked")
        );
        let c = Error::Card {
            attempted: "signing",
            sw: StatusWord(0x6985),
        };
        assert!(c.to_string().contains("6985"));
    }
}
