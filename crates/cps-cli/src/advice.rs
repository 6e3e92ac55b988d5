//! What the user can do about a failure: the libraries say what happened, the command line
//! says what to do next.

use cps::iasecc::Error as Ias;
use cps::transport::TransportError;

/// Advice for a transport failure.
pub fn for_transport(e: &TransportError) -> Option<&'static str> {
    Some(match e {
        // The binary loads libpcsclite at run time: without it, only readers are unavailable.
        TransportError::PcscLibrary { .. } => {
            "readers need the PC/SC library and service: install the Debian packages \
             libpcsclite1 and pcscd (`apt-get install libpcsclite1 pcscd`); the simulated card \
             works without them (commands without --reader)"
        }
        TransportError::ServiceUnavailable { .. } => {
            "start pcscd (e.g. `systemctl start pcscd.socket`)"
        }
        TransportError::ServiceStopped { .. } => "start pcscd again and retry",
        TransportError::NoReader => "plug one in, or use the simulator (--sim cps4)",
        TransportError::UnknownReader { .. } => "see `cps readers`",
        TransportError::NoCard { .. } => "insert the card",
        TransportError::CardReset => "run the command again (it selects the application again)",
        TransportError::CardUnresponsive | TransportError::NoAnswer { .. } => "reinsert the card",
        _ => return None,
    })
}

/// Advice for a failure of the facade or a protocol crate.
pub fn for_error(e: &cps::Error) -> Option<&'static str> {
    if let Some(t) = e.transport() {
        return for_transport(t);
    }
    Some(match e {
        cps::Error::NoCardInAnyReader { .. } => "insert a card (see `cps readers`)",
        cps::Error::IasEcc(i) => match i {
            Ias::NotACpsCard { .. } => "insert a CPS3 or CPS4 card, or check the reader",
            Ias::WrongPin { retries_left: 0 } => "unblock it with the PUK (cps pin unblock)",
            Ias::WrongPin { .. } => "the library never retries: ask the holder again",
            Ias::PinBlocked => "unblock it with the PUK (cps pin unblock)",
            Ias::WrongPuk { retries_left: 0 } | Ias::PukBlocked => "the card must be replaced",
            Ias::WrongPuk { .. } => "check the unblocking code sent with the card",
            Ias::SecurityStatusNotSatisfied { .. } => "verify the PIN first",
            Ias::KeyNotFound { .. } => "see the keys and certificates with `cps certs`",
            _ => return None,
        },
        cps::Error::Fido2(cps::fido2::Fido2Error::AppletRefused { .. }) => {
            "insert the card in a contact reader"
        }
        _ => return None,
    })
}

/// `message` followed by the advice, if any.
pub fn with_advice(message: String, advice: Option<&str>) -> String {
    match advice {
        Some(a) => format!("{message}: {a}"),
        None => message,
    }
}
