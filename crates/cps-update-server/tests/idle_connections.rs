//! 300 idle connections cost no thread (the server is async: 2 runtime workers whatever the
//! number of connections), and an idle connection is closed by the header timer. Its own
//! test binary, so that no other test's threads are counted.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs, reason = "tests")]

mod common;

use std::io::Read;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Engine, fresh_store, start};
use cps_update_server::Limits;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

#[test]
fn idle_connections_cost_no_thread_and_are_closed() {
    if !std::path::Path::new("/proc/self/task").exists() {
        println!("SKIPPED idle_connections: no /proc");
        return;
    }
    let (store, _) = fresh_store(&Engine::Sqlite, "node-1");
    let limits = Limits {
        header_timeout: Duration::from_secs(2),
        per_client_connections: 400,
        ..Limits::default()
    };
    let h = start(store, limits);
    // Warm up: one request, so that the runtime's threads exist.
    let (s, _) = common::call(&h.url(), "GET", "/v1/health", "", None);
    assert_eq!(s, 200);
    let before = threads();
    let conns: Vec<TcpStream> = (0..300)
        .map(|_| TcpStream::connect(h.addr()).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let during = threads();
    println!("threads: {before} before, {during} with 300 idle connections");
    assert!(
        during <= before + 2,
        "{before} threads before, {during} with 300 idle connections"
    );
    // Served meanwhile.
    let (s, _) = common::call(&h.url(), "GET", "/v1/health", "", None);
    assert_eq!(s, 200);
    // Every idle connection is closed by the header timer.
    let t = Instant::now();
    for mut c in conns {
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut buf = [0u8; 256];
        loop {
            match c.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => panic!("an idle connection stayed open: {e}"),
            }
        }
    }
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    h.stop();
}
