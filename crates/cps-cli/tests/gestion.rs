#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a failed expectation should abort the test"
)]
//! `cps gestion` on the built-in simulated card (no pcscd): the server started as a process
//! as a user starts it, its endpoints driven over HTTP as the page drives them (Card, PIN,
//! Update, FIDO2), and each security refusal (secret, Host, Origin, Sec-Fetch-Site, CORS
//! preflight, body type and size), then the stop once no page asks anything.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

/// A `cps gestion` process and its URL.
struct Gestion {
    child: Child,
    /// `127.0.0.1:PORT`.
    authority: String,
    /// `/SECRET/`.
    base: String,
}

impl Gestion {
    fn start(args: &[&str]) -> Gestion {
        Gestion::start_with(args, &[])
    }

    /// `cps ARGS gestion --no-browser OPTIONS`.
    fn start_with(args: &[&str], options: &[&str]) -> Gestion {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cps"))
            .args(args)
            .args(["gestion", "--no-browser"])
            .args(options)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().to_owned();
        // Loopback and a free port by default; the secret as the first path segment.
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("{url:?}"));
        let (port, path) = rest.split_once('/').unwrap();
        assert!(port.parse::<u16>().unwrap() > 0);
        let secret = path.trim_end_matches('/');
        assert_eq!(secret.len(), 32, "{url}");
        assert!(secret.bytes().all(|b| b.is_ascii_hexdigit()));
        Gestion {
            child,
            authority: format!("127.0.0.1:{port}"),
            base: format!("/{secret}/"),
        }
    }

    /// A raw request (so that every header is the test's choice); status, headers (lower
    /// case), body.
    fn raw(&self, request: &str) -> (u16, String, String) {
        let mut s = TcpStream::connect(&self.authority).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).unwrap();
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, head.to_ascii_lowercase(), body.to_owned())
    }

    /// A GET as the page sends it.
    fn get(&self, path: &str) -> (u16, String, String) {
        self.raw(&format!(
            "GET {}{path} HTTP/1.1\r\nHost: {}\r\nSec-Fetch-Site: same-origin\r\n\
             Connection: close\r\n\r\n",
            self.base, self.authority
        ))
    }

    fn get_json(&self, path: &str) -> Value {
        let (status, _, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A POST as the page sends it (same-origin fetch with a JSON body).
    fn post(&self, path: &str, body: &Value) -> Value {
        let body = body.to_string();
        let (status, _, answer) = self.raw(&format!(
            "POST {}{path} HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\n\
             Sec-Fetch-Site: same-origin\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.base,
            body.len(),
            a = self.authority
        ));
        assert_eq!(status, 200, "{path}: {answer}");
        serde_json::from_str(&answer).unwrap()
    }
}

impl Drop for Gestion {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn card_page_in_french_and_english_with_the_certificate_timeline() {
    let g = Gestion::start(&["--sim", "cps4"]);
    let (status, head, page) = g.get("");
    assert_eq!(status, 200);
    assert!(page.contains("<html lang=\"fr\">") && page.contains("Gestion de la carte CPS"));
    // The page's words in French, from the command's catalogue (i18n/fr/cps.ftl): in the
    // HTML and in the script's data block, with the placeholders the script fills in.
    for text in [
        "Mise à jour",
        "Code de déblocage (PUK)",
        "\"tries_left\":\"{n} essai(s) restant(s)\"",
    ] {
        assert!(page.contains(text), "{text:?}");
    }
    // The strict policy, and no CORS.
    assert!(
        head.contains("content-security-policy: default-src 'none'; script-src 'self';"),
        "{head}"
    );
    assert!(head.contains("x-frame-options: deny") && !head.contains("access-control"));
    // No inline script, no external asset.
    assert!(
        !page.contains("<script>") && !page.contains("src=\"http") && !page.contains("href=\"http")
    );
    let (_, _, english) = g.raw(&format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nAccept-Language: en-US,en;q=0.5\r\nConnection: close\r\n\r\n",
        g.base, g.authority
    ));
    assert!(english.contains("<html lang=\"en\">") && english.contains("CPS card management"));
    for text in ["Unblocking code (PUK)", "\"tries_left\":\"{n} tries left\""] {
        assert!(english.contains(text), "{text:?}");
    }
    // Every label in English, the update service offered in its field.
    assert!(
        english.contains(
            "Update service <input type=\"url\" name=\"server\" value=\"http://127.0.0.1:8700\""
        ),
        "{english}"
    );
    for asset in ["app.js", "style.css"] {
        let (status, head, _) = g.get(asset);
        assert_eq!(status, 200, "{asset}");
        assert!(head.contains("x-content-type-options: nosniff"));
    }

    let card = g.get_json("api/card");
    assert_eq!(card["holder"], "DR Claire Anne MARTIN", "{card}");
    assert_eq!(card["generation"], "CPS4");
    assert_eq!(card["profession"], "Médecin");
    assert_eq!(card["pin"]["tries_left"], 3);
    assert!(card["simulated"].as_str().unwrap().contains("SIMULATED"));
    let certs = card["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    for c in certs {
        let (nb, from, na) = (
            c["not_before"].as_i64().unwrap(),
            c["renewal_from"].as_i64().unwrap(),
            c["not_after"].as_i64().unwrap(),
        );
        assert!(nb < from && from < na, "{c}");
        assert_eq!(c["renewal"]["state"], "valid");
    }
    // Practice situations need the PIN.
    let s = g.post("api/situations", &json!({"pin": "1234"}));
    let all = s["situations"].as_array().unwrap();
    assert!(!all.is_empty(), "{s}");
    assert!(all[0]["practice_mode"].is_string(), "{s}");

    let status = g.get_json("api/status");
    assert_eq!(status["present"], true);
    assert!(status["epoch"].as_u64().is_some());
}

#[test]
fn pin_change_then_wrong_pin_then_unblock() {
    let g = Gestion::start(&["--sim", "cps4"]);
    let r = g.post("api/pin/change", &json!({"pin": "1234", "new_pin": "4321"}));
    assert_eq!(r["result"], "PIN changed", "{r}");
    // The PIN changed on the card the page holds: the old one is now wrong.
    let r = g.post("api/pin/change", &json!({"pin": "1234", "new_pin": "5555"}));
    assert_eq!(r["error"]["kind"], "wrong_pin", "{r}");
    assert_eq!(r["error"]["tries_left"], 2);
    assert!(
        !r.to_string().contains("1234"),
        "the PIN is never echoed: {r}"
    );
    assert_eq!(g.get_json("api/pin")["pin"]["tries_left"], 2);
    // A malformed PIN costs no try.
    let r = g.post("api/pin/change", &json!({"pin": "12a4", "new_pin": "5555"}));
    assert_eq!(r["error"]["kind"], "usage", "{r}");
    assert_eq!(g.get_json("api/pin")["pin"]["tries_left"], 2);
    let r = g.post("api/pin/change", &json!({"pin": "4321", "new_pin": "5555"}));
    assert_eq!(r["result"], "PIN changed", "{r}");
    // Wrong PUK, then the right one: tries back to 3.
    let r = g.post(
        "api/pin/unblock",
        &json!({"puk": "00000000", "new_pin": "2468"}),
    );
    assert_eq!(r["error"]["kind"], "wrong_pin", "{r}");
    assert_eq!(g.get_json("api/pin")["puk"]["tries_left"], 2);
    let r = g.post(
        "api/pin/unblock",
        &json!({"puk": "12345678", "new_pin": "2468"}),
    );
    assert_eq!(r["result"], "PIN unblocked and replaced", "{r}");
    let r = g.post("api/situations", &json!({"pin": "2468"}));
    assert!(r["situations"].is_array(), "{r}");
}

#[test]
fn fido2_enrol_list_and_reset() {
    let g = Gestion::start(&["--sim", "cps4"]);
    let f = g.get_json("api/fido2");
    assert_eq!(f["present"], true);
    assert_eq!(f["enrolled"], false, "{f}");
    let r = g.post("api/fido2/enroll", &json!({"new_pin": "fido-2468"}));
    assert_eq!(r["result"], "FIDO2 PIN set", "{r}");
    let f = g.get_json("api/fido2");
    assert_eq!(f["enrolled"], true);
    assert_eq!(f["pin_retries"], 8);
    let r = g.post("api/fido2/credentials", &json!({"pin": "fido-2468"}));
    assert_eq!(r["credentials"], json!([]), "{r}");
    let r = g.post("api/fido2/credentials", &json!({"pin": "wrong-pin"}));
    assert_eq!(r["error"]["kind"], "wrong_pin", "{r}");
    // Reset only when confirmed.
    let r = g.post("api/fido2/reset", &json!({}));
    assert_eq!(r["error"]["kind"], "usage", "{r}");
    let r = g.post("api/fido2/reset", &json!({"confirm": true}));
    assert_eq!(r["result"], "FIDO2 applet reset", "{r}");
    assert_eq!(g.get_json("api/fido2")["enrolled"], false);
    // The CPS3 has no FIDO2 applet.
    let g3 = Gestion::start(&["--sim", "cps3"]);
    assert_eq!(g3.get_json("api/fido2")["present"], false);
}

#[test]
fn remote_update_through_cps_update_server_with_progress() {
    // dr-martin's CPS4 with a pending update (moved to Bordeaux, renewal scheduled).
    let server = common::UpdateServer::start("gestion-update");
    common::schedule_update(&server.url, &server.bearer);
    let url = server.url.clone();
    let g = Gestion::start(&["--sim", "cps4"]);
    let certs_before = g.get_json("api/card")["certificates"].clone();
    let before = g.get_json("api/update");
    assert_eq!(before["state"], "idle");
    let r = g.post("api/update/start", &json!({"server": url}));
    assert_eq!(r["started"], true, "{r}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen_progress = Vec::new();
    let last = loop {
        let u = g.get_json("api/update");
        if u["state"] != "running" {
            break u;
        }
        seen_progress.push(u["done"].as_u64().unwrap());
        assert!(Instant::now() < deadline, "{u}");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The seeded card has its first update pending (the three-year renewal is not due):
    // whatever is pending is relayed to its end.
    assert_eq!(last["state"], "updated", "{last}");
    assert_eq!(last["sequence"], 1, "{last}");
    assert_eq!(last["steps"], 5, "{last}");
    assert_eq!(last["done"], last["total"], "{last}");
    // The bar moved: steps seen part-way, never backwards.
    let total = last["total"].as_u64().unwrap();
    assert!(
        seen_progress.iter().any(|&d| d > 0 && d < total),
        "{seen_progress:?}"
    );
    assert!(
        seen_progress.windows(2).all(|w| w[0] <= w[1]),
        "{seen_progress:?}"
    );
    // What changed shows on the Card page: the renewed certificates.
    let after = g.get_json("api/card")["certificates"].clone();
    assert_ne!(after, certs_before);
    assert_eq!(after.as_array().unwrap().len(), 2, "{after}");
    // Run again: nothing pending.
    let r = g.post("api/update/start", &json!({"server": url}));
    assert_eq!(r["started"], true, "{r}");
    let again = loop {
        let u = g.get_json("api/update");
        if u["state"] != "running" {
            break u;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(again["state"], "up_to_date", "{again}");
    // A bad URL is refused before anything is sent.
    let r = g.post("api/update/start", &json!({"server": "ftp://x"}));
    assert_eq!(r["error"]["kind"], "usage", "{r}");
    drop(server);
}

#[test]
fn every_refusal() {
    let g = Gestion::start(&["--sim", "cps4"]);
    let a = &g.authority;
    let b = &g.base;
    let refused = |request: String, code: u16| {
        let (status, head, body) = g.raw(&request);
        assert_eq!(status, code, "{request}\n{body}");
        assert!(!head.contains("access-control-allow"), "{head}");
        assert!(!body.contains("DR Claire"), "{body}");
        assert!(head.contains("content-security-policy"), "{head}");
    };
    // No secret, a wrong secret, a secret prefix: 404, as if there were no page.
    refused(
        format!("GET / HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
        404,
    );
    refused(
        format!("GET /api/card HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"),
        404,
    );
    refused(
        format!(
            "GET /{}/api/card HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n",
            "0".repeat(32)
        ),
        404,
    );
    refused(
        format!(
            "GET {}/api/card HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n",
            &b[..20]
        ),
        404,
    );
    // DNS rebinding: another name for this address.
    refused(
        format!(
            "GET {b}api/card HTTP/1.1\r\nHost: attacker.example:{}\r\nConnection: close\r\n\r\n",
            a.split(':').nth(1).unwrap()
        ),
        421,
    );
    refused(
        format!("GET {b}api/card HTTP/1.1\r\nConnection: close\r\n\r\n"),
        421,
    );
    // Another site's page (CSRF from another tab), by Origin or by Sec-Fetch-Site.
    let body = r#"{"pin":"1234","new_pin":"4321"}"#;
    refused(
        format!(
            "POST {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\nOrigin: http://attacker.example\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        403,
    );
    refused(
        format!(
            "POST {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        403,
    );
    refused(
        format!(
            "GET {b}api/card HTTP/1.1\r\nHost: {a}\r\nOrigin: null\r\nConnection: close\r\n\r\n"
        ),
        403,
    );
    refused(
        format!(
            "GET {b}api/card HTTP/1.1\r\nHost: {a}\r\nSec-Fetch-Site: cross-site\r\nConnection: close\r\n\r\n"
        ),
        403,
    );
    // A CORS preflight gets no CORS answer.
    refused(
        format!(
            "OPTIONS {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\nOrigin: http://attacker.example\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        ),
        403,
    );
    refused(
        format!(
            "OPTIONS {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\n\
             Access-Control-Request-Method: POST\r\nConnection: close\r\n\r\n"
        ),
        405,
    );
    // A form post (text/plain: a "simple" cross-site request) and an oversized body.
    refused(
        format!(
            "POST {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        415,
    );
    let big = format!("{{\"pin\":\"{}\"}}", "1".repeat(10_000));
    refused(
        format!(
            "POST {b}api/pin/change HTTP/1.1\r\nHost: {a}\r\nOrigin: http://{a}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{big}",
            big.len()
        ),
        413,
    );
    // None of these reached the card: the PIN still has its 3 tries and is unchanged.
    assert_eq!(g.get_json("api/pin")["pin"]["tries_left"], 3);
    let r = g.post("api/pin/change", &json!({"pin": "1234", "new_pin": "1234"}));
    assert_eq!(r["result"], "PIN changed", "{r}");
}

#[test]
fn stops_once_the_page_is_closed() {
    let mut g = Gestion::start_with(&["--sim", "cps4"], &["--idle-exit", "1"]);
    // Asked while "open"...
    for _ in 0..4 {
        assert_eq!(g.get_json("api/status")["present"], true);
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(
        g.child.try_wait().unwrap().is_none(),
        "stopped while the page asked"
    );
    // ...then closed: it stops by itself, exit 0.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = g.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_reader_and_the_simulator_together_are_refused_before_serving() {
    let o = Command::new(env!("CARGO_BIN_EXE_cps"))
        .args(["--sim", "cps4", "--reader", "X", "gestion", "--no-browser"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(o.stdout.is_empty());
}

/// The pages in a real browser: Debian's Firefox ESR, headless, driven through Marionette by
/// scripts/gestion_browser_check.py (Card, PIN, Update, FIDO2, card pulled and inserted,
/// security refusals, screenshots). With pcscd running, the card is a simulated CPS4 served
/// into vpcd's second reader (so a separate FIDO2 client checks the enrolment, and the card is
/// pulled and inserted); without pcscd, outside CI, the built-in simulated card. Screenshots
/// go to `$GESTION_SCREENSHOTS` ($PWD/docs/gestion for the committed ones; relative paths are from the crate directory), else under the target
/// directory. Without Firefox (or, under CI=true, without pcscd) the test fails under CI=true
/// and prints SKIPPED otherwise.
#[test]
fn the_pages_in_headless_firefox() {
    let firefox = ["/usr/bin/firefox-esr", "/usr/bin/firefox"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if !firefox {
        return cps_transport::pcsc::testing::skip_or_fail(
            "the browser test cannot run: firefox-esr is not installed (apt-get install firefox-esr)",
        );
    }
    let pcscd = std::path::Path::new("/run/pcscd/pcscd.comm").exists();
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    if !pcscd && ci {
        return cps_transport::pcsc::testing::skip_or_fail(
            "the browser test's card pull and FIDO2 client check need pcscd (run scripts/test.sh)",
        );
    }
    let shots = std::env::var("GESTION_SCREENSHOTS").map_or_else(
        |_| std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("gestion-screenshots"),
        std::path::PathBuf::from,
    );
    let server = common::UpdateServer::start("gestion-browser");
    common::schedule_update(&server.url, &server.bearer);
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/gestion_browser_check.py"
    );
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_cps"))
        .arg(&shots)
        .args(["--update-url", &server.url]);
    if pcscd {
        command.args(["--reader", "Virtual PCD 00 01", "--serve-port", "35964"]);
    } else {
        eprintln!("note: pcscd not running: the browser test uses the built-in simulated card");
    }
    let out = command.stdin(Stdio::null()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("all browser checks passed"), "{stdout}");
    for page in ["card", "pin", "update", "fido2", "card-en"] {
        let png = std::fs::read(shots.join(format!("gestion-{page}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{page}");
    }
}
