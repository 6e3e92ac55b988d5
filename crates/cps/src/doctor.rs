//! The CPS4 migration checklist (`cps doctor`), run against the machine and the card in front
//! of it: PC/SC service, readers (contact / contactless), card generation, IAS-ECC
//! application and certificates, FIDO2 applet, DESFire side, certificates' remaining validity.
//!
//! Each [`Check`] is ok, warning, failure, or not checked (with the reason: e.g. the PC/SC
//! lines when the built-in simulator is used, DESFire through the contact interface), and
//! says what to do when it is not ok.

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

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked, e.g. `"PC/SC service"`.
    pub name: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when not ok.
    pub action: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        action: None,
    }
}

impl Check {
    fn action(mut self, action: impl Into<String>) -> Check {
        self.action = Some(action.into());
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
            let why = "built-in simulator in use: the PC/SC stack was not used (run \
                       `cps doctor --reader auto` with the card in a reader to check it)";
            checks.push(check("PC/SC service", Status::NotChecked, why));
            checks.push(check("readers", Status::NotChecked, why));
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
            checks
                .push(check("card", Status::Failure, crate::describe(&e)).action(open_action(&e)));
            return checks;
        }
    };
    let found = match card.origin() {
        crate::Origin::Reader(_) => format!("{}, {} interface", card.origin(), card.interface()),
        #[cfg(feature = "sim")]
        origin @ crate::Origin::Simulator(_) => origin.to_string(),
    };
    checks.push(check("card", Status::Ok, found));
    match card.info(at) {
        Ok(info) => card_checks(&info, &mut checks),
        Err(e) => checks.push(
            check("card", Status::Failure, format!("lost the card: {e}"))
                .action("reinsert the card and run `cps doctor` again"),
        ),
    }
    checks
}

fn open_action(e: &Error) -> &'static str {
    match e.transport() {
        Some(TransportError::NoCard { .. }) | None => {
            "insert the card (or wait for it: cps doctor --wait 30)"
        }
        Some(TransportError::ReaderBusy { .. }) => {
            "close the application that holds the card exclusively"
        }
        Some(TransportError::UnknownReader { .. }) => "choose a reader listed by `cps readers`",
        Some(_) => "check the reader and the card, then run `cps doctor` again",
    }
}

/// PC/SC service and readers; `false` when there is no point going on.
fn pcsc_checks(checks: &mut Vec<Check>) -> bool {
    let ctx = match PcscContext::establish() {
        Ok(ctx) => ctx,
        Err(e) => {
            checks.push(
                check("PC/SC service", Status::Failure, crate::describe(&e)).action(
                    "install and start pcscd: `apt-get install pcscd && systemctl start pcscd.socket`",
                ),
            );
            return false;
        }
    };
    checks.push(check("PC/SC service", Status::Ok, "pcscd reachable"));
    let readers = match ctx.list_readers() {
        Ok(r) => r,
        Err(e) => {
            checks.push(check("readers", Status::Failure, crate::describe(&e)));
            return false;
        }
    };
    if readers.is_empty() {
        checks.push(
            check("readers", Status::Failure, "no smart-card reader found")
                .action("plug in a CCID reader (contact for IAS-ECC and FIDO2, contactless for the DESFire badge)"),
        );
        return false;
    }
    let mut contactless = false;
    for r in &readers {
        contactless |= r.interface == Interface::Contactless;
        let detail = if r.card_present {
            format!("card present, {} interface", r.interface)
        } else {
            "no card (its interface shows once a card is in it)".to_owned()
        };
        checks.push(check(format!("reader {:?}", r.name), Status::Ok, detail));
    }
    if !contactless {
        checks.push(
            check(
                "contactless reader",
                Status::Warning,
                "no card seen through a contactless interface: the DESFire side (building access) \
                 of the CPS4 was not reached",
            )
            .action(
                "present the CPS4 to a contactless reader and run `cps doctor --reader NAME` on it",
            ),
        );
    }
    true
}

