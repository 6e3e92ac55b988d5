//! The update service over HTTP with SQLite: a card registered and given a pending update
//! (new practice situation + certificate renewal) through the JSON API, an update cut by a
//! power loss half-way, the server restarted on the same database, and the update resumed
//! and committed; the API's error answers.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "tests"
)]

use std::sync::atomic::AtomicBool;

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_transport::{CardChannel, InProcessChannel, TransportError, VirtualCard};
use cps_update::http::HttpService;
use cps_update::issuer::{DAM_PATH, test_record};
use cps_update::relay::{Outcome, UpdateError, update};
use cps_update_server::{AdminKey, CardJson, SituationJson, UpdateServer, serve};

mod common;

fn server(db: &std::path::Path) -> UpdateServer {
    UpdateServer::open(db)
        .unwrap()
        .with_admin_key(AdminKey::new(common::ADMIN_KEY))
}

static NO: AtomicBool = AtomicBool::new(false);

struct Cut {
    inner: InProcessChannel<SimCard>,
    at: usize,
    n: usize,
}

impl CardChannel for Cut {
    fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.n += 1;
        if self.n >= self.at {
            self.inner.card_mut().power_off();
            return Err(TransportError::CardRemoved);
        }
        self.inner.transmit(c)
    }
    fn atr(&self) -> &[u8] {
        self.inner.atr()
    }
    fn reset(&mut self) -> Result<(), TransportError> {
        self.inner.reset()
    }
    fn transaction(&mut self) -> Result<Box<dyn CardChannel + '_>, TransportError> {
        Ok(Box::new(self))
    }
}

#[test]
fn restart_in_the_middle_of_an_update_loses_nothing() {
    let dir = std::env::temp_dir().join(format!("cps-update-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("issuer.sqlite");

    let card = SimCard::new(Profile::Cps4, "infirmiere-bernard").unwrap();
    let serial = card.serial();
    let serial_hex = hex::encode_upper(&serial);
    let situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    let keys_before: Vec<Vec<u8>> = [0x20, 0x81]
        .iter()
        .map(|r| card.public_key(*r).unwrap())
        .collect();

    // Register the card and schedule the update through the JSON API.
    let handle = serve(server(&db), "127.0.0.1:0").unwrap();
    let url = handle.url();
    let record = test_record(
        cps_iasecc::Generation::Cps4,
        "infirmiere-bernard",
        serial.clone(),
        situations.clone(),
    )
    .unwrap();
    let r = minreq::put(format!("{url}/v1/cards/{serial_hex}"))
        .with_header("Authorization", common::bearer())
        .with_json(&CardJson::from(&record))
        .unwrap()
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204, "{}", r.as_str().unwrap_or(""));
    let mut moved: Vec<SituationJson> = situations.iter().map(SituationJson::from).collect();
    moved[0].city = Some("MARSEILLE".into());
    let r = minreq::put(format!("{url}/v1/cards/{serial_hex}/situations"))
        .with_header("Authorization", common::bearer())
        .with_json(&moved)
        .unwrap()
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204);
    let r = minreq::post(format!("{url}/v1/cards/{serial_hex}/renewal"))
        .with_header("Authorization", common::bearer())
        .with_body("{\"not_before\": 1861920000}")
        .send()
        .unwrap();
    assert_eq!(r.status_code, 204);

    // The update starts and the card is pulled after 12 APDUs (a key generated, staged).
    let mut cut = Cut {
        inner: InProcessChannel::new(card),
        at: 12,
        n: 0,
    };
    let err = update(&mut cut, HttpService::new(&url), &mut |_| {}, &NO).unwrap_err();
    assert!(matches!(err, UpdateError::Transport(_)), "{err}");
    let mut card = cut.inner.into_card();
    card.power_on();
    assert!(card.update_staged());
    assert_eq!(card.update_sequence(), 0);

    // The server restarts on the same database.
    handle.stop();
    let handle = serve(server(&db), "127.0.0.1:0").unwrap();
    let url = handle.url();
    let r = minreq::get(format!("{url}/v1/cards/{serial_hex}"))
        .with_header("Authorization", common::bearer())
        .send()
        .unwrap();
    assert_eq!(r.status_code, 200);
    let stored: CardJson = r.json().unwrap();
    let pending = stored
        .pending
        .expect("the pending update survived the restart");
    assert_eq!(pending.target, Some(1));
    assert_eq!(pending.renew.len(), 2);

    // The relay runs the update again: it resumes and commits.
    let mut ch = InProcessChannel::new(card);
    let mut seen = Vec::new();
    let outcome = update(
        &mut ch,
        HttpService::new(&url),
        &mut |p| seen.push(p.what.clone()),
        &NO,
    )
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Updated {
            sequence: 1,
            steps: 5
        }
    );
    let card = ch.into_card();
    assert_eq!(card.update_sequence(), 1);
    let dam = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    assert_eq!(dam[0].city.as_deref(), Some("MARSEILLE"));
    for (i, r) in [0x20u8, 0x81].iter().enumerate() {
        assert_ne!(card.public_key(*r).unwrap(), keys_before[i]);
    }
    println!(
        "resumed after restart: {} APDUs ({})",
        seen.len() + 1,
        seen.join(" / ")
    );
    // The record says so after another restart too.
    handle.stop();
    let handle = serve(server(&db), "127.0.0.1:0").unwrap();
    let stored: CardJson = minreq::get(format!("{}/v1/cards/{serial_hex}", handle.url()))
        .with_header("Authorization", common::bearer())
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(stored.sequence, 1);
    assert!(stored.pending.is_none());
    handle.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
