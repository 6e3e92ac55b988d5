//! The CPS4 migration checklist (`cps doctor`), run against the machine and the card in front
//! of it: PC/SC service, readers (contact / contactless), card generation, IAS-ECC
//! application and certificates, FIDO2 applet, DESFire side, certificates' remaining validity.
//!
//! Each [`Check`] is ok, warning, failure, or not checked (with the reason: e.g. the PC/SC
//! lines when the built-in simulator is used, DESFire through the contact interface), and
//! says what to do when it is not ok. Checks are typed ([`Item`], [`Finding`], [`Action`]
//! with their data) so that an application can word them in its own language; their
//! `Display` gives English.

use cps_iasecc::{Generation, PinStatus};
use cps_transport::pcsc::PcscContext;
use cps_transport::{Interface, TransportError};
use cps_x509::{RenewalReason, RenewalStatus, UnixTime};

use crate::info::{CardInfo, Presence};
use crate::{Card, CardSource, Error, WaitProgress};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but something should be done.
    Warning,
    /// Does not work: the action says what to do.
    Failure,
    /// Not checked (the detail says why).
    NotChecked,
}

impl Status {
    /// `"ok"`, `"warning"`, `"failure"`, `"not checked"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warning => "warning",
            Status::Failure => "failure",
            Status::NotChecked => "not checked",
        }
    }
}

/// What a line of the checklist is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// The PC/SC service (pcscd).
    PcscService,
    /// The list of readers.
    Readers,
    /// One reader, by its PC/SC name.
    Reader(String),
    /// A reader seeing the card through its contactless interface.
    ContactlessReader,
    /// The card itself (opening it).
    Card,
    /// CPS3 or CPS4.
    CardGeneration,
    /// The IAS-ECC application.
    IasEcc,
    /// The holder PIN.
    HolderPin,
    /// The card's certificates as a whole.
    Certificates,
    /// Whether every certificate could be read.
    CertificatesReadable,
    /// One certificate.
    Certificate {
        /// Its label on the card.
        label: String,
        /// What it is for.
        usage: cps_x509::CertUsage,
    },
    /// The FIDO2 applet.
    Fido2,
    /// The DESFire side (contactless).
    Desfire,
}

impl std::fmt::Display for Item {
    /// The English name, e.g. `PC/SC service`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::PcscService => f.write_str("PC/SC service"),
            Item::Readers => f.write_str("readers"),
            Item::Reader(name) => write!(f, "reader {name:?}"),
            Item::ContactlessReader => f.write_str("contactless reader"),
            Item::Card => f.write_str("card"),
            Item::CardGeneration => f.write_str("card generation"),
            Item::IasEcc => f.write_str("IAS-ECC application"),
            Item::HolderPin => f.write_str("holder PIN"),
            Item::Certificates => f.write_str("certificates"),
            Item::CertificatesReadable => f.write_str("certificates readable"),
            Item::Certificate { label, usage } => write!(f, "certificate {label} ({usage})"),
            Item::Fido2 => f.write_str("FIDO2 applet"),
            Item::Desfire => f.write_str("DESFire"),
        }
    }
}

impl PartialEq<&str> for Item {
    /// Compares the English name.
    fn eq(&self, other: &&str) -> bool {
        self.to_string().as_str() == *other
    }
}

