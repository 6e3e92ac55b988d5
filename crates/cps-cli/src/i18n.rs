//! The words of `cps` in French and English, from one Project Fluent catalogue:
//! `i18n/en/cps.ftl` and `i18n/fr/cps.ftl`, compiled into the binary.
//!
//! The language is French when the locale is (`LC_ALL`, then `LC_MESSAGES`, then `LANG`, the
//! POSIX order: the first one set and not empty decides; `fr`, `fr_FR.UTF-8`... are French),
//! English otherwise; `--lang fr|en` overrides it. The gestion page picks its own from the
//! browser's `Accept-Language`. JSON keys and codes never change with the language.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};

/// A language of `cps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Français.
    Fr,
    /// English.
    En,
}

impl Lang {
    /// The language tag (`fr`, `en`), e.g. for the page's `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::En => "en",
        }
    }

    /// `fr` or `en` (a command-line value); `None` otherwise.
    pub fn parse(value: &str) -> Option<Lang> {
        match value.to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// The English catalogue.
pub const EN_FTL: &str = include_str!("../i18n/en/cps.ftl");
/// The French catalogue.
pub const FR_FTL: &str = include_str!("../i18n/fr/cps.ftl");

/// The language a locale environment asks for: the first of `LC_ALL`, `LC_MESSAGES`, `LANG`
/// that is set and not empty; French for `fr` and `fr_*`, English otherwise.
pub fn from_locale(var: impl Fn(&str) -> Option<String>) -> Lang {
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
        .into_iter()
        .find_map(|name| var(name).filter(|v| !v.is_empty()));
    match locale {
        Some(l) if l == "fr" || l.starts_with("fr_") || l.starts_with("fr.") => Lang::Fr,
        Some(l) if l.starts_with("fr-") || l.starts_with("fr@") => Lang::Fr,
        _ => Lang::En,
    }
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// Sets the language of this process (`--lang`); the first call wins.
pub fn set_lang(lang: Lang) {
    let _ = LANG.set(lang);
}

/// The language of this process: `--lang`, else the locale.
pub fn lang() -> Lang {
    *LANG.get_or_init(|| from_locale(|name| std::env::var(name).ok()))
}

struct Catalogue {
    en: FluentBundle<FluentResource>,
    fr: FluentBundle<FluentResource>,
}

fn bundle(tag: &str, ftl: &'static str) -> FluentBundle<FluentResource> {
    let lang_id: unic_langid::LanguageIdentifier = tag
        .parse()
        .unwrap_or_else(|_| unic_langid::LanguageIdentifier::default());
    let mut bundle = FluentBundle::new_concurrent(vec![lang_id]);
    // No Unicode isolation marks around placeables: the text goes to terminals and logs.
    bundle.set_use_isolating(false);
    // A syntax error leaves the bad entry out (the tests check that none has any).
    let resource = FluentResource::try_new(ftl.to_owned()).unwrap_or_else(|(partial, _)| partial);
    let _ = bundle.add_resource(resource);
    bundle
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue {
        en: bundle("en", EN_FTL),
        fr: bundle("fr", FR_FTL),
    })
}

/// The message `id` (or its attribute `id.attr`) in `lang` with `args`; the English one when
/// the French is missing; the id itself when neither exists (the tests make sure none is).
pub fn text_in(lang: Lang, id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    let c = catalogue();
    let bundles = match lang {
        Lang::Fr => [&c.fr, &c.en],
        Lang::En => [&c.en, &c.en],
    };
    let (msg_id, attr) = match id.split_once('.') {
        Some((m, a)) => (m, Some(a)),
        None => (id, None),
    };
    let mut fargs = FluentArgs::new();
    for (k, v) in args {
        fargs.set(*k, v.clone());
    }
    for b in bundles {
        let Some(message) = b.get_message(msg_id) else {
            continue;
        };
        let pattern = match attr {
            Some(a) => message.get_attribute(a).map(|a| a.value()),
            None => message.value(),
        };
        if let Some(pattern) = pattern {
            let mut errors = Vec::new();
            return b
                .format_pattern(pattern, Some(&fargs), &mut errors)
                .into_owned();
        }
    }
    id.to_owned()
}

/// Whether the catalogue of `lang` has message `id` (`id.attr`: that attribute).
pub fn has(lang: Lang, id: &str) -> bool {
    let c = catalogue();
    let b = match lang {
        Lang::Fr => &c.fr,
        Lang::En => &c.en,
    };
    let (msg_id, attr) = match id.split_once('.') {
        Some((m, a)) => (m, Some(a)),
        None => (id, None),
    };
    b.get_message(msg_id).is_some_and(|m| match attr {
        Some(a) => m.get_attribute(a).is_some(),
        None => m.value().is_some(),
    })
}

/// The ids of the messages a catalogue defines: the lines `id = ...` (a message starts at
/// the beginning of a line; comments and continuation lines do not).
pub fn message_ids(ftl: &str) -> impl Iterator<Item = &str> {
    ftl.lines().filter_map(|line| {
        let (id, _) = line.split_once(" =")?;
        let mut chars = id.chars();
        let first = chars.next()?;
        (first.is_ascii_alphabetic()
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then_some(id)
    })
}

/// The keys of the gestion page's words: the `page-KEY` messages of the English catalogue.
pub fn page_keys() -> &'static [String] {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        message_ids(EN_FTL)
            .filter_map(|id| id.strip_prefix("page-").map(str::to_owned))
            .collect()
    })
}

