//! [`CardInfo`]: what `cps info` shows about a card.

use cps_desfire::DesfireError;
use cps_fido2::Fido2Error;
use cps_iasecc::{CardFamily, DetectedBy, Generation, PinStatus};
use cps_transport::Interface;
use cps_x509::{CertUsage, RenewalStatus, UnixTime};

use crate::{Card, Error, Origin};

/// Certificates are reported as due for renewal this many days before they expire (a choice
/// of cps-rs: three months leaves time to order and install the renewal; the CPS4 three-year
/// mark of `cps_x509::renewal_status` applies as well).
pub const RENEWAL_WINDOW_DAYS: u32 = 90;

/// Whether an application was found.
#[derive(Debug, Clone, PartialEq)]
pub enum Presence<T> {
    /// Found, with what was read from it.
    Present(T),
    /// The card answered that it does not have it (e.g. SELECT → `6A82`).
    Absent(String),
    /// Not looked for, and why (e.g. DESFire through the contact interface).
    NotChecked(&'static str),
    /// Looking for it failed.
    Failed(String),
}

impl<T> Presence<T> {
    /// The value when present.
    pub fn present(&self) -> Option<&T> {
        match self {
            Presence::Present(t) => Some(t),
            _ => None,
        }
    }

    /// `"present"`, `"absent"`, `"not checked"` or `"failed"`.
    pub fn state(&self) -> &'static str {
        match self {
            Presence::Present(_) => "present",
            Presence::Absent(_) => "absent",
            Presence::NotChecked(_) => "not checked",
            Presence::Failed(_) => "failed",
        }
    }

    /// The reason when not present.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Presence::Present(_) => None,
            Presence::Absent(r) | Presence::Failed(r) => Some(r),
            Presence::NotChecked(r) => Some(r),
        }
    }
}

/// A certificate of the card and its state at a given time.
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateInfo {
    /// PKCS#15 label.
    pub label: String,
    /// Authentication, signature or other.
    pub usage: CertUsage,
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// Serial number (hex).
    pub serial: String,
    /// Public key algorithm.
    pub algorithm: String,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// Renewal state at the time asked.
    pub renewal: RenewalStatus,
    /// Whether it is a certificate of the cps-rs TEST PKI.
    pub test_pki: bool,
    /// The DER certificate.
    pub der: Vec<u8>,
}

/// The summary of a certificate read from the card; `None` when it does not parse as a CPS
/// certificate.
pub fn certificate_info(cert: &cps_iasecc::Certificate, at: UnixTime) -> Option<CertificateInfo> {
    let parsed = cert.parsed.as_ref()?;
    Some(CertificateInfo {
        label: cert.label.clone().unwrap_or_default(),
        usage: parsed.usage(),
        subject: parsed.subject().to_string(),
        issuer: parsed.issuer().to_string(),
        serial: parsed.serial_hex(),
        algorithm: parsed.public_key().algorithm().to_string(),
        not_before: parsed.not_before(),
        not_after: parsed.not_after(),
        renewal: cps_x509::renewal_status(parsed, at, RENEWAL_WINDOW_DAYS),
        test_pki: parsed.is_test_pki(),
        der: cert.der.clone(),
    })
}

/// What the IAS-ECC application says.
#[derive(Debug, Clone, PartialEq)]
pub struct IasInfo {
    /// CPS3 or CPS4.
    pub generation: Generation,
    /// How the generation was found.
    pub detected_by: DetectedBy,
    /// Card family (CPS, CPF, CPE...).
    pub family: CardFamily,
    /// Card serial number (decimal digits of EF.SN).
    pub serial: String,
    /// The holder as every cps-rs output shows it: the card's civility, the given names, the
    /// family name ("DR Claire Anne MARTIN"; `HolderIdentity::holder_name`).
    pub holder: String,
    /// Holder national identifier.
    pub national_id: String,
    /// Holder PIN state (read without spending a try).
    pub pin: PinStatus,
    /// The certificates of the CDF that parse as CPS certificates.
    pub certificates: Vec<CertificateInfo>,
    /// Certificates of the CDF that do not parse (label and reason).
    pub unreadable_certificates: Vec<(String, String)>,
}

