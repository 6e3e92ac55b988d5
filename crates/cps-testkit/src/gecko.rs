//! Gecko applications (Firefox ESR, Thunderbird) driven by the end-to-end tests of the PKCS#11
//! module: a private copy of the installation directory whose `distribution/policies.json`
//! loads the module (enterprise policy `SecurityDevices`), the application started headless
//! with a fresh profile, and a Marionette client (`--marionette`, length-prefixed JSON) to run
//! scripts in its chrome context.
#![allow(
    clippy::indexing_slicing,
    reason = "test support: JSON values indexed by key, a panic is a test failure"
)]

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The name the shipped policy (`crates/cps-pkcs11/dist/policies.json`) gives the module in
/// the security devices.
pub const DEVICE: &str = "CPS (cps-rs)";

/// Where the shipped policy expects the module.
const SHIPPED_PATH: &str = "/usr/local/lib/libcps_pkcs11.so";

/// A private installation in `app` of the one in `src`: the real binary `launcher` copied (a
/// Gecko application finds its `distribution` directory next to its own binary,
/// `/proc/self/exe`), every other entry linked but those in `skip` (an existing
/// `distribution`, other launchers). Returns the copied binary.
pub fn private_install(src: &Path, app: &Path, launcher: &str, skip: &[&str]) -> PathBuf {
    if !app.exists() {
        std::fs::create_dir_all(app.join("distribution")).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            let name = e.file_name();
            let name_s = name.to_str().unwrap();
            if name_s == "distribution" || skip.contains(&name_s) {
                continue;
            }
            if name_s == launcher {
                std::fs::copy(e.path(), app.join(&name)).unwrap();
            } else {
                std::os::unix::fs::symlink(e.path(), app.join(&name)).unwrap();
            }
        }
    }
    app.join(launcher)
}

