//! The relay against a hostile or broken update service: every answer is bounded in size and
//! time, the session in steps, and text from the service is made printable.
#![cfg(feature = "http")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use cps_transport::{InProcessChannel, VirtualCard};
use cps_update::http::HttpService;
use cps_update::relay::{
    Limits, Progress, Reply, ServiceError, UpdateError, UpdateService, printable, update,
    update_with_limits,
};

/// A card that answers `9000` to everything (the relay does not care what the card is).
struct Yes;
impl VirtualCard for Yes {
    fn atr(&self) -> Vec<u8> {
        vec![0x3B, 0x00]
    }
    fn power_on(&mut self) {}
    fn process(&mut self, _apdu: &[u8]) -> Vec<u8> {
        vec![0x01, 0x90, 0x00]
    }
}

/// A service that never finishes, with terminal escape sequences in its progress text.
struct Endless;
impl UpdateService for Endless {
    fn open(&mut self, _hello: &[u8]) -> Result<Reply, ServiceError> {
        self.next(1, &[])
    }
    fn next(&mut self, session: u64, _response: &[u8]) -> Result<Reply, ServiceError> {
        Ok(Reply::Send {
            session,
            apdu: vec![0x00, 0xB0, 0x00, 0x00, 0x01],
            progress: Progress {
                done: 0,
                total: 1,
                what: "\u{1b}[2J\u{1b}]0;owned\u{7}staging\r\u{202E}".into(),
            },
        })
    }
}

#[test]
fn an_endless_service_is_stopped_and_its_text_made_printable() {
    let mut seen = Vec::new();
    let limits = Limits {
        max_steps: 50,
        ..Limits::default()
    };
    let err = update_with_limits(
        InProcessChannel::new(Yes),
        Endless,
        &mut |p: &Progress| seen.push(p.what.clone()),
        &AtomicBool::new(false),
        limits,
    )
    .unwrap_err();
    assert!(matches!(err, UpdateError::Service(_)), "{err}");
    assert!(cps_testkit::error_chain(&err).contains("50 steps"), "{err}");
    assert_eq!(seen.len(), 50);
    for what in &seen {
        assert!(!what.chars().any(char::is_control), "{what:?}");
        assert!(!what.contains('\u{202E}'), "{what:?}");
        assert!(what.contains("staging"), "{what:?}");
    }
    // The default limits stop it too (1000 steps).
    let err = update(
        InProcessChannel::new(Yes),
        Endless,
        &mut |_| {},
        &AtomicBool::new(false),
    )
    .unwrap_err();
    assert!(
        cps_testkit::error_chain(&err).contains("1000 steps"),
        "{err}"
    );
}

#[test]
fn printable_cuts_and_replaces() {
    assert_eq!(printable("ok", 10), "ok");
    assert_eq!(printable("a\u{1b}b\u{7}", 10), "a?b?");
    assert_eq!(
        printable(&"x".repeat(50), 10),
        format!("{}…", "x".repeat(10))
    );
}

/// Serves one HTTP answer: status line and headers, then `body_len` bytes of `fill` written
/// in chunks, pausing `pause` between chunks.
fn serve_once(status: &'static str, body_len: usize, fill: u8, pause: Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let head = format!("HTTP/1.1 {status}\r\nContent-Length: {body_len}\r\n\r\n");
        if s.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![fill; 64 * 1024];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len());
            if s.write_all(&chunk[..n]).is_err() {
                return; // the client hung up: what we want
            }
            left -= n;
            std::thread::sleep(pause);
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_huge_answer_is_refused_without_buffering_it() {
    // 1 GiB announced and streamed: refused once past the limit.
    let url = serve_once("200 OK", 1 << 30, b' ', Duration::ZERO);
    let started = Instant::now();
    let mut svc = HttpService::parse(&url).unwrap();
    let err = svc.open(&[0x01]).unwrap_err();
    assert!(err.0.contains("exceeds"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_slow_answer_is_refused_after_the_time_limit() {
    let url = serve_once("200 OK", 1 << 20, b' ', Duration::from_millis(300));
    let started = Instant::now();
    let mut svc = HttpService::parse(&url).unwrap().with_timeout(1);
    let err = svc.open(&[0x01]).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
}

#[test]
fn error_text_from_the_service_is_made_printable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let body = "{\"error\":\"\\u001b[2Jbad\\u0007\"}";
        let _ = write!(
            s,
            "HTTP/1.1 400 Bad\u{1b}[31m\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
    });
    let mut svc = HttpService::parse(&format!("http://{addr}")).unwrap();
    let err = svc.open(&[0x01]).unwrap_err();
    assert!(!err.0.chars().any(char::is_control), "{err:?}");
    assert!(err.0.contains("bad"), "{err:?}");
}

#[test]
fn bad_addresses_are_explained_in_plain_words() {
    for (url, expect) in [
        ("ftp://example.org", "only http://"),
        ("https://example.org", "only http://"),
        ("127.0.0.1:8700", "not an address"),
        ("http://", "no host"),
        ("http://:8700", "no host"),
        ("http://host:99999", "port"),
        ("http://ho st", "spaces"),
    ] {
        let err = HttpService::parse(url).unwrap_err().to_string();
        assert!(err.contains(expect), "{url}: {err}");
        assert!(!err.contains("redirected"), "{url}: {err}");
    }
    assert!(HttpService::parse("http://127.0.0.1:8700").is_ok());
    assert!(HttpService::parse("http://[::1]:8700/base").is_ok());
}
