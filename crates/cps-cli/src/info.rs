//! `cps info`, `cps identity`, `cps doctor`.

use cps::doctor::{self, Action, Finding, Item, Status};
use cps::iasecc::{Coded, PinStatus};
use cps::x509::RenewalStatus;
use cps::{CardInfo, CertificateInfo, Presence};
use cps_transport::spaced_hex;
use serde_json::{Value, json};

use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// Prints `label` padded, then `value` (at least one space after a long label).
pub fn line(label: &str, value: impl std::fmt::Display) {
    if label.chars().count() >= 14 {
        out!("{label} {value}");
    } else {
        out!("{label:<14}{value}");
    }
}

/// A PIN or PUK state in words.
pub fn pin_text(p: PinStatus) -> String {
    match p {
        PinStatus::Verified => tr!("pin-verified"),
        PinStatus::RetriesLeft(n) => tr!("pin-not-verified", n = n),
        PinStatus::Blocked => tr!("pin-blocked"),
    }
}

/// A certificate usage in words.
pub fn usage_text(u: cps::x509::CertUsage) -> String {
    match u {
        cps::x509::CertUsage::Authentication => tr!("usage-authentication"),
        cps::x509::CertUsage::Signature => tr!("usage-signature"),
        _ => tr!("usage-other"),
    }
}

/// A renewal status in words.
pub fn renewal_text(r: &RenewalStatus, not_after: &str) -> String {
    match r {
        RenewalStatus::Valid { days_left } => {
            tr!("renewal-valid", until = not_after, days = *days_left)
        }
        RenewalStatus::RenewalDue { days_left, reason } => {
            let why = match reason {
                cps::x509::RenewalReason::ExpiresSoon => tr!("reason-expires-soon"),
                cps::x509::RenewalReason::ThreeYearMark => tr!("reason-three-year-mark"),
            };
            tr!(
                "renewal-due",
                until = not_after,
                days = *days_left,
                why = why
            )
        }
        RenewalStatus::Expired { days_ago } => {
            tr!("renewal-expired", until = not_after, days = *days_ago)
        }
        RenewalStatus::NotYetValid { days_until_valid } => {
            tr!("renewal-not-yet-valid", days = *days_until_valid)
        }
        other => format!("{other:?}"),
    }
}

/// A renewal status for JSON.
pub fn renewal_json(r: &RenewalStatus) -> Value {
    match r {
        RenewalStatus::Valid { days_left } => json!({"state": "valid", "days_left": days_left}),
        RenewalStatus::RenewalDue { days_left, reason } => json!({
            "state": "renewal_due", "days_left": days_left, "reason": format!("{reason:?}")
        }),
        RenewalStatus::Expired { days_ago } => json!({"state": "expired", "days_ago": days_ago}),
        RenewalStatus::NotYetValid { days_until_valid } => {
            json!({"state": "not_yet_valid", "days_until_valid": days_until_valid})
        }
        other => json!({"state": format!("{other:?}")}),
    }
}

/// A certificate for JSON.
pub fn cert_json(c: &CertificateInfo) -> Value {
    json!({
        "label": c.label,
        "usage": c.usage.to_string(),
        "algorithm": c.algorithm,
        "subject": c.subject,
        "issuer": c.issuer,
        "serial": c.serial,
        "not_before": c.not_before.to_string(),
        "not_after": c.not_after.to_string(),
        "renewal": renewal_json(&c.renewal),
        "test_pki": c.test_pki,
    })
}

fn pin_json(p: PinStatus) -> Value {
    match p {
        PinStatus::Verified => json!({"state": "verified"}),
        PinStatus::RetriesLeft(n) => json!({"state": "not_verified", "tries_left": n}),
        PinStatus::Blocked => json!({"state": "blocked", "tries_left": 0}),
    }
}

fn presence_json<T>(p: &Presence<T>, f: impl Fn(&T) -> Value) -> Value {
    match p {
        Presence::Present(t) => {
            let mut v = f(t);
            if let Some(o) = v.as_object_mut() {
                o.insert("state".into(), json!("present"));
            }
            v
        }
        other => json!({"state": other.state(), "reason": other.reason()}),
    }
}

