//! `cps info`, `cps identity`, `cps doctor`.

use cps::doctor::{self, Status};
use cps::iasecc::{Coded, PinStatus};
use cps::x509::RenewalStatus;
use cps::{CardInfo, CertificateInfo, Presence};
use cps_transport::spaced_hex;
use serde_json::{Value, json};

use crate::secret::Secret;
use crate::{Ctx, Failure, fail};

/// Prints `label` padded, then `value`.
pub fn line(label: &str, value: impl std::fmt::Display) {
    out!("{label:<14}{value}");
}

/// A renewal status in words.
pub fn renewal_text(r: &RenewalStatus, not_after: &str) -> String {
    match r {
        RenewalStatus::Valid { days_left } => {
            format!("valid until {not_after} ({days_left} days left)")
        }
        RenewalStatus::RenewalDue { days_left, reason } => {
            let why = match reason {
                cps::x509::RenewalReason::ExpiresSoon => "expires soon",
                cps::x509::RenewalReason::ThreeYearMark => "three-year mark",
            };
            format!("valid until {not_after} ({days_left} days left), RENEWAL DUE ({why})")
        }
        RenewalStatus::Expired { days_ago } => {
            format!("EXPIRED on {not_after} ({days_ago} days ago)")
        }
        RenewalStatus::NotYetValid { days_until_valid } => {
            format!("NOT YET VALID (in {days_until_valid} days)")
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
        Presence::Present(t) => format!("present, {}", present(t)),
        other => format!("{}: {}", other.state(), other.reason().unwrap_or("")),
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
            format!("part of the card could not be read ({})", failed.join("; ")),
        ));
    }
    Ok(0)
}

fn print_info(ctx: &Ctx, i: &CardInfo) {
    if ctx.json {
        crate::emit(info_json(i));
        return;
    }
    line("card", &i.origin);
    line("ATR", spaced_hex(&i.atr));
    line("interface", i.interface);
    if let Some(a) = i.ias.present() {
        line(
            "generation",
            format!(
                "{} (from {})",
                a.generation,
                match a.detected_by {
                    cps::iasecc::DetectedBy::Atr => "the ATR",
                    cps::iasecc::DetectedBy::EfAtr => "EF.ATR",
                    cps::iasecc::DetectedBy::ChipDoc =>
                        "the ChipDoc applet answering on logical channel 1",
                }
            ),
        );
        line("family", &a.family);
        line("serial", &a.serial);
        line("holder", format!("{} ({})", a.holder, a.national_id));
        line("PIN", a.pin);
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
                if f.enrolled { "enrolled" } else { "blank" }
            )
        }),
    );
    line(
        "DESFire",
        presence_text(&i.desfire, |d| format!("{}, UID {}", d.generation, d.uid)),
    );
    if let Some(a) = i.ias.present() {
        let mut label = "certificates";
        for c in &a.certificates {
            line(
                label,
                format!(
                    "{} ({}, {}): {}",
                    c.label,
                    c.usage,
                    c.algorithm,
                    renewal_text(&c.renewal, &c.not_after.date())
                ),
            );
            label = "";
        }
        for (l, reason) in &a.unreadable_certificates {
            line(label, format!("{l}: unreadable ({reason})"));
            label = "";
        }
        if a.certificates.iter().any(|c| c.test_pki) {
            line(
                "",
                "(certificates of the cps-rs TEST PKI: never trust them outside tests)",
            );
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
    line("holder", who.holder_name());
    line("card family", &who.family);
    line(
        "national id",
        format!(
            "{}{}",
            who.national_id,
            who.national_id_type
                .as_deref()
                .map(|t| format!(" (type {t})"))
                .unwrap_or_default()
        ),
    );
    if let Some(r) = &who.rpps {
        line("RPPS", r);
    }
    line(
        "profession",
        coded(&who.profession).unwrap_or_else(|| "-".into()),
    );
    if let Some(s) = coded(&who.speciality) {
        line("speciality", s);
    }
    if who.student {
        line("student", "yes");
    }
    match situations {
        None => line(
            "situations",
            format!(
                "not read (billing data: `{} --situations` asks the PIN)",
                crate::opts::command_again()
            ),
        ),
        Some(all) => {
            for s in all {
                line(
                    &format!("situation {}", s.index),
                    format!(
                        "{} — {}{}{}",
                        s.structure_name.as_deref().unwrap_or("-"),
                        coded(&s.practice_mode).unwrap_or_else(|| "-".into()),
                        s.structure_id
                            .as_deref()
                            .map(|i| format!(", structure {i}"))
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
    let mut checks = doctor::run(&source, at, &mut |p| progress.show(p));
    progress.finish();
    // The checklist's advice names `cps doctor`: say it with the options the user gave.
    let again = crate::opts::command_again();
    for c in &mut checks {
        if let Some(a) = &mut c.action {
            *a = a
                .replace("cps doctor --wait 30", &format!("{again} --wait 30"))
                .replace("`cps doctor`", &format!("`{again}`"));
        }
    }
    let failed = doctor::has_failure(&checks);
    if ctx.json {
        let list: Vec<Value> = checks
            .iter()
            .map(|c| {
                json!({
                    "check": c.name,
                    "status": c.status.as_str(),
                    "detail": c.detail,
                    "action": c.action,
                })
            })
            .collect();
        crate::emit(json!({"checks": list, "failed": failed}));
    } else {
        for c in &checks {
            let tag = match c.status {
                Status::Ok => "[ ok ]",
                Status::Warning => "[warn]",
                Status::Failure => "[FAIL]",
                Status::NotChecked => "[ -- ]",
            };
            out!("{tag} {}: {}", c.name, c.detail);
            if let Some(a) = &c.action {
                out!("       -> {a}");
            }
        }
        let count = |s| checks.iter().filter(|c| c.status == s).count();
        out!(
            "{} ok, {} warning(s), {} failure(s), {} not checked",
            count(Status::Ok),
            count(Status::Warning),
            count(Status::Failure),
            count(Status::NotChecked)
        );
    }
    Ok(if failed { 9 } else { 0 })
}
