//! A real browser on the simulated CPS3 and CPS4 through pcscd + vsmartcard-vpcd: headless
//! Firefox ESR (Debian `firefox-esr`) loads our module by enterprise policy
//! (`SecurityDevices`), the test gives the PIN to the token, Firefox chooses the card's
//! certificate by itself (`security.default_personal_cert` = `Select Automatically`) when a
//! local `openssl s_server -Verify` asks for one, and the page shows the holder's name taken
//! from the certificate. TLS 1.2 with RSA PKCS#1 on the CPS3, TLS 1.3 (RSA-PSS) on the CPS4.
//!
//! Nothing is written outside a temporary directory: Firefox runs from a private copy of its
//! installation directory (its launcher copied, everything else linked), whose
//! `distribution/policies.json` holds the policy — where Firefox looks for policies next to
//! its binary when `/etc/firefox-esr/policies/policies.json` does not exist — with a fresh
//! profile (`user.js`) and `HOME`. The test drives it through Marionette (`--marionette`,
//! length-prefixed JSON) and, in its chrome context, logs into the token as the Security
//! Devices dialog does (`nsIPK11Token.login`), answering the PIN question NSS asks through
//! Firefox's prompter (replaced for that moment by one that answers the test's PIN).
//!
//! Needs pcscd with vpcd, `openssl` and Firefox ESR (`/usr/lib/firefox-esr`, or the directory
//! in `FIREFOX_ESR_DIR`). Without them the test prints `SKIPPED` and passes, except under
//! `CI=true`, where it fails.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use cps_sim::{Profile, SimCard};
use cps_testkit::{TlsServer, insert, remove, run};
use serde_json::{Value, json};

/// The name the policy gives the module in Firefox's security devices.
const DEVICE: &str = "CPS (cps-rs)";

fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the Firefox test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// Where Firefox ESR is installed (Debian: `/usr/lib/firefox-esr`).
fn firefox_dir() -> PathBuf {
    std::env::var_os("FIREFOX_ESR_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/firefox-esr"))
}

/// A private Firefox installation in `dir`: the launcher copied (Firefox finds its
/// `distribution` directory next to its own binary, `/proc/self/exe`), every other entry
/// linked, and `distribution/policies.json` loading `module` as a security device.
fn private_install(dir: &Path, module: &Path) -> PathBuf {
    let app = dir.join("firefox");
    if !app.exists() {
        link_install(&app);
    }
    write_policies(&app, Some(module));
    app.join("firefox-esr")
}

/// The policies of the private installation: the shipped snippet
/// (`crates/cps-pkcs11/dist/policies.json`) with its path set to `module`, or none; no
/// update checks either way.
fn write_policies(app: &Path, module: Option<&Path>) {
    let mut policies = match module {
        Some(module) => {
            let mut shipped: Value = serde_json::from_slice(
                &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/policies.json"))
                    .unwrap(),
            )
            .unwrap();
            let device = &mut shipped["policies"]["SecurityDevices"]["Add"][DEVICE];
            assert_eq!(*device, json!("/usr/local/lib/libcps_pkcs11.so"));
            *device = json!(module);
            shipped
        }
        None => json!({ "policies": {} }),
    };
    policies["policies"]["DisableAppUpdate"] = json!(true);
    std::fs::write(
        app.join("distribution/policies.json"),
        serde_json::to_vec_pretty(&policies).unwrap(),
    )
    .unwrap();
}

fn link_install(app: &Path) {
    let src = firefox_dir();
    std::fs::create_dir_all(app.join("distribution")).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        match name.to_str().unwrap() {
            "distribution" | "firefox-bin" => {}
            "firefox-esr" => {
                std::fs::copy(e.path(), app.join(&name)).unwrap();
            }
            _ => std::os::unix::fs::symlink(e.path(), app.join(&name)).unwrap(),
        }
    }
}

/// A running headless Firefox, stopped (by its process id) when dropped.
struct Firefox {
    child: Child,
    log: PathBuf,
}