/// What the FIDO2 applet says (getInfo).
#[derive(Debug, Clone, PartialEq)]
pub struct Fido2Info {
    /// CTAP versions.
    pub versions: Vec<String>,
    /// Extensions.
    pub extensions: Vec<String>,
    /// AAGUID (hex).
    pub aaguid: String,
    /// Whether a FIDO2 PIN is set.
    pub enrolled: bool,
    /// PIN tries left, when a PIN is set.
    pub pin_retries: Option<u64>,
}

/// What the DESFire side says (GetVersion).
#[derive(Debug, Clone, PartialEq)]
pub struct DesfireInfo {
    /// EV1, EV2, EV3...
    pub generation: String,
    /// UID from GetVersion (hex; zero on random-UID cards).
    pub uid: String,
    /// Storage size in bytes (and whether exact).
    pub storage: (u64, bool),
    /// Applications (GetApplicationIDs), or why they could not be listed.
    pub applications: Result<Vec<String>, String>,
}

/// Everything `cps info` shows.
#[derive(Debug, Clone, PartialEq)]
pub struct CardInfo {
    /// Where the card is.
    pub origin: Origin,
    /// Answer to reset.
    pub atr: Vec<u8>,
    /// Contact or contactless.
    pub interface: Interface,
    /// The IAS-ECC application.
    pub ias: Presence<IasInfo>,
    /// The FIDO2 applet.
    pub fido2: Presence<Fido2Info>,
    /// The DESFire side.
    pub desfire: Presence<DesfireInfo>,
    /// When certificate validity was evaluated.
    pub at: UnixTime,
}

impl CardInfo {
    /// The generation, when the IAS-ECC application told it.
    pub fn generation(&self) -> Option<Generation> {
        self.ias.present().map(|i| i.generation)
    }
}

/// Whether an error means the card is gone or unusable, or was reset by another application
/// (then `info` stops there: what was read is kept, the error is returned).
fn fatal(e: &Error) -> bool {
    use cps_transport::TransportError as T;
    matches!(
        e.transport(),
        Some(
            T::CardRemoved
                | T::NoCard { .. }
                | T::NoReader
                | T::ServiceUnavailable { .. }
                | T::ServiceStopped { .. }
                | T::ReaderBusy { .. }
                | T::CardUnresponsive
                | T::NoAnswer { .. }
                | T::Cancelled { .. }
                | T::CardReset
        )
    )
}

fn ias_info(card: &mut Card, at: UnixTime) -> Result<Presence<IasInfo>, Error> {
    let mut ias = match card.iasecc() {
        Ok(ias) => ias,
        Err(Error::IasEcc(e @ cps_iasecc::Error::NotACpsCard { .. })) => {
            return Ok(Presence::Absent(crate::describe(&e)));
        }
        Err(e) => return Err(e),
    };
    let identity = ias.identity()?;
    let serial = ias.serial()?;
    let pin = ias.pin_status()?;
    let mut certificates = Vec::new();
    let mut unreadable = Vec::new();
    for c in ias.certificates()? {
        match certificate_info(&c, at) {
            Some(info) => certificates.push(info),
            None => unreadable.push((
                c.label.clone().unwrap_or_default(),
                c.parse().err().map(|e| e.to_string()).unwrap_or_default(),
            )),
        }
    }
    Ok(Presence::Present(IasInfo {
        generation: ias.generation(),
        detected_by: ias.detected_by(),
        family: identity.family.clone(),
        serial: serial.digits(),
        holder: identity.holder_name(),
        national_id: identity.national_id.clone(),
        pin,
        certificates,
        unreadable_certificates: unreadable,
    }))
}

