//! The update server's behaviour, run on both storage engines (SQLite always; PostgreSQL
//! under `scripts/with-postgres.sh`, SKIPPED without it except under CI=true): a full update
//! through the JSON API with its audit log, the API's errors, authenticated administration,
//! validation of every input, sessions a third party can neither guess nor end, abandoned
//! sessions freed, the row lock and the append-only audit log.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

mod common;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::{Engine, bearer, call, engines, fresh_store, register, schedule_full_update, start};
use cps_iasecc::PracticeSituation;
use cps_sim::Profile;
use cps_transport::InProcessChannel;
use cps_update::http::HttpService;
use cps_update::issuer::DAM_PATH;
use cps_update::relay::{Outcome, Reply, ServiceError, UpdateService, update};
use cps_update_server::{AuditEntry, Change, Limits, UpdateServer, serve};

static NO: AtomicBool = AtomicBool::new(false);

#[test]
fn a_full_update_through_the_api_is_audited() {
    for engine in engines("a_full_update_through_the_api_is_audited") {
        let (store, _) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let card = register(&url, Profile::Cps4, "dr-martin");
        let serial = hex::encode_upper(card.serial());
        schedule_full_update(&url, &card, "LILLE");
        let mut ch = InProcessChannel::new(card);
        let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
        assert_eq!(
            outcome,
            Outcome::Updated {
                sequence: 1,
                steps: 5
            },
            "{engine:?}"
        );
        let card = ch.into_card();
        let dam = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
        assert_eq!(dam[0].city.as_deref(), Some("LILLE"));
        let (s, audit) = call(
            &url,
            "GET",
            &format!("/v1/cards/{serial}/audit"),
            "",
            Some(&bearer()),
        );
        assert_eq!(s, 200);
        let audit: Vec<AuditEntry> = serde_json::from_value(audit).unwrap();
        let events: Vec<&str> = audit.iter().map(|a| a.event.as_str()).collect();
        assert_eq!(
            events,
            ["registered", "situations", "renewal", "bound", "committed"],
            "{engine:?}"
        );
        assert!(audit.windows(2).all(|w| w[0].id < w[1].id));
        assert!(
            audit
                .iter()
                .all(|a| a.node == "node-1" && a.serial == serial)
        );
        // Up to date afterwards.
        let mut ch = InProcessChannel::new(card);
        let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
        assert_eq!(outcome, Outcome::UpToDate { sequence: 1 });
        h.stop();
    }
}

#[test]
fn api_errors_are_json_with_a_reason() {
    for engine in engines("api_errors_are_json_with_a_reason") {
        let (store, _) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let t = bearer();
        for (method, path, body, token, status) in [
            ("GET", "/v1/nothing", "", None, 404),
            ("POST", "/v1/sessions", "not json", None, 400),
            ("POST", "/v1/sessions", "{\"hello\": \"zz\"}", None, 400),
            (
                "POST",
                "/v1/sessions",
                "{\"hello\": \"0130020102000000000\"}",
                None,
                400,
            ),
            (
                "POST",
                "/v1/sessions",
                "{\"hello\": \"013002010200000000\"}",
                None,
                400,
            ),
            (
                "POST",
                "/v1/sessions",
                "{\"hello\": \"01300201020000000000\"}",
                None,
                409,
            ),
            (
                "POST",
                "/v1/sessions/77",
                "{\"response\": \"9000\"}",
                None,
                404,
            ),
            (
                "POST",
                "/v1/sessions/-1",
                "{\"response\": \"9000\"}",
                None,
                404,
            ),
            (
                "POST",
                "/v1/sessions/99999999999999999999999",
                "{}",
                None,
                404,
            ),
            ("GET", "/v1/cards/ABCD", "", Some(t.as_str()), 404),
            ("GET", "/v1/cards/not-hex", "", Some(t.as_str()), 404),
            (
                "PUT",
                "/v1/cards/ABCD/situations",
                "[]",
                Some(t.as_str()),
                409,
            ),
            ("POST", "/v1/cards/ABCD/renewal", "", Some(t.as_str()), 404),
        ] {
            let (s, e) = call(&url, method, path, body, token);
            assert_eq!(s, status, "{engine:?} {method} {path}: {e}");
            assert!(
                e["error"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path}"
            );
        }
        h.stop();
    }
}

