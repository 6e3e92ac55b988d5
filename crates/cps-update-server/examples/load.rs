//! Load test of the update service (method in docs/remote-update.md, "Load").
//!
//! Starts 1 or 2 `cps-update-server` processes on loopback (SQLite, or PostgreSQL from
//! `CPS_TEST_POSTGRES` / `--postgres`), registers `--cards` records each with a pending update
//! (new EF.DAM + renewal of the 2 keys), then drives `--updates` simulated CPS4 cards
//! `--concurrency` at a time through complete updates over HTTP, relays spread over the nodes.
//! Prints updates/s, p50/p99 of the APDU exchanges (one HTTP request each) and each node's
//! RSS. With `--hostile`, runs a second phase on other cards with slow clients (withheld
//! bodies) and abandoned sessions mixed in, and prints the throughput ratio.
//!
//! ```text
//! cargo build --release -p cps-update-server --bin cps-update-server --example load
//! target/release/examples/load --engine sqlite --nodes 1 --cards 1000 --concurrency 16 \
//!     --updates 200 --hostile
//! ```
//! Traffic goes to 127.0.0.1 only; every phase is bounded in count (and each request by a
//! 30 s timeout).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    reason = "a load-test driver"
)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_transport::InProcessChannel;
use cps_update::http::HttpService;
use cps_update::issuer::{DAM_PATH, Issuer, test_record};
use cps_update::relay::{Outcome, Reply, ServiceError, UpdateService, update};
use cps_update::scp::TEST_MASTER_KEY;
use cps_update_server::CardJson;

struct Args {
    engine: String,
    postgres: Option<String>,
    nodes: usize,
    cards: usize,
    concurrency: usize,
    updates: usize,
    hostile: bool,
    abandon_per_sec: u64,
}

fn args() -> Args {
    let mut a = Args {
        engine: "sqlite".into(),
        postgres: std::env::var("CPS_TEST_POSTGRES").ok(),
        nodes: 1,
        cards: 1000,
        concurrency: 16,
        updates: 200,
        hostile: false,
        abandon_per_sec: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--hostile" {
            a.hostile = true;
            continue;
        }
        let v = it.next().expect("a value after each option");
        match k.as_str() {
            "--engine" => a.engine = v,
            "--postgres" => a.postgres = Some(v),
            "--nodes" => a.nodes = v.parse().unwrap(),
            "--cards" => a.cards = v.parse().unwrap(),
            "--concurrency" => a.concurrency = v.parse().unwrap(),
            "--updates" => a.updates = v.parse().unwrap(),
            "--abandon-per-sec" => a.abandon_per_sec = v.parse().unwrap(),
            _ => panic!("unknown option {k}"),
        }
    }
    a
}

const PERSONAS: [&str; 6] = cps_x509::test_pki::PERSONAS;

fn serial(i: usize) -> Vec<u8> {
    let mut s = vec![0xBE, 0x4C];
    s.extend_from_slice(&(i as u64).to_be_bytes());
    s
}

fn persona(i: usize) -> &'static str {
    PERSONAS[i % PERSONAS.len()]
}

/// Records with a pending update (EF.DAM + renewal), as JSON, made by an in-process issuer.
fn records(n: usize) -> Vec<(String, String)> {
    let mut issuer = Issuer::new(TEST_MASTER_KEY).unwrap();
    let mut situations = Vec::new();
    for p in PERSONAS {
        let card = SimCard::new(Profile::Cps4, p).unwrap();
        situations.push(PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap());
    }
    (0..n)
        .map(|i| {
            let s = serial(i);
            let sit = situations[i % PERSONAS.len()].clone();
            let rec = test_record(
                cps_iasecc::Generation::Cps4,
                persona(i),
                s.clone(),
                sit.clone(),
            )
            .unwrap();
            issuer.register(rec);
            let mut moved = sit;
            moved[0].city = Some(format!("VILLE-{i}"));
            issuer.update_situations(&s, moved).unwrap();
            issuer
                .schedule_renewal(&s, cps_x509::UnixTime::from_secs(1_861_920_000))
                .unwrap();
            let rec = issuer.forget(&s).unwrap();
            (
                hex::encode_upper(&s),
                serde_json::to_string(&CardJson::from(&rec)).unwrap(),
            )
        })
        .collect()
}