/// What a check found. Texts carried as `String` come from the card or from the libraries'
/// error messages (English).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// The built-in simulator is in use: the PC/SC stack was not used.
    SimulatorInUse,
    /// A failure, as the libraries describe it (an error chain, or why an application is
    /// absent or not checked).
    Error(String),
    /// The card was lost while reading it.
    LostCard(String),
    /// pcscd answered.
    PcscReachable,
    /// pcscd lists no reader.
    NoReader,
    /// A card is in this reader, seen through this interface.
    ReaderWithCard {
        /// `contact` or `contactless`.
        interface: String,
    },
    /// No card in this reader.
    ReaderEmpty,
    /// No card seen through a contactless interface.
    NoContactless,
    /// The card was opened: where it is (and its interface, for a reader).
    CardFound {
        /// The reader or the simulated card.
        origin: crate::Origin,
        /// The interface, for a card in a reader.
        interface: Option<String>,
    },
    /// A CPS4.
    Cps4,
    /// A CPS3 (no FIDO2 applet, MIFARE Classic contactless side).
    Cps3,
    /// The IAS-ECC application answered.
    IasApplication {
        /// Card family.
        family: String,
        /// Card serial number.
        serial: String,
        /// Holder name.
        holder: String,
        /// National identifier.
        national_id: String,
    },
    /// The holder PIN state.
    Pin(PinStatus),
    /// No certificate on the card.
    NoCertificate,
    /// How many certificates could be read.
    CertificatesCount {
        /// Readable.
        readable: usize,
        /// Unreadable.
        unreadable: usize,
    },
    /// Certificate valid.
    CertificateValid {
        /// End of validity (YYYY-MM-DD).
        until: String,
        /// Days left.
        days_left: i64,
    },
    /// Certificate to renew.
    CertificateRenewalDue {
        /// End of validity (YYYY-MM-DD).
        until: String,
        /// Days left.
        days_left: i64,
        /// Why.
        reason: RenewalReason,
    },
    /// Certificate expired.
    CertificateExpired {
        /// End of validity (YYYY-MM-DD).
        until: String,
        /// Days since.
        days_ago: i64,
    },
    /// Certificate not valid yet.
    CertificateNotYetValid {
        /// Start of validity (YYYY-MM-DD).
        from: String,
        /// Days until then.
        days: i64,
    },
    /// A renewal state this version does not know (debug form).
    CertificateOther(String),
    /// FIDO2 applet with a PIN.
    Fido2Enrolled {
        /// FIDO2 PIN tries left, when the applet says.
        tries_left: Option<u64>,
        /// Versions it supports, space-separated.
        versions: String,
    },
    /// FIDO2 applet without a PIN yet.
    Fido2Blank {
        /// Versions it supports, space-separated.
        versions: String,
    },
    /// A CPS3 has no FIDO2 applet (the reason the selection gave).
    Fido2NotOnCps3(String),
    /// The DESFire side answered.
    DesfireFound {
        /// EV1, EV2, EV3...
        generation: String,
        /// Its UID.
        uid: String,
        /// Number of applications.
        applications: usize,
    },
    /// No DESFire: the card relies on MIFARE Classic (the reason the selection gave).
    DesfireClassic(String),
}