#[test]
fn administration_needs_a_valid_token_and_holder_data_stays_private() {
    for engine in engines("administration_needs_a_valid_token") {
        let (store, location) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let card = register(&url, Profile::Cps3, "dr-martin");
        let serial = hex::encode_upper(card.serial());
        let key = cps_update_server::AdminKey::new(common::ADMIN_KEY);
        let now = cps_x509::UnixTime::now().secs();
        let expired = format!("Bearer {}", key.token(now - 1));
        let other = format!(
            "Bearer {}",
            cps_update_server::AdminKey::new([1; 32]).token(now + 600)
        );
        let forged = bearer().replacen("Bearer v1.", "Bearer v1.9", 1);
        let record = call(
            &url,
            "GET",
            &format!("/v1/cards/{serial}"),
            "",
            Some(&bearer()),
        );
        assert_eq!(record.0, 200);
        let family = record.1["subject"]["family_name"]
            .as_str()
            .unwrap()
            .to_owned();
        let record_text = record.1.to_string();
        for (method, path, body) in [
            ("GET", "/v1/cards".to_owned(), String::new()),
            ("GET", format!("/v1/cards/{serial}"), String::new()),
            ("GET", format!("/v1/cards/{serial}/audit"), String::new()),
            ("PUT", format!("/v1/cards/{serial}"), record_text.clone()),
            ("PUT", format!("/v1/cards/{serial}/situations"), "[]".into()),
            ("POST", format!("/v1/cards/{serial}/renewal"), String::new()),
        ] {
            for token in [
                None,
                Some("Bearer"),
                Some(expired.as_str()),
                Some(other.as_str()),
                Some(forged.as_str()),
                Some("Basic YWRtaW46YWRtaW4="),
            ] {
                let (s, e) = call(&url, method, &path, &body, token);
                assert_eq!(s, 401, "{engine:?} {method} {path} {token:?}: {e}");
                assert!(!e.to_string().contains(&family), "holder data leaked");
                assert!(!e.to_string().contains(&serial) || path.contains(&serial));
            }
        }
        // Nothing changed: no pending update was scheduled by the refused calls.
        let (_, after) = call(
            &url,
            "GET",
            &format!("/v1/cards/{serial}"),
            "",
            Some(&bearer()),
        );
        assert!(after["pending"].is_null());
        h.stop();
        // A server without an administration key refuses administration altogether.
        let store = common::same_store(&engine, &location, "node-1");
        let h = serve(UpdateServer::with_store(store).unwrap(), "127.0.0.1:0").unwrap();
        let (s, e) = call(
            &h.url(),
            "GET",
            &format!("/v1/cards/{serial}"),
            "",
            Some(&bearer()),
        );
        assert_eq!(s, 403, "{e}");
        h.stop();
    }
}

