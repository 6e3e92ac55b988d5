//! The page's words in French and English, chosen from the browser's `Accept-Language`.
//!
//! The page is a fixed HTML file with `{{key}}` placeholders replaced here (HTML-escaped);
//! the words its script needs (verdicts, errors) go into the page as one JSON data block,
//! escaped so that it cannot close its `<script>` element.

/// A language of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Français.
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }
}

/// The language of an `Accept-Language` header: the preferred of French and English (by
/// weight, then order); French when the browser names neither.
pub fn choose(accept: Option<&str>) -> Lang {
    let Some(accept) = accept else {
        return Lang::Fr;
    };
    let mut best: Option<(f32, Lang)> = None;
    for item in accept.split(',').take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_owned))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let lang = if tag == "fr" || tag.starts_with("fr-") {
            Lang::Fr
        } else if tag == "en" || tag.starts_with("en-") {
            Lang::En
        } else {
            continue;
        };
        if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
            best = Some((q, lang));
        }
    }
    best.map_or(Lang::Fr, |(_, l)| l)
}

/// Every string of the page: key, French, English.
const STRINGS: &[(&str, &str, &str)] = &[
    ("title", "Gestion de la carte CPS", "CPS card management"),
    ("tab_card", "Carte", "Card"),
    ("tab_pin", "Code PIN", "PIN"),
    ("tab_update", "Mise à jour", "Update"),
    ("tab_fido2", "FIDO2", "FIDO2"),
    (
        "no_card",
        "Aucune carte : insérez la carte CPS.",
        "No card: insert the CPS card.",
    ),
    ("loading", "Lecture de la carte…", "Reading the card…"),
    ("generation", "Génération", "Generation"),
    ("family", "Type de carte", "Card type"),
    ("serial", "Numéro de carte", "Card number"),
    ("holder", "Titulaire", "Holder"),
    ("national_id", "Identifiant national", "National identifier"),
    ("profession", "Profession", "Profession"),
    ("speciality", "Spécialité", "Speciality"),
    ("pin_state", "Code PIN", "PIN"),
    (
        "puk_state",
        "Code de déblocage (PUK)",
        "Unblocking code (PUK)",
    ),
    ("tries_left", "{n} essai(s) restant(s)", "{n} tries left"),
    ("verified", "vérifié", "verified"),
    ("blocked", "BLOQUÉ", "BLOCKED"),
    ("certificates", "Certificats", "Certificates"),
    ("timeline_issued", "émis", "issued"),
    ("timeline_renewal", "renouvellement", "renewal"),
    ("timeline_expiry", "expiration", "expiry"),
    ("timeline_today", "aujourd'hui", "today"),
    (
        "valid_until",
        "valide jusqu'au {date}",
        "valid until {date}",
    ),
    (
        "renewal_due",
        "renouvellement disponible (valide jusqu'au {date})",
        "renewal available (valid until {date})",
    ),
    ("expired", "expiré (le {date})", "expired (on {date})"),
    (
        "not_yet_valid",
        "pas encore valide (à partir du {date})",
        "not yet valid (from {date})",
    ),
    (
        "test_pki",
        "certificats de TEST (jamais en production)",
        "TEST certificates (never in production)",
    ),
    ("situations", "Situations d'exercice", "Practice situations"),
    (
        "situations_help",
        "Lues avec le code PIN (données de facturation).",
        "Read with the PIN (billing data).",
    ),
    ("show_situations", "Afficher", "Show"),
    ("structure", "Structure", "Structure"),
    ("practice_mode", "Mode d'exercice", "Practice mode"),
    ("sector", "Secteur d'activité", "Activity sector"),
    ("city", "Ville", "City"),
    ("pin", "Code PIN", "PIN"),
    (
        "new_pin",
        "Nouveau code PIN (4 à 8 chiffres)",
        "New PIN (4 to 8 digits)",
    ),
    (
        "new_pin_again",
        "Nouveau code PIN, à nouveau",
        "New PIN, again",
    ),
    ("puk", "Code de déblocage (PUK)", "Unblocking code (PUK)"),
    ("change_pin", "Changer le code PIN", "Change the PIN"),
    ("unblock_pin", "Débloquer le code PIN", "Unblock the PIN"),
    ("pin_changed", "Code PIN changé.", "PIN changed."),
    (
        "pin_unblocked",
        "Code PIN débloqué et remplacé.",
        "PIN unblocked and replaced.",
    ),
    (
        "pins_differ",
        "Les deux nouveaux codes diffèrent : rien n'a été envoyé à la carte.",
        "The two new PINs differ: nothing was sent to the card.",
    ),
    (
        "pin_format",
        "Le code doit comporter 4 à 8 chiffres : rien n'a été envoyé à la carte.",
        "The PIN must have 4 to 8 digits: nothing was sent to the card.",
    ),
    (
        "wrong_pin",
        "Code erroné : {n} essai(s) restant(s).",
        "Wrong code: {n} tries left.",
    ),
    ("now_blocked", "Code bloqué.", "Code blocked."),
    (
        "pin_once",
        "Le code est envoyé une seule fois à la carte ; il n'est ni enregistré ni affiché.",
        "The code goes to the card once; it is never stored nor shown.",
    ),
    ("update_service", "Service de mise à jour", "Update service"),
    ("usage_authentication", "authentification", "authentication"),
    ("usage_signature", "signature", "signature"),
    ("start_update", "Lancer la mise à jour", "Start the update"),
    (
        "update_help",
        "Vous pouvez fermer la page ou retirer la carte : la prochaine mise à jour reprendra.",
        "You may close the page or pull the card: the next update resumes.",
    ),
    (
        "up_to_date",
        "Carte à jour (mise à jour n° {seq}).",
        "The card is up to date (update {seq}).",
    ),
    (
        "updated",
        "Mise à jour terminée : {steps} étape(s), la carte est à la mise à jour n° {seq}.",
        "Update done: {steps} step(s), the card is at update {seq}.",
    ),
    ("update_running", "Mise à jour en cours…", "Update running…"),
    (
        "fido2_absent",
        "Pas d'applet FIDO2 sur cette carte (CPS4 uniquement).",
        "No FIDO2 applet on this card (CPS4 only).",
    ),
    (
        "fido2_blank",
        "Applet FIDO2 vierge : choisissez son code PIN.",
        "Blank FIDO2 applet: choose its PIN.",
    ),
    (
        "fido2_enrolled",
        "Code PIN FIDO2 défini, {n} essai(s) restant(s).",
        "FIDO2 PIN set, {n} tries left.",
    ),
    ("fido2_pin", "Code PIN FIDO2", "FIDO2 PIN"),
    (
        "fido2_new_pin",
        "Nouveau code PIN FIDO2 (4 caractères ou plus)",
        "New FIDO2 PIN (4 characters or more)",
    ),
    (
        "enroll",
        "Enrôler (définir le code PIN)",
        "Enrol (set the PIN)",
    ),
    ("enrolled_ok", "Code PIN FIDO2 défini.", "FIDO2 PIN set."),
    (
        "list_credentials",
        "Lister les identifiants",
        "List the credentials",
    ),
    (
        "no_credentials",
        "Aucun identifiant enregistré.",
        "No credential stored.",
    ),
    ("delete", "Supprimer", "Delete"),
    ("deleted", "Identifiant supprimé.", "Credential deleted."),
    (
        "reset",
        "Réinitialiser l'applet FIDO2",
        "Reset the FIDO2 applet",
    ),
    (
        "reset_confirm",
        "Tapez EFFACER pour confirmer : tous les identifiants et le code PIN FIDO2 seront perdus.",
        "Type ERASE to confirm: every credential and the FIDO2 PIN will be lost.",
    ),
    ("reset_word", "EFFACER", "ERASE"),
    (
        "reset_done",
        "Applet FIDO2 réinitialisée.",
        "FIDO2 applet reset.",
    ),
    ("error", "Erreur", "Error"),
    ("simulated", "CARTE SIMULÉE", "SIMULATED CARD"),
    (
        "closed",
        "Le service s'est arrêté : relancez « cps gestion ».",
        "The service stopped: run `cps gestion` again.",
    ),
];