impl std::fmt::Display for Finding {
    /// The English text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::SimulatorInUse => f.write_str(
                "built-in simulator in use: the PC/SC stack was not used (run `cps doctor \
                 --reader auto` with the card in a reader to check it)",
            ),
            Finding::Error(e) => f.write_str(e),
            Finding::LostCard(e) => write!(f, "lost the card: {e}"),
            Finding::PcscReachable => f.write_str("pcscd reachable"),
            Finding::NoReader => f.write_str("no smart-card reader found"),
            Finding::ReaderWithCard { interface } => {
                write!(f, "card present, {interface} interface")
            }
            Finding::ReaderEmpty => {
                f.write_str("no card (its interface shows once a card is in it)")
            }
            Finding::NoContactless => f.write_str(
                "no card seen through a contactless interface: the DESFire side (building \
                 access) of the CPS4 was not reached",
            ),
            Finding::CardFound {
                origin,
                interface: Some(i),
            } => write!(f, "{origin}, {i} interface"),
            Finding::CardFound {
                origin,
                interface: None,
            } => write!(f, "{origin}"),
            Finding::Cps4 => f.write_str("CPS4"),
            Finding::Cps3 => f.write_str(
                "CPS3: no FIDO2 applet, and its contactless side (MIFARE Classic) is not \
                 carried over to CPS4",
            ),
            Finding::IasApplication {
                family,
                serial,
                holder,
                national_id,
            } => write!(f, "{family} card {serial} of {holder} ({national_id})"),
            Finding::Pin(PinStatus::Blocked) => f.write_str("blocked"),
            Finding::Pin(PinStatus::RetriesLeft(n)) if *n < 3 => {
                write!(f, "{n} tries left (wrong PINs were typed)")
            }
            Finding::Pin(p) => write!(f, "{p}"),
            Finding::NoCertificate => f.write_str("no certificate on the card"),
            Finding::CertificatesCount {
                readable,
                unreadable,
            } => write!(f, "{readable} readable, {unreadable} unreadable"),
            Finding::CertificateValid { until, days_left } => {
                write!(f, "valid until {until} ({days_left} days left)")
            }
            Finding::CertificateRenewalDue {
                until,
                days_left,
                reason,
            } => write!(
                f,
                "valid until {until} ({days_left} days left): renewal due ({})",
                match reason {
                    RenewalReason::ExpiresSoon => "expires soon",
                    RenewalReason::ThreeYearMark => "three-year mark of CPS4 certificates",
                }
            ),
            Finding::CertificateExpired { until, days_ago } => {
                write!(f, "expired on {until} ({days_ago} days ago)")
            }
            Finding::CertificateNotYetValid { from, days } => {
                write!(f, "not valid before {from} ({days} days)")
            }
            Finding::CertificateOther(s) => f.write_str(s),
            Finding::Fido2Enrolled {
                tries_left,
                versions,
            } => write!(
                f,
                "enrolled ({} PIN tries left), {versions}",
                tries_left.map_or_else(|| "?".to_owned(), |n| n.to_string())
            ),
            Finding::Fido2Blank { versions } => {
                write!(f, "blank (no FIDO2 PIN yet), {versions}")
            }
            Finding::Fido2NotOnCps3(why) => {
                write!(f, "CPS3 card: no FIDO2 applet expected ({why})")
            }
            Finding::DesfireFound {
                generation,
                uid,
                applications,
            } => write!(f, "{generation}, UID {uid}, {applications} applications"),
            Finding::DesfireClassic(why) => {
                write!(f, "{why}; {}", cps_desfire::Refusal::ReliesOnMifareClassic)
            }
        }
    }
}

/// What to do about a check that is not ok. Actions naming `cps doctor` are shown by the
/// `cps` command with the options the user gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// Insert the card, or wait for it (`cps doctor --wait 30`).
    InsertCard,
    /// Another application holds the card exclusively.
    CloseExclusiveApplication,
    /// The reader named is not known.
    ChooseListedReader,
    /// Check the reader and the card, then run `cps doctor` again.
    CheckReaderAndCard,
    /// Reinsert the card and run `cps doctor` again.
    ReinsertAndRunAgain,
    /// Install and start pcscd.
    InstallPcscd,
    /// Plug in a reader.
    PlugReader,
    /// Present the CPS4 to a contactless reader.
    PresentContactless,
    /// Order the CPS4 replacement of a CPS3.
    OrderCps4,
    /// Unblock the PIN with the PUK.
    UnblockPin,
    /// Few PIN tries left: ask the holder before trying.
    AskHolderBeforeTrying,
    /// The card must be re-issued.
    ReissueCard,
    /// Insert a CPS card through the contact interface.
    InsertContact,
    /// A CPS4 should have a FIDO2 applet: check the card and the interface.
    CheckCps4Contact,
    /// Enroll the FIDO2 applet.
    EnrollFido2,
    /// Replace the MIFARE Classic badge by a CPS4 and DESFire door readers.
    ReplaceClassicBadge,
    /// Present a CPS4 to the contactless reader.
    PresentCps4Contactless,
    /// Present the card again, holding it still.
    PresentAgain,
    /// Renew the certificates before they expire.
    RenewCertificates,
    /// The certificates expired: order a new card.
    OrderNewCard,
    /// Check the computer's clock.
    CheckClock,
}

