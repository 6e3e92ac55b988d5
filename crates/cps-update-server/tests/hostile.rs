//! Hostile clients against the HTTP front end (SQLite; the front end is the same for both
//! engines): a client announcing a body and withholding it, a client sending its headers a
//! byte at a time, too many connections from one address; honest relays keep being served
//! meanwhile, and the hostile connections end on their timers.
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
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::{Engine, fresh_store, register, schedule_full_update, start};
use cps_sim::Profile;
use cps_transport::InProcessChannel;
use cps_update::http::HttpService;
use cps_update::relay::{Outcome, update};
use cps_update_server::Limits;

static NO: AtomicBool = AtomicBool::new(false);

/// Reads what the server sends until it closes (bounded by `limit`): the text and the time.
fn read_until_closed(mut s: TcpStream, limit: Duration) -> (String, Duration) {
    let t = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!("the server kept the connection open past {limit:?}: {e}"),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
}

#[test]
fn a_slow_client_holds_only_its_own_connection() {
    let (store, _) = fresh_store(&Engine::Sqlite, "node-1");
    let limits = Limits {
        body_timeout: Duration::from_secs(3),
        header_timeout: Duration::from_secs(3),
        ..Limits::default()
    };
    let h = start(store, limits);
    let url = h.url();
    let card = register(&url, Profile::Cps4, "dr-martin");
    schedule_full_update(&url, &card, "TOULOUSE");

    // Announces 2000 bytes of body and withholds them.
    let mut withholder = TcpStream::connect(h.addr()).unwrap();
    withholder
        .write_all(
            b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 2000\r\n\r\n{\"hello\": ",
        )
        .unwrap();
    // Sends its headers one byte at a time, never finishing.
    let mut trickler = TcpStream::connect(h.addr()).unwrap();
    let trickle = std::thread::spawn(move || {
        for b in b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nX-Slow: " {
            if trickler.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        trickler
    });
    std::thread::sleep(Duration::from_millis(200));

    // Meanwhile an honest relay runs a whole update (data + 2 renewals).
    let t = Instant::now();
    let mut ch = InProcessChannel::new(card);
    let outcome = update(&mut ch, HttpService::new(&url), &mut |_| {}, &NO).unwrap();
    let honest = t.elapsed();
    assert!(matches!(outcome, Outcome::Updated { sequence: 1, .. }));
    assert!(
        honest < Duration::from_secs(2),
        "the honest update took {honest:?} with a slow client connected"
    );

    // The withholder gets 408 when its body timer runs out, then the connection closes.
    let (text, waited) = read_until_closed(withholder, Duration::from_secs(10));
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"error\""), "{text}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    // The trickler is cut by the header timer.
    let trickler = trickle.join().unwrap();
    let (_, waited) = read_until_closed(trickler, Duration::from_secs(10));
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    println!("honest update with two slow clients connected: {honest:?}");
    h.stop();
}

#[test]
fn connections_beyond_the_per_client_limit_are_refused() {
    let (store, _) = fresh_store(&Engine::Sqlite, "node-1");
    let limits = Limits {
        per_client_connections: 20,
        ..Limits::default()
    };
    let h = start(store, limits);
    let held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(h.addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let extra = TcpStream::connect(h.addr()).unwrap();
    let (text, _) = read_until_closed(extra, Duration::from_secs(5));
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    drop(held);
    // Once they are gone, the client is served again.
    std::thread::sleep(Duration::from_millis(200));
    let (s, health) = common::call(&h.url(), "GET", "/v1/health", "", None);
    assert_eq!(s, 200, "{health}");
    h.stop();
}

#[test]
fn graceful_shutdown_is_bounded_with_clients_connected() {
    let (store, _) = fresh_store(&Engine::Sqlite, "node-1");
    let limits = Limits {
        shutdown_grace: Duration::from_secs(2),
        ..Limits::default()
    };
    let h = start(store, limits);
    let addr = h.addr();
    let _idle: Vec<TcpStream> = (0..50).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut withholder = TcpStream::connect(addr).unwrap();
    withholder
        .write_all(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    h.stop();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(4), "shutdown took {took:?}");
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}
