//! The help in the user's language: the clap command built from `Cli` (whose doc comments
//! stay as the Rust documentation) gets its descriptions from the catalogue at run time.
//!
//! Localised: the top-level description and the text after the options, the headings, every
//! global option, every command's one-line description (`certs export`... too), every option
//! of every command (`certs export --out`: `help-opt-certs-export-out`, whose English is its
//! doc comment), and in French the possible values and defaults of the options
//! (`help-val-OPTION-VALUE`, written by `french_values` instead of clap). Still English:
//! clap's error messages.

use clap::Command;

use crate::i18n::{Lang, lang, text_in};

/// Help of the global options: (argument id, message id).
const GLOBAL_ARGS: &[(&str, &str)] = &[
    ("json", "help-arg-json"),
    ("verbose", "help-arg-verbose"),
    ("trace", "help-arg-trace"),
    ("lang", "help-arg-lang"),
    ("reader", "help-arg-reader"),
    ("sim", "help-arg-sim"),
    ("persona", "help-arg-persona"),
    ("contactless", "help-arg-contactless"),
    ("wait", "help-arg-wait"),
    ("timeout", "help-arg-timeout"),
    ("at", "help-arg-at"),
    ("pin_from", "help-arg-pin-from"),
];

/// The message id of the help of a command's own option (`help-opt-certs-export-out`), from
/// the command's path and the argument's id.
fn option_id(path: &[&str], arg: &str) -> String {
    format!("help-opt-{}-{}", path.join("-"), arg.replace('_', "-"))
}

/// The message id of a command's description (`help-cmd-pin-verify`), from its path.
fn command_id(path: &[&str]) -> String {
    format!("help-cmd-{}", path.join("-"))
}

/// The help texts of `cmd` (the derived `Cli` command, not built yet: the global options are
/// copied into the commands when it is built) in the language of this process.
pub fn localize(cmd: Command) -> Command {
    localize_in(cmd, lang())
}

/// As [`localize`], in `lang`.
pub fn localize_in(cmd: Command, lang: Lang) -> Command {
    let t = |id: &str| text_in(lang, id, &[]);
    let mut cmd = cmd.about(t("help-about")).after_help(t("help-after"));
    for (id, msg) in GLOBAL_ARGS {
        if cmd.get_arguments().any(|a| a.get_id() == *id) {
            cmd = cmd.mut_arg(*id, |a| a.help(t(msg)));
        }
    }
    localize_subcommands(cmd, &[], lang)
}

/// clap's fixed words (Usage, Commands, Options, Arguments, the help flags) in the language
/// of this process, in `cmd` (built) and every command under it; for showing the help only
/// (changing the arguments of a built command is not for parsing with it).
pub fn headings(cmd: Command) -> Command {
    match lang() {
        // clap's own words are English already.
        Lang::En => cmd,
        Lang::Fr => french_headings(cmd),
    }
}

fn french_headings(cmd: Command) -> Command {
    let t = |id: &str| text_in(Lang::Fr, id, &[]);
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{} {{usage}}\n\n{{all-args}}{{after-help}}",
        t("help-usage")
    );
    let ids: Vec<(clap::Id, bool, Option<String>)> = cmd
        .get_arguments()
        .map(|a| {
            (
                a.get_id().clone(),
                a.is_positional(),
                a.get_help_heading().map(str::to_owned),
            )
        })
        .collect();
    let mut cmd = cmd
        .help_template(template)
        .subcommand_help_heading(t("help-commands"));
    for (id, positional, heading) in ids {
        let new_heading = match heading.as_deref() {
            None if positional => t("help-arguments"),
            None => t("help-options"),
            Some("Card selection") => t("help-card-selection"),
            Some("Secrets (never on the command line)") => t("help-secrets"),
            Some(other) => other.to_owned(),
        };
        let help = match id.as_str() {
            "help" => Some(t("help-flag-help")),
            "version" => Some(t("help-flag-version")),
            _ => None,
        };
        cmd = cmd.mut_arg(id, |a| {
            let a = a.help_heading(new_heading);
            match help {
                Some(h) => a.help(h.clone()).long_help(h),
                None => french_values(a),
            }
        });
    }
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |sub| {
            let sub = french_headings(sub);
            if name == "help" {
                sub.about(t("help-subcommand-help"))
            } else {
                sub
            }
        });
    }
    cmd
}

