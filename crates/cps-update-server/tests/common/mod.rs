//! Shared by the update-server tests: the two storage engines, a server with an
//! administration key, card registration through the JSON API.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    dead_code,
    missing_docs,
    reason = "tests"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_update::issuer::{DAM_PATH, test_record};
use cps_update_server::{
    AdminKey, CardJson, CardStore, Limits, PgStore, ServerHandle, SqliteStore, UpdateServer, serve,
};

pub const ADMIN_KEY: [u8; 32] = [0x42; 32];

/// `Authorization` header value of a valid token.
pub fn bearer() -> String {
    format!(
        "Bearer {}",
        AdminKey::new(ADMIN_KEY).token(cps_x509::UnixTime::now().secs() + 3600)
    )
}

/// A storage engine to test against.
#[derive(Debug, Clone)]
pub enum Engine {
    Sqlite,
    Postgres(String),
}

static N: AtomicU32 = AtomicU32::new(0);

/// The PostgreSQL server of `scripts/with-postgres.sh`: `None` (and SKIPPED printed) when
/// absent, a failure under CI=true.
pub fn postgres(test: &str) -> Option<String> {
    match std::env::var("CPS_TEST_POSTGRES") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: CPS_TEST_POSTGRES is not set under CI=true (run under scripts/with-postgres.sh)"
            );
            println!(
                "SKIPPED {test} on PostgreSQL: CPS_TEST_POSTGRES not set (scripts/with-postgres.sh)"
            );
            None
        }
    }
}

/// The engines of a test: SQLite always, PostgreSQL when available.
pub fn engines(test: &str) -> Vec<Engine> {
    let mut v = vec![Engine::Sqlite];
    if let Some(p) = postgres(test) {
        v.push(Engine::Postgres(p));
    }
    v
}

/// A fresh database on the PostgreSQL server: its connection parameters.
pub fn fresh_pg_database(base: &str) -> String {
    let name = format!(
        "cps_test_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        cps_x509::UnixTime::now().secs()
    );
    let mut c = postgres::Client::connect(base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    base.split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .chain(std::iter::once(format!("dbname={name}").as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A store on a fresh database (or SQLite file).
pub fn fresh_store(engine: &Engine, node: &str) -> (Arc<dyn CardStore>, String) {
    match engine {
        Engine::Sqlite => {
            let dir = std::env::temp_dir().join(format!(
                "cps-upd-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("db.sqlite");
            let s = SqliteStore::open(&path, node).unwrap();
            (Arc::new(s), path.display().to_string())
        }
        Engine::Postgres(base) => {
            let params = fresh_pg_database(base);
            (
                Arc::new(PgStore::connect(&params, 8, node).unwrap()),
                params,
            )
        }
    }
}

/// A second store on the same database.
pub fn same_store(engine: &Engine, location: &str, node: &str) -> Arc<dyn CardStore> {
    match engine {
        Engine::Sqlite => {
            Arc::new(SqliteStore::open(std::path::Path::new(location), node).unwrap())
        }
        Engine::Postgres(_) => Arc::new(PgStore::connect(location, 8, node).unwrap()),
    }
}

/// A server with the administration key on `store`.
pub fn start(store: Arc<dyn CardStore>, limits: Limits) -> ServerHandle {
    let server = UpdateServer::with_store(store)
        .unwrap()
        .with_admin_key(AdminKey::new(ADMIN_KEY))
        .with_limits(limits);
    serve(server, "127.0.0.1:0").unwrap()
}

/// Registers a simulated card through the API; the card.
pub fn register(url: &str, profile: Profile, persona: &str) -> SimCard {
    let card = SimCard::new(profile, persona).unwrap();
    let situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    let record = test_record(profile, persona, card.serial(), situations).unwrap();
    let r = minreq::put(format!(
        "{url}/v1/cards/{}",
        hex::encode_upper(card.serial())
    ))
    .with_header("Authorization", bearer())
    .with_json(&CardJson::from(&record))
    .unwrap()
    .send()
    .unwrap();
    assert_eq!(r.status_code, 204, "{}", r.as_str().unwrap_or(""));
    card
}

/// Schedules a data update (city changed) and a renewal through the API.
pub fn schedule_full_update(url: &str, card: &SimCard, city: &str) {
    let serial = hex::encode_upper(card.serial());
    let mut situations: Vec<cps_update_server::SituationJson> =
        PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap())
            .unwrap()
            .iter()
            .map(cps_update_server::SituationJson::from)
            .collect();
    situations[0].city = Some(city.into());
    let r = minreq::put(format!("{url}/v1/cards/{serial}/situations"))
        .with_header("Authorization", bearer())
        .with_json(&situations)
        .unwrap()
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204, "{}", r.as_str().unwrap_or(""));
    let r = minreq::post(format!("{url}/v1/cards/{serial}/renewal"))
        .with_header("Authorization", bearer())
        .with_body("{\"not_before\": 1861920000}")
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204, "{}", r.as_str().unwrap_or(""));
}

/// A request with a raw body and an optional token: (status, JSON).
pub fn call(
    url: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (i32, serde_json::Value) {
    let full = format!("{url}{path}");
    let mut req = match method {
        "GET" => minreq::get(full),
        "PUT" => minreq::put(full),
        _ => minreq::post(full),
    }
    .with_timeout(30)
    .with_body(body);
    if let Some(t) = token {
        req = req.with_header("Authorization", t);
    }
    let r = req.send().unwrap();
    let v = if r.as_bytes().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(r.as_bytes()).unwrap_or(serde_json::Value::Null)
    };
    (r.status_code, v)
}
