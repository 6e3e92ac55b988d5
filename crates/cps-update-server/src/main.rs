//! `cps-update-server`: the reference remote-update authority (test keys, test PKI) serving
//! the JSON API of `docs/remote-update.md`, its state in a SQLite file.
//!
//! Usage: `cps-update-server [--listen 127.0.0.1:8700] [--db cps-update.sqlite]`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut listen = "127.0.0.1:8700".to_owned();
    let mut db = std::path::PathBuf::from("cps-update.sqlite");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--listen", Some(v)) => listen = v,
            ("--db", Some(v)) => db = v.into(),
            _ => {
                eprintln!("usage: cps-update-server [--listen ADDR:PORT] [--db FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let server = match cps_update_server::UpdateServer::open(&db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cps_update_server::serve(server, &listen) {
        Ok(handle) => {
            eprintln!(
                "cps-update-server: TEST issuer on {} (database {})",
                handle.url(),
                db.display()
            );
            handle.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
