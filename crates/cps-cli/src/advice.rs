//! What the user can do about a failure: the libraries say what happened, the command line
//! says what to do next.

use cps::iasecc::Error as Ias;
use cps::transport::TransportError;

/// Advice for a transport failure.
pub fn for_transport(e: &TransportError) -> Option<String> {
    Some(match e {
        // The binary loads libpcsclite at run time: without it, only readers are unavailable.
        TransportError::PcscLibrary { .. } => {
            tr!("advice-pcsc-library")
        }
        TransportError::ServiceUnavailable { .. } => {
            tr!("advice-start-pcscd")
        }
        TransportError::ServiceStopped { .. } => tr!("advice-pcscd-again"),
        TransportError::NoReader => tr!("advice-no-reader"),
        TransportError::UnknownReader { .. } => tr!("advice-see-readers"),
        TransportError::NoCard { .. } => tr!("advice-insert-card"),
        TransportError::CardReset => tr!("advice-card-reset"),
        TransportError::CardUnresponsive | TransportError::NoAnswer { .. } => {
            tr!("advice-reinsert")
        }
        _ => return None,
    })
}

/// Advice for a failure of the facade or a protocol crate.
pub fn for_error(e: &cps::Error) -> Option<String> {
    if let Some(t) = e.transport() {
        return for_transport(t);
    }
    Some(match e {
        cps::Error::NoCardInAnyReader { .. } => tr!("advice-insert-any"),
        cps::Error::IasEcc(i) => match i {
            Ias::NotACpsCard { .. } => tr!("advice-not-cps"),
            Ias::WrongPin { retries_left: 0 } => tr!("advice-unblock"),
            Ias::WrongPin { .. } => tr!("advice-ask-again"),
            Ias::PinBlocked => tr!("advice-unblock"),
            Ias::WrongPuk { retries_left: 0 } | Ias::PukBlocked => tr!("advice-replace-card"),
            Ias::WrongPuk { .. } => tr!("advice-check-puk"),
            Ias::SecurityStatusNotSatisfied { .. } => tr!("advice-verify-first"),
            Ias::KeyNotFound { .. } => tr!("advice-see-certs"),
            _ => return None,
        },
        cps::Error::Fido2(cps::fido2::Fido2Error::AppletRefused { .. }) => {
            tr!("advice-contact-reader")
        }
        _ => return None,
    })
}

/// `message` followed by the advice, if any.
pub fn with_advice(message: String, advice: Option<String>) -> String {
    match advice {
        Some(a) => tr!("error-with-advice", message = message, advice = a),
        None => message,
    }
}

/// The command line as the user gave it, without `--wait` (for advice that adds it back):
/// `cps doctor --reader 'Virtual PCD 00 00'`.
pub fn command_again() -> String {
    let mut words = vec!["cps".to_owned()];
    let mut args = std::env::args().skip(1).peekable();
    while let Some(arg) = args.next() {
        if arg.starts_with("--wait=") {
            continue;
        }
        if arg == "--wait" {
            if args.peek().is_some_and(|v| v.parse::<u64>().is_ok()) {
                args.next();
            }
            continue;
        }
        let arg = crate::shorten(&arg, 128);
        if arg.is_empty()
            || arg.contains(|c: char| !(c.is_ascii_alphanumeric() || "-_./:=,@".contains(c)))
        {
            words.push(format!("'{}'", arg.replace('\'', "'\\''")));
        } else {
            words.push(arg);
        }
    }
    words.join(" ")
}