impl std::fmt::Display for Action {
    /// The English text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::InsertCard => "insert the card (or wait for it: cps doctor --wait 30)",
            Action::CloseExclusiveApplication => {
                "close the application that holds the card exclusively"
            }
            Action::ChooseListedReader => "choose a reader listed by `cps readers`",
            Action::CheckReaderAndCard => {
                "check the reader and the card, then run `cps doctor` again"
            }
            Action::ReinsertAndRunAgain => "reinsert the card and run `cps doctor` again",
            Action::InstallPcscd => {
                "install and start pcscd: `apt-get install pcscd && systemctl start pcscd.socket`"
            }
            Action::PlugReader => {
                "plug in a CCID reader (contact for IAS-ECC and FIDO2, contactless for the \
                 DESFire badge)"
            }
            Action::PresentContactless => {
                "present the CPS4 to a contactless reader and run `cps doctor --reader NAME` on it"
            }
            Action::OrderCps4 => "order the CPS4 replacement; move badge readers to DESFire",
            Action::UnblockPin => "unblock it with the PUK: cps pin unblock",
            Action::AskHolderBeforeTrying => {
                "the next correct PIN resets the counter; ask the holder before trying"
            }
            Action::ReissueCard => "the card must be re-issued (contact the ANS)",
            Action::InsertContact => "insert a CPS3 or CPS4 card through the contact interface",
            Action::CheckCps4Contact => {
                "a CPS4 carries a FIDO2 applet: check that this is a CPS4 through the contact \
                 interface"
            }
            Action::EnrollFido2 => "enroll it: cps fido2 enroll",
            Action::ReplaceClassicBadge => {
                "replace the badge by a CPS4 and the door readers' MIFARE Classic keys by \
                 DESFire ones"
            }
            Action::PresentCps4Contactless => "present a CPS4 to the contactless reader",
            Action::PresentAgain => "present the card again, holding it still on the reader",
            Action::RenewCertificates => {
                "renew the certificates (remote update) before they expire"
            }
            Action::OrderNewCard => "the card's certificates must be renewed: order a new card",
            Action::CheckClock => "check the computer's clock",
        })
    }
}

/// One line of the checklist: typed, so that the `cps` command can say it in the user's
/// language ([`Display`](std::fmt::Display) of each part gives the English text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. [`Item::PcscService`].
    pub name: Item,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: Finding,
    /// What to do, when not ok.
    pub action: Option<Action>,
}

fn check(name: Item, status: Status, detail: Finding) -> Check {
    Check {
        name,
        status,
        detail,
        action: None,
    }
}

impl Check {
    fn action(mut self, action: Action) -> Check {
        self.action = Some(action);
        self
    }
}

/// Whether any check failed.
pub fn has_failure(checks: &[Check]) -> bool {
    checks.iter().any(|c| c.status == Status::Failure)
}

/// Runs the checklist. `at` is the time at which certificate validity is evaluated.
pub fn run(
    source: &CardSource,
    at: UnixTime,
    progress: &mut dyn FnMut(WaitProgress),
) -> Vec<Check> {
    let mut checks = Vec::new();
    match source {
        #[cfg(feature = "sim")]
        CardSource::Simulator(_) => {
            checks.push(check(
                Item::PcscService,
                Status::NotChecked,
                Finding::SimulatorInUse,
            ));
            checks.push(check(
                Item::Readers,
                Status::NotChecked,
                Finding::SimulatorInUse,
            ));
        }
        CardSource::Reader { .. } => {
            if !pcsc_checks(&mut checks) {
                return checks;
            }
        }
    }
    let mut card = match Card::open_with_progress(source, progress) {
        Ok(card) => card,
        Err(e) => {
            checks.push(
                check(
                    Item::Card,
                    Status::Failure,
                    Finding::Error(crate::describe(&e)),
                )
                .action(open_action(&e)),
            );
            return checks;
        }
    };
    let found = match card.origin() {
        crate::Origin::Reader(_) => Finding::CardFound {
            origin: card.origin().clone(),
            interface: Some(card.interface().to_string()),
        },
        #[cfg(feature = "sim")]
        origin @ crate::Origin::Simulator(_) => Finding::CardFound {
            origin: origin.clone(),
            interface: None,
        },
    };
    checks.push(check(Item::Card, Status::Ok, found));
    match card.info(at) {
        Ok(info) => card_checks(&info, &mut checks),
        Err(e) => checks.push(
            check(
                Item::Card,
                Status::Failure,
                Finding::LostCard(e.to_string()),
            )
            .action(Action::ReinsertAndRunAgain),
        ),
    }
    checks
}