/// In French, an option's default value and possible values (`[default: pem]`, `Possible
/// values: - pem: ...`) written by us instead of clap, whose words are English: the same
/// layout, the values' descriptions from `help-val-OPTION-VALUE`.
fn french_values(a: clap::Arg) -> clap::Arg {
    let t = |id: &str| text_in(Lang::Fr, id, &[]);
    if !a.get_action().takes_values() || a.is_hide_set() {
        return a;
    }
    let values: Vec<(String, Option<String>)> = if a.is_hide_possible_values_set() {
        Vec::new()
    } else {
        a.get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| {
                let id = format!(
                    "help-val-{}-{}",
                    a.get_id().as_str().replace('_', "-"),
                    v.get_name()
                );
                let help = if crate::i18n::has(Lang::Fr, &id) {
                    Some(t(&id))
                } else {
                    v.get_help().map(ToString::to_string)
                };
                (v.get_name().to_owned(), help)
            })
            .collect()
    };
    let defaults: Vec<String> = if a.is_hide_default_value_set() {
        Vec::new()
    } else {
        a.get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect()
    };
    if values.is_empty() && defaults.is_empty() {
        return a;
    }
    let help = a.get_help().map(ToString::to_string).unwrap_or_default();
    let default = (!defaults.is_empty()).then(|| {
        text_in(
            Lang::Fr,
            "help-default",
            &[("value", defaults.join(", ").into())],
        )
    });
    let names: Vec<&str> = values.iter().map(|(n, _)| n.as_str()).collect();
    let list = (!values.is_empty()).then(|| {
        text_in(
            Lang::Fr,
            "help-possible-values-inline",
            &[("values", names.join(", ").into())],
        )
    });
    let short: Vec<&str> = [Some(help.as_str()), default.as_deref(), list.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
    let short = short.join(" ");
    let long = if values.iter().any(|(_, h)| h.is_some()) {
        let mut long = help.clone();
        long.push_str("\n\n");
        long.push_str(&t("help-possible-values"));
        for (name, h) in &values {
            long.push_str(&match h {
                Some(h) => format!("\n- {name}: {h}"),
                None => format!("\n- {name}"),
            });
        }
        if let Some(d) = &default {
            long.push_str("\n\n");
            long.push_str(d);
        }
        long
    } else {
        // As clap: the default and the values after a blank line.
        let spec: Vec<&str> = [default.as_deref(), list.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if help.is_empty() {
            spec.join(" ")
        } else {
            format!("{help}\n\n{}", spec.join(" "))
        }
    };
    a.hide_default_value(true)
        .hide_possible_values(true)
        .help(short)
        .long_help(long)
}

fn localize_subcommands(cmd: Command, path: &[&str], lang: Lang) -> Command {
    let t = |id: &str| text_in(lang, id, &[]);
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let mut cmd = cmd;
    for name in names {
        let mut sub_path: Vec<&str> = path.to_vec();
        sub_path.push(&name);
        let id = command_id(&sub_path);
        let global_ids: Vec<&str> = GLOBAL_ARGS.iter().map(|(a, _)| *a).collect();
        cmd = cmd.mut_subcommand(&name, |sub| {
            let mut sub = localize_subcommands(sub, &sub_path, lang);
            if name == "help" {
                sub = sub.about(t("help-subcommand-help"));
            } else if crate::i18n::has(lang, &id) {
                // A long description of the doc comments (a second paragraph) is English:
                // in French, the catalogue's line replaces it.
                sub = sub.about(t(&id));
                if lang == Lang::Fr {
                    sub = sub.long_about(None);
                }
            }
            for (arg, msg) in GLOBAL_ARGS {
                if global_ids.contains(arg) && sub.get_arguments().any(|a| a.get_id() == *arg) {
                    sub = sub.mut_arg(*arg, |a| a.help(t(msg)));
                }
            }
            // The command's own options (the English messages are their doc comments: a test
            // keeps them equal).
            let own: Vec<String> = sub
                .get_arguments()
                .filter(|a| !global_ids.contains(&a.get_id().as_str()))
                .map(|a| a.get_id().to_string())
                .collect();
            for arg in own {
                let msg = option_id(&sub_path, &arg);
                if crate::i18n::has(lang, &msg) {
                    sub = sub.mut_arg(&arg, |a| a.help(t(&msg)));
                }
            }
            sub
        });
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::has;

    #[test]
    fn every_command_and_global_option_has_its_words() {
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        let mut checked = 0;
        for sub in cmd.get_subcommands() {
            let id = command_id(&[sub.get_name()]);
            assert!(has(Lang::En, &id) && has(Lang::Fr, &id), "{id}");
            checked += 1;
        }
        for arg in cmd.get_arguments().filter(|a| a.is_global_set()) {
            let entry = GLOBAL_ARGS.iter().find(|(id, _)| arg.get_id() == *id);
            let Some((_, msg)) = entry else {
                panic!("global option {} has no help message", arg.get_id())
            };
            assert!(has(Lang::En, msg) && has(Lang::Fr, msg), "{msg}");
            checked += 1;
        }
        assert!(checked > 25, "{checked}");
    }

    /// Every option of every command has its help in both catalogues, the English one equal
    /// to its doc comment (so the English help does not change).
    #[test]
    fn every_command_option_has_its_words() {
        fn walk(cmd: &Command, path: &mut Vec<String>, checked: &mut usize) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if GLOBAL_ARGS.iter().any(|(g, _)| *g == id) || path.is_empty() {
                    continue;
                }
                let p: Vec<&str> = path.iter().map(String::as_str).collect();
                let msg = option_id(&p, id);
                assert!(has(Lang::Fr, &msg), "{msg} missing in fr/cps.ftl");
                let doc = a.get_help().map(ToString::to_string).unwrap_or_default();
                assert_eq!(text_in(Lang::En, &msg, &[]), doc, "{msg}");
                *checked += 1;
            }
            for s in cmd.get_subcommands() {
                path.push(s.get_name().to_owned());
                walk(s, path, checked);
                path.pop();
            }
        }
        let mut checked = 0;
        walk(
            &<crate::Cli as clap::CommandFactory>::command(),
            &mut Vec::new(),
            &mut checked,
        );
        assert!(checked > 60, "{checked}");
    }

    /// Every command under a command (`certs export`) has its description in both
    /// catalogues, the English one equal to its doc comment.
    #[test]
    fn every_nested_command_has_its_words() {
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        let mut checked = 0;
        for top in cmd.get_subcommands() {
            for sub in top.get_subcommands() {
                let id = command_id(&[top.get_name(), sub.get_name()]);
                assert!(has(Lang::Fr, &id), "{id} missing in fr/cps.ftl");
                let doc = sub.get_about().map(ToString::to_string).unwrap_or_default();
                assert_eq!(text_in(Lang::En, &id, &[]), doc, "{id}");
                checked += 1;
            }
        }
        assert!(checked > 15, "{checked}");
    }

    /// Every described possible value (`--format pem`) has its French words, and the English
    /// ones equal its doc comment.
    #[test]
    fn every_possible_value_has_its_words() {
        fn walk(cmd: &Command, checked: &mut usize) {
            for a in cmd.get_arguments() {
                for v in a.get_possible_values() {
                    let Some(doc) = v.get_help().map(ToString::to_string) else {
                        continue;
                    };
                    let id = format!(
                        "help-val-{}-{}",
                        a.get_id().as_str().replace('_', "-"),
                        v.get_name()
                    );
                    assert!(has(Lang::Fr, &id), "{id} missing in fr/cps.ftl");
                    assert_eq!(text_in(Lang::En, &id, &[]), doc, "{id}");
                    *checked += 1;
                }
            }
            for s in cmd.get_subcommands() {
                walk(s, checked);
            }
        }
        let mut cmd = <crate::Cli as clap::CommandFactory>::command();
        cmd.build();
        let mut checked = 0;
        walk(&cmd, &mut checked);
        assert!(checked > 10, "{checked}");
    }

    #[test]
    fn the_help_builds_and_renders_in_both_languages() {
        for (lang, words) in [
            (Lang::En, "Card selection"),
            (Lang::Fr, "Choix de la carte"),
        ] {
            let mut cmd = localize_in(<crate::Cli as clap::CommandFactory>::command(), lang);
            cmd.build();
            let mut cmd = match lang {
                Lang::En => cmd,
                Lang::Fr => french_headings(cmd),
            };
            let help = cmd.render_long_help().to_string();
            assert!(help.contains(words), "{help}");
            let pin = cmd
                .find_subcommand_mut("pin")
                .map(|p| p.render_long_help().to_string())
                .unwrap_or_default();
            assert!(
                pin.contains(&text_in(lang, "help-cmd-pin-verify", &[])),
                "{pin}"
            );
            let export = cmd
                .find_subcommand_mut("certs")
                .and_then(|c| c.find_subcommand_mut("export"))
                .map(|e| e.render_long_help().to_string())
                .unwrap_or_default();
            assert!(
                export.contains(&text_in(lang, "help-opt-certs-export-out", &[])),
                "{export}"
            );
        }
    }
}
