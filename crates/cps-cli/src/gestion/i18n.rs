//! The page's words in French and English, chosen from the browser's `Accept-Language`, from
//! the same catalogue as the command's (`page-KEY` messages of `i18n/{en,fr}/cps.ftl`).
//!
//! The page is a fixed HTML file with `{{key}}` placeholders replaced here (HTML-escaped);
//! the words its script needs (verdicts, errors) go into the page as one JSON data block,
//! escaped so that it cannot close its `<script>` element.

pub use crate::i18n::Lang;

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

/// The placeholders the page's script fills in itself (`{n}` tries left...).
const SCRIPT_ARGS: &[&str] = &["n", "date", "seq", "steps"];

/// The string `key` of the page in `lang`: the catalogue's message `page-KEY`, its
/// arguments left as `{n}`, `{date}`... for the script (empty when unknown, which tests catch).
pub fn get(lang: Lang, key: &str) -> String {
    let id = format!("page-{key}");
    if !crate::i18n::has(lang, &id) {
        return String::new();
    }
    let args: Vec<(&str, fluent_bundle::FluentValue<'_>)> = SCRIPT_ARGS
        .iter()
        .map(|a| (*a, format!("{{{a}}}").into()))
        .collect();
    crate::i18n::text_in(lang, &id, &args)
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
            key => out.push_str(&escape(&get(lang, key))),
        }
        rest = after.get(end + 2..).unwrap_or("");
    }
    out.push_str(rest);
    out
}

/// Every string as a JSON object, safe inside a `<script type="application/json">` element.
fn strings_json(lang: Lang) -> String {
    let map: serde_json::Map<String, serde_json::Value> = crate::i18n::page_keys()
        .iter()
        .map(|k| ((*k).to_owned(), get(lang, k).into()))
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
        // The script's placeholders stay for the script.
        assert_eq!(get(Lang::En, "tries_left"), "{n} tries left");
        assert_eq!(get(Lang::Fr, "valid_until"), "valide jusqu'au {date}");
        assert!(strings_json(Lang::Fr).contains("\"tab_update\":\"Mise à jour\""));
    }
}
