//! The module as real consumers use it, through pcscd + vsmartcard-vpcd with the simulated
//! CPS3 and CPS4: OpenSC's `pkcs11-tool` (`--test`, every sign / decrypt mechanism verified
//! with `openssl`), the Rust `cryptoki` crate (two threads at once), negative cases (wrong PIN,
//! the empty second vpcd reader, two processes at once), and side by side with the official
//! module (Cryptolib CPS 5.2.2): the same objects, and the APDUs of find + login + sign.
//!
//! Needs pcscd with vpcd, `pkcs11-tool` (OpenSC), `openssl` and the official module. Without
//! them the test prints `SKIPPED` and passes, except under `CI=true`, where it fails.
//!
//! The module is the `libcps_pkcs11.so` cargo builds next to this test's binary (the crate's
//! cdylib is built with its rlib by `cargo test`, into `target/debug/deps`).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "test code: a panic is a test failure"
)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use cps_sim::vpcd::VpcdHandle;
use cps_sim::{Profile, SimCard};
use cps_testkit::{
    AUT_ID, READER, SIG_ID, TlsServer, clear_module_cache, insert, nss_db_with_module,
    official_module as official, openssl, p11, remove, run, run_with, wait,
};
use cps_transport::pcsc::PcscContext;

/// A missing tool or service: `SKIPPED`, or a failure under `CI=true`.
fn skip_or_fail(reason: &str) {
    cps_testkit::skip_or_fail("the PKCS#11 consumer test", reason);
}

/// Our module, built by `cargo test` next to this test's binary.
fn ours() -> PathBuf {
    cps_testkit::pkcs11_module()
}

/// (object kind, label, ID) of each object of a `pkcs11-tool -O` listing.
fn objects(listing: &str) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    let mut current: Option<(String, String, String)> = None;
    for line in listing.lines() {
        let kind = if line.starts_with("Private Key Object") {
            Some("private key")
        } else if line.starts_with("Public Key Object") {
            Some("public key")
        } else if line.starts_with("Certificate Object") {
            Some("certificate")
        } else if line.starts_with("Data object") {
            Some("data")
        } else {
            None
        };
        if let Some(k) = kind {
            out.extend(current.take());
            current = Some((k.to_owned(), String::new(), String::new()));
        } else if let Some(c) = current.as_mut() {
            let t = line.trim();
            if let Some(l) = t.strip_prefix("label:") {
                c.1 = l.trim().trim_matches('\'').to_owned();
            } else if let Some(i) = t.strip_prefix("ID:") {
                c.2 = i.trim().to_owned();
            }
        }
    }
    out.extend(current);
    out
}

struct Card<'a> {
    generation: &'static str,
    handle: &'a VpcdHandle<SimCard>,
    dir: &'a Path,
    report: Vec<String>,
}

