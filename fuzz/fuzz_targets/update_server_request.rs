//! The update server's request handling (routing, token check, JSON parsing, validation,
//! sessions, SQLite store) fed arbitrary requests: never panics, always answers a status in
//! 200..600 with an empty or JSON body, and never changes a card record without a valid token.
//!
//! Input: first byte = method (bits 0-1: GET, PUT, POST, DELETE) and token (bit 2: a valid
//! administration token, else the bytes after the path as a token); then the path up to the
//! first `\n`; then the body.
#![no_main]
use std::sync::{Arc, OnceLock};

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_update::issuer::{DAM_PATH, test_record};
use cps_update_server::{AdminKey, SqliteStore, UpdateServer};
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [0x42; 32];

fn server() -> &'static (UpdateServer, Vec<u8>) {
    static S: OnceLock<(UpdateServer, Vec<u8>)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("cps-fuzz-server-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let store = SqliteStore::open(&dir.join("db.sqlite"), "fuzz").expect("store");
        let server = UpdateServer::with_store(Arc::new(store))
            .expect("server")
            .with_admin_key(AdminKey::new(KEY));
        let card = SimCard::new(Profile::Cps4, "dr-martin").expect("card");
        let situations =
            PracticeSituation::parse_all(card.file(&DAM_PATH).expect("dam")).expect("dam");
        let record = test_record(
            cps_iasecc::Generation::Cps4,
            "dr-martin",
            card.serial(),
            situations,
        )
        .expect("record");
        server.register(&record).expect("register");
        (server, card.serial())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let method = ["GET", "PUT", "POST", "DELETE"][usize::from(head & 3)];
    let (path, body) = match rest.iter().position(|&b| b == b'\n') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let path = String::from_utf8_lossy(path);
    let valid = AdminKey::new(KEY).token(i64::MAX / 2);
    let raw = String::from_utf8_lossy(body).into_owned();
    let token = if head & 4 != 0 { valid.as_str() } else { raw.as_str() };
    let (s, serial) = server();
    let before = s.record(serial).expect("record").map(|r| format!("{r:?}"));
    let (status, text) = s.handle(method, &path, body, Some(token));
    assert!((200..600).contains(&status), "{status}");
    assert!(
        text.is_empty() || serde_json::from_str::<serde_json::Value>(&text).is_ok(),
        "{text}"
    );
    if head & 4 == 0 && status != 200 {
        let after = s.record(serial).expect("record").map(|r| format!("{r:?}"));
        if !path.starts_with("/v1/sessions") {
            assert_eq!(before, after, "a refused request changed the record");
        }
    }
});
