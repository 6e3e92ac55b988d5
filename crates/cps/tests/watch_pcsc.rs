//! Card events through the real PC/SC stack (pcscd + vsmartcard-vpcd): a session is locked
//! when the simulated card is pulled from the virtual reader, and the watch sees it come back.
//!
//! Without pcscd the test prints SKIPPED, except under CI=true where it fails.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

use std::sync::mpsc;
use std::time::{Duration, Instant};

use cps::iasecc::Pin;
use cps::sim::vpcd::{self, VpcdConfig};
use cps::sim::{Profile, SimCard};
use cps::watch::{CardEvent, CardWatch};
use cps::{Card, CardSource, ReaderChoice};

const READER: &str = "Virtual PCD 00 00";

#[test]
fn a_session_is_locked_when_the_card_is_pulled() {
    let Some(ctx) = cps::transport::pcsc::testing::context_or_skip() else {
        return;
    };
    // Let pcscd notice a card left by a previous test binary.
    let _ = ctx.wait_for_removal(READER, Duration::from_secs(5));
    let handle = vpcd::spawn(
        SimCard::new(Profile::Cps4, "dr-martin").unwrap(),
        VpcdConfig::default(),
    )
    .unwrap();
    ctx.wait_for_card(Some(READER), Duration::from_secs(10))
        .unwrap();

    let mut watch = CardWatch::new(READER).unwrap();
    assert_eq!(watch.reader(), READER);
    assert!(watch.card_present());
    // Nothing happens: no event, after the timeout.
    let start = Instant::now();
    assert_eq!(watch.next_event(Duration::from_millis(300)).unwrap(), None);
    assert!(start.elapsed() >= Duration::from_millis(250));

    // The session: PIN verified on the card, a watcher thread locks it on removal.
    let mut card = Card::open(&CardSource::Reader {
        reader: ReaderChoice::Named(READER.into()),
        wait: None,
    })
    .unwrap();
    card.iasecc()
        .unwrap()
        .verify_pin(&Pin::new("1234").unwrap())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let watcher = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(event) = watch.next_event(Duration::from_millis(500)).unwrap() {
                tx.send((event, Instant::now())).unwrap();
                if event == CardEvent::Inserted {
                    return watch;
                }
            }
        }
        panic!("no insertion seen");
    });

    std::thread::sleep(Duration::from_millis(300));
    let pulled = Instant::now();
    handle.remove().unwrap();
    let (event, seen) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(event, CardEvent::Removed);
    let latency = seen.duration_since(pulled);
    println!("removal seen {latency:?} after the card was pulled");
    assert!(latency < Duration::from_secs(2), "{latency:?}");
    // The locked session's card is gone indeed.
    assert!(card.iasecc().is_err());

    let handle = vpcd::spawn(
        SimCard::new(Profile::Cps4, "dr-martin").unwrap(),
        VpcdConfig::default(),
    )
    .unwrap();
    let (event, _) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(event, CardEvent::Inserted);
    let watch = watcher.join().unwrap();
    assert!(watch.card_present());
    drop(card);
    handle.remove().unwrap();
    let _ = ctx.wait_for_removal(READER, Duration::from_secs(5));
}

#[test]
fn an_unknown_reader_is_an_error() {
    let Some(_ctx) = cps::transport::pcsc::testing::context_or_skip() else {
        return;
    };
    let err = CardWatch::new("No Such Reader 99").unwrap_err();
    assert!(err.to_string().contains("No Such Reader 99"), "{err}");
}