impl Card<'_> {
    /// pkcs11-tool with our module; the APDUs the card received.
    fn ours(&mut self, what: &str, args: &[&str]) -> (bool, String, u64) {
        self.handle.card().reset_stats();
        let (ok, out) = p11(&ours(), args);
        let apdus = self.handle.card().stats().apdus;
        eprintln!(
            "--- [{} ours] {what}: ok={ok}, {apdus} APDUs\n{}",
            self.generation,
            out.trim_end()
        );
        self.report.push(format!(
            "{} ours {what}: {} ({apdus} APDUs)",
            self.generation,
            if ok { "ok" } else { "refused" }
        ));
        (ok, out, apdus)
    }

    /// The public key of a certificate read through our module, as PEM for openssl.
    fn public_key(&mut self, id: &str) -> PathBuf {
        let der = self.dir.join(format!("{}-{id}.crt.der", self.generation));
        let (ok, out, _) = self.ours(
            "read certificate",
            &[
                "--read-object",
                "--type",
                "cert",
                "--id",
                id,
                "-o",
                der.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        let pem = self.dir.join(format!("{}-{id}.pub.pem", self.generation));
        let (ok, out) = openssl(&[
            "x509",
            "-inform",
            "DER",
            "-in",
            der.to_str().unwrap(),
            "-pubkey",
            "-noout",
            "-out",
            pem.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
        pem
    }

    /// Signs with a mechanism through our module and verifies with openssl.
    fn sign_and_verify(&mut self, mech: &str, id: &str) {
        let msg = self.dir.join("msg.txt");
        std::fs::write(
            &msg,
            b"feuille de soins electronique n. 42, signed by the card",
        )
        .unwrap();
        let pem = self.public_key(id);
        let sig = self
            .dir
            .join(format!("{}-{mech}-{id}.sig", self.generation));
        let hash_input = self.dir.join("msg.input");
        let digest = {
            use sha2::Digest as _;
            sha2::Sha256::digest(std::fs::read(&msg).unwrap()).to_vec()
        };
        // CKM_RSA_PKCS signs a DigestInfo, CKM_RSA_PKCS_PSS a hash: the caller hashes.
        let input = match mech {
            "RSA-PKCS" => {
                let mut di = hex::decode("3031300d060960864801650304020105000420").unwrap();
                di.extend_from_slice(&digest);
                std::fs::write(&hash_input, di).unwrap();
                &hash_input
            }
            "RSA-PKCS-PSS" => {
                std::fs::write(&hash_input, &digest).unwrap();
                &hash_input
            }
            _ => &msg,
        };
        let mut args = vec![
            "--login",
            "--pin",
            "1234",
            "--sign",
            "-m",
            mech,
            "--id",
            id,
            "-i",
            input.to_str().unwrap(),
            "-o",
            sig.to_str().unwrap(),
        ];
        if mech == "RSA-PKCS-PSS" {
            // The card salts with the hash length, MGF1 of the same hash.
            args.extend_from_slice(&[
                "--hash-algorithm",
                "SHA256",
                "--mgf",
                "MGF1-SHA256",
                "--salt-len",
                "32",
            ]);
        }
        let (ok, out, _) = self.ours(&format!("sign {mech} with {id}"), &args);
        assert!(ok, "{mech} {id}: {out}");
        let (ok, out) = if mech.starts_with("RSA-PKCS") {
            let hash = self.dir.join("msg.sha256");
            std::fs::write(&hash, &digest).unwrap();
            let mut v = vec![
                "pkeyutl",
                "-verify",
                "-pubin",
                "-inkey",
                pem.to_str().unwrap(),
                "-in",
                hash.to_str().unwrap(),
                "-sigfile",
                sig.to_str().unwrap(),
                "-pkeyopt",
                "digest:sha256",
            ];
            if mech.ends_with("PSS") {
                v.extend_from_slice(&[
                    "-pkeyopt",
                    "rsa_padding_mode:pss",
                    "-pkeyopt",
                    "rsa_pss_saltlen:-1",
                ]);
            }
            openssl(&v)
        } else {
            let d = if mech.starts_with("SHA1") {
                "-sha1"
            } else {
                "-sha256"
            };
            let mut v = vec![
                "dgst",
                d,
                "-verify",
                pem.to_str().unwrap(),
                "-signature",
                sig.to_str().unwrap(),
            ];
            if mech.ends_with("PSS") {
                v.extend_from_slice(&[
                    "-sigopt",
                    "rsa_padding_mode:pss",
                    "-sigopt",
                    "rsa_pss_saltlen:-1",
                ]);
            }
            v.push(msg.to_str().unwrap());
            openssl(&v)
        };
        assert!(
            ok && out.contains("Verified"),
            "openssl verify {mech} {id}: {out}"
        );
    }

    fn decrypt(&mut self) {
        let pem = self.public_key(AUT_ID);
        let plain = self.dir.join("plain.txt");
        std::fs::write(&plain, b"cle de session AES 0123456789abcdef").unwrap();
        let enc = self.dir.join(format!("{}.enc", self.generation));
        let (ok, out) = openssl(&[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            pem.to_str().unwrap(),
            "-in",
            plain.to_str().unwrap(),
            "-out",
            enc.to_str().unwrap(),
        ]);
        assert!(ok, "{out}");
        let dec = self.dir.join(format!("{}.dec", self.generation));
        let (ok, out, _) = self.ours(
            "decrypt RSA-PKCS",
            &[
                "--login",
                "--pin",
                "1234",
                "--decrypt",
                "-m",
                "RSA-PKCS",
                "--id",
                AUT_ID,
                "-i",
                enc.to_str().unwrap(),
                "-o",
                dec.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        assert_eq!(std::fs::read(&dec).unwrap(), std::fs::read(&plain).unwrap());
    }

    /// A wrong PIN: refused, one try spent (never more), the token flags show it; the right
    /// PIN restores the counter.
    fn wrong_pin(&mut self) {
        let (ok, out, apdus) = self.ours(
            "login with a wrong PIN",
            &["--login", "--pin", "9999", "-O"],
        );
        assert!(!ok && out.contains("CKR_PIN_INCORRECT"), "{out}");
        assert_eq!(
            self.handle.card().tries_left(0x01),
            Some(2),
            "one try spent, not more"
        );
        let verifies = apdus;
        let (ok, out, _) = self.ours("-L after a wrong PIN", &["-L"]);
        assert!(ok && out.contains("user PIN count low"), "{out}");
        assert!(!out.contains("final try"), "{out}");
        let (ok, out, _) = self.ours(
            "login with the right PIN",
            &["--login", "--pin", "1234", "-O"],
        );
        assert!(ok, "{out}");
        assert_eq!(self.handle.card().tries_left(0x01), Some(3));
        // A PIN of the wrong length never reaches the card.
        let (ok, out, _) = self.ours(
            "login with a 3-digit PIN",
            &["--login", "--pin", "123", "-O"],
        );
        assert!(!ok && out.contains("CKR_PIN_LEN_RANGE"), "{out}");
        assert_eq!(self.handle.card().tries_left(0x01), Some(3));
        eprintln!("wrong PIN: {verifies} APDUs in that run");
    }

    /// `C_SetPIN` (`pkcs11-tool --change-pin`): a wrong old PIN is refused with one try
    /// spent, a new PIN of the wrong length never reaches the card, the right one changes
    /// the PIN on the card (the new PIN logs in), and it is changed back.
    fn change_pin(&mut self) {
        let change = |old: &str, new: &str| {
            vec![
                "--change-pin".to_owned(),
                "--pin".to_owned(),
                old.to_owned(),
                "--new-pin".to_owned(),
                new.to_owned(),
            ]
        };
        let run = |c: &mut Self, what: &str, args: Vec<String>| {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            c.ours(what, &args)
        };
        let (ok, out, _) = run(self, "change PIN, wrong old PIN", change("9999", "5678"));
        assert!(!ok && out.contains("CKR_PIN_INCORRECT"), "{out}");
        assert_eq!(
            self.handle.card().tries_left(0x01),
            Some(2),
            "one try spent"
        );
        // pkcs11-tool logs in with the old PIN first (which restores the tries), then
        // C_SetPIN refuses the new PIN before any APDU.
        let (ok, out, apdus) = run(self, "change PIN, 3-digit new PIN", change("1234", "567"));
        assert!(
            !ok && out.contains("C_SetPIN") && out.contains("CKR_PIN_LEN_RANGE"),
            "{out}"
        );
        assert_eq!(
            self.handle.card().tries_left(0x01),
            Some(3),
            "{apdus} APDUs"
        );
        let (ok, out, _) = run(self, "change PIN 1234 -> 5678", change("1234", "5678"));
        assert!(ok, "{out}");
        assert_eq!(self.handle.card().tries_left(0x01), Some(3));
        let (ok, out, _) = self.ours(
            "login with the new PIN",
            &["--login", "--pin", "5678", "-O", "--type", "privkey"],
        );
        assert!(ok && out.contains("CPS_PRIV_SIG"), "{out}");
        let (ok, out, _) = run(self, "change PIN back 5678 -> 1234", change("5678", "1234"));
        assert!(ok, "{out}");
        assert_eq!(self.handle.card().tries_left(0x01), Some(3));
    }

    /// find + login + sign in one process: (APDUs, wall time).
    fn sign_round_trip(&mut self, module: &Path) -> (u64, Duration) {
        let (ok, out, apdus, time) = self.try_sign_round_trip(module, &[]);
        assert!(ok, "{}: {out}", module.display());
        (apdus, time)
    }

    /// find + login + sign in one process with extra environment: (success, output, APDUs,
    /// wall time).
    fn try_sign_round_trip(
        &mut self,
        module: &Path,
        env: &[(&str, &Path)],
    ) -> (bool, String, u64, Duration) {
        let msg = self.dir.join("rt.txt");
        std::fs::write(&msg, b"round trips").unwrap();
        let sig = self.dir.join("rt.sig");
        self.handle.card().reset_stats();
        let start = Instant::now();
        let (ok, out) = cps_testkit::run_env(
            "pkcs11-tool",
            &[
                "--module",
                module.to_str().unwrap(),
                "--login",
                "--pin",
                "1234",
                "--sign",
                "-m",
                "SHA256-RSA-PKCS",
                "--id",
                SIG_ID,
                "-i",
                msg.to_str().unwrap(),
                "-o",
                sig.to_str().unwrap(),
            ],
            env,
        )
        .expect("pkcs11-tool is installed");
        let time = start.elapsed();
        let stats = self.handle.card().stats().clone();
        eprintln!(
            "--- [{} sign round trip] {}: ok={ok}, {}",
            self.generation,
            module.display(),
            stats.summary()
        );
        (ok, out, stats.apdus, time)
    }
}

/// The cryptoki crate (what Rust programs use) on our module: token flags, two threads
/// signing at once, decryption. Returns the signature for openssl.
fn cryptoki_round(generation: &str, dir: &Path) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let ctx = Pkcs11::new(ours()).unwrap();
    ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slots = ctx.get_slots_with_token().unwrap();
    assert_eq!(slots.len(), 1, "one card, in the first vpcd reader");
    let info = ctx.get_token_info(slots[0]).unwrap();
    assert_eq!(info.label(), format!("{generation} dr-martin"));
    assert!(!info.user_pin_count_low() && !info.user_pin_locked());
    let all = ctx.get_all_slots().unwrap();
    assert!(
        all.len() >= 2,
        "the second vpcd reader is a slot too: {all:?}"
    );
    let empty = all.iter().find(|s| **s != slots[0]).unwrap();
    assert!(
        ctx.get_token_info(*empty).is_err(),
        "no token in the empty reader"
    );

    let session = ctx.open_ro_session(slots[0]).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let id = hex::decode(SIG_ID).unwrap();
    // Two threads sign at once on their own sessions (the module serialises them).
    let sigs: Vec<Vec<u8>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|i| {
                let ctx = &ctx;
                let id = id.clone();
                let slot = slots[0];
                s.spawn(move || {
                    let session = ctx.open_ro_session(slot).unwrap();
                    let key = session
                        .find_objects(&[
                            Attribute::Class(ObjectClass::PRIVATE_KEY),
                            Attribute::Id(id),
                        ])
                        .unwrap();
                    assert_eq!(key.len(), 1);
                    session
                        .sign(
                            &Mechanism::Sha256RsaPkcs,
                            key[0],
                            format!("message {i}").as_bytes(),
                        )
                        .unwrap()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let certs = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(hex::decode(SIG_ID).unwrap()),
        ])
        .unwrap();
    let value = session
        .get_attributes(certs[0], &[AttributeType::Value])
        .unwrap();
    let Some(Attribute::Value(der)) = value.first() else {
        panic!("certificate value: {value:?}")
    };
    let cert = dir.join(format!("{generation}-cryptoki.crt.der"));
    std::fs::write(&cert, der).unwrap();
    let pem = dir.join(format!("{generation}-cryptoki.pub.pem"));
    let (ok, out) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        cert.to_str().unwrap(),
        "-pubkey",
        "-noout",
        "-out",
        pem.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    for (i, sig) in sigs.iter().enumerate() {
        let (m, s) = (dir.join("ck.msg"), dir.join("ck.sig"));
        std::fs::write(&m, format!("message {i}")).unwrap();
        std::fs::write(&s, sig).unwrap();
        let (ok, out) = openssl(&[
            "dgst",
            "-sha256",
            "-verify",
            pem.to_str().unwrap(),
            "-signature",
            s.to_str().unwrap(),
            m.to_str().unwrap(),
        ]);
        assert!(
            ok && out.contains("Verified OK"),
            "cryptoki thread {i}: {out}"
        );
    }
    // A private key is sensitive: its private exponent is never given.
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id),
        ])
        .unwrap();
    assert!(
        session
            .get_attributes(key[0], &[AttributeType::PrivateExponent])
            .map(|a| a.is_empty())
            .unwrap_or(true)
    );
    session.logout().unwrap();
    // C_SetPIN without login: refused in a read-only session; a wrong old PIN is refused by
    // the card with one try spent (the token shows it), never retried; the right one
    // changes the PIN (here to the same value), which restores the tries.
    {
        use cryptoki::error::{Error, RvError};
        let pin = |p: &str| AuthPin::new(p.into());
        let ro = ctx.open_ro_session(slots[0]).unwrap();
        let r = ro.set_pin(&pin("1234"), &pin("5678"));
        assert!(
            matches!(r, Err(Error::Pkcs11(RvError::SessionReadOnly, _))),
            "{r:?}"
        );
        drop(ro);
        let rw = ctx.open_rw_session(slots[0]).unwrap();
        let r = rw.set_pin(&pin("9999"), &pin("5678"));
        assert!(
            matches!(r, Err(Error::Pkcs11(RvError::PinIncorrect, _))),
            "{r:?}"
        );
        assert!(ctx.get_token_info(slots[0]).unwrap().user_pin_count_low());
        rw.set_pin(&pin("1234"), &pin("1234")).unwrap();
        assert!(!ctx.get_token_info(slots[0]).unwrap().user_pin_count_low());
        // Logged in, a wrong old PIN: the card drops its PIN verification and so does the
        // module (the session is public again, C_Login works, no stale "logged in").
        rw.login(UserType::User, Some(&pin("1234"))).unwrap();
        let r = rw.set_pin(&pin("9999"), &pin("5678"));
        assert!(
            matches!(r, Err(Error::Pkcs11(RvError::PinIncorrect, _))),
            "{r:?}"
        );
        let state = rw.get_session_info().unwrap().session_state();
        assert_eq!(state, cryptoki::session::SessionState::RwPublic);
        rw.login(UserType::User, Some(&pin("1234"))).unwrap();
        assert!(!ctx.get_token_info(slots[0]).unwrap().user_pin_count_low());
        rw.logout().unwrap();
        drop(rw);
    }
    // After logout the private keys are gone from the listing.
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert!(keys.is_empty());
    drop(session);
    ctx.finalize().unwrap();
}

/// TLS client authentication with the card's authentication key: OpenSSL 3 through libp11's
/// pkcs11 engine, and NSS (`modutil -add`, `certutil -L`, `tstclnt`). TLS 1.2 with PKCS#1
/// v1.5 on the CPS3 (no PSS there), TLS 1.3 (PSS) on the CPS4.
fn tls_client_auth(generation: &str, dir: &Path, report: &mut Vec<String>) {
    let engine = Path::new("/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so");
    if !engine.exists() || run("tstclnt", &["-h"]).is_none() {
        return skip_or_fail(
            "TLS client auth needs libengine-pkcs11-openssl and libnss3-tools (.ci/run installs them)",
        );
    }
    let (tls_openssl, tls_nss, extra): (&str, &str, &[&str]) = if generation == "CPS3" {
        (
            "-tls1_2",
            "tls1.2:tls1.2",
            &["-client_sigalgs", "RSA+SHA256:RSA+SHA1"],
        )
    } else {
        ("-tls1_3", "tls1.3:tls1.3", &[])
    };
    let auth_der = dir.join(format!("{generation}-{AUT_ID}.crt.der"));
    let auth_pem = dir.join(format!("{generation}-auth.crt.pem"));
    let (ok, out) = openssl(&[
        "x509",
        "-inform",
        "DER",
        "-in",
        auth_der.to_str().unwrap(),
        "-out",
        auth_pem.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let request = b"GET / HTTP/1.0\r\n\r\n";
    let module = ours();

    // OpenSSL 3 s_client, the key in the card through the pkcs11 engine (libp11).
    let server = TlsServer::start(dir, tls_openssl, extra);
    let connect = format!("127.0.0.1:{}", server.port);
    let (ok, out) = run_with(
        "openssl",
        &[
            "s_client",
            "-connect",
            &connect,
            tls_openssl,
            "-engine",
            "pkcs11",
            "-keyform",
            "engine",
            "-key",
            "pkcs11:object=CPS_PRIV_AUT;type=private;pin-value=1234",
            "-cert",
            auth_pem.to_str().unwrap(),
            "-ign_eof",
        ],
        request,
        &[("PKCS11_MODULE_PATH", module.to_str().unwrap())],
    );
    drop(server);
    let protocol = if generation == "CPS3" {
        "TLSv1.2"
    } else {
        "TLSv1.3"
    };
    assert!(
        ok && out.contains("HTTP/1.0 200 ok") && out.contains(&format!("Protocol  : {protocol}")),
        "openssl s_client with the card: {out}"
    );
    assert!(
        out.contains("Client certificate") && out.contains("MARTIN"),
        "{out}"
    );
    report.push(format!(
        "{generation} OpenSSL 3 + pkcs11 engine: {protocol} client auth ok"
    ));

    // NSS: the module in a fresh database, the card's certificates listed, tstclnt.
    let sql = nss_db_with_module(&dir.join(format!("nssdb-{generation}")), "cps-rs", &module);
    let (ok, out) = run("certutil", &["-L", "-d", &sql, "-h", "all"]).unwrap();
    let nick = format!("{generation} dr-martin:Certificat d'Authentification CPS");
    assert!(
        ok && out.contains(&nick)
            && out.contains(&format!(
                "{generation} dr-martin:Certificat de Signature CPS"
            )),
        "certutil -L: {out}"
    );
    let pin = dir.join("nss-pin.txt");
    std::fs::write(&pin, "1234\n").unwrap();
    let (ok, out) = run(
        "certutil",
        &["-K", "-d", &sql, "-h", "all", "-f", pin.to_str().unwrap()],
    )
    .unwrap();
    assert!(
        ok && out.contains("CPS_PRIV_AUT") && out.contains("CPS_PRIV_SIG"),
        "certutil -K: {out}"
    );
    let server = TlsServer::start(dir, tls_openssl, extra);
    let port = server.port.to_string();
    // tstclnt reads its request from a file, as in a shell redirection (from a pipe closed
    // before the handshake it waits forever).
    let req = dir.join("request.txt");
    std::fs::write(&req, request).unwrap();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-d",
        &sql,
        "-n",
        &nick,
        "-w",
        "1234",
        "-V",
        tls_nss,
        "-o",
    ];
    let child = Process::new("tstclnt")
        .args(args)
        .stdin(std::fs::File::open(&req).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (ok, out) = wait(child, "tstclnt", &args);
    let server_log = std::fs::read_to_string(&server.log).unwrap_or_default();
    drop(server);
    assert!(
        ok && out.contains("HTTP/1.0 200 ok") && out.contains("Client certificate"),
        "tstclnt with the card: {out}\ns_server: {server_log}"
    );
    report.push(format!(
        "{generation} NSS modutil/certutil/tstclnt: {protocol} client auth ok"
    ));
}

/// The card pulled between login and signature: the signature fails with
/// `CKR_DEVICE_REMOVED` (no hang, no crash), the session is gone, and a card inserted again is
/// a fresh token (login needed again).
fn card_pulled(
    ctx: &PcscContext,
    handle: VpcdHandle<SimCard>,
    profile: Profile,
) -> (VpcdHandle<SimCard>, String) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::error::{Error, RvError};
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let p11 = Pkcs11::new(ours()).unwrap();
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p11.get_slots_with_token().unwrap()[0];
    let session = p11.open_ro_session(slot).unwrap();
    session
        .login(UserType::User, Some(&AuthPin::new("1234".into())))
        .unwrap();
    let key = session
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(hex::decode(SIG_ID).unwrap()),
        ])
        .unwrap();
    assert_eq!(p11.get_slot_event().unwrap(), None, "no slot event yet");
    remove(ctx, handle);
    // C_WaitForSlotEvent: the removal, once.
    assert_eq!(p11.get_slot_event().unwrap(), Some(slot));
    assert_eq!(p11.get_slot_event().unwrap(), None);
    let r = session.sign(&Mechanism::Sha256RsaPkcs, key[0], b"after the card left");
    assert!(
        matches!(
            r,
            Err(Error::Pkcs11(
                RvError::DeviceRemoved | RvError::SessionHandleInvalid,
                _
            ))
        ),
        "{r:?}"
    );
    let refused = format!("{:?}", r.err());
    assert!(p11.get_slots_with_token().unwrap().is_empty());
    drop(session);
    // A card again, while C_WaitForSlotEvent blocks: the insertion ends the wait. Then it
    // is a new token, not logged in.
    let handle = std::thread::scope(|s| {
        let t = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            insert(ctx, SimCard::new(profile, "dr-martin").unwrap())
        });
        assert_eq!(p11.wait_for_slot_event().unwrap(), slot);
        t.join().unwrap()
    });
    let slot = p11.get_slots_with_token().unwrap()[0];
    let session = p11.open_ro_session(slot).unwrap();
    let keys = session
        .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY)])
        .unwrap();
    assert!(keys.is_empty(), "not logged in on the new card");
    drop(session);
    p11.finalize().unwrap();
    (handle, refused)
}