fn open_action(e: &Error) -> Action {
    match e.transport() {
        Some(TransportError::NoCard { .. }) | None => Action::InsertCard,
        Some(TransportError::ReaderBusy { .. }) => Action::CloseExclusiveApplication,
        Some(TransportError::UnknownReader { .. }) => Action::ChooseListedReader,
        Some(_) => Action::CheckReaderAndCard,
    }
}

/// PC/SC service and readers; `false` when there is no point going on.
fn pcsc_checks(checks: &mut Vec<Check>) -> bool {
    let ctx = match PcscContext::establish() {
        Ok(ctx) => ctx,
        Err(e) => {
            checks.push(
                check(
                    Item::PcscService,
                    Status::Failure,
                    Finding::Error(crate::describe(&e)),
                )
                .action(Action::InstallPcscd),
            );
            return false;
        }
    };
    checks.push(check(Item::PcscService, Status::Ok, Finding::PcscReachable));
    let readers = match ctx.list_readers() {
        Ok(r) => r,
        Err(e) => {
            checks.push(check(
                Item::Readers,
                Status::Failure,
                Finding::Error(crate::describe(&e)),
            ));
            return false;
        }
    };
    if readers.is_empty() {
        checks.push(
            check(Item::Readers, Status::Failure, Finding::NoReader).action(Action::PlugReader),
        );
        return false;
    }
    let mut contactless = false;
    for r in &readers {
        contactless |= r.interface == Interface::Contactless;
        let detail = if r.card_present {
            Finding::ReaderWithCard {
                interface: r.interface.to_string(),
            }
        } else {
            Finding::ReaderEmpty
        };
        checks.push(check(Item::Reader(r.name.clone()), Status::Ok, detail));
    }
    if !contactless {
        checks.push(
            check(
                Item::ContactlessReader,
                Status::Warning,
                Finding::NoContactless,
            )
            .action(Action::PresentContactless),
        );
    }
    true
}

/// The checks on what the card said.
fn card_checks(info: &CardInfo, checks: &mut Vec<Check>) {
    match &info.ias {
        Presence::Present(ias) => {
            let generation = match ias.generation {
                Generation::Cps4 => check(Item::CardGeneration, Status::Ok, Finding::Cps4),
                Generation::Cps3 => check(Item::CardGeneration, Status::Warning, Finding::Cps3)
                    .action(Action::OrderCps4),
            };
            checks.push(generation);
            checks.push(check(
                Item::IasEcc,
                Status::Ok,
                Finding::IasApplication {
                    family: ias.family.to_string(),
                    serial: ias.serial.clone(),
                    holder: ias.holder.clone(),
                    national_id: ias.national_id.clone(),
                },
            ));
            checks.push(match ias.pin {
                PinStatus::Blocked => check(
                    Item::HolderPin,
                    Status::Failure,
                    Finding::Pin(PinStatus::Blocked),
                )
                .action(Action::UnblockPin),
                PinStatus::RetriesLeft(n) if n < 3 => check(
                    Item::HolderPin,
                    Status::Warning,
                    Finding::Pin(PinStatus::RetriesLeft(n)),
                )
                .action(Action::AskHolderBeforeTrying),
                other => check(Item::HolderPin, Status::Ok, Finding::Pin(other)),
            });
            if ias.certificates.is_empty() && ias.unreadable_certificates.is_empty() {
                checks.push(
                    check(Item::Certificates, Status::Failure, Finding::NoCertificate)
                        .action(Action::ReissueCard),
                );
            } else {
                checks.push(check(
                    Item::CertificatesReadable,
                    if ias.unreadable_certificates.is_empty() {
                        Status::Ok
                    } else {
                        Status::Failure
                    },
                    Finding::CertificatesCount {
                        readable: ias.certificates.len(),
                        unreadable: ias.unreadable_certificates.len(),
                    },
                ));
            }
            for c in &ias.certificates {
                checks.push(certificate_check(c));
            }
        }
        Presence::NotChecked(why) => {
            checks.push(check(
                Item::IasEcc,
                Status::NotChecked,
                Finding::Error((*why).to_owned()),
            ));
        }
        Presence::Absent(why) | Presence::Failed(why) => checks.push(
            check(Item::IasEcc, Status::Failure, Finding::Error(why.clone()))
                .action(Action::InsertContact),
        ),
    }
    let cps3 = info.generation() == Some(Generation::Cps3);
    checks.push(match &info.fido2 {
        Presence::Present(f) if f.enrolled => check(
            Item::Fido2,
            Status::Ok,
            Finding::Fido2Enrolled {
                tries_left: f.pin_retries,
                versions: f.versions.join(" "),
            },
        ),
        Presence::Present(f) => check(
            Item::Fido2,
            Status::Warning,
            Finding::Fido2Blank {
                versions: f.versions.join(" "),
            },
        )
        .action(Action::EnrollFido2),
        Presence::Absent(why) if cps3 => check(
            Item::Fido2,
            Status::NotChecked,
            Finding::Fido2NotOnCps3(why.clone()),
        ),
        Presence::Absent(why) => check(Item::Fido2, Status::Failure, Finding::Error(why.clone()))
            .action(Action::CheckCps4Contact),
        Presence::NotChecked(why) => check(
            Item::Fido2,
            Status::NotChecked,
            Finding::Error((*why).to_owned()),
        ),
        Presence::Failed(why) => check(Item::Fido2, Status::Failure, Finding::Error(why.clone()))
            .action(Action::ReinsertAndRunAgain),
    });
    checks.push(desfire_check(info, cps3));
}