/// The string `key` in `lang` (the key itself when unknown, which tests catch).
pub fn get(lang: Lang, key: &str) -> &'static str {
    STRINGS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("", |(_, fr, en)| match lang {
            Lang::Fr => fr,
            Lang::En => en,
        })
}

/// HTML-escapes text for an element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page in `lang`: `{{key}}` replaced by the escaped string, `{{lang}}` by the language,
/// `{{strings}}` by every string as JSON (for the script), `{{update_server}}` by the
/// default update service.
pub fn render(template: &str, lang: Lang, update_server: &str) -> String {
    let mut out = String::with_capacity(template.len() + 4096);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, after) = rest.split_at(start);
        out.push_str(before);
        let Some(end) = after.find("}}") else {
            out.push_str(after);
            return out;
        };
        let key = after.get(2..end).unwrap_or("");
        match key {
            "lang" => out.push_str(lang.code()),
            "update_server" => out.push_str(&escape(update_server)),
            "strings" => out.push_str(&strings_json(lang)),
            key => out.push_str(&escape(get(lang, key))),
        }
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Every string as a JSON object, safe inside a `<script type="application/json">` element.
fn strings_json(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = STRINGS
        .iter()
        .map(|(k, _, _)| ((*k).to_owned(), get(lang, k).into()))
        .collect();
    serde_json::Value::Object(map)
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_language_decides() {
        assert_eq!(choose(Some("en-US,en;q=0.5")), Lang::En);
        assert_eq!(choose(Some("fr-FR,fr;q=0.9,en-US;q=0.8")), Lang::Fr);
        assert_eq!(choose(Some("de-DE,en;q=0.7,fr;q=0.9")), Lang::Fr);
        assert_eq!(choose(Some("de-DE,en;q=0.7")), Lang::En);
        assert_eq!(choose(Some("de")), Lang::Fr);
        assert_eq!(choose(None), Lang::Fr);
        assert_eq!(choose(Some(";;;,q=,fr;q=abc")), Lang::Fr);
    }

    #[test]
    fn every_placeholder_of_the_page_has_its_words() {
        let page = include_str!("assets/index.html");
        let mut rest = page;
        while let Some(i) = rest.find("{{") {
            let after = rest.get(i + 2..).unwrap_or("");
            let end = after.find("}}").unwrap_or(0);
            let key = after.get(..end).unwrap_or("");
            assert!(
                ["lang", "strings", "update_server"].contains(&key)
                    || !get(Lang::En, key).is_empty(),
                "{key}"
            );
            rest = after;
        }
        let script = include_str!("assets/app.js");
        let mut checked = 0;
        for (i, _) in script.match_indices("t('") {
            // t('key') calls only, not split('...') and the like.
            let before = script.get(..i).and_then(|b| b.chars().last());
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let key = script
                .get(i + 3..)
                .and_then(|a| a.split('\'').next())
                .unwrap_or("");
            assert!(!get(Lang::Fr, key).is_empty(), "app.js: {key}");
            checked += 1;
        }
        assert!(checked > 30, "{checked}");
    }

    #[test]
    fn rendering_escapes() {
        let html = render(
            "<p>{{update_server}}</p><script>{{strings}}</script>",
            Lang::En,
            "\"><script>",
        );
        assert!(html.contains("&quot;&gt;&lt;script&gt;"), "{html}");
        assert!(!html.contains("</script><"), "{html}");
        assert!(render("{{title}}", Lang::Fr, "").contains("Gestion"));
    }
}