fn fresh_pg(base: &str) -> String {
    let name = format!("cps_load_{}", std::process::id());
    let mut c = postgres::Client::connect(base, postgres::NoTls).unwrap();
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    base.split_whitespace()
        .filter(|kv| !kv.starts_with("dbname="))
        .map(str::to_owned)
        .chain(std::iter::once(format!("dbname={name}")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Creates the schema (through the store) and bulk-inserts the records in one transaction.
fn populate(engine: &str, location: &str, rows: &[(String, String)]) {
    if engine == "sqlite" {
        drop(
            cps_update_server::SqliteStore::open(std::path::Path::new(location), "setup").unwrap(),
        );
        let mut c = rusqlite::Connection::open(location).unwrap();
        let tx = c.transaction().unwrap();
        {
            let mut st = tx
                .prepare("INSERT INTO cards (serial, record) VALUES (?1, ?2)")
                .unwrap();
            for (s, r) in rows {
                st.execute(rusqlite::params![s, r]).unwrap();
            }
        }
        tx.commit().unwrap();
    } else {
        drop(cps_update_server::PgStore::connect(location, 1, "setup").unwrap());
        let mut c = postgres::Client::connect(location, postgres::NoTls).unwrap();
        let mut tx = c.transaction().unwrap();
        let st = tx
            .prepare("INSERT INTO cards (serial, record) VALUES ($1, $2)")
            .unwrap();
        for (s, r) in rows {
            tx.execute(&st, &[s, r]).unwrap();
        }
        tx.commit().unwrap();
    }
}

struct Node {
    child: Child,
    url: String,
}

fn start_node(engine: &str, location: &str, i: usize) -> Node {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .unwrap()
        .join("cps-update-server");
    assert!(
        bin.exists(),
        "build the server first: cargo build --release -p cps-update-server --bin cps-update-server"
    );
    let mut cmd = Command::new(bin);
    cmd.args(["--listen", "127.0.0.1:0", "--node", &format!("node-{i}")]);
    if engine == "sqlite" {
        cmd.args(["--db", location]);
    } else {
        cmd.args(["--postgres", location, "--pool", "16"]);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    Node { child, url }
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time (user + system) of a process, in seconds (`/proc/PID/stat`, 100 ticks/s).
fn cpu_secs(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends at the last ')'): utime is the 12th, stime
    // the 13th.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

/// An HTTP service that records the time of each exchange.
struct Timed {
    inner: HttpService,
    times: Vec<Duration>,
}

impl UpdateService for Timed {
    fn open(&mut self, hello: &[u8]) -> Result<Reply, ServiceError> {
        let t = Instant::now();
        let r = self.inner.open(hello);
        self.times.push(t.elapsed());
        r
    }
    fn next(&mut self, session: u64, response: &[u8]) -> Result<Reply, ServiceError> {
        let t = Instant::now();
        let r = self.inner.next(session, response);
        self.times.push(t.elapsed());
        r
    }
}

struct Phase {
    updates: usize,
    secs: f64,
    p50: Duration,
    p99: Duration,
    failures: usize,
}

/// Drives the cards `first..first + count`, `concurrency` at a time.
fn drive(urls: &[String], first: usize, count: usize, concurrency: usize) -> Phase {
    // Cards are built before the clock starts (the simulator's set-up is not the service's).
    let cards: Vec<SimCard> = (first..first + count)
        .map(|i| {
            SimCard::builder()
                .profile(Profile::Cps4)
                .persona(persona(i))
                .update_serial(serial(i))
                .build()
                .unwrap()
        })
        .collect();
    let queue = Arc::new(Mutex::new(
        cards.into_iter().enumerate().collect::<Vec<_>>(),
    ));
    let times = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(AtomicUsize::new(0));
    let t = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let queue = Arc::clone(&queue);
            let times = Arc::clone(&times);
            let failures = Arc::clone(&failures);
            let urls = urls.to_vec();
            std::thread::spawn(move || {
                let no = AtomicBool::new(false);
                loop {
                    let Some((i, card)) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let mut svc = Timed {
                        inner: HttpService::new(&urls[i % urls.len()]),
                        times: Vec::with_capacity(24),
                    };
                    let mut ch = InProcessChannel::new(card);
                    match update(&mut ch, &mut svc, &mut |_| {}, &no) {
                        Ok(Outcome::Updated { .. }) => {}
                        other => {
                            eprintln!("update failed: {other:?}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    times.lock().unwrap().extend(svc.times);
                }
            })
        })
        .collect();
    for th in threads {
        th.join().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    let mut all = times.lock().unwrap().clone();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let failures = failures.load(Ordering::Relaxed);
    Phase {
        updates: count - failures,
        secs,
        p50: pct(0.50),
        p99: pct(0.99),
        failures,
    }
}

/// Slow clients (a body announced and withheld, reconnecting when cut) and abandoned
/// sessions (opened on cards `first..`, never answered), until `stop`.
fn hostile(
    urls: &[String],
    first: usize,
    per_sec: u64,
    stop: Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<usize>> {
    let mut v = Vec::new();
    for k in 0..20 {
        let addr = urls[k % urls.len()]
            .trim_start_matches("http://")
            .to_owned();
        let stop = Arc::clone(&stop);
        v.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok(mut s) = TcpStream::connect(&addr) else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                n += 1;
                let _ = s.write_all(
                    b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n{",
                );
                let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
                let mut buf = [0u8; 512];
                while !stop.load(Ordering::Relaxed) {
                    match std::io::Read::read(&mut s, &mut buf) {
                        Ok(0) => break,
                        Ok(_) => break,
                        Err(_) => {}
                    }
                }
            }
            n
        }));
    }
    for k in 0..1 {
        let url = urls[k % urls.len()].clone();
        let stop = Arc::clone(&stop);
        v.push(std::thread::spawn(move || {
            let mut n = 0;
            let mut i = first + k;
            while !stop.load(Ordering::Relaxed) {
                let hello = cps_update::script::Hello {
                    kvn: 0x30,
                    serial: serial(i),
                    sequence: 0,
                    staged: None,
                };
                let mut s = HttpService::new(&url);
                if s.open(&hello.encode()).is_ok() {
                    n += 1;
                }
                i += 1;
                std::thread::sleep(Duration::from_millis(1000 / per_sec.max(1)));
            }
            n
        }));
    }
    v
}

fn main() {
    let a = args();
    let dir = std::env::temp_dir().join(format!("cps-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let location = if a.engine == "sqlite" {
        dir.join("load.sqlite").display().to_string()
    } else {
        fresh_pg(
            a.postgres
                .as_deref()
                .expect("--postgres or CPS_TEST_POSTGRES"),
        )
    };
    let needed = if a.hostile {
        2 * a.updates + 5000
    } else {
        a.updates
    };
    let n = a.cards.max(needed);
    let t = Instant::now();
    let rows = records(n);
    populate(&a.engine, &location, &rows);
    eprintln!("{n} cards registered in {:.1} s", t.elapsed().as_secs_f64());
    let nodes: Vec<Node> = (0..a.nodes)
        .map(|i| start_node(&a.engine, &location, i + 1))
        .collect();
    let urls: Vec<String> = nodes.iter().map(|n| n.url.clone()).collect();

    let cpu0: f64 = nodes.iter().map(|n| cpu_secs(n.child.id())).sum();
    let base = drive(&urls, 0, a.updates, a.concurrency);
    let cpu1: f64 = nodes.iter().map(|n| cpu_secs(n.child.id())).sum();
    let rss: Vec<(u64, u64)> = nodes.iter().map(|n| rss_kib(n.child.id())).collect();
    println!(
        "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {} | {:.1} | {} |",
        a.engine,
        a.nodes,
        n,
        a.concurrency,
        base.updates as f64 / base.secs,
        base.p50.as_secs_f64() * 1000.0,
        base.p99.as_secs_f64() * 1000.0,
        rss.iter()
            .map(|(r, h)| format!("{} MiB (peak {})", r / 1024, h / 1024))
            .collect::<Vec<_>>()
            .join(", "),
        (cpu1 - cpu0) * 1000.0 / base.updates.max(1) as f64,
        base.failures,
    );
    if a.hostile {
        let stop = Arc::new(AtomicBool::new(false));
        let bad = hostile(&urls, 2 * a.updates, a.abandon_per_sec, Arc::clone(&stop));
        std::thread::sleep(Duration::from_millis(300));
        let mixed = drive(&urls, a.updates, a.updates, a.concurrency);
        stop.store(true, Ordering::Relaxed);
        let counts: Vec<usize> = bad.into_iter().map(|t| t.join().unwrap()).collect();
        let slow: usize = counts[..20].iter().sum();
        let abandoned: usize = counts[20..].iter().sum();
        let rss: Vec<(u64, u64)> = nodes.iter().map(|n| rss_kib(n.child.id())).collect();
        let ratio = (mixed.updates as f64 / mixed.secs) / (base.updates as f64 / base.secs);
        println!(
            "hostile mix: {slow} slow connections, {abandoned} abandoned sessions; {:.1} updates/s \
             (p50 {:.1} ms, p99 {:.1} ms, {} failures) = {:.0} % of the clean run; RSS {}",
            mixed.updates as f64 / mixed.secs,
            mixed.p50.as_secs_f64() * 1000.0,
            mixed.p99.as_secs_f64() * 1000.0,
            mixed.failures,
            ratio * 100.0,
            rss.iter()
                .map(|(r, h)| format!("{} MiB (peak {})", r / 1024, h / 1024))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    for mut n in nodes {
        // SIGTERM would be graceful; the driver only needs them gone.
        let _ = n.child.kill();
        let _ = n.child.wait();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