fn desfire_check(info: &CardInfo, cps3: bool) -> Check {
    match &info.desfire {
        Presence::Present(d) => check(
            Item::Desfire,
            Status::Ok,
            Finding::DesfireFound {
                generation: d.generation.to_string(),
                uid: d.uid.to_string(),
                applications: d.applications.as_ref().map_or(0, Vec::len),
            },
        ),
        Presence::NotChecked(why) => check(
            Item::Desfire,
            Status::NotChecked,
            Finding::Error((*why).to_owned()),
        ),
        Presence::Absent(why) => {
            let classic = cps_desfire::client::is_mifare_classic_atr(&info.atr)
                || cps3
                || simulated_cps3(&info.origin);
            if classic {
                check(
                    Item::Desfire,
                    Status::Warning,
                    Finding::DesfireClassic(why.clone()),
                )
                .action(Action::ReplaceClassicBadge)
            } else {
                check(Item::Desfire, Status::Failure, Finding::Error(why.clone()))
                    .action(Action::PresentCps4Contactless)
            }
        }
        Presence::Failed(why) => check(Item::Desfire, Status::Failure, Finding::Error(why.clone()))
            .action(Action::PresentAgain),
    }
}

fn certificate_check(c: &crate::CertificateInfo) -> Check {
    let name = Item::Certificate {
        label: c.label.clone(),
        usage: c.usage,
    };
    let until = c.not_after.date();
    match c.renewal {
        RenewalStatus::Valid { days_left } => check(
            name,
            Status::Ok,
            Finding::CertificateValid { until, days_left },
        ),
        RenewalStatus::RenewalDue { days_left, reason } => check(
            name,
            Status::Warning,
            Finding::CertificateRenewalDue {
                until,
                days_left,
                reason,
            },
        )
        .action(Action::RenewCertificates),
        RenewalStatus::Expired { days_ago } => check(
            name,
            Status::Failure,
            Finding::CertificateExpired { until, days_ago },
        )
        .action(Action::OrderNewCard),
        RenewalStatus::NotYetValid { days_until_valid } => check(
            name,
            Status::Failure,
            Finding::CertificateNotYetValid {
                from: c.not_before.date(),
                days: days_until_valid,
            },
        )
        .action(Action::CheckClock),
        _ => check(
            name,
            Status::Warning,
            Finding::CertificateOther(format!("{:?}", c.renewal)),
        ),
    }
}

/// A simulated CPS3 (which has no DESFire side either).
fn simulated_cps3(origin: &crate::Origin) -> bool {
    match origin {
        #[cfg(feature = "sim")]
        crate::Origin::Simulator(s) => s.profile == cps_sim::Profile::Cps3,
        _ => false,
    }
}