fn info_json(i: &CardInfo) -> Value {
    json!({
        "card": i.origin.to_string(),
        "atr": hex::encode_upper(&i.atr),
        "interface": i.interface.to_string(),
        "generation": i.generation().map(|g| g.to_string()),
        "at": i.at.to_string(),
        "iasecc": presence_json(&i.ias, |a| json!({
            "aid": hex::encode_upper(cps::iasecc::CPS_IAS_AID),
            "generation": a.generation.to_string(),
            "detected_by": format!("{:?}", a.detected_by),
            "family": a.family.to_string(),
            "serial": a.serial,
            "holder": a.holder,
            "national_id": a.national_id,
            "pin": pin_json(a.pin),
            "certificates": a.certificates.iter().map(cert_json).collect::<Vec<_>>(),
            "unreadable_certificates": a.unreadable_certificates.iter()
                .map(|(l, r)| json!({"label": l, "reason": r})).collect::<Vec<_>>(),
        })),
        "fido2": presence_json(&i.fido2, |f| json!({
            "versions": f.versions,
            "extensions": f.extensions,
            "aaguid": f.aaguid,
            "enrolled": f.enrolled,
            "pin_retries": f.pin_retries,
        })),
        "desfire": presence_json(&i.desfire, |d| json!({
            "generation": d.generation,
            "uid": d.uid,
            "storage_bytes": d.storage.0,
            "applications": d.applications.as_ref().ok(),
            "applications_error": d.applications.as_ref().err(),
        })),
    })
}

fn presence_text<T>(p: &Presence<T>, present: impl Fn(&T) -> String) -> String {
    match p {
        Presence::Present(t) => tr!("presence-present", what = present(t)),
        other => {
            let state = match other {
                Presence::Absent(_) => tr!("state-absent"),
                Presence::NotChecked(_) => tr!("state-not-checked"),
                _ => tr!("state-failed"),
            };
            // The reason comes from the library (English).
            tr!(
                "presence-other",
                state = state,
                reason = other.reason().unwrap_or("")
            )
        }
    }
}

/// `cps info`.
pub fn info(ctx: &mut Ctx) -> Result<u8, Failure> {
    let at = ctx.card.at()?;
    let mut card = ctx.card.open()?;
    // What was read is printed even when the card or pcscd went away part-way; the failure
    // (exit 3 for a card pulled / pcscd stopped / card not answering) comes after it.
    let (i, stopped) = card.info_partial(at);
    print_info(ctx, &i);
    if let Some(e) = stopped {
        return Err(Failure::from(e));
    }
    let failed: Vec<String> = [
        ("IAS-ECC", i.ias.state(), i.ias.reason()),
        ("FIDO2", i.fido2.state(), i.fido2.reason()),
        ("DESFire", i.desfire.state(), i.desfire.reason()),
    ]
    .into_iter()
    .filter(|(_, state, _)| *state == "failed")
    .map(|(what, _, why)| format!("{what}: {}", why.unwrap_or("")))
    .collect();
    if !failed.is_empty() {
        return Err(Failure::new(
            1,
            tr!("error-partly-unread", what = failed.join("; ")),
        ));
    }
    Ok(0)
}

fn print_info(ctx: &Ctx, i: &CardInfo) {
    if ctx.json {
        crate::emit(info_json(i));
        return;
    }
    line(&tr!("label-card"), crate::opts::origin_text(&i.origin));
    line(&tr!("label-atr"), spaced_hex(&i.atr));
    line(&tr!("label-interface"), i.interface);
    if let Some(a) = i.ias.present() {
        line(
            &tr!("label-generation"),
            tr!(
                "generation-from",
                generation = a.generation.to_string(),
                source = match a.detected_by {
                    cps::iasecc::DetectedBy::Atr => tr!("detected-by-atr"),
                    cps::iasecc::DetectedBy::EfAtr => tr!("detected-by-efatr"),
                    cps::iasecc::DetectedBy::ChipDoc => tr!("detected-by-chipdoc"),
                }
            ),
        );
        line(&tr!("label-family"), &a.family);
        line(&tr!("label-serial"), &a.serial);
        line(
            &tr!("label-holder"),
            format!("{} ({})", a.holder, a.national_id),
        );
        line(&tr!("label-pin"), pin_text(a.pin));
    }
    line(
        "IAS-ECC",
        presence_text(&i.ias, |_| {
            format!("AID {}", spaced_hex(&cps::iasecc::CPS_IAS_AID))
        }),
    );
    line(
        "FIDO2",
        presence_text(&i.fido2, |f| {
            format!(
                "{} ({})",
                f.versions.join(" "),
                if f.enrolled {
                    tr!("fido2-enrolled")
                } else {
                    tr!("fido2-blank")
                }
            )
        }),
    );
    line(
        "DESFire",
        presence_text(&i.desfire, |d| format!("{}, UID {}", d.generation, d.uid)),
    );
    if let Some(a) = i.ias.present() {
        let mut label = tr!("label-certificates");
        for c in &a.certificates {
            line(
                &label,
                format!(
                    "{} ({}, {}): {}",
                    c.label,
                    usage_text(c.usage),
                    c.algorithm,
                    renewal_text(&c.renewal, &c.not_after.date())
                ),
            );
            label.clear();
        }
        for (l, reason) in &a.unreadable_certificates {
            line(
                &label,
                tr!(
                    "cert-unreadable",
                    label = l.as_str(),
                    reason = reason.as_str()
                ),
            );
            label.clear();
        }
        if a.certificates.iter().any(|c| c.test_pki) {
            line("", tr!("test-pki-notice"));
        }
    }
}

