//! HTTPS on the update server (rustls): a client trusting the server's certificate gets
//! answers, including the administration API with a token; a plain-HTTP request to the TLS
//! port gets no HTTP answer; a client that opens a connection and never starts the handshake
//! is cut by the header timer. The certificate is made with the openssl command (SKIPPED
//! without it, failed under CI=true).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cps_update_server::{AdminKey, Limits, UpdateServer, serve};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

fn https_get(
    addr: std::net::SocketAddr,
    ca: &CertificateDer<'static>,
    path: &str,
    token: Option<&str>,
) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let auth = token
        .map(|t| format!("Authorization: {t}\r\n"))
        .unwrap_or_default();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn https_serves_the_api_and_refuses_plain_http() {
    let dir = std::env::temp_dir().join(format!("cps-upd-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args(["-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "keyUsage=digitalSignature"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        other => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "openssl could not make a certificate under CI=true: {other:?}"
            );
            println!("SKIPPED tls: no openssl command");
            return;
        }
    }
    let (store, _) = common::fresh_store(&common::Engine::Sqlite, "node-tls");
    let server = UpdateServer::with_store(store)
        .unwrap()
        .with_admin_key(AdminKey::new(common::ADMIN_KEY))
        .with_limits(Limits {
            header_timeout: Duration::from_secs(2),
            ..Limits::default()
        })
        .with_tls_files(&cert, &key)
        .unwrap();
    let h = serve(server, "127.0.0.1:0").unwrap();
    assert!(h.url().starts_with("https://"));
    let ca = CertificateDer::from_pem_file(&cert).unwrap();

    let r = https_get(h.addr(), &ca, "/v1/health", None);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("\"engine\":\"sqlite\""), "{r}");
    let r = https_get(h.addr(), &ca, "/v1/cards", None);
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = https_get(h.addr(), &ca, "/v1/cards", Some(&common::bearer()));
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    // Plain HTTP to the TLS port: no HTTP answer.
    let mut plain = TcpStream::connect(h.addr()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = Vec::new();
    let _ = plain.read_to_end(&mut out);
    assert!(
        !out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );

    // A connection that never starts the handshake is cut by the header timer.
    let mut idle = TcpStream::connect(h.addr()).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let n = idle.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    h.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
