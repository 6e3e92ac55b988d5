//! `cps-update-server`: the reference remote-update authority (test keys, test PKI) serving
//! the JSON API of `docs/remote-update.md`.
//!
//! Usage:
//! - `cps-update-server [--listen 127.0.0.1:8700] [--db cps-update.sqlite | --postgres
//!   "host=… port=… user=… dbname=…"] [--node NAME] [--pool N] [--admin-key-file FILE]
//!   [--pkcs11-module LIB --pkcs11-token LABEL --pkcs11-pin-file FILE [--pkcs11-key LABEL]]`
//!   [--tls-cert CHAIN.pem --tls-key KEY.pem]`
//!   (with `--pkcs11-*`, the master key is used through the token and never loaded; with
//!   `--tls-*`, HTTPS)
//! - `cps-update-server admin-token --admin-key-file FILE [--valid-secs N]`: prints a signed
//!   administration token.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use cps_update_server::{AdminKey, PgStore, SqliteStore, UpdateServer};

const USAGE: &str = "usage: cps-update-server [--listen ADDR:PORT] [--db FILE | --postgres PARAMS] \
[--node NAME] [--pool N] [--admin-key-file FILE] [--pkcs11-module LIB --pkcs11-token LABEL \
--pkcs11-pin-file FILE [--pkcs11-key LABEL] [--pkcs11-ca-key LABEL [--ca-cert FILE]]] \
[--tls-cert FILE --tls-key FILE]\n       cps-update-server admin-token \
--admin-key-file FILE [--valid-secs N]";

fn read_key(path: &str) -> Result<AdminKey, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?,
    );
    AdminKey::from_hex(&text).ok_or_else(|| format!("{path}: expected 64 hex digits"))
}

fn run() -> Result<(), (u8, String)> {
    let mut listen = "127.0.0.1:8700".to_owned();
    let mut db = std::path::PathBuf::from("cps-update.sqlite");
    let mut postgres: Option<String> = None;
    let mut node = "node-1".to_owned();
    let mut pool = 8usize;
    let mut key_file: Option<String> = None;
    let mut valid_secs: i64 = 3600;
    let mut p11_module: Option<String> = None;
    let mut p11_token = "cps-update".to_owned();
    let mut p11_pin_file: Option<String> = None;
    let mut p11_key = "cps-update-master".to_owned();
    let mut p11_ca_key: Option<String> = None;
    let mut ca_cert: Option<String> = None;
    let mut tls_cert: Option<String> = None;
    let mut tls_key: Option<String> = None;
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let token_mode = args.first().is_some_and(|a| a == "admin-token");
    if token_mode {
        args.remove(0);
    }
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let usage = || (2u8, USAGE.to_owned());
        let v = it.next().ok_or_else(usage)?;
        match a.as_str() {
            "--listen" => listen = v,
            "--db" => db = v.into(),
            "--postgres" => postgres = Some(v),
            "--node" => node = v,
            "--pool" => pool = v.parse().map_err(|_| usage())?,
            "--admin-key-file" => key_file = Some(v),
            "--valid-secs" => valid_secs = v.parse().map_err(|_| usage())?,
            "--pkcs11-module" => p11_module = Some(v),
            "--pkcs11-token" => p11_token = v,
            "--pkcs11-pin-file" => p11_pin_file = Some(v),
            "--pkcs11-key" => p11_key = v,
            "--pkcs11-ca-key" => p11_ca_key = Some(v),
            "--ca-cert" => ca_cert = Some(v),
            "--tls-cert" => tls_cert = Some(v),
            "--tls-key" => tls_key = Some(v),
            _ => return Err(usage()),
        }
    }
    if token_mode {
        let key = read_key(&key_file.ok_or((2, USAGE.to_owned()))?).map_err(|e| (1, e))?;
        let expiry = cps_x509::UnixTime::now().secs().saturating_add(valid_secs);
        println!("{}", key.token(expiry));
        return Ok(());
    }
    let store: Arc<dyn cps_update_server::CardStore> = match &postgres {
        Some(params) => {
            Arc::new(PgStore::connect(params, pool, &node).map_err(|e| (1, e.to_string()))?)
        }
        None => Arc::new(SqliteStore::open(&db, &node).map_err(|e| (1, e.to_string()))?),
    };
    let mut server = match p11_module {
        None => UpdateServer::with_store(store).map_err(|e| (1, e.to_string()))?,
        Some(module) => {
            let pin_file = p11_pin_file.ok_or((2, USAGE.to_owned()))?;
            let pin = zeroize::Zeroizing::new(
                std::fs::read_to_string(&pin_file)
                    .map_err(|e| (1, format!("cannot read {pin_file}: {e}")))?,
            );
            let ca = cps_update::issuer::InProcessKeys::test_ca([0; 16]).map_err(|e| (1, e.0))?;
            let mut keys = cps_update_server::pkcs11::Pkcs11Keys::open(
                std::path::Path::new(&module),
                &p11_token,
                pin.trim(),
                &p11_key,
                ca,
            )
            .map_err(|e| (1, e.to_string()))?;
            if let Some(label) = &p11_ca_key {
                // The CA certificate of the key in the token: a PEM file, or the test PKI's
                // persons CA (this server is a TEST issuer).
                let cert = match &ca_cert {
                    Some(path) => {
                        let pem = std::fs::read_to_string(path)
                            .map_err(|e| (1, format!("cannot read {path}: {e}")))?;
                        let der = cps_x509::pem::certificate_pem_to_der(&pem)
                            .map_err(|e| (1, format!("{path}: {e}")))?;
                        cps_x509::CpsCertificate::from_der(&der)
                            .map_err(|e| (1, format!("{path}: {e}")))?
                    }
                    None => cps_x509::test_pki::intermediate_certificate()
                        .map_err(|e| (1, e.to_string()))?,
                };
                keys = keys
                    .with_token_ca(label, cert)
                    .map_err(|e| (1, e.to_string()))?;
            }
            UpdateServer::with_store_and_keys(store, Box::new(keys))
        }
    };
    if let Some(f) = key_file {
        server = server.with_admin_key(read_key(&f).map_err(|e| (1, e))?);
    }
    match (tls_cert, tls_key) {
        (None, None) => {}
        (Some(c), Some(k)) => {
            server = server
                .with_tls_files(std::path::Path::new(&c), std::path::Path::new(&k))
                .map_err(|e| (1, e.to_string()))?;
        }
        _ => return Err((2, USAGE.to_owned())),
    }
    let engine = server.engine();
    let handle =
        cps_update_server::serve_until_signal(server, &listen).map_err(|e| (1, e.to_string()))?;
    eprintln!(
        "cps-update-server: TEST issuer {node} on {} ({engine})",
        handle.url()
    );
    handle.wait();
    eprintln!("cps-update-server: stopped");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(code)
        }
    }
}