impl Firefox {
    /// Starts Firefox with a fresh profile in `dir` and Marionette on `port`.
    fn start(binary: &Path, dir: &Path, port: u16) -> Firefox {
        let profile = dir.join("profile");
        let home = dir.join("home");
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let prefs = [
            // The certificate is chosen without a dialog.
            (
                "security.default_personal_cert",
                json!("Select Automatically"),
            ),
            ("marionette.port", json!(port)),
            // No network but the local server.
            ("security.OCSP.enabled", json!(0)),
            ("app.update.disabledForTesting", json!(true)),
            ("browser.shell.checkDefaultBrowser", json!(false)),
            ("datareporting.policy.dataSubmissionEnabled", json!(false)),
            ("toolkit.telemetry.reportingpolicy.firstRun", json!(false)),
            ("network.captive-portal-service.enabled", json!(false)),
            ("network.connectivity-service.enabled", json!(false)),
            ("browser.safebrowsing.update.enabled", json!(false)),
        ];
        let user_js: String = prefs
            .iter()
            .map(|(k, v)| format!("user_pref({}, {v});\n", json!(k)))
            .collect();
        std::fs::write(profile.join("user.js"), user_js).unwrap();
        let log = dir.join("firefox.log");
        let child = Process::new(binary)
            .args(["--headless", "--marionette", "-remote-allow-system-access"])
            .args(["--no-remote", "--profile"])
            .arg(&profile)
            .env("HOME", &home)
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("firefox.err")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Firefox { child, log }
    }
}

impl Drop for Firefox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Marionette client (protocol 3: each message is `length:json`; a command is
/// `[0, id, name, parameters]`, its answer `[1, id, error, result]`).
struct Marionette {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next: u64,
}

impl Marionette {
    /// Connects to Firefox's Marionette port (retried while Firefox starts) and opens a
    /// WebDriver session that accepts the local server's self-signed certificate.
    fn connect(port: u16, firefox: &mut Firefox) -> Marionette {
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                break s;
            }
            if let Some(status) = firefox.child.try_wait().unwrap() {
                panic!(
                    "Firefox exited ({status}) before Marionette listened: {}",
                    std::fs::read_to_string(&firefox.log).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "Marionette did not listen");
            std::thread::sleep(Duration::from_millis(200));
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(90)))
            .unwrap();
        let mut m = Marionette {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
            next: 0,
        };
        let hello = m.receive();
        assert_eq!(hello["marionetteProtocol"], json!(3), "{hello}");
        m.command(
            "WebDriver:NewSession",
            json!({ "acceptInsecureCerts": true }),
        )
        .unwrap();
        m
    }

    fn receive(&mut self) -> Value {
        let mut len = Vec::new();
        self.reader.read_until(b':', &mut len).unwrap();
        let len: usize = std::str::from_utf8(&len[..len.len() - 1])
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Sends a command: its result, or the error Firefox answered.
    fn command(&mut self, name: &str, params: Value) -> Result<Value, Value> {
        self.next += 1;
        let msg = serde_json::to_vec(&json!([0, self.next, name, params])).unwrap();
        self.writer
            .write_all(format!("{}:", msg.len()).as_bytes())
            .unwrap();
        self.writer.write_all(&msg).unwrap();
        let answer = self.receive();
        assert_eq!(answer[1], json!(self.next), "{answer}");
        if answer[2].is_null() {
            Ok(answer[3].clone())
        } else {
            Err(answer[2].clone())
        }
    }

    /// Runs a script (in the current context) with `args`; its value.
    fn script(&mut self, script: &str, args: Value) -> Value {
        self.command(
            "WebDriver:ExecuteScript",
            json!({ "script": script, "args": args }),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}"))["value"]
            .clone()
    }

    fn context(&mut self, context: &str) {
        self.command("Marionette:SetContext", json!({ "value": context }))
            .unwrap();
    }
}

/// In Firefox's chrome context: the security device `device`, the slot whose token needs the
/// PIN, and a login as the Security Devices dialog does it (`nsIPK11Token.login`). NSS asks
/// the PIN through Firefox's prompter (`@mozilla.org/prompter;1`, `nsIPrompt.promptPassword`),
/// which the test replaces for the time of the login with one that answers `pin` and records
/// each question (the original is registered again afterwards).
const LOGIN: &str = r#"
const [device, pin] = arguments;
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  const seen = [];
  for (const m of await db.listModules()) {
    seen.push(m.name);
    if (m.name !== device) continue;
    for (const s of m.slots) {
      if (s.status !== Ci.nsIPKCS11Slot.SLOT_NOT_LOGGED_IN) continue;
      const t = s.getToken();
      const asked = [];
      const prompt = {
        QueryInterface: ChromeUtils.generateQI(["nsIPrompt"]),
        promptPassword(title, text, password, checkMsg, checkValue) {
          asked.push(String(text));
          password.value = pin;
          return true;
        },
      };
      const factory = {
        QueryInterface: ChromeUtils.generateQI(["nsIFactory"]),
        createInstance(iid) {
          return {
            QueryInterface: ChromeUtils.generateQI(["nsIPromptFactory"]),
            getPrompt(parent, promptIid) { return prompt.QueryInterface(promptIid); },
          }.QueryInterface(iid);
        },
      };
      const reg = Components.manager.QueryInterface(Ci.nsIComponentRegistrar);
      const cid = Components.ID("{6ee7e1a0-4f4e-4c2b-9a55-0c2f5d1e7a11}");
      const original = reg.contractIDToCID("@mozilla.org/prompter;1");
      reg.registerFactory(cid, "cps-rs test PIN prompter", "@mozilla.org/prompter;1", factory);
      let error = null;
      try {
        await t.login(false);
      } catch (e) {
        error = String(e);
      } finally {
        reg.unregisterFactory(cid, factory);
        reg.registerFactory(original, "", "@mozilla.org/prompter;1", null);
      }
      return { module: m.libName, slot: s.name, token: t.tokenName, asked: asked,
               error: error, loggedIn: t.isLoggedIn };
    }
    return { module: m.libName, slots: m.slots.map(s => [s.name, s.tokenName, s.status]) };
  }
  return { modules: seen };
})();
"#;