#[test]
fn unusable_renewal_dates_are_refused_and_the_card_still_updates() {
    for engine in engines("unusable_renewal_dates") {
        let (store, _) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let card = register(&url, Profile::Cps4, "infirmiere-bernard");
        let serial = hex::encode_upper(card.serial());
        let path = format!("/v1/cards/{serial}/renewal");
        for body in [
            "{\"not_before\": -1}",
            "{\"not_before\": 0}",
            "{\"not_before\": 9223372036854775807}",
            "{\"not_before\": -9223372036854775808}",
            "{\"not_before\": 253402300800}",
            "{\"not_before\": 4102444800}",
            "{\"not_before\": 1e30}",
            "{\"not_before\": \"2029-01-01\"}",
            "{\"not_before\": 18619200000000000000000}",
            "not json",
        ] {
            let (s, e) = call(&url, "POST", &path, body, Some(&bearer()));
            assert_eq!(s, 400, "{engine:?} {body}: {e}");
            assert!(e["error"].as_str().is_some());
        }
        let (_, rec) = call(
            &url,
            "GET",
            &format!("/v1/cards/{serial}"),
            "",
            Some(&bearer()),
        );
        assert!(rec["pending"].is_null(), "a refused renewal left {rec}");
        // The card still takes situations and a sound renewal, and updates.
        schedule_full_update(&url, &card, "NANTES");
        let mut ch = InProcessChannel::new(card);
        let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
        assert!(matches!(outcome, Outcome::Updated { sequence: 1, .. }));
        h.stop();
    }
}

#[test]
fn every_input_is_bounded_and_checked() {
    for engine in engines("every_input_is_bounded_and_checked") {
        let (store, _) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let card = register(&url, Profile::Cps4, "dr-martin");
        let serial = hex::encode_upper(card.serial());
        let (_, rec) = call(
            &url,
            "GET",
            &format!("/v1/cards/{serial}"),
            "",
            Some(&bearer()),
        );
        let put = |v: &serde_json::Value| {
            call(
                &url,
                "PUT",
                &format!("/v1/cards/{serial}"),
                &v.to_string(),
                Some(&bearer()),
            )
        };
        let mut bad = Vec::new();
        let mut v = rec.clone();
        v["subject"]["family_name"] = "X".repeat(65).into();
        bad.push(v);
        let mut v = rec.clone();
        v["subject"]["family_name"] = "".into();
        bad.push(v);
        let mut v = rec.clone();
        v["subject"]["given_name"] = "A\u{0}B".into();
        bad.push(v);
        let mut v = rec.clone();
        v["subject"]["country"] = "FRANCE".into();
        bad.push(v);
        let mut v = rec.clone();
        v["serial"] = "AB".repeat(40).into();
        bad.push(v);
        let mut v = rec.clone();
        v["dam_path"] = serde_json::json!([]);
        bad.push(v);
        let mut v = rec.clone();
        v["dam_path"] = serde_json::json!([1, 2, 3, 4, 5, 6, 7, 8, 9]);
        bad.push(v);
        let mut v = rec.clone();
        v["renewable"][1]["key_ref"] = v["renewable"][0]["key_ref"].clone();
        bad.push(v);
        let mut v = rec.clone();
        v["renewable"][0]["usage"] = "everything".into();
        bad.push(v);
        let mut v = rec.clone();
        v["situations"] = serde_json::Value::Array(vec![rec["situations"][0].clone(); 17]);
        bad.push(v);
        let mut v = rec.clone();
        v["situations"][0]["city"] = "V".repeat(200).into();
        bad.push(v);
        let mut v = rec.clone();
        v["sequence"] = (-1).into();
        bad.push(v);
        let mut v = rec.clone();
        v["serial"] = "ABCD".into();
        bad.push(v);
        for v in &bad {
            let (s, e) = put(v);
            assert_eq!(s, 400, "{engine:?}: {e}");
            assert!(e["error"].as_str().is_some());
        }
        let (s, _) = put(&rec);
        assert_eq!(s, 204);
        // Bodies beyond 64 KiB: 413 without reading them.
        let big = format!("{{\"hello\": \"{}\"}}", "00".repeat(40_000));
        let (s, e) = call(&url, "POST", "/v1/sessions", &big, None);
        assert_eq!(s, 413, "{e}");
        h.stop();
    }
}

/// An update service that, before each answer of the honest relay, has a third party post
/// forged answers to the same session.
struct Meddler {
    inner: HttpService,
    url: String,
    ids: Vec<u64>,
    refused: usize,
    answers: usize,
}