/// Java (SunPKCS11): `keytool -list` sees both keys with their certificates, `jarsigner`
/// signs a JAR with the signature key (SHA256withRSA) and verifies it.
fn java(generation: &str, dir: &Path, report: &mut Vec<String>) {
    if run("jarsigner", &["-help"]).is_none() || run("jar", &["--version"]).is_none() {
        return skip_or_fail("Java needs openjdk-17-jdk-headless (.ci/run installs it)");
    }
    let cfg = dir.join("sunpkcs11.cfg");
    // slotListIndex 0: the first reader, where the card is.
    std::fs::write(
        &cfg,
        format!(
            "name = CPS\nlibrary = {}\nslotListIndex = 0\n",
            ours().display()
        ),
    )
    .unwrap();
    let p11 = [
        "-keystore",
        "NONE",
        "-storetype",
        "PKCS11",
        "-providerName",
        "SunPKCS11-CPS",
        "-addprovider",
        "SunPKCS11",
        "-providerArg",
        cfg.to_str().unwrap(),
        "-storepass",
        "1234",
    ];
    let mut args = vec!["-list"];
    args.extend_from_slice(&p11);
    let (ok, out) = run("keytool", &args).expect("keytool");
    assert!(
        ok && out.contains("Your keystore contains 2 entries")
            && out.contains("Certificat de Signature CPS, PrivateKeyEntry")
            && out.contains("Certificat d'Authentification CPS, PrivateKeyEntry"),
        "keytool -list: {out}"
    );
    let content = dir.join("jar-content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("fse.txt"), b"feuille de soins").unwrap();
    let jar = dir.join(format!("{generation}.jar"));
    let (ok, out) = run(
        "jar",
        &[
            "cf",
            jar.to_str().unwrap(),
            "-C",
            content.to_str().unwrap(),
            "fse.txt",
        ],
    )
    .unwrap();
    assert!(ok, "{out}");
    let mut args = p11.to_vec();
    args.extend_from_slice(&[
        "-sigalg",
        "SHA256withRSA",
        jar.to_str().unwrap(),
        "Certificat de Signature CPS",
    ]);
    let (ok, out) = run("jarsigner", &args).unwrap();
    assert!(ok && out.contains("jar signed"), "jarsigner: {out}");
    let (ok, out) = run(
        "jarsigner",
        &["-verify", "-certs", "-verbose", jar.to_str().unwrap()],
    )
    .unwrap();
    assert!(
        ok && out.contains("jar verified") && out.contains("CN=810001234567"),
        "jarsigner -verify: {out}"
    );
    report.push(format!(
        "{generation} Java SunPKCS11: keytool lists both keys, jarsigner signs, jar verified"
    ));
}

#[test]
fn consumers_on_the_simulated_cards() {
    let m = ours();
    if !m.exists() {
        return skip_or_fail(&format!("{} was not built", m.display()));
    }
    let ctx = match cps_testkit::vpcd_reader_ready() {
        Ok(c) => c,
        Err(why) => return skip_or_fail(&why),
    };
    if run("pkcs11-tool", &["--help"]).is_none() || run("openssl", &["version"]).is_none() {
        return skip_or_fail("pkcs11-tool (opensc) or openssl is not installed");
    }
    let official = official();
    if !official.exists() {
        return skip_or_fail(&format!("{} is missing", official.display()));
    }
    ctx.wait_for_removal(READER, Duration::from_secs(2))
        .unwrap();
    let dir = std::env::temp_dir().join(format!("cps-pkcs11-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut report = Vec::new();

    for (profile, generation, serial) in [
        (Profile::Cps3, "CPS3", "30112345"),
        (Profile::Cps4, "CPS4", "40112345"),
    ] {
        let handle = insert(&ctx, SimCard::new(profile, "dr-martin").unwrap());
        let mut c = Card {
            generation,
            handle: &handle,
            dir: &dir,
            report: Vec::new(),
        };
        // Token and slots: the second vpcd reader is an empty slot.
        let (ok, out, _) = c.ours("-L", &["-L"]);
        assert!(ok, "{out}");
        for needle in [
            format!("token label        : {generation} dr-martin"),
            "token model        : IAS ECC".to_owned(),
            format!("serial num         : {serial}"),
            "login required".to_owned(),
            "Virtual PCD 00 01".to_owned(),
            "(empty)".to_owned(),
        ] {
            assert!(out.contains(&needle), "{needle:?} not in:\n{out}");
        }
        let (ok, out, _) = c.ours("-M", &["-M"]);
        assert!(ok && out.contains("SHA256-RSA-PKCS"), "{out}");
        assert_eq!(out.contains("RSA-PKCS-PSS"), generation == "CPS4", "{out}");

        // pkcs11-tool's own test suite.
        let (ok, out, _) = c.ours("--test --login", &["--test", "--login", "--pin", "1234"]);
        assert!(ok && out.contains("No errors"), "{out}");

        // Every mechanism, verified with openssl.
        let mut mechs = vec!["RSA-PKCS", "SHA1-RSA-PKCS", "SHA256-RSA-PKCS"];
        if generation == "CPS4" {
            mechs.extend(["RSA-PKCS-PSS", "SHA256-RSA-PKCS-PSS"]);
        }
        for mech in &mechs {
            for id in [SIG_ID, AUT_ID] {
                c.sign_and_verify(mech, id);
            }
        }
        if generation == "CPS3" {
            let (ok, out, apdus) = c.ours(
                "PSS on a CPS3",
                &[
                    "--login",
                    "--pin",
                    "1234",
                    "--sign",
                    "-m",
                    "SHA256-RSA-PKCS-PSS",
                    "--id",
                    SIG_ID,
                    "-i",
                    "/dev/null",
                    "-o",
                    dir.join("x.sig").to_str().unwrap(),
                ],
            );
            assert!(!ok && out.contains("CKR_MECHANISM_INVALID"), "{out}");
            assert_eq!(c.handle.card().tries_left(0x01), Some(3), "{apdus} APDUs");
        }
        c.decrypt();
        c.wrong_pin();
        c.change_pin();

        // Side by side with the official module: same objects (kind, label, ID).
        clear_module_cache(&[serial]);
        let (ok, theirs) = p11(&official, &["-O", "--login", "--pin", "1234"]);
        assert!(ok, "{theirs}");
        let (ok, mine, _) = c.ours("-O --login", &["-O", "--login", "--pin", "1234"]);
        assert!(ok, "{mine}");
        let (theirs, mine) = (objects(&theirs), objects(&mine));
        assert!(theirs.len() >= 6 + 5, "{theirs:?}");
        // On a CPS3 both list the CPS2ter application's objects, which are not in the DODF
        // (`CPS_SIT_FACT` 3F00/7F01/4000, one `CPS2TER_ACTIVITY_nn_PS` 3F00/40xx per situation:
        // Cryptolib `pkcs15.c` `__sc_pkcs15_search_objects`); on a CPS4 the DODF's
        // `CPS2TER_*` entries.
        let cps2ter = |o: &(String, String, String)| {
            o.0 == "data" && (o.1 == "CPS_SIT_FACT" || o.1.starts_with("CPS2TER_ACTIVITY_"))
        };
        assert_eq!(
            theirs.iter().filter(|o| cps2ter(o)).count(),
            3,
            "{theirs:?}"
        );
        assert_eq!(mine, theirs, "objects differ from the official module's");
        // A data object's value through our module: the holder's name.
        let val = dir.join("name.bin");
        let (ok, out, _) = c.ours(
            "read CPS_NAME_PS",
            &[
                "--read-object",
                "--type",
                "data",
                "--label",
                "CPS_NAME_PS",
                "-o",
                val.to_str().unwrap(),
            ],
        );
        assert!(ok, "{out}");
        assert!(
            std::fs::read(&val)
                .unwrap()
                .windows(6)
                .any(|w| w == b"MARTIN")
        );
        // The billing situation through both modules, after login: the same bytes as the
        // card's file (on a CPS3 read through the CPS2ter application, class A0).
        let fact_file = {
            let card = c.handle.card();
            if generation == "CPS3" {
                card.cps2ter_file(&[0x3F00, 0x7F01, 0x4000])
            } else {
                card.file(&[0x3F00, 0x0001, 0xD114])
            }
            .unwrap()
            .to_vec()
        };
        let read_fact = [
            "--login",
            "--pin",
            "1234",
            "--read-object",
            "--type",
            "data",
            "--label",
            "CPS_SIT_FACT",
            "-o",
        ];
        let mine_fact = dir.join("fact-mine.bin");
        let (ok, out, _) = c.ours(
            "read CPS_SIT_FACT",
            &[&read_fact[..], &[mine_fact.to_str().unwrap()]].concat(),
        );
        assert!(ok, "{out}");
        let theirs_fact = dir.join("fact-theirs.bin");
        let (ok, out) = p11(
            &official,
            &[&read_fact[..], &[theirs_fact.to_str().unwrap()]].concat(),
        );
        assert!(ok, "{out}");
        assert_eq!(std::fs::read(&mine_fact).unwrap(), fact_file);
        assert_eq!(std::fs::read(&theirs_fact).unwrap(), fact_file);
        assert_eq!(c.handle.card().tries_left(0x01), Some(3));

        // APDUs and wall time of find + login + sign, both modules, each with its disk cache
        // empty ("cold": a card never seen) then filled by that run ("warm", the usual case).
        // Ours in a private cache directory.
        let cache_dir = dir.join(format!("p15-cache-{generation}"));
        let env = [("CPS_CACHE_DIR", cache_dir.as_path())];
        let (ok, out, ours_cold, ours_cold_time) = c.try_sign_round_trip(&m, &env);
        assert!(ok, "{out}");
        let cache_file = only_cache_file(&cache_dir);
        let (ok, out, ours_warm, ours_warm_time) = c.try_sign_round_trip(&m, &env);
        assert!(ok, "{out}");
        clear_module_cache(&[serial]);
        let (cold, cold_time) = c.sign_round_trip(&official);
        let (warm, warm_time) = c.sign_round_trip(&official);
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let line = format!(
            "{generation} find + login + sign SHA256-RSA-PKCS: ours {ours_cold} APDUs {:.0} ms (cold cache), {ours_warm} APDUs {:.0} ms (warm); official {cold} APDUs {:.0} ms (cold cache), {warm} APDUs {:.0} ms (warm)",
            ms(ours_cold_time),
            ms(ours_warm_time),
            ms(cold_time),
            ms(warm_time)
        );
        eprintln!("{line}");
        report.push(line);
        // At most half the official module's APDUs, cold against cold and warm against warm.
        assert!(
            2 * ours_cold <= cold,
            "ours {ours_cold} vs official {cold} (cold)"
        );
        assert!(
            2 * ours_warm <= warm,
            "ours {ours_warm} vs official {warm} (warm)"
        );

        // The cache file is untrusted: garbage is refused (and replaced), and a structure
        // that does not match the card (the signature key's reference changed) makes the
        // signature fail once, removes the file, and the next process reads the card again.
        let good = std::fs::read(&cache_file).unwrap();
        std::fs::write(&cache_file, b"CPSP15 not a snapshot").unwrap();
        let (ok, out, apdus, _) = c.try_sign_round_trip(&m, &env);
        assert!(ok, "{out}");
        assert_eq!(apdus, ours_cold, "garbage in the cache file was used");
        assert_eq!(std::fs::read(&cache_file).unwrap(), good);
        std::fs::write(&cache_file, wrong_signature_key(&good, &cache_file)).unwrap();
        let (ok, out, _, _) = c.try_sign_round_trip(&m, &env);
        assert!(
            !ok,
            "signed with a key reference the card does not have: {out}"
        );
        assert!(
            !cache_file.exists(),
            "the cache file that failed is still there"
        );
        assert_eq!(c.handle.card().tries_left(0x01), Some(3));
        let (ok, out, apdus, _) = c.try_sign_round_trip(&m, &env);
        assert!(ok, "{out}");
        assert_eq!(apdus, ours_cold);
        assert_eq!(std::fs::read(&cache_file).unwrap(), good);

        // Two processes at once on the same card.
        let args = |out: &str| {
            vec![
                "--module".to_owned(),
                m.to_str().unwrap().to_owned(),
                "--login".into(),
                "--pin".into(),
                "1234".into(),
                "--sign".into(),
                "-m".into(),
                "SHA256-RSA-PKCS".into(),
                "--id".into(),
                SIG_ID.into(),
                "-i".into(),
                dir.join("rt.txt").to_str().unwrap().to_owned(),
                "-o".into(),
                dir.join(out).to_str().unwrap().to_owned(),
            ]
        };
        let children: Vec<_> = ["p1.sig", "p2.sig"]
            .iter()
            .map(|o| {
                Process::new("pkcs11-tool")
                    .args(args(o))
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Each process logs out at its end, which resets the card (no verified PIN outlives
        // it); a process whose login is lost that way gets CKR_USER_NOT_LOGGED_IN (its
        // application logs in again) — never a crash, never a PIN sent twice.
        let mut signed = Vec::new();
        for (child, o) in children.into_iter().zip(["p1.sig", "p2.sig"]) {
            let (ok, out) = wait(child, "pkcs11-tool", &["(concurrent)"]);
            eprintln!(
                "--- [{generation} ours] concurrent process: ok={ok}\n{}",
                out.trim_end()
            );
            if ok {
                signed.push(std::fs::read(dir.join(o)).unwrap());
            } else {
                assert!(
                    out.contains("CKR_USER_NOT_LOGGED_IN"),
                    "two processes at once: {out}"
                );
            }
        }
        report.push(format!(
            "{generation} two processes signing at once: {} of 2 signed",
            signed.len()
        ));
        assert!(!signed.is_empty(), "neither process signed");
        let expected = std::fs::read(dir.join("rt.sig")).unwrap();
        assert!(
            signed.iter().all(|s| *s == expected),
            "PKCS#1 v1.5 is deterministic"
        );
        assert_eq!(handle.card().tries_left(0x01), Some(3));

        tls_client_auth(generation, &dir, &mut report);
        java(generation, &dir, &mut report);
        cryptoki_round(generation, &dir);
        report.append(&mut c.report);
        let (handle, refused) = card_pulled(&ctx, handle, profile);
        report.push(format!(
            "{generation} card pulled after login: the signature refused ({refused}), a fresh token after reinsertion"
        ));
        remove(&ctx, handle);
    }
    eprintln!(
        "\n=== cps-pkcs11 on the simulated cards\n{}",
        report.join("\n")
    );
}

/// The one card file of our module's directory cache.
fn only_cache_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].extension().is_some_and(|e| e == "p15"),
        "{files:?}"
    );
    files[0].clone()
}

/// A cache file like `good` whose PrKDF names the signature key by reference `83`, which
/// neither card has (theirs is `81`: `02 02 00 81` in the PrKDF, once).
fn wrong_signature_key(good: &[u8], file: &Path) -> Vec<u8> {
    use cps_iasecc::snapshot::{DirFile, DirectorySnapshot};
    let stem = file.file_stem().unwrap().to_str().unwrap();
    let serial: Vec<u8> = (0..stem.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&stem[i..i + 2], 16).unwrap())
        .collect();
    let generation = if good.get(8) == Some(&3) {
        cps_iasecc::Generation::Cps3
    } else {
        cps_iasecc::Generation::Cps4
    };
    let mut snapshot = DirectorySnapshot::decode(good, &serial, generation).unwrap();
    let mut prkdf = snapshot.get(DirFile::Prkdf).unwrap().to_vec();
    let at: Vec<usize> = prkdf
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0x02, 0x02, 0x00, 0x81])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "{prkdf:02X?}");
    prkdf[at[0] + 3] = 0x83;
    snapshot.insert(DirFile::Prkdf, prkdf);
    snapshot.encode(&serial, generation)
}