/// One card: Firefox started with the policy, the PIN answered, the page of a server that
/// requires a client certificate. Returns a line for the report.
fn browse(generation: &str, dir: &Path, binary: &Path) -> String {
    let (tls, extra, protocol): (&str, &[&str], &str) = if generation == "CPS3" {
        // A CPS3 signs PKCS#1 v1.5 only: TLS 1.2 with RSA signature algorithms.
        (
            "-tls1_2",
            &["-client_sigalgs", "RSA+SHA256:RSA+SHA1"],
            "TLSv1.2",
        )
    } else {
        ("-tls1_3", &[], "TLSv1.3")
    };
    let server = TlsServer::start(dir, tls, extra);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let mut firefox = Firefox::start(binary, dir, port);
    let mut m = Marionette::connect(port, &mut firefox);

    m.context("chrome");
    let login = m.script(LOGIN, json!([DEVICE, "1234"]));
    eprintln!("[{generation}] Firefox security devices: {login}");
    assert_eq!(
        login["module"],
        json!(ours().to_str().unwrap()),
        "the policy did not load the module: {login}"
    );
    assert_eq!(
        login["token"],
        json!(format!("{generation} dr-martin")),
        "{login}"
    );
    assert_eq!(
        login["asked"].as_array().map(Vec::len),
        Some(1),
        "the PIN is asked once: {login}"
    );
    assert!(
        login["asked"][0]
            .as_str()
            .is_some_and(|q| q.contains(&format!("{generation} dr-martin"))),
        "Firefox names the token when it asks the PIN: {login}"
    );
    assert_eq!(login["error"], Value::Null, "the login failed: {login}");
    assert_eq!(login["loggedIn"], json!(true), "{login}");

    m.context("content");
    let url = format!("https://127.0.0.1:{}/", server.port);
    m.command("WebDriver:Navigate", json!({ "url": url }))
        .unwrap_or_else(|e| panic!("navigate to {url}: {e}"));
    let page = m.script("return document.body.innerText;", json!([]));
    let page = page.as_str().unwrap_or_default().to_owned();
    let _ = m.command("Marionette:Quit", json!({}));
    let elapsed = started.elapsed();
    drop(firefox);
    drop(server);
    // s_server -www shows the protocol and the client's certificate (its subject and PEM).
    assert!(
        page.contains("Client certificate") && page.contains("MARTIN") && page.contains("CLAIRE"),
        "the page does not show the card holder's certificate:\n{page}"
    );
    assert!(page.contains(&format!("Protocol  : {protocol}")), "{page}");
    let holder = page
        .lines()
        .find(|l| l.contains("Subject:") && l.contains("MARTIN"))
        .unwrap_or_default()
        .trim()
        .to_owned();
    eprintln!("[{generation}] page: {holder}");
    format!(
        "{generation} Firefox ESR: module by policy, PIN answered, certificate chosen automatically, {protocol}, page shows \"{holder}\" ({:.1} s)",
        elapsed.as_secs_f64()
    )
}

/// The test extension's id, added to the manifest's `allowed_extensions` in the test copy.
const EXTENSION_ID: &str = "cps-rs-test@cps-rs.invalid";