/// The checks on what the card said.
fn card_checks(info: &CardInfo, checks: &mut Vec<Check>) {
    match &info.ias {
        Presence::Present(ias) => {
            let generation = match ias.generation {
                Generation::Cps4 => check("card generation", Status::Ok, "CPS4"),
                Generation::Cps3 => check(
                    "card generation",
                    Status::Warning,
                    "CPS3: no FIDO2 applet, and its contactless side (MIFARE Classic) is not \
                     carried over to CPS4",
                )
                .action("order the CPS4 replacement; move badge readers to DESFire"),
            };
            checks.push(generation);
            checks.push(check(
                "IAS-ECC application",
                Status::Ok,
                format!(
                    "{} card {} of {} ({})",
                    ias.family, ias.serial, ias.holder, ias.national_id
                ),
            ));
            checks.push(match ias.pin {
                PinStatus::Blocked => check("holder PIN", Status::Failure, "blocked")
                    .action("unblock it with the PUK: cps pin unblock"),
                PinStatus::RetriesLeft(n) if n < 3 => check(
                    "holder PIN",
                    Status::Warning,
                    format!("{n} tries left (wrong PINs were typed)"),
                )
                .action("the next correct PIN resets the counter; ask the holder before trying"),
                other => check("holder PIN", Status::Ok, other.to_string()),
            });
            if ias.certificates.is_empty() && ias.unreadable_certificates.is_empty() {
                checks.push(
                    check(
                        "certificates",
                        Status::Failure,
                        "no certificate on the card",
                    )
                    .action("the card must be re-issued (contact the ANS)"),
                );
            } else {
                checks.push(check(
                    "certificates readable",
                    if ias.unreadable_certificates.is_empty() {
                        Status::Ok
                    } else {
                        Status::Failure
                    },
                    format!(
                        "{} readable, {} unreadable",
                        ias.certificates.len(),
                        ias.unreadable_certificates.len()
                    ),
                ));
            }
            for c in &ias.certificates {
                checks.push(certificate_check(c));
            }
        }
        Presence::NotChecked(why) => {
            checks.push(check("IAS-ECC application", Status::NotChecked, *why));
        }
        Presence::Absent(why) | Presence::Failed(why) => checks.push(
            check("IAS-ECC application", Status::Failure, why.clone())
                .action("insert a CPS3 or CPS4 card through the contact interface"),
        ),
    }
    let cps3 = info.generation() == Some(Generation::Cps3);
    checks.push(match &info.fido2 {
        Presence::Present(f) if f.enrolled => check(
            "FIDO2 applet",
            Status::Ok,
            format!(
                "enrolled ({} PIN tries left), {}",
                f.pin_retries
                    .map_or_else(|| "?".to_owned(), |n| n.to_string()),
                f.versions.join(" ")
            ),
        ),
        Presence::Present(f) => check(
            "FIDO2 applet",
            Status::Warning,
            format!("blank (no FIDO2 PIN yet), {}", f.versions.join(" ")),
        )
        .action("enroll it: cps fido2 enroll"),
        Presence::Absent(why) if cps3 => check(
            "FIDO2 applet",
            Status::NotChecked,
            format!("CPS3 card: no FIDO2 applet expected ({why})"),
        ),
        Presence::Absent(why) => check("FIDO2 applet", Status::Failure, why.clone())
            .action("a CPS4 carries a FIDO2 applet: check that this is a CPS4 through the contact interface"),
        Presence::NotChecked(why) => check("FIDO2 applet", Status::NotChecked, *why),
        Presence::Failed(why) => check("FIDO2 applet", Status::Failure, why.clone())
            .action("reinsert the card and run `cps doctor` again"),
    });
    checks.push(desfire_check(info, cps3));
}

fn desfire_check(info: &CardInfo, cps3: bool) -> Check {
    match &info.desfire {
        Presence::Present(d) => check(
            "DESFire",
            Status::Ok,
            format!(
                "{}, UID {}, {} applications",
                d.generation,
                d.uid,
                d.applications.as_ref().map_or(0, Vec::len)
            ),
        ),
        Presence::NotChecked(why) => check("DESFire", Status::NotChecked, *why),
        Presence::Absent(why) => {
            let classic = cps_desfire::client::is_mifare_classic_atr(&info.atr)
                || cps3
                || simulated_cps3(&info.origin);
            if classic {
                check(
                    "DESFire",
                    Status::Warning,
                    format!(
                        "{why}; {}",
                        cps_desfire::Refusal::ReliesOnMifareClassic
                    ),
                )
                .action("replace the badge by a CPS4 and the door readers' MIFARE Classic keys by DESFire ones")
            } else {
                check("DESFire", Status::Failure, why.clone())
                    .action("present a CPS4 to the contactless reader")
            }
        }
        Presence::Failed(why) => check("DESFire", Status::Failure, why.clone())
            .action("present the card again, holding it still on the reader"),
    }
}

fn certificate_check(c: &crate::CertificateInfo) -> Check {
    let name = format!("certificate {} ({})", c.label, c.usage);
    let until = c.not_after.date();
    match c.renewal {
        RenewalStatus::Valid { days_left } => check(
            name,
            Status::Ok,
            format!("valid until {until} ({days_left} days left)"),
        ),
        RenewalStatus::RenewalDue { days_left, reason } => check(
            name,
            Status::Warning,
            format!(
                "valid until {until} ({days_left} days left): renewal due ({})",
                match reason {
                    RenewalReason::ExpiresSoon => "expires soon",
                    RenewalReason::ThreeYearMark => "three-year mark of CPS4 certificates",
                }
            ),
        )
        .action("renew the certificates (remote update) before they expire"),
        RenewalStatus::Expired { days_ago } => check(
            name,
            Status::Failure,
            format!("expired on {until} ({days_ago} days ago)"),
        )
        .action("the card's certificates must be renewed: order a new card"),
        RenewalStatus::NotYetValid { days_until_valid } => check(
            name,
            Status::Failure,
            format!(
                "not valid before {} ({days_until_valid} days)",
                c.not_before.date()
            ),
        )
        .action("check the computer's clock"),
        _ => check(name, Status::Warning, format!("{:?}", c.renewal)),
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