fn coded(c: &Option<Coded>) -> Option<String> {
    c.as_ref().map(|c| match &c.label {
        Some(l) => format!("{l} ({})", c.code),
        None => c.code.clone(),
    })
}

/// A practice situation as `cps identity --json` and the gestion page give it; `coded`
/// writes a code with its label (the command: "label (code)", the page: the label).
pub(crate) fn situation_json(
    s: &cps::iasecc::PracticeSituation,
    coded: fn(&Option<Coded>) -> Option<String>,
) -> serde_json::Value {
    json!({
        "index": s.index,
        "practice_mode": coded(&s.practice_mode),
        "activity_sector": coded(&s.activity_sector),
        "structure_id_type": s.structure_id_type,
        "structure_id": s.structure_id,
        "structure_name": s.structure_name,
        "city": s.city,
    })
}

/// `cps identity [--situations]`.
pub fn identity(ctx: &mut Ctx, situations: bool) -> Result<u8, Failure> {
    let mut card = ctx.card.open()?;
    let mut ias = card.iasecc()?;
    let who = ias.identity().map_err(fail)?;
    let situations = if situations {
        let pin = ctx.secrets.read(Secret::Pin)?;
        let pin = cps::iasecc::Pin::new(&pin).map_err(fail)?;
        ias.verify_pin(&pin).map_err(fail)?;
        // The real cards' way: the CPS_ACTIVITY_nn_PS data objects of the DODF (what the
        // official middleware shows); EF.DAM only when the card has no such object.
        Some(ias.practice().map_err(fail)?)
    } else {
        None
    };
    if ctx.json {
        let s = situations.as_ref().map(|all| {
            all.iter()
                .map(|s| situation_json(s, coded))
                .collect::<Vec<_>>()
        });
        crate::emit(json!({
            "family": who.family.to_string(),
            "holder": who.holder_name(),
            "name": who.display_name(),
            "civility": who.civility,
            "family_name": who.family_name,
            "given_names": who.given_names,
            "national_id_type": who.national_id_type,
            "national_id": who.national_id,
            "rpps": who.rpps,
            "profession": coded(&who.profession),
            "speciality": coded(&who.speciality),
            "student": who.student,
            "practice_situations": s,
        }));
        return Ok(0);
    }
    line(&tr!("label-holder"), who.holder_name());
    line(&tr!("label-card-family"), &who.family);
    line(
        &tr!("label-national-id"),
        match who.national_id_type.as_deref() {
            Some(t) => tr!("national-id-type", id = who.national_id.as_str(), kind = t),
            None => who.national_id.clone(),
        },
    );
    if let Some(r) = &who.rpps {
        line("RPPS", r);
    }
    line(
        &tr!("label-profession"),
        coded(&who.profession).unwrap_or_else(|| "-".into()),
    );
    if let Some(s) = coded(&who.speciality) {
        line(&tr!("label-speciality"), s);
    }
    if who.student {
        line(&tr!("label-student"), tr!("yes"));
    }
    match situations {
        None => line(
            &tr!("label-situations"),
            tr!(
                "situations-not-read",
                command = crate::advice::command_again()
            ),
        ),
        Some(all) => {
            for s in all {
                line(
                    &tr!("label-situation", index = s.index.to_string()),
                    format!(
                        "{} — {}{}{}",
                        s.structure_name.as_deref().unwrap_or("-"),
                        coded(&s.practice_mode).unwrap_or_else(|| "-".into()),
                        s.structure_id
                            .as_deref()
                            .map(|i| tr!("situation-structure", id = i))
                            .unwrap_or_default(),
                        s.city
                            .as_deref()
                            .map(|c| format!(", {c}"))
                            .unwrap_or_default()
                    ),
                );
            }
        }
    }
    Ok(0)
}