fn fido2_info(card: &mut Card) -> Result<Presence<Fido2Info>, Error> {
    let mut f = match card.fido2() {
        Ok(f) => f,
        Err(Error::Fido2(Fido2Error::NoApplet { sw })) => {
            return Ok(Presence::Absent(format!(
                "SELECT of the FIDO2 AID answered {sw}"
            )));
        }
        Err(e) if fatal(&e) => return Err(e),
        Err(e) => return Ok(Presence::Failed(crate::describe(&e))),
    };
    let enrolled = f.is_enrolled();
    let pin_retries = if enrolled {
        match f.retries() {
            Ok(n) => Some(n),
            Err(e) => {
                let e = Error::from(e);
                if fatal(&e) {
                    return Err(e);
                }
                None
            }
        }
    } else {
        None
    };
    let i = f.info();
    Ok(Presence::Present(Fido2Info {
        versions: i.versions.clone(),
        extensions: i.extensions.clone(),
        aaguid: i.aaguid.iter().map(|b| format!("{b:02X}")).collect(),
        enrolled,
        pin_retries,
    }))
}

fn desfire_info(card: &mut Card) -> Result<Presence<DesfireInfo>, Error> {
    if card.interface() != Interface::Contactless {
        return Ok(Presence::NotChecked(
            "DESFire answers through the contactless interface only: present the card to a \
             contactless reader (simulator: --contactless)",
        ));
    }
    let mut d = card.desfire();
    let v = match d.get_version() {
        Ok(v) => v,
        Err(DesfireError::NotDesfire(sw)) => {
            return Ok(Presence::Absent(format!(
                "GetVersion answered {sw}: not a DESFire"
            )));
        }
        Err(e) => {
            let e = Error::from(e);
            if fatal(&e) {
                return Err(e);
            }
            return Ok(Presence::Failed(crate::describe(&e)));
        }
    };
    let applications = match d.get_application_ids() {
        Ok(ids) => Ok(ids.iter().map(ToString::to_string).collect()),
        Err(e) => {
            let e = Error::from(e);
            if fatal(&e) {
                return Err(e);
            }
            Err(crate::describe(&e))
        }
    };
    Ok(Presence::Present(DesfireInfo {
        generation: format!("{:?}", v.generation()),
        uid: v.uid.iter().map(|b| format!("{b:02X}")).collect(),
        storage: v.hardware.storage_bytes(),
        applications,
    }))
}

/// Keeps the error that stopped `info` and reports the part it stopped as failed.
fn stop<T>(e: Error, stopped: &mut Option<Error>) -> Presence<T> {
    let text = crate::describe(&e);
    *stopped = Some(e);
    Presence::Failed(text)
}

/// What was not checked because the card (or pcscd) went away before.
const STOPPED: &str = "not checked: the card or the PC/SC service went away before";

/// Gathers what `cps info` shows. When the card is pulled, pcscd stops or the card stops
/// answering part-way, what was read so far is returned with the error that stopped it
/// (the parts not reached are [`Presence::NotChecked`], the part that failed
/// [`Presence::Failed`]).
pub(crate) fn gather_partial(card: &mut Card, at: UnixTime) -> (CardInfo, Option<Error>) {
    let mut stopped: Option<Error> = None;
    let ias = if card.interface() == Interface::Contactless {
        Presence::NotChecked("the IAS-ECC application answers through the contact interface only")
    } else {
        match ias_info(card, at) {
            Ok(p) => p,
            Err(e) if fatal(&e) => stop(e, &mut stopped),
            Err(e) => Presence::Failed(crate::describe(&e)),
        }
    };
    let fido2 = if card.interface() == Interface::Contactless {
        Presence::NotChecked("the CPS4 FIDO2 applet answers through the contact interface only")
    } else if stopped.is_some() {
        Presence::NotChecked(STOPPED)
    } else {
        fido2_info(card).unwrap_or_else(|e| stop(e, &mut stopped))
    };
    let desfire = if stopped.is_some() {
        Presence::NotChecked(STOPPED)
    } else {
        desfire_info(card).unwrap_or_else(|e| stop(e, &mut stopped))
    };
    let info = CardInfo {
        origin: card.origin().clone(),
        atr: card.atr().to_vec(),
        interface: card.interface(),
        ias,
        fido2,
        desfire,
        at,
    };
    (info, stopped)
}

pub(crate) fn gather(card: &mut Card, at: UnixTime) -> Result<CardInfo, Error> {
    match gather_partial(card, at) {
        (_, Some(e)) => Err(e),
        (info, None) => Ok(info),
    }
}
