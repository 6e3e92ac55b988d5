//! Test support shared by the end-to-end tests of cps-rs (not published): external tools
//! (`pkcs11-tool`, `openssl`...) run with a time limit, the simulated card inserted in and
//! removed from pcscd's virtual reader (vsmartcard-vpcd), the official Cryptolib CPS module
//! and its cache; Gecko applications (Firefox, Thunderbird) driven through Marionette
//! ([`gecko`]).
//!
//! A missing tool or service is the caller's to report with [`skip_or_fail`]: a `SKIPPED`
//! line, or a failure under `CI=true`.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::expect_used,
    reason = "test support: a panic is a test failure"
)]

use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use cps_sim::SimCard;
use cps_sim::vpcd::{self, VpcdConfig, VpcdHandle};
use cps_transport::pcsc::PcscContext;

pub mod gecko;

/// The reader vpcd offers on its default port.
pub const READER: &str = "Virtual PCD 00 00";
/// PKCS#15 ID of the signature key of the real cards: the PKCS#15 AID then 01 (OpenSC issue
/// #2267).
pub const SIG_ID: &str = "e828bd080f8025000001ff001001";
/// PKCS#15 ID of the authentication key: the PKCS#15 AID then 02.
pub const AUT_ID: &str = "e828bd080f8025000001ff001002";
/// Where the official module caches PKCS#15 files per card serial (it creates the folder);
/// its APDU counts depend on it.
pub const MODULE_CACHE: &str = "/etc/opt/santesocial/CPS/cache";
/// How long an external tool may run.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(90);

/// The official Cryptolib CPS 5.2.2 PKCS#11 module (`../shared/tools/cryptolib-cps/`, beside
/// the checkout).
pub fn official_module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/tools/cryptolib-cps/libcps3_pkcs11_lux.so")
}

/// A test that cannot run: `SKIPPED`, or a failure under `CI=true`.
pub fn skip_or_fail(test: &str, reason: &str) {
    cps_transport::pcsc::testing::skip_or_fail(&format!("{test} cannot run: {reason}"));
}