/// `cps doctor`: exit code 9 when a check failed.
pub fn doctor(ctx: &mut Ctx) -> Result<u8, Failure> {
    let at = ctx.card.at()?;
    let (source, why) = ctx.card.doctor_source()?;
    if let (cps::CardSource::Simulator(spec), Some(why)) = (&source, &why) {
        crate::opts::announce_sim(
            crate::opts::sim_notice(&cps::Origin::Simulator(spec.clone()), why),
            ctx.json,
        );
    }
    let mut progress = crate::opts::Progress::new(&source);
    let checks = doctor::run(&source, at, &mut |p| progress.show(p));
    progress.finish();
    // The checklist's advice names `cps doctor`: said with the options the user gave.
    let again = crate::advice::command_again();
    let failed = doctor::has_failure(&checks);
    if ctx.json {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name.to_string(),
                    "status": c.status.as_str(),
                    "detail": c.detail.to_string(),
                    "action": c.action.map(|a| action_english(a, &again)),
                })
            })
            .collect();
        crate::emit(json!({"checks": list, "failed": failed}));
    } else {
        for c in &checks {
            let tag = match c.status {
                Status::Ok => tr!("doctor-tag-ok"),
                Status::Warning => tr!("doctor-tag-warning"),
                Status::Failure => tr!("doctor-tag-failure"),
                Status::NotChecked => tr!("doctor-tag-not-checked"),
            };
            out!(
                "{}",
                tr!(
                    "doctor-line",
                    tag = tag,
                    item = item_text(&c.name),
                    detail = finding_text(&c.detail)
                )
            );
            if let Some(a) = c.action {
                out!("       -> {}", action_text(a, &again));
            }
        }
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        out!(
            "{}",
            tr!(
                "doctor-summary",
                ok = count(Status::Ok),
                warnings = count(Status::Warning),
                failures = count(Status::Failure),
                not_checked = count(Status::NotChecked)
            )
        );
    }
    Ok(if failed { 9 } else { 0 })
}

/// A doctor action in English for `--json` (its `cps doctor` with the user's options).
fn action_english(a: Action, again: &str) -> String {
    a.to_string()
        .replace("cps doctor --wait 30", &format!("{again} --wait 30"))
        .replace("`cps doctor`", &format!("`{again}`"))
}

/// What a doctor line is about, in the user's language.
fn item_text(item: &Item) -> String {
    match item {
        Item::PcscService => tr!("doctor-item-pcsc"),
        Item::Readers => tr!("doctor-item-readers"),
        Item::Reader(name) => tr!("doctor-item-reader", name = format!("{name:?}")),
        Item::ContactlessReader => tr!("doctor-item-contactless"),
        Item::Card => tr!("doctor-item-card"),
        Item::CardGeneration => tr!("doctor-item-generation"),
        Item::IasEcc => tr!("doctor-item-iasecc"),
        Item::HolderPin => tr!("doctor-item-pin"),
        Item::Certificates => tr!("doctor-item-certificates"),
        Item::CertificatesReadable => tr!("doctor-item-certificates-readable"),
        Item::Certificate { label, usage } => tr!(
            "doctor-item-certificate",
            label = label.as_str(),
            usage = usage_text(*usage)
        ),
        Item::Fido2 => tr!("doctor-item-fido2"),
        Item::Desfire => tr!("doctor-item-desfire"),
        other => other.to_string(),
    }
}