/// Writes `app/distribution/policies.json`: the shipped snippet `shipped` with its path set
/// to `module`, or no policy when `module` is `None`; no update checks either way.
pub fn write_policies(app: &Path, shipped: &Path, module: Option<&Path>) {
    let mut policies = match module {
        Some(module) => {
            let mut shipped: Value =
                serde_json::from_slice(&std::fs::read(shipped).unwrap()).unwrap();
            let device = &mut shipped["policies"]["SecurityDevices"]["Add"][DEVICE];
            assert_eq!(*device, json!(SHIPPED_PATH));
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

/// A free local TCP port (for Marionette).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running headless Gecko application, stopped (by its process id) when dropped.
pub struct Gecko {
    child: Child,
    /// Its standard output.
    pub log: PathBuf,
}

impl Gecko {
    /// Starts `binary` with a fresh profile in `dir/profile` (`user.js`: Marionette on `port`,
    /// no update or telemetry, then `prefs`), `HOME` in `dir/home`.
    pub fn start(binary: &Path, dir: &Path, port: u16, prefs: &[(&str, Value)]) -> Gecko {
        let profile = dir.join("profile");
        let home = dir.join("home");
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let common = [
            ("marionette.port", json!(port)),
            // No network but the test's.
            ("security.OCSP.enabled", json!(0)),
            ("app.update.disabledForTesting", json!(true)),
            ("datareporting.policy.dataSubmissionEnabled", json!(false)),
            ("toolkit.telemetry.reportingpolicy.firstRun", json!(false)),
            ("network.captive-portal-service.enabled", json!(false)),
            ("network.connectivity-service.enabled", json!(false)),
        ];
        let user_js: String = common
            .iter()
            .chain(prefs)
            .map(|(k, v)| format!("user_pref({}, {v});\n", json!(k)))
            .collect();
        std::fs::write(profile.join("user.js"), user_js).unwrap();
        let name = binary.file_name().unwrap().to_str().unwrap();
        let log = dir.join(format!("{name}.log"));
        let child = Process::new(binary)
            .args(["--headless", "--marionette", "-remote-allow-system-access"])
            .args(["--no-remote", "--profile"])
            .arg(&profile)
            .env("HOME", &home)
            .env("MOZ_CRASHREPORTER_DISABLE", "1")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join(format!("{name}.err"))).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Gecko { child, log }
    }
}

impl Drop for Gecko {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Marionette client (protocol 3: each message is `length:json`; a command is
/// `[0, id, name, parameters]`, its answer `[1, id, error, result]`).
pub struct Marionette {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    next: u64,
}

impl Marionette {
    /// Connects to the application's Marionette port (retried while it starts) and opens a
    /// WebDriver session with the `capabilities` given.
    pub fn connect(port: u16, app: &mut Gecko, capabilities: Value) -> Marionette {
        let deadline = Instant::now() + Duration::from_secs(60);
        let stream = loop {
            if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
                break s;
            }
            if let Some(status) = app.child.try_wait().unwrap() {
                panic!(
                    "the application exited ({status}) before Marionette listened: {}",
                    std::fs::read_to_string(&app.log).unwrap_or_default()
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
        m.command("WebDriver:NewSession", capabilities).unwrap();
        m
    }

    fn receive(&mut self) -> Value {
        let mut len = Vec::new();
        self.reader.read_until(b':', &mut len).unwrap();
        let len: usize = std::str::from_utf8(len.strip_suffix(b":").unwrap())
            .unwrap()
            .parse()
            .unwrap();
        let mut body = vec![0; len];
        self.reader.read_exact(&mut body).unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    /// Sends a command: its result, or the error the application answered.
    pub fn command(&mut self, name: &str, params: Value) -> Result<Value, Value> {
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
    pub fn script(&mut self, script: &str, args: Value) -> Value {
        self.command(
            "WebDriver:ExecuteScript",
            json!({ "script": script, "args": args }),
        )
        .unwrap_or_else(|e| panic!("script failed: {e}"))["value"]
            .clone()
    }

    /// Switches to the `chrome` or `content` context.
    pub fn context(&mut self, context: &str) {
        self.command("Marionette:SetContext", json!({ "value": context }))
            .unwrap();
    }

    /// Asks the application to quit (its answer is not awaited beyond the command's).
    pub fn quit(&mut self) {
        let _ = self.command("Marionette:Quit", json!({}));
    }
}

/// For the chrome context, arguments `[device, pins]`: the security device `device`, the
/// slot whose token needs the PIN, and a login as the Security Devices dialog does it
/// (`nsIPK11Token.login`). NSS asks the PIN through the application's prompter
/// (`@mozilla.org/prompter;1`, `nsIPrompt.promptPassword`), which the script replaces for the
/// time of the login with one that answers the PINs of `pins` in turn, then cancels, and
/// records each question (the original is registered again afterwards). NSS asks again after
/// a wrong PIN, so `["wrong"]` is one wrong presentation then a cancel.
///
/// Returns `{module, slot, token, asked, error, loggedIn}`, or `{module, slots}` when no slot
/// needs a login, or `{modules}` when `device` is not loaded.
pub const LOGIN: &str = r#"
const [device, pins] = arguments;
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
      const answers = pins.slice();
      const prompt = {
        QueryInterface: ChromeUtils.generateQI(["nsIPrompt"]),
        promptPassword(title, text, password, checkMsg, checkValue) {
          asked.push(String(text));
          if (answers.length === 0) return false;
          password.value = answers.shift();
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

/// For the chrome context: every security device, its library and its tokens
/// (`[{name, lib, tokens}]`).
pub const MODULES: &str = r#"
return (async () => {
  const db = Cc["@mozilla.org/security/pkcs11moduledb;1"].getService(Ci.nsIPKCS11ModuleDB);
  const out = [];
  for (const m of await db.listModules()) {
    out.push({ name: m.name, lib: m.libName, tokens: m.slots.map(s => s.tokenName) });
  }
  return out;
})();
"#;