impl UpdateService for Meddler {
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError> {
        let r = self.inner.open(hello)?;
        if let Reply::Send { session, .. } = &r {
            self.ids.push(*session);
        }
        Ok(r)
    }

    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError> {
        let mut flipped = response.to_vec();
        if let Some(b) = flipped.first_mut() {
            *b ^= 1;
        }
        self.answers += 1;
        // The answer to EXTERNAL AUTHENTICATE is a plain `9000` in SCP03 (no R-MAC): a party
        // that knows the session identifier could forge that one answer and only disturb the
        // session (denial of service, which the relay's position gives anyway); a forger off
        // the relay's path cannot know the 64-bit random identifier.
        let plain_ok = self.answers == 2;
        for forged in [
            if plain_ok {
                "6A88".to_owned()
            } else {
                "9000".to_owned()
            },
            "6982".to_owned(),
            hex::encode_upper(&flipped),
            format!("{}9000", "00".repeat(24)),
        ] {
            let (s, e) = call(
                &self.url,
                "POST",
                &format!("/v1/sessions/{session}"),
                &format!("{{\"response\": \"{forged}\"}}"),
                None,
            );
            assert_eq!(s, 409, "a forged answer was accepted: {e}");
            self.refused += 1;
        }
        self.inner.next(session, response)
    }
}

#[test]
fn a_third_party_can_neither_guess_nor_end_a_session() {
    for engine in engines("a_third_party_can_neither_guess_nor_end_a_session") {
        let (store, _) = fresh_store(&engine, "node-1");
        let h = start(store, Limits::default());
        let url = h.url();
        let card = register(&url, Profile::Cps4, "dr-martin");
        schedule_full_update(&url, &card, "DIJON");
        let mut meddler = Meddler {
            inner: HttpService::new(&url),
            url: url.clone(),
            ids: Vec::new(),
            refused: 0,
            answers: 0,
        };
        let mut ch = InProcessChannel::new(card);
        let outcome = update(&mut ch, &mut meddler, &mut |_| {}, &NO).unwrap();
        assert!(matches!(
            outcome,
            Outcome::Updated {
                sequence: 1,
                steps: 5
            }
        ));
        // 19 answers on a T=1 card; the CPS4 is T=0, so its case-4 commands add GET
        // RESPONSE exchanges, each relayed and forged like the others.
        assert!(meddler.answers >= 19, "{} answers", meddler.answers);
        assert_eq!(
            meddler.refused,
            4 * meddler.answers,
            "every answer of the update forged 4 times"
        );
        // Identifiers are random 64-bit numbers, not a counter.
        let mut ids = meddler.ids.clone();
        // New sessions on a second card with a pending update.
        let other = register(&url, Profile::Cps3, "dr-martin");
        schedule_full_update(&url, &other, "METZ");
        let hello = cps_update::script::Hello {
            kvn: 0x30,
            serial: other.serial(),
            sequence: 0,
            staged: None,
        };
        for _ in 0..20 {
            let (s, r) = call(
                &url,
                "POST",
                "/v1/sessions",
                &format!("{{\"hello\": \"{}\"}}", hex::encode_upper(hello.encode())),
                None,
            );
            assert_eq!(s, 200, "{r}");
            ids.push(r["send"]["session"].as_u64().unwrap());
        }
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "a session id came twice");
        assert!(
            ids.windows(2).all(|w| w[0].abs_diff(w[1]) > 1 << 20),
            "session ids look sequential: {ids:?}"
        );
        h.stop();
    }
}