/// The Firefox native manifest (`crates/cps-pkcs11/dist/cps_rs.json`) as a user installs it
/// (`~/.mozilla/pkcs11-modules/`, in the test's `HOME`), its `path` set to the library cargo
/// built and the test extension allowed: Firefox without the policy, a temporary extension
/// with the `pkcs11` permission calls `browser.pkcs11.installModule("cps_rs")`, and the
/// module then shows the card's token. Returns a line for the report.
fn native_manifest(generation: &str, dir: &Path, binary: &Path) -> String {
    let shipped: Value = serde_json::from_slice(
        &std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/cps_rs.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        shipped["name"],
        json!("cps_rs"),
        "the file name is the name"
    );
    assert_eq!(shipped["type"], json!("pkcs11"));
    assert_eq!(shipped["path"], json!("/usr/local/lib/libcps_pkcs11.so"));
    let description = shipped["description"].as_str().unwrap().to_owned();
    let mut manifest = shipped.clone();
    manifest["path"] = json!(ours());
    manifest["allowed_extensions"] = json!([EXTENSION_ID]);
    let manifests = dir.join("home/.mozilla/pkcs11-modules");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::write(
        manifests.join("cps_rs.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let ext = dir.join("extension");
    std::fs::create_dir_all(&ext).unwrap();
    let ext_manifest = json!({
        "manifest_version": 2,
        "name": "cps-rs PKCS#11 test",
        "version": "1.0",
        "browser_specific_settings": { "gecko": { "id": EXTENSION_ID } },
        "permissions": ["pkcs11"],
        "background": { "scripts": ["background.js"] },
    });
    std::fs::write(
        ext.join("manifest.json"),
        serde_json::to_vec_pretty(&ext_manifest).unwrap(),
    )
    .unwrap();
    std::fs::write(
        ext.join("background.js"),
        "browser.pkcs11.installModule(\"cps_rs\").catch(e => console.error(\"cps-rs test: \" + e.message));\n",
    )
    .unwrap();

    write_policies(binary.parent().unwrap(), None);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut firefox = Firefox::start(binary, dir, port);
    let mut m = Marionette::connect(port, &mut firefox);
    m.context("chrome");
    let before = m.script(MODULES, json!([]));
    assert!(
        !before.to_string().contains(ours().to_str().unwrap()),
        "the module is loaded before the extension asks: {before}"
    );
    m.command(
        "Addon:Install",
        json!({ "path": ext.to_str().unwrap(), "temporary": true }),
    )
    .unwrap_or_else(|e| panic!("installing the test extension: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let module = loop {
        let modules = m.script(MODULES, json!([]));
        let found = modules
            .as_array()
            .unwrap()
            .iter()
            .find(|mo| mo["lib"] == json!(ours().to_str().unwrap()))
            .cloned();
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the extension did not install the module: {modules}\n{}",
            std::fs::read_to_string(&firefox.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let _ = m.command("Marionette:Quit", json!({}));
    drop(firefox);
    write_policies(binary.parent().unwrap(), Some(&ours()));
    eprintln!("[{generation}] module installed by the extension: {module}");
    assert_eq!(module["name"], json!(description), "{module}");
    let label = format!("{generation} dr-martin");
    assert!(
        module["tokens"].as_array().unwrap().contains(&json!(label)),
        "the card's token is not in {module}"
    );
    format!(
        "{generation} Firefox ESR: native manifest cps_rs.json in ~/.mozilla/pkcs11-modules, browser.pkcs11.installModule(\"cps_rs\") by a test extension: module \"{description}\" shows \"{label}\""
    )
}

/// In Firefox's chrome context: every security device, its library and its tokens.
const MODULES: &str = r#"
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  const out = [];
  for (const m of await db.listModules()) {
    out.push({ name: m.name, lib: m.libName, tokens: m.slots.map(s => s.tokenName) });
  }
  return out;
})();
"#;

#[test]
fn firefox_esr_client_auth_on_the_simulated_cards() {
    let module = ours();
    if !module.exists() {
        return skip_or_fail(&format!("{} was not built", module.display()));
    }
    if !firefox_dir().join("firefox-esr").exists() {
        return skip_or_fail(&format!(
            "Firefox ESR is not installed in {} (Debian package firefox-esr; .ci/run installs it)",
            firefox_dir().display()
        ));
    }
    if run("openssl", &["version"]).is_none() {
        return skip_or_fail("openssl is not installed");
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    let dir = std::env::temp_dir().join(format!("cps-firefox-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let binary = private_install(&dir, &module);

    let mut report = Vec::new();
    for (profile, generation) in [(Profile::Cps3, "CPS3"), (Profile::Cps4, "CPS4")] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        report.push(browse(generation, &dir, &binary));
        if generation == "CPS4" {
            report.push(native_manifest(generation, &dir, &binary));
        }
        assert_eq!(
            handle.card().tries_left(0x01),
            Some(3),
            "the PIN was presented once, right"
        );
        remove(&ctx, handle);
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "\n=== Firefox ESR on the simulated cards\n{}",
        report.join("\n")
    );
}