/// A message in the language of this process: `tr!("id")`, `tr!("id", n = 3, name = "x")`.
macro_rules! tr {
    ($id:literal) => {
        $crate::i18n::text_in($crate::i18n::lang(), $id, &[])
    };
    ($id:literal, $($k:ident = $v:expr),+ $(,)?) => {
        $crate::i18n::text_in(
            $crate::i18n::lang(),
            $id,
            &[$((stringify!($k), ::fluent_bundle::FluentValue::from($v))),+],
        )
    };
}

/// A message in a given language: `tr_in!(lang, "id", n = 3)`.
#[cfg(test)]
macro_rules! tr_in {
    ($lang:expr, $id:literal) => {
        $crate::i18n::text_in($lang, $id, &[])
    };
    ($lang:expr, $id:literal, $($k:ident = $v:expr),+ $(,)?) => {
        $crate::i18n::text_in(
            $lang,
            $id,
            &[$((stringify!($k), ::fluent_bundle::FluentValue::from($v))),+],
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message ids (and attribute names) defined in a catalogue file.
    fn ids(ftl: &str) -> std::collections::BTreeSet<String> {
        if let Err((_, errors)) = FluentResource::try_new(ftl.to_owned()) {
            panic!("syntax errors: {errors:?}");
        }
        message_ids(ftl).map(str::to_owned).collect()
    }

    #[test]
    fn both_catalogues_parse_and_define_the_same_messages() {
        let en = ids(EN_FTL);
        let fr = ids(FR_FTL);
        assert!(en.len() > 100, "{}", en.len());
        let only_en: Vec<_> = en.difference(&fr).collect();
        let only_fr: Vec<_> = fr.difference(&en).collect();
        assert!(only_en.is_empty(), "missing in fr/cps.ftl: {only_en:?}");
        assert!(only_fr.is_empty(), "missing in en/cps.ftl: {only_fr:?}");
    }

    /// Every `tr!("id"...)`, `tr_in!(lang, "id"...)` and `t("id")` (the help's) of the sources
    /// names a message of both catalogues.
    #[test]
    fn every_id_used_in_the_code_exists() {
        let sources = [
            ("main.rs", include_str!("main.rs")),
            ("advice.rs", include_str!("advice.rs")),
            ("info.rs", include_str!("info.rs")),
            ("opts.rs", include_str!("opts.rs")),
            ("pin.rs", include_str!("pin.rs")),
            ("secret.rs", include_str!("secret.rs")),
            ("certs.rs", include_str!("certs.rs")),
            ("readers.rs", include_str!("readers.rs")),
            ("crypto.rs", include_str!("crypto.rs")),
            ("update.rs", include_str!("update.rs")),
            ("fido2.rs", include_str!("fido2.rs")),
            ("desfire.rs", include_str!("desfire.rs")),
            ("sim.rs", include_str!("sim.rs")),
            ("trace.rs", include_str!("trace.rs")),
            ("gestion/mod.rs", include_str!("gestion/mod.rs")),
            ("gestion/server.rs", include_str!("gestion/server.rs")),
            ("help.rs", include_str!("help.rs")),
            ("gestion/i18n.rs", include_str!("gestion/i18n.rs")),
        ];
        let mut used = 0;
        for (file, text) in sources {
            for (marker, skip_lang) in [("tr!(\"", false), ("tr_in!(", true), ("t(\"", false)] {
                for (i, _) in text.match_indices(marker) {
                    // tr!( itself, not include_str!( and the like.
                    let before = text.get(..i).and_then(|b| b.chars().last());
                    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                        continue;
                    }
                    let mut rest = text.get(i + marker.len()..).unwrap_or("");
                    if skip_lang {
                        // tr_in!(lang, "id"
                        let Some(q) = rest.find('"') else { continue };
                        rest = rest.get(q + 1..).unwrap_or("");
                    }
                    let id = rest.split('"').next().unwrap_or("");
                    if id.is_empty() || id.contains(' ') {
                        continue;
                    }
                    assert!(has(Lang::En, id), "{file}: {id} missing in en/cps.ftl");
                    assert!(has(Lang::Fr, id), "{file}: {id} missing in fr/cps.ftl");
                    used += 1;
                }
            }
        }
        assert!(used > 80, "{used}");
    }

    #[test]
    fn locale_variables_in_posix_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(from_locale(env(&[("LANG", "fr_FR.UTF-8")])), Lang::Fr);
        assert_eq!(from_locale(env(&[("LANG", "fr")])), Lang::Fr);
        assert_eq!(from_locale(env(&[("LANG", "C.UTF-8")])), Lang::En);
        assert_eq!(from_locale(env(&[])), Lang::En);
        assert_eq!(
            from_locale(env(&[("LC_ALL", "C"), ("LANG", "fr_FR.UTF-8")])),
            Lang::En
        );
        assert_eq!(
            from_locale(env(&[("LC_MESSAGES", "fr_CA.UTF-8"), ("LANG", "en_US")])),
            Lang::Fr
        );
        assert_eq!(
            from_locale(env(&[("LC_ALL", ""), ("LANG", "fr_BE@euro")])),
            Lang::Fr
        );
        assert_eq!(from_locale(env(&[("LANG", "frisian")])), Lang::En);
    }

    #[test]
    fn plurals_and_arguments() {
        assert_eq!(tr_in!(Lang::Fr, "pin-tries-left", n = 1), "1 essai restant");
        assert_eq!(
            tr_in!(Lang::Fr, "pin-tries-left", n = 2),
            "2 essais restants"
        );
        // English keeps its former wording (scripts may match it).
        assert_eq!(tr_in!(Lang::En, "pin-tries-left", n = 1), "1 tries left");
        assert_eq!(tr_in!(Lang::En, "pin-tries-left", n = 2), "2 tries left");
        assert_eq!(text_in(Lang::Fr, "no-such-message", &[]), "no-such-message");
    }
}