#[test]
fn abandoned_sessions_are_freed_and_bounded() {
    for engine in engines("abandoned_sessions_are_freed_and_bounded") {
        let (store, _) = fresh_store(&engine, "node-1");
        let limits = Limits {
            session_idle: Duration::from_secs(1),
            max_sessions: 50,
            ..Limits::default()
        };
        let h = start(store, limits);
        let url = h.url();
        let card = register(&url, Profile::Cps4, "dr-martin");
        schedule_full_update(&url, &card, "REIMS");
        let hello = cps_update::script::Hello {
            kvn: 0x30,
            serial: card.serial(),
            sequence: 0,
            staged: None,
        };
        let body = format!("{{\"hello\": \"{}\"}}", hex::encode_upper(hello.encode()));
        for i in 0..50 {
            let (s, r) = call(&url, "POST", "/v1/sessions", &body, None);
            assert_eq!(s, 200, "session {i}: {r}");
        }
        let (s, r) = call(&url, "POST", "/v1/sessions", &body, None);
        assert_eq!(s, 503, "{r}");
        let (_, health) = call(&url, "GET", "/v1/health", "", None);
        assert_eq!(health["sessions"], 50);
        let t = Instant::now();
        loop {
            std::thread::sleep(Duration::from_millis(250));
            let (_, health) = call(&url, "GET", "/v1/health", "", None);
            if health["sessions"] == 0 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "sessions not freed: {health}"
            );
        }
        // The card still updates.
        let mut ch = InProcessChannel::new(card);
        let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
        assert!(matches!(outcome, Outcome::Updated { sequence: 1, .. }));
        h.stop();
    }
}

#[test]
fn the_row_lock_serialises_two_nodes_on_one_card() {
    for engine in engines("the_row_lock_serialises_two_nodes_on_one_card") {
        let (a, location) = fresh_store(&engine, "node-1");
        let b = common::same_store(&engine, &location, "node-2");
        a.with_card("0102", &mut |_| {
            Ok(Change {
                record: Some("0".into()),
                event: None,
            })
        })
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            a.with_card("0102", &mut |cur| {
                assert_eq!(cur, Some("0"));
                tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(600));
                Ok(Change {
                    record: Some("1".into()),
                    event: Some(("test".into(), "first".into())),
                })
            })
            .unwrap();
        });
        rx.recv().unwrap();
        let t = Instant::now();
        let mut seen = None;
        b.with_card("0102", &mut |cur| {
            seen = cur.map(str::to_owned);
            Ok(Change {
                record: Some("2".into()),
                event: Some(("test".into(), "second".into())),
            })
        })
        .unwrap();
        let waited = t.elapsed();
        holder.join().unwrap();
        assert_eq!(
            seen.as_deref(),
            Some("1"),
            "{engine:?}: the second node read before the first committed"
        );
        assert!(
            waited >= Duration::from_millis(400),
            "{engine:?}: waited {waited:?}"
        );
        let log = b.audit("0102", 10).unwrap();
        let nodes: Vec<(&str, &str)> = log
            .iter()
            .map(|e| (e.detail.as_str(), e.node.as_str()))
            .collect();
        assert_eq!(nodes, [("first", "node-1"), ("second", "node-2")]);
    }
}

#[test]
fn the_audit_log_is_append_only() {
    for engine in engines("the_audit_log_is_append_only") {
        let (a, location) = fresh_store(&engine, "node-1");
        a.with_card("0A", &mut |_| {
            Ok(Change {
                record: Some("{}".into()),
                event: Some(("test".into(), "kept".into())),
            })
        })
        .unwrap();
        match &engine {
            Engine::Sqlite => {
                let c = rusqlite::Connection::open(&location).unwrap();
                assert!(
                    c.execute("UPDATE audit SET detail = 'changed'", [])
                        .is_err()
                );
                assert!(c.execute("DELETE FROM audit", []).is_err());
            }
            Engine::Postgres(_) => {
                let mut c = postgres::Client::connect(&location, postgres::NoTls).unwrap();
                assert!(
                    c.execute("UPDATE audit SET detail = 'changed'", &[])
                        .is_err()
                );
                assert!(c.execute("DELETE FROM audit", &[]).is_err());
                assert!(c.execute("TRUNCATE audit", &[]).is_err());
            }
        }
        let log = a.audit("0A", 10).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].detail, "kept");
    }
}