/// Runs a program (stdin empty, extra environment `env`) within [`TOOL_TIMEOUT`]:
/// (success, stdout then stderr); `None` when the program is not installed.
pub fn run_env<K: AsRef<std::ffi::OsStr>, V: AsRef<std::ffi::OsStr>>(
    program: &str,
    args: &[&str],
    env: &[(K, V)],
) -> Option<(bool, String)> {
    let mut cmd = Process::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    match cmd.spawn() {
        Ok(child) => Some(wait(child, program, args)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("starting {program}: {e}"),
    }
}

/// [`run_env`] without extra environment.
pub fn run(program: &str, args: &[&str]) -> Option<(bool, String)> {
    run_env::<&str, &str>(program, args, &[])
}

/// Runs a program with `input` on its stdin and extra environment: (success, stdout then
/// stderr). The program must be installed.
pub fn run_with(
    program: &str,
    args: &[&str],
    input: &[u8],
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut child = Process::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {program}: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    wait(child, program, args)
}

/// Waits for a started program within [`TOOL_TIMEOUT`] (killed and a panic after it):
/// (success, stdout then stderr).
pub fn wait(mut child: Child, program: &str, args: &[&str]) -> (bool, String) {
    let deadline = Instant::now() + TOOL_TIMEOUT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{program} {args:?} did not finish in {TOOL_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    (status.success(), out)
}

/// OpenSC's `pkcs11-tool --module m ARGS` (installed).
pub fn p11(m: &Path, args: &[&str]) -> (bool, String) {
    let mut all = vec!["--module", m.to_str().unwrap()];
    all.extend_from_slice(args);
    run("pkcs11-tool", &all).expect("pkcs11-tool is installed")
}

/// `openssl ARGS` (installed).
pub fn openssl(args: &[&str]) -> (bool, String) {
    run("openssl", args).expect("openssl is installed")
}

/// Forgets what the official module cached for these card serials (`<serial>_<path>` files).
pub fn clear_module_cache(serials: &[&str]) {
    let Ok(entries) = std::fs::read_dir(MODULE_CACHE) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if serials.iter().any(|s| name.starts_with(&format!("{s}_"))) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
}

/// Inserts `card` in vpcd's default reader and waits until pcscd sees it.
pub fn insert(ctx: &PcscContext, card: SimCard) -> VpcdHandle<SimCard> {
    let handle = vpcd::spawn(card, VpcdConfig::with_port(vpcd::DEFAULT_PORT)).unwrap();
    assert!(
        handle.wait_connected(Duration::from_secs(5)),
        "vpcd link did not connect"
    );
    ctx.wait_for_card(Some(READER), Duration::from_secs(5))
        .unwrap();
    handle
}

/// Removes the card and waits until pcscd sees the reader empty.
pub fn remove(ctx: &PcscContext, handle: VpcdHandle<SimCard>) {
    handle.remove().unwrap();
    ctx.wait_for_removal(READER, Duration::from_secs(5))
        .unwrap();
}

/// An error's message and its causes (`what: why: why`), as an application shows them.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `openssl s_server -Verify` on a free local port: asks for a client certificate and refuses
/// one that does not chain to the TEST PKI (`-verify_return_error`); `-www` answers a status
/// page that shows the client's certificate.
pub struct TlsServer {
    child: Child,
    /// The local port it listens on (127.0.0.1).
    pub port: u16,
    /// Its standard output (what it printed about each connection).
    pub log: PathBuf,
}

impl TlsServer {
    /// Starts it with a fresh self-signed `localhost` certificate in `dir` (made once), the
    /// protocol option `tls` (`-tls1_2`, `-tls1_3`) and `extra` options; returns once it
    /// accepts connections.
    pub fn start(dir: &Path, tls: &str, extra: &[&str]) -> TlsServer {
        let (key, cert) = (dir.join("srv.key"), dir.join("srv.crt"));
        if !cert.exists() {
            let (ok, out) = openssl(&[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
                "-subj",
                "/CN=localhost",
                "-days",
                "2",
            ]);
            assert!(ok, "{out}");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chain =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testvectors/pki/ca/chain.pem");
        let log = dir.join(format!("s_server-{port}.log"));
        let port_s = port.to_string();
        let mut args = vec![
            "s_server",
            "-accept",
            &port_s,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-Verify",
            "1",
            "-verify_return_error",
            "-CAfile",
            chain.to_str().unwrap(),
            "-www",
            tls,
        ];
        args.extend_from_slice(extra);
        let child = Process::new("openssl")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ready when it accepts a connection (that probe is one failed handshake to it).
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s_server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsServer { child, port, log }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake pinentry program for the protected authentication path of our module
/// (`CPS_PKCS11_PINENTRY`): a shell script speaking GnuPG's Assuan protocol that greets,
/// appends every command it receives to `log` beside it, answers `OK` to each, and answers
/// `GETPIN` with the content of `answer` beside it (`cancel`: what pinentry answers when the
/// user cancels, `GPG_ERR_CANCELED` from the pinentry source).
pub const FAKE_PINENTRY: &str = r##"#!/bin/sh
d=$(dirname "$0")
echo "OK Pleased to meet you"
while IFS= read -r line; do
  printf '%s\n' "$line" >> "$d/log"
  case "$line" in
    GETPIN)
      a=$(cat "$d/answer")
      if [ "$a" = cancel ]; then
        echo "ERR 83886179 Operation cancelled <Pinentry>"
      else
        echo "# the PIN follows"
        echo "D $a"
        echo "OK"
      fi ;;
    BYE) echo "OK closing connection"; exit 0 ;;
    *) echo "OK" ;;
  esac
done
"##;

/// Writes [`FAKE_PINENTRY`] as `dir/pinentry` (executable), answering `answer`; its path.
pub fn fake_pinentry(dir: &Path, answer: &str) -> PathBuf {
    let program = dir.join("pinentry");
    std::fs::write(&program, FAKE_PINENTRY).unwrap();
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(dir.join("answer"), answer).unwrap();
    program
}

/// The commands the fake pinentry in `dir` received since the last call (its log is
/// emptied).
pub fn pinentry_commands(dir: &Path) -> Vec<String> {
    let log = dir.join("log");
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    text.lines().map(str::to_owned).collect()
}

/// Our PKCS#11 module as `cargo test` built it: the crate's cdylib in the `deps` folder of
/// the running test binary (`cargo build` also copies it one level up).
pub fn pkcs11_module() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    let built = deps.join("libcps_pkcs11.so");
    if built.exists() {
        return built;
    }
    deps.parent().unwrap().join("libcps_pkcs11.so")
}

/// A fresh NSS database in `db` (any earlier one removed; `certutil -N`, empty password) with
/// the PKCS#11 module `module` added as `name` (`modutil -add`, as the README says): its
/// `sql:` name for the NSS tools. `certutil` and `modutil` (libnss3-tools) must be installed.
pub fn nss_db_with_module(db: &Path, name: &str, module: &Path) -> String {
    let _ = std::fs::remove_dir_all(db);
    std::fs::create_dir_all(db).unwrap();
    let sql = format!("sql:{}", db.display());
    let (ok, out) =
        run("certutil", &["-N", "-d", &sql, "--empty-password"]).expect("certutil is installed");
    assert!(ok, "certutil -N: {out}");
    let (ok, out) = run(
        "modutil",
        &[
            "-dbdir",
            &sql,
            "-add",
            name,
            "-libfile",
            module.to_str().unwrap(),
            "-force",
        ],
    )
    .expect("modutil is installed");
    assert!(ok && out.contains("added"), "modutil -add: {out}");
    sql
}

/// pcscd reachable, with vsmartcard's reader [`READER`], and that reader empty: the PC/SC
/// context, or why not (for [`skip_or_fail`]).
pub fn vpcd_reader_ready() -> Result<PcscContext, String> {
    let ctx = PcscContext::establish().map_err(|e| format!("pcscd not running: {e}"))?;
    if !ctx.reader_names().unwrap().iter().any(|n| n == READER) {
        return Err("pcscd has no vpcd reader".into());
    }
    ctx.wait_for_removal(READER, Duration::from_secs(2))
        .unwrap();
    Ok(ctx)
}
