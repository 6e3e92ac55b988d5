#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! French and English output of `cps` on the built-in simulated CPS4 (no pcscd): the language
//! comes from LC_ALL, LC_MESSAGES, LANG (POSIX order) or `--lang`; JSON keys and codes do not
//! change with it.

use std::process::{Command, Output, Stdio};

mod common;

/// Runs `cps ARGS` with only the given locale variables (the others removed) and `stdin`.
fn cps(locale: &[(&str, &str)], args: &[&str], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cps"));
    cmd.args(args)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in locale {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

const FR: &[(&str, &str)] = &[("LANG", "fr_FR.UTF-8")];
const EN: &[(&str, &str)] = &[("LANG", "C.UTF-8")];

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_in_french_and_english() {
    let o = cps(FR, &["--sim", "cps4", "info"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.starts_with(
            "CARTE SIMULÉE, pas une vraie carte : simulateur intégré (CPS4 de dr-martin, contact)"
        ),
        "{fr}"
    );
    for line in [
        "carte         simulateur intégré (CPS4 de dr-martin, contact)",
        "génération    CPS4 (d'après l'ATR)",
        "porteur       DR Claire Anne MARTIN (810001234567)",
        "code PIN      non vérifié, 3 essais restants",
        "FIDO2         présente, U2F_V2 FIDO_2_0 FIDO_2_1 (vierge)",
        "(authentification, RSA-2048): valide jusqu'au ",
    ] {
        assert!(fr.contains(line), "{line:?} in\n{fr}");
    }
    let o = cps(EN, &["--sim", "cps4", "info"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.starts_with(
            "SIMULATED CARD, not a real card: built-in simulator (CPS4 of dr-martin, contact)"
        ),
        "{en}"
    );
    for line in [
        "card          built-in simulator (CPS4 of dr-martin, contact)",
        "generation    CPS4 (from the ATR)",
        "holder        DR Claire Anne MARTIN (810001234567)",
        "PIN           not verified, 3 tries left",
        "FIDO2         present, U2F_V2 FIDO_2_0 FIDO_2_1 (blank)",
        "(authentication, RSA-2048): valid until ",
    ] {
        assert!(en.contains(line), "{line:?} in\n{en}");
    }
}

#[test]
fn json_does_not_change_with_the_language() {
    let fr = cps(FR, &["--sim", "cps4", "--json", "info"], "");
    let en = cps(EN, &["--sim", "cps4", "--json", "info"], "");
    let mut fr: serde_json::Value = serde_json::from_slice(&fr.stdout).unwrap();
    let mut en: serde_json::Value = serde_json::from_slice(&en.stdout).unwrap();
    // Only the notice (human text) differs.
    assert!(
        fr["simulator"]
            .as_str()
            .unwrap()
            .starts_with("CARTE SIMULÉE")
    );
    fr["simulator"] = serde_json::Value::Null;
    en["simulator"] = serde_json::Value::Null;
    assert_eq!(fr, en);
    assert_eq!(en["iasecc"]["pin"]["state"], "not_verified");
}

#[test]
fn a_wrong_pin_in_french_and_english() {
    // --pin-from prompt without a terminal: the error names the secret in the language.
    let o = cps(FR, &["--sim", "cps4", "pin", "verify"], "");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("impossible de demander sur un terminal : code PIN du porteur"),
        "{}",
        stderr(&o)
    );
    let o = cps(EN, &["--sim", "cps4", "pin", "verify"], "");
    assert!(
        stderr(&o).contains("cannot ask the holder PIN on a terminal"),
        "{}",
        stderr(&o)
    );

    let args = ["--sim", "cps4", "--pin-from", "stdin", "pin", "verify"];
    let o = cps(FR, &args, "0000\n");
    assert_eq!(o.status.code(), Some(6));
    let fr = stderr(&o);
    assert!(
        fr.contains("cps: code PIN erroné (63C2) : 2 essais restants : "),
        "{fr}"
    );
    assert!(!fr.contains("0000"), "{fr}");
    let o = cps(EN, &args, "0000\n");
    assert_eq!(o.status.code(), Some(6));
    assert!(
        stderr(&o).contains("cps: wrong PIN (63C2): 2 tries left: "),
        "{}",
        stderr(&o)
    );
    // JSON: the code and tries left stay; the message is in the language.
    let json = [
        "--sim",
        "cps4",
        "--json",
        "--pin-from",
        "stdin",
        "pin",
        "verify",
    ];
    let o = cps(FR, &json, "0000\n");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["error"]["kind"], "wrong_pin");
    assert_eq!(j["error"]["tries_left"], 2);
    assert!(
        j["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("code PIN erroné")
    );
    // The right PIN: the result line in the language.
    let o = cps(FR, &args, "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("Code PIN vérifié"), "{}", stdout(&o));
}

#[test]
fn doctor_in_french_and_english() {
    let o = cps(FR, &["--sim", "cps4", "doctor"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    for line in [
        "[ -- ] service PC/SC : simulateur intégré utilisé",
        "[ ok ] génération de la carte : CPS4",
        "[ ok ] code PIN du porteur : non vérifié, 3 essais restants",
        "[ !! ] applet FIDO2 : vierge (pas encore de code PIN FIDO2)",
        "       -> enrôlez-la : cps fido2 enroll",
        "7 ok, 1 avertissement(s), 0 échec(s), 3 non vérifié(s)",
    ] {
        assert!(fr.contains(line), "{line:?} in\n{fr}");
    }
    let o = cps(EN, &["--sim", "cps4", "doctor"], "");
    let en = stdout(&o);
    for line in [
        "[ -- ] PC/SC service: built-in simulator in use",
        "[ ok ] card generation: CPS4",
        "[ ok ] holder PIN: not verified, 3 tries left",
        "[warn] FIDO2 applet: blank (no FIDO2 PIN yet)",
        "       -> enroll it: cps fido2 enroll",
        "7 ok, 1 warning(s), 0 failure(s), 3 not checked",
    ] {
        assert!(en.contains(line), "{line:?} in\n{en}");
    }
    // Expired certificates: failures with their action, exit code 9.
    let o = cps(FR, &["--sim", "cps4", "--at", "2031-01-01", "doctor"], "");
    assert_eq!(o.status.code(), Some(9));
    assert!(
        stdout(&o).contains("-> les certificats de la carte doivent être renouvelés"),
        "{}",
        stdout(&o)
    );
    // JSON keeps English keys, statuses and texts.
    let o = cps(FR, &["--sim", "cps4", "--json", "doctor"], "");
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["checks"][3]["check"], "card generation");
    assert_eq!(j["checks"][3]["status"], "ok");
}

#[test]
fn help_in_french_and_english() {
    let o = cps(FR, &["--help"], "");
    assert_eq!(o.status.code(), Some(0));
    let fr = stdout(&o);
    for text in [
        "Outil en ligne de commande pour la carte des professionnels de santé",
        "Utilisation : cps [OPTIONS] <COMMAND>",
        "Commandes:",
        "La carte : génération, type, numéro",
        "Choix de la carte:",
        "Codes de sortie : 0 succès",
    ] {
        assert!(fr.contains(text), "{text:?} in\n{fr}");
    }
    let o = cps(EN, &["--help"], "");
    let en = stdout(&o);
    for text in [
        "Command-line tool for the French health-professional smart card",
        "Usage: cps [OPTIONS] <COMMAND>",
        "Commands:",
        "The card: generation, family, serial",
        "Card selection:",
        "Exit codes: 0 success",
    ] {
        assert!(en.contains(text), "{text:?} in\n{en}");
    }
    // No command: the help on stderr, exit code 2.
    let o = cps(FR, &[], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Utilisation : cps"), "{}", stderr(&o));
    let o = cps(EN, &["pin"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("Usage: cps pin"), "{}", stderr(&o));
    // A command's help.
    let o = cps(FR, &["pin", "--help"], "");
    assert!(
        stdout(&o).contains("Vérifier le code PIN du porteur (un essai)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn the_locale_variables_and_lang_decide() {
    let generation = |locale: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec!["--sim", "cps4"];
        args.extend_from_slice(extra);
        args.push("info");
        let out = stdout(&cps(locale, &args, ""));
        out.lines()
            .find(|l| l.starts_with("gén") || l.starts_with("gen"))
            .unwrap_or("")
            .to_owned()
    };
    assert!(generation(&[("LC_ALL", "fr_FR.UTF-8")], &[]).starts_with("génération"));
    assert!(generation(&[("LC_MESSAGES", "fr_CA.UTF-8")], &[]).starts_with("génération"));
    // LC_ALL first.
    assert!(generation(&[("LC_ALL", "C"), ("LANG", "fr_FR.UTF-8")], &[]).starts_with("generation"));
    assert!(generation(&[], &[]).starts_with("generation"));
    // --lang over the locale.
    assert!(generation(FR, &["--lang", "en"]).starts_with("generation"));
    assert!(generation(EN, &["--lang=fr"]).starts_with("génération"));
}

/// A file of the test PKI.
fn pki(rel: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testvectors/pki")
        .join(rel)
        .display()
        .to_string()
}

#[test]
fn certs_in_french_and_english() {
    let at = "2026-03-01";
    let o = cps(FR, &["--sim", "cps4", "certs", "--at", at], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    for line in [
        "libellé       Certificat d'Authentification CPS",
        "usage         authentification",
        "validité      2025-07-01 → 2028-06-30",
        "état          valide jusqu'au 2028-06-30",
    ] {
        assert!(fr.contains(line), "{line:?} in\n{fr}");
    }
    let o = cps(EN, &["--sim", "cps4", "certs", "--at", at], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    for line in [
        "label         Certificat d'Authentification CPS",
        "usage         authentication",
        "validity      2025-07-01 → 2028-06-30",
        "status        valid until 2028-06-30",
    ] {
        assert!(en.contains(line), "{line:?} in\n{en}");
    }

    let (root, persons) = (pki("ca/root.crt.pem"), pki("ca/persons.crt.pem"));
    let verify = [
        "--sim",
        "cps4",
        "certs",
        "verify",
        "--root",
        &root,
        "--intermediates",
        &persons,
        "--at",
        at,
    ];
    let o = cps(FR, &verify, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert_eq!(
        fr.matches(" : chaîne de certification valide jusqu'à ")
            .count(),
        2,
        "{fr}"
    );
    let o = cps(EN, &verify, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.contains(&format!(
            "Certificat de Signature CPS: chain OK up to {root}"
        )),
        "{en}"
    );
}

#[test]
fn sign_verify_and_auth_test_in_french_and_english() {
    let dir = std::env::temp_dir().join(format!("cps-i18n-sign-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("feuille.txt");
    std::fs::write(&doc, b"feuille de soins electronique").unwrap();
    let doc = doc.display().to_string();
    let sig = format!("{doc}.sig");

    let sign = ["--sim", "cps4", "--pin-from", "stdin", "sign", "--in", &doc];
    let o = cps(FR, &sign, "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(fr.contains("clé           CPS_PRIV_SIG (RSA-2048)"), "{fr}");
    assert!(
        fr.contains(&format!("signature     {sig} (256 octets)")),
        "{fr}"
    );
    let o = cps(EN, &sign, "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(en.contains("key           CPS_PRIV_SIG (RSA-2048)"), "{en}");
    assert!(
        en.contains(&format!("signature     {sig} (256 bytes)")),
        "{en}"
    );

    let verify = ["--sim", "cps4", "verify", "--in", &doc];
    let o = cps(FR, &verify, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.contains("signature valide (RSA PKCS#1 v1.5 SHA-256) de "),
        "{fr}"
    );
    let o = cps(EN, &verify, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.contains("signature OK (RSA PKCS#1 v1.5 SHA-256) by "),
        "{en}"
    );
    // A directory as the file: a usage error in the user's language.
    let o = cps(
        FR,
        &[
            "--sim",
            "cps4",
            "verify",
            "--in",
            &dir.display().to_string(),
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("c'est un répertoire, pas un fichier"),
        "{}",
        stderr(&o)
    );

    let auth = ["--sim", "cps4", "--pin-from", "stdin", "auth-test"];
    let o = cps(FR, &auth, "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.contains("résultat      OK : la réponse se vérifie avec le certificat"),
        "{fr}"
    );
    assert!(fr.contains("réponse       256 octets"), "{fr}");
    let o = cps(EN, &auth, "1234\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.contains("result        OK: the response verifies with the certificate"),
        "{en}"
    );
    assert!(en.contains("response      256 bytes"), "{en}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn command_options_help_in_french_and_english() {
    let o = cps(FR, &["certs", "export", "--help"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.contains("Répertoire où écrire (créé s'il n'existe pas)"),
        "{fr}"
    );
    let o = cps(FR, &["certs", "--help"], "");
    let fr = stdout(&o);
    assert!(
        fr.contains("Écrire les certificats dans des fichiers (un par certificat"),
        "{fr}"
    );
    let o = cps(FR, &["sign", "--help"], "");
    let fr = stdout(&o);
    assert!(
        fr.contains("Le fichier à signer (son SHA-256 est signé)"),
        "{fr}"
    );
    // The possible values and the default, in French too (clap's words are English).
    assert!(fr.contains("Valeurs possibles :"), "{fr}");
    assert!(
        fr.contains("- auth: La clé d'authentification (CPS3 : INTERNAL AUTHENTICATE"),
        "{fr}"
    );
    assert!(fr.contains("[par défaut : sign]"), "{fr}");
    assert!(
        !fr.contains("Possible values") && !fr.contains("[default"),
        "{fr}"
    );
    let o = cps(EN, &["certs", "export", "--help"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.contains("Directory to write to (created if missing)"),
        "{en}"
    );
}

#[test]
fn update_in_french_and_english() {
    let server = common::UpdateServer::start("i18n-update");
    let args = ["--sim", "cps4", "update", "--server", &server.url];
    let o = cps(FR, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.contains("à jour : la carte est à la mise à jour 0, rien en attente"),
        "{fr}"
    );
    let o = cps(EN, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    assert!(
        en.contains("up to date: the card is at update 0, nothing pending"),
        "{en}"
    );
    // A card without the update application (the contactless side): its error in French.
    let o = cps(
        FR,
        &["--contactless", "update", "--server", &server.url],
        "",
    );
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("cette carte n'a pas d'application de télé mise à jour"),
        "{}",
        stderr(&o)
    );
    drop(server);
}

#[test]
fn fido2_in_french_and_english() {
    let o = cps(FR, &["--sim", "cps4", "fido2", "info"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.contains("code PIN      non défini (applet vierge : `cps fido2 enroll`)"),
        "{fr}"
    );
    let o = cps(EN, &["--sim", "cps4", "fido2", "info"], "");
    let en = stdout(&o);
    assert!(
        en.contains("PIN           not set (blank applet: `cps fido2 enroll`)"),
        "{en}"
    );
    let enroll = ["--sim", "cps4", "--pin-from", "stdin", "fido2", "enroll"];
    let o = cps(FR, &enroll, "123456\n123456\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).ends_with("code PIN FIDO2 défini\n"),
        "{}",
        stdout(&o)
    );
    let o = cps(EN, &enroll, "123456\n123456\n");
    assert!(stdout(&o).ends_with("FIDO2 PIN set\n"), "{}", stdout(&o));
    // The JSON result stays English in French.
    let json_enroll = [
        "--sim",
        "cps4",
        "--json",
        "--pin-from",
        "stdin",
        "fido2",
        "enroll",
    ];
    let o = cps(FR, &json_enroll, "123456\n123456\n");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(r#""result":"FIDO2 PIN set""#),
        "{}",
        stdout(&o)
    );
    let o = cps(FR, &["--sim", "cps4", "fido2", "reset"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("ajoutez --yes"), "{}", stderr(&o));
}

#[test]
fn desfire_in_french_and_english() {
    let args = ["--sim", "cps4", "--contactless", "desfire", "info"];
    let o = cps(FR, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    for line in ["génération    Ev3", "mémoire       8192 octets"] {
        assert!(fr.contains(line), "{line:?} in\n{fr}");
    }
    let o = cps(EN, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stdout(&o);
    for line in ["generation    Ev3", "storage       8192 bytes"] {
        assert!(en.contains(line), "{line:?} in\n{en}");
    }
    // The contact side: refused, in the user's language.
    let o = cps(FR, &["--sim", "cps4", "desfire", "info"], "");
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("DESFire ne répond que par l'interface sans contact"),
        "{}",
        stderr(&o)
    );
    let o = cps(EN, &["--sim", "cps4", "desfire", "info"], "");
    assert!(
        stderr(&o).contains("DESFire answers through the contactless interface only"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn sim_list_in_french_and_english() {
    let o = cps(FR, &["sim", "list"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    assert!(
        fr.starts_with("profils de carte :\n  cps3         CPS3 : IAS-ECC"),
        "{fr}"
    );
    assert!(
        fr.ends_with("code PIN du porteur 1234, PUK 12345678 (valeurs de test)\n"),
        "{fr}"
    );
    let o = cps(EN, &["sim", "list"], "");
    let en = stdout(&o);
    assert!(
        en.starts_with("profiles:\n  cps3         CPS3: IAS-ECC"),
        "{en}"
    );
    assert!(
        en.ends_with("holder PIN 1234, PUK 12345678 (test values)\n"),
        "{en}"
    );
}

#[test]
fn gestion_terminal_lines_in_french_and_english() {
    let args = [
        "--sim",
        "cps4",
        "gestion",
        "--no-browser",
        "--listen",
        "127.0.0.1:0",
        "--idle-exit",
        "1",
    ];
    let o = cps(FR, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stderr(&o);
    assert!(
        fr.contains("cps gestion : la page de gestion de la carte est à l'URL ci-dessus"),
        "{fr}"
    );
    assert!(
        fr.contains("cps gestion : aucune page ouverte depuis 1 s : arrêt"),
        "{fr}"
    );
    let o = cps(EN, &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let en = stderr(&o);
    assert!(
        en.contains("cps gestion: the card-management page is at the URL above"),
        "{en}"
    );
    assert!(
        en.contains("cps gestion: no page open for 1 s: stopping"),
        "{en}"
    );
}

#[test]
fn apdu_and_replay_in_french_and_english() {
    let o = cps(FR, &["--sim", "cps4", "apdu", "ZZ"], "");
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("\"ZZ\" n'est pas de l'hexadécimal : "),
        "{}",
        stderr(&o)
    );
    let o = cps(EN, &["--sim", "cps4", "apdu", "ZZ"], "");
    assert!(stderr(&o).contains("\"ZZ\" is not hex: "), "{}", stderr(&o));

    let file = std::env::temp_dir().join(format!("cps-i18n-trace-{}.txt", std::process::id()));
    let f = file.display().to_string();
    let o = cps(EN, &["--sim", "cps4", "--trace", &f, "info"], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = cps(FR, &["replay", &f], "");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fr = stdout(&o);
    let last = fr.lines().last().unwrap_or("");
    assert!(last.ends_with(" échanges"), "{fr}");
    let o = cps(EN, &["replay", &f], "");
    let en = stdout(&o);
    let last = en.lines().last().unwrap_or("");
    assert!(last.ends_with(" exchange(s)"), "{en}");
    let _ = std::fs::remove_file(&file);
}