/// What a doctor check found, in the user's language (texts from the libraries stay English).
fn finding_text(f: &Finding) -> String {
    match f {
        Finding::SimulatorInUse => tr!("doctor-simulator"),
        Finding::Error(e) => e.clone(),
        Finding::LostCard(e) => tr!("doctor-lost-card", error = e.as_str()),
        Finding::PcscReachable => tr!("doctor-pcscd-reachable"),
        Finding::NoReader => tr!("doctor-no-reader"),
        Finding::ReaderWithCard { interface } => {
            tr!("doctor-reader-card", interface = interface.as_str())
        }
        Finding::ReaderEmpty => tr!("doctor-reader-empty"),
        Finding::NoContactless => tr!("doctor-no-contactless"),
        Finding::CardFound {
            origin,
            interface: Some(i),
        } => tr!(
            "doctor-card-found",
            origin = crate::opts::origin_text(origin),
            interface = i.as_str()
        ),
        Finding::CardFound { origin, .. } => crate::opts::origin_text(origin),
        Finding::Cps4 => tr!("doctor-cps4"),
        Finding::Cps3 => tr!("doctor-cps3"),
        Finding::IasApplication {
            family,
            serial,
            holder,
            national_id,
        } => tr!(
            "doctor-iasecc",
            family = family.as_str(),
            serial = serial.as_str(),
            holder = holder.as_str(),
            national_id = national_id.as_str()
        ),
        Finding::Pin(PinStatus::RetriesLeft(n)) if *n < 3 => {
            tr!("doctor-pin-few-tries", n = *n)
        }
        Finding::Pin(p) => pin_text(*p),
        Finding::NoCertificate => tr!("doctor-no-certificate"),
        Finding::CertificatesCount {
            readable,
            unreadable,
        } => tr!(
            "doctor-certificates-count",
            readable = *readable,
            unreadable = *unreadable
        ),
        Finding::CertificateValid { until, days_left } => tr!(
            "doctor-cert-valid",
            until = until.as_str(),
            days = *days_left
        ),
        Finding::CertificateRenewalDue {
            until,
            days_left,
            reason,
        } => tr!(
            "doctor-cert-renewal-due",
            until = until.as_str(),
            days = *days_left,
            why = match reason {
                cps::x509::RenewalReason::ExpiresSoon => tr!("reason-expires-soon"),
                cps::x509::RenewalReason::ThreeYearMark => tr!("doctor-reason-three-year-mark"),
            }
        ),
        Finding::CertificateExpired { until, days_ago } => tr!(
            "doctor-cert-expired",
            until = until.as_str(),
            days = *days_ago
        ),
        Finding::CertificateNotYetValid { from, days } => tr!(
            "doctor-cert-not-yet-valid",
            from = from.as_str(),
            days = *days
        ),
        Finding::CertificateOther(s) => s.clone(),
        Finding::Fido2Enrolled {
            tries_left,
            versions,
        } => tr!(
            "doctor-fido2-enrolled",
            tries = tries_left.map_or_else(|| "?".to_owned(), |n| n.to_string()),
            versions = versions.as_str()
        ),
        Finding::Fido2Blank { versions } => {
            tr!("doctor-fido2-blank", versions = versions.as_str())
        }
        Finding::Fido2NotOnCps3(why) => tr!("doctor-fido2-not-on-cps3", why = why.as_str()),
        Finding::DesfireFound {
            generation,
            uid,
            applications,
        } => tr!(
            "doctor-desfire",
            generation = generation.as_str(),
            uid = uid.as_str(),
            applications = *applications
        ),
        Finding::DesfireClassic(why) => tr!("doctor-desfire-classic", why = why.as_str()),
        other => other.to_string(),
    }
}

/// What to do, in the user's language; `again`: the `cps doctor` command line as given.
fn action_text(a: Action, again: &str) -> String {
    match a {
        Action::InsertCard => tr!("doctor-action-insert-card", command = again),
        Action::CloseExclusiveApplication => tr!("doctor-action-close-exclusive"),
        Action::ChooseListedReader => tr!("doctor-action-choose-reader"),
        Action::CheckReaderAndCard => tr!("doctor-action-check-reader", command = again),
        Action::ReinsertAndRunAgain => tr!("doctor-action-reinsert", command = again),
        Action::InstallPcscd => tr!("doctor-action-install-pcscd"),
        Action::PlugReader => tr!("doctor-action-plug-reader"),
        Action::PresentContactless => tr!("doctor-action-present-contactless"),
        Action::OrderCps4 => tr!("doctor-action-order-cps4"),
        Action::UnblockPin => tr!("doctor-action-unblock"),
        Action::AskHolderBeforeTrying => tr!("doctor-action-ask-holder"),
        Action::ReissueCard => tr!("doctor-action-reissue"),
        Action::InsertContact => tr!("doctor-action-insert-contact"),
        Action::CheckCps4Contact => tr!("doctor-action-check-cps4"),
        Action::EnrollFido2 => tr!("doctor-action-enroll-fido2"),
        Action::ReplaceClassicBadge => tr!("doctor-action-replace-badge"),
        Action::PresentCps4Contactless => tr!("doctor-action-present-cps4"),
        Action::PresentAgain => tr!("doctor-action-present-again"),
        Action::RenewCertificates => tr!("doctor-action-renew"),
        Action::OrderNewCard => tr!("doctor-action-order-card"),
        Action::CheckClock => tr!("doctor-action-check-clock"),
        other => action_english(other, again),
    }
}
