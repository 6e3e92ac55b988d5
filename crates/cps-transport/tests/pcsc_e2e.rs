//! End-to-end test through the real PC/SC stack: a simulated card is inserted into pcscd's
//! `Virtual PCD 00 00` reader with [`vpcd::spawn`], then reached through our PC/SC backend,
//! the exchange layer and OpenSC's `opensc-tool`, like a physical card.
//!
//! Needs pcscd running with vsmartcard-vpcd installed (`scripts/with-pcscd.sh cargo test`).
//! Without pcscd the test prints `SKIPPED` and passes, except under `CI=true`, where it fails.
//!
//! Everything runs in one `#[test]`: all PC/SC checks share one pcscd and one reader.
#![cfg(feature = "pcsc")]
// The helpers below are test code too (clippy only exempts `#[test]` functions themselves).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::io::Read;
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cps_apdu::{Command, Response, StatusWord};
use cps_sim::vpcd::{self, VpcdConfig};
use cps_transport::pcsc::{PcscChannel, PcscContext, ShareMode, Timeouts};
use cps_transport::{CardChannel, Exchange, Interface, TransportError, VirtualCard};

const READER: &str = "Virtual PCD 00 00";
const PORT: u16 = vpcd::DEFAULT_PORT;
/// A made-up AID for the test application.
const AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x00, 0x01, 0xC5, 0xE2];
const CHALLENGE: [u8; 8] = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
const GET_CHALLENGE: [u8; 5] = [0x00, 0x84, 0x00, 0x00, 0x08];
/// Response length of GET DATA (INS CA), served T=0 style through 61xx.
const GET_DATA_LEN: usize = 300;

/// A contact T=1 ATR whose historical bytes announce extended Lc/Le (card capabilities
/// `73 00 00 C0`: chaining and extended length).
fn test_atr() -> Vec<u8> {
    let mut atr = vec![0x3B, 0x85, 0x01, 0x80, 0x73, 0x00, 0x00, 0xC0];
    let tck = atr[1..].iter().fold(0, |a, b| a ^ b);
    atr.push(tck);
    atr
}

fn sw(sw: StatusWord) -> Vec<u8> {
    sw.to_bytes().to_vec()
}

/// The simulated card: one application, a T=0-style long response and an echo command.
#[derive(Default)]
struct TestCard {
    selected: bool,
    pending: Vec<u8>,
    apdus: u64,
    last_apdu_len: usize,
    power_ons: u32,
    resets: u32,
}

impl TestCard {
    fn clear(&mut self) {
        self.selected = false;
        self.pending.clear();
    }
}

impl VirtualCard for TestCard {
    fn atr(&self) -> Vec<u8> {
        test_atr()
    }

    fn power_on(&mut self) {
        self.power_ons += 1;
        self.clear();
    }

    fn reset(&mut self) {
        self.resets += 1;
        self.clear();
    }

    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        self.apdus += 1;
        self.last_apdu_len = apdu.len();
        let Ok(c) = Command::parse(apdu) else {
            return sw(StatusWord::WRONG_LENGTH);
        };
        if c.cla != 0x00 {
            return sw(StatusWord(0x6E00));
        }
        // ISO 7816-4: GET RESPONSE must come right after the command that announced 61xx.
        let pending = if c.ins == 0xC0 {
            std::mem::take(&mut self.pending)
        } else {
            self.pending.clear();
            Vec::new()
        };
        match c.ins {
            0xA4 if c.p1 == 0x04 => {
                self.selected = c.data == AID;
                if self.selected {
                    sw(StatusWord::SUCCESS)
                } else {
                    sw(StatusWord(0x6A82))
                }
            }
            0x84 => Response::success(CHALLENGE.to_vec()).to_bytes(),
            0xCA if !self.selected => sw(StatusWord(0x6985)),
            0xCA => {
                self.pending = (0..GET_DATA_LEN).map(|i| (i * 3) as u8).collect();
                vec![0x61, 0x00]
            }
            0xC0 if pending.is_empty() => sw(StatusWord(0x6985)),
            0xC0 => {
                let n = c.ne.unwrap_or(256).min(pending.len());
                let mut out = pending[..n].to_vec();
                self.pending = pending[n..].to_vec();
                match self.pending.len() {
                    0 => out.extend_from_slice(&[0x90, 0x00]),
                    left => out.extend_from_slice(&[0x61, left.min(256) as u8]),
                }
                out
            }
            0xEE if !self.selected => sw(StatusWord(0x6985)),
            0xEE => Response::success(c.data.clone()).to_bytes(),
            _ => sw(StatusWord(0x6D00)),
        }
    }
}

/// A card that freezes for [`FREEZE`] on VERIFY, then answers a wrong PIN.
#[derive(Default)]
struct FreezingCard {
    verifies: u32,
}

const FREEZE: Duration = Duration::from_secs(4);

impl VirtualCard for FreezingCard {
    fn atr(&self) -> Vec<u8> {
        test_atr()
    }
    fn power_on(&mut self) {}
    fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        match apdu.get(1) {
            Some(0x20) => {
                self.verifies += 1;
                std::thread::sleep(FREEZE);
                vec![0x63, 0xC2]
            }
            Some(0x84) => Response::success(CHALLENGE.to_vec()).to_bytes(),
            _ => sw(StatusWord(0x6D00)),
        }
    }
}

fn select() -> Vec<u8> {
    Command::new(0x00, 0xA4, 0x04, 0x00)
        .with_data(&AID)
        .to_bytes()
}

fn get_data() -> Command {
    Command::new(0x00, 0xCA, 0x01, 0x00).with_ne(256)
}

/// Under CI=true a missing PC/SC stack is a failure; elsewhere the test is skipped, loudly.
fn skip_or_fail(reason: &str) {
    cps_transport::pcsc::testing::skip_or_fail(&format!(
        "the PC/SC end-to-end test cannot run: pcscd not running / not usable: {reason}"
    ));
}

fn mean_round_trip(ch: &mut PcscChannel, n: u32) -> Duration {
    // Warm up (the first exchange after connect may include a power-on).
    assert_eq!(ch.transmit(&GET_CHALLENGE).unwrap()[8..], [0x90, 0x00]);
    let started = Instant::now();
    for _ in 0..n {
        let r = ch.transmit(&GET_CHALLENGE).unwrap();
        assert_eq!(r.len(), 10);
    }
    started.elapsed() / n
}

/// Runs a command with a time limit; `None` when it is not installed.
fn run_tool(program: &str, args: &[&str]) -> Option<(bool, String)> {
    let mut child = match Process::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("starting {program}: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{program} {args:?} did not finish in 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    Some((status.success(), format!("{out}{err}")))
}

/// Upper-case hex digits only, to compare bytes whatever the tool's separators.
fn hex_digits(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_hexdigit)
        .collect::<String>()
        .to_uppercase()
}

/// Sends `apdu`, selecting the application again if another application reset the card.
fn transmit_reselecting(ch: &mut PcscChannel, apdu: &[u8]) -> Vec<u8> {
    match ch.transmit(apdu) {
        Err(TransportError::CardReset) => {
            eprintln!("(card was reset by another application: selecting again)");
            assert_eq!(ch.transmit(&select()).unwrap(), [0x90, 0x00]);
            ch.transmit(apdu).unwrap()
        }
        other => other.unwrap(),
    }
}

#[test]
fn pcsc_end_to_end() {
    let ctx = match PcscContext::establish() {
        Ok(ctx) => ctx,
        Err(e @ TransportError::ServiceUnavailable { .. }) => return skip_or_fail(&e.to_string()),
        Err(e) => panic!("establishing a PC/SC context: {e}"),
    };
    let names = ctx.reader_names().unwrap();
    if !names.iter().any(|n| n == READER) {
        return skip_or_fail(&format!(
            "pcscd has no {READER:?} reader (readers: {names:?}); install vsmartcard-vpcd and \
             restart pcscd"
        ));
    }
    ctx.wait_for_removal(READER, Duration::from_secs(2))
        .unwrap_or_else(|e| {
            panic!("a card is already in {READER:?} (is a simulator running?): {e}")
        });
    assert!(matches!(
        ctx.wait_for_card(Some(READER), Duration::from_millis(300)),
        Err(TransportError::Timeout { .. })
    ));
    assert!(matches!(
        ctx.wait_for_card(Some("No Such Reader 00 00"), Duration::from_millis(300)),
        Err(TransportError::UnknownReader { .. })
    ));

    // Insert the card.
    let handle = vpcd::spawn(TestCard::default(), VpcdConfig::with_port(PORT)).unwrap();
    assert!(
        handle.wait_connected(Duration::from_secs(5)),
        "vpcd link did not connect"
    );
    let inserted = Instant::now();
    let reader = ctx
        .wait_for_card(Some(READER), Duration::from_secs(5))
        .unwrap();
    assert_eq!(reader, READER);
    eprintln!(
        "card seen by pcscd {:?} after connecting to vpcd",
        inserted.elapsed()
    );
    assert_eq!(
        ctx.wait_for_card(None, Duration::from_secs(1)).unwrap(),
        READER
    );

    let listed = ctx.list_readers().unwrap();
    let info = listed.iter().find(|r| r.name == READER).unwrap();
    assert!(info.card_present);
    assert_eq!(info.atr.as_deref(), Some(test_atr().as_slice()));
    assert_eq!(info.interface, Interface::Contact);
    eprintln!("readers: {listed:?}");

    let mut ch = ctx.connect(READER, ShareMode::Shared).unwrap();
    assert_eq!(ch.atr(), test_atr());
    assert_eq!(ch.reader_name(), Some(READER));
    assert_eq!(ch.interface(), Interface::Contact);
    assert_eq!(ch.protocol(), Some(1));
    eprintln!("connected: {ch:?}");

    // Raw APDUs: the error status words a well-behaved card gives.
    assert_eq!(
        ch.transmit(&[0x00, 0xF0, 0x00, 0x00]).unwrap(),
        [0x6D, 0x00]
    );
    assert_eq!(
        ch.transmit(&[0xA0, 0x84, 0x00, 0x00, 0x08]).unwrap(),
        [0x6E, 0x00]
    );
    let other_aid = Command::new(0x00, 0xA4, 0x04, 0x00).with_data(&[0xA0, 0x00, 0x00, 0x00, 0x99]);
    assert_eq!(ch.transmit(&other_aid.to_bytes()).unwrap(), [0x6A, 0x82]);
    assert_eq!(
        ch.transmit(&get_data().to_bytes()).unwrap(),
        [0x69, 0x85],
        "not selected yet"
    );
    assert_eq!(ch.transmit(&select()).unwrap(), [0x90, 0x00]);

    // 61xx by hand: GET DATA announces 256+ bytes, two GET RESPONSEs collect 256 + 44.
    assert_eq!(ch.transmit(&get_data().to_bytes()).unwrap(), [0x61, 0x00]);
    let part1 = ch.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x00]).unwrap();
    assert_eq!(part1.len(), 258);
    assert_eq!(part1[256..], [0x61, 0x2C]);
    let part2 = ch.transmit(&[0x00, 0xC0, 0x00, 0x00, 0x2C]).unwrap();
    assert_eq!(part2.len(), 46);
    assert_eq!(part2[44..], [0x90, 0x00]);

    let expected: Vec<u8> = (0..GET_DATA_LEN).map(|i| (i * 3) as u8).collect();
    {
        // The same through the exchange layer; extended length comes from the ATR.
        let mut ex = Exchange::new(&mut ch);
        assert!(ex.config().extended_length, "ATR announces extended length");
        let r = ex.transmit(&get_data()).unwrap();
        assert!(r.is_success(), "{}", r.sw);
        assert_eq!(r.data, expected);
        assert_eq!(ex.round_trips(), 3, "GET DATA + 2 GET RESPONSE");

        // A 3500-byte extended case-4 command, echoed back in one extended response.
        ex.reset_round_trips();
        let big: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
        let echo = Command::new(0x00, 0xEE, 0x00, 0x00)
            .with_data(&big)
            .with_ne(65536);
        let r = ex.transmit(&echo).unwrap();
        assert!(r.is_success(), "{}", r.sw);
        assert_eq!(r.data, big);
        assert_eq!(ex.round_trips(), 1, "one extended APDU, no chaining");
    }
    assert_eq!(
        handle.card().last_apdu_len,
        4 + 3 + 3500 + 2,
        "reached the card in one piece"
    );

    // Latency: the vpcd socket's TCP_NODELAY + TCP_QUICKACK.
    let mean = mean_round_trip(&mut ch, 200);
    eprintln!("mean APDU round trip through pcscd + vpcd (quickack on): {mean:?}");
    assert!(
        mean < Duration::from_millis(5),
        "mean round trip {mean:?}: quickack not effective?"
    );

    // Exclusive access is refused while we hold the card shared.
    match ctx.connect(READER, ShareMode::Exclusive) {
        Err(TransportError::ReaderBusy { reader }) => assert_eq!(reader, READER),
        other => panic!("expected ReaderBusy, got {other:?}"),
    }

    // Transactions: another application's APDU waits until our transaction ends; its
    // disconnect with reset then shows up here as CardReset.
    let (connected_tx, connected_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let other = std::thread::spawn(move || {
        let ctx = PcscContext::establish().unwrap();
        let mut other = ctx.connect(READER, ShareMode::Shared).unwrap();
        connected_tx.send(()).unwrap();
        go_rx.recv().unwrap();
        let r = other.transmit(&GET_CHALLENGE).unwrap();
        let done = Instant::now();
        other.disconnect(true).unwrap();
        (done, r)
    });
    connected_rx.recv().unwrap();
    let released = {
        let mut tx = ch.transaction().unwrap();
        assert_eq!(tx.transmit(&select()).unwrap(), [0x90, 0x00]);
        go_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(400));
        {
            let mut nested = tx.transaction().unwrap();
            assert_eq!(nested.transmit(&GET_CHALLENGE).unwrap().len(), 10);
        }
        assert_eq!(tx.transmit(&get_data().to_bytes()).unwrap(), [0x61, 0x00]);
        assert!(
            !other.is_finished(),
            "the other application got in during our transaction"
        );
        Instant::now()
    };
    let (done, r) = other.join().unwrap();
    assert!(
        done >= released,
        "other application's APDU ran inside our transaction"
    );
    assert_eq!(r.len(), 10);
    match ch.transmit(&GET_CHALLENGE) {
        Err(TransportError::CardReset) => {}
        other => panic!("expected CardReset after the other application's reset, got {other:?}"),
    }
    // Reconnected, but the application must be selected again.
    assert_eq!(ch.transmit(&get_data().to_bytes()).unwrap(), [0x69, 0x85]);
    assert_eq!(ch.transmit(&select()).unwrap(), [0x90, 0x00]);

    // Our own reset clears the card state too.
    let resets_before = handle.card().resets;
    ch.reset().unwrap();
    assert_eq!(ch.atr(), test_atr());
    assert!(handle.card().resets > resets_before, "vpcd sent a reset");
    assert_eq!(ch.transmit(&get_data().to_bytes()).unwrap(), [0x69, 0x85]);

    // OpenSC sees the same card through the same reader.
    let atr_hex = hex::encode_upper(test_atr());
    match run_tool("opensc-tool", &["--reader", READER, "--atr"]) {
        Some((ok, out)) => {
            eprintln!("opensc-tool --atr:\n{out}");
            assert!(ok, "opensc-tool --atr failed:\n{out}");
            assert!(
                hex_digits(&out).contains(&atr_hex),
                "ATR {atr_hex} not in:\n{out}"
            );
            let apdu = hex::encode_upper(GET_CHALLENGE);
            let (ok, out) =
                run_tool("opensc-tool", &["--reader", READER, "--send-apdu", &apdu]).unwrap();
            eprintln!("opensc-tool --send-apdu {apdu}:\n{out}");
            assert!(ok, "opensc-tool --send-apdu failed:\n{out}");
            let answer = hex::encode_upper(CHALLENGE);
            assert!(
                hex_digits(&out).contains(&answer),
                "{answer} not in:\n{out}"
            );
            assert!(out.contains("SW1=0x90, SW2=0x00"), "{out}");
        }
        None => {
            assert!(
                !cps_transport::pcsc::testing::is_ci(),
                "opensc-tool not installed (apt-get install opensc)"
            );
            eprintln!("NOTE: opensc-tool not installed, its checks were skipped");
        }
    }
    // Whatever OpenSC did on disconnect, our channel carries on.
    assert_eq!(
        transmit_reselecting(&mut ch, &GET_CHALLENGE)[8..],
        [0x90, 0x00]
    );

    // Removal: the next exchange fails with a card-gone error once pcscd has noticed.
    let apdus_served = handle.card().apdus;
    let stats = handle.remove().unwrap();
    assert!(
        stats.apdus >= 200 && stats.apdus <= apdus_served,
        "{stats:?}"
    );
    eprintln!("vpcd link stats: {stats:?}");
    let removed = Instant::now();
    // pcscd only notices on its next presence poll; the channel waits for it (up to 1 s)
    // when an exchange fails, so the error says what happened.
    let immediate = ch.transmit(&GET_CHALLENGE);
    eprintln!(
        "transmit right after removal: {immediate:?} after {:?}",
        removed.elapsed()
    );
    assert!(
        matches!(
            immediate,
            Err(TransportError::CardRemoved | TransportError::NoCard { .. })
        ),
        "{immediate:?}"
    );
    ctx.wait_for_removal(READER, Duration::from_secs(5))
        .unwrap();
    eprintln!("removal seen by pcscd after {:?}", removed.elapsed());
    match ch.transmit(&GET_CHALLENGE) {
        Err(TransportError::CardRemoved | TransportError::NoCard { .. }) => {}
        other => panic!("expected CardRemoved/NoCard after removal, got {other:?}"),
    }
    drop(ch);
    assert!(
        !ctx.list_readers()
            .unwrap()
            .iter()
            .any(|r| r.name == READER && r.card_present)
    );
    assert!(matches!(
        ctx.connect(READER, ShareMode::Shared),
        Err(TransportError::NoCard { .. } | TransportError::CardRemoved)
    ));

    // For the record: the same round trip without re-arming TCP_QUICKACK.
    let cfg = VpcdConfig {
        quickack: false,
        ..VpcdConfig::with_port(PORT)
    };
    let handle = vpcd::spawn(TestCard::default(), cfg).unwrap();
    ctx.wait_for_card(Some(READER), Duration::from_secs(5))
        .unwrap();
    let mut ch = ctx.connect(READER, ShareMode::Shared).unwrap();
    let slow = mean_round_trip(&mut ch, 20);
    eprintln!("mean APDU round trip without quickack (TCP_NODELAY only): {slow:?}");
    drop(ch);
    handle.remove().unwrap();
    ctx.wait_for_removal(READER, Duration::from_secs(5))
        .unwrap();

    // A frozen card: the exchange gives up after the channel's timeout instead of hanging,
    // names the command, and does not send it again.
    let handle = vpcd::spawn(FreezingCard::default(), VpcdConfig::with_port(PORT)).unwrap();
    ctx.wait_for_card(Some(READER), Duration::from_secs(5))
        .unwrap();
    let mut ch = ctx.connect(READER, ShareMode::Shared).unwrap();
    ch.set_timeouts(Timeouts::uniform(Duration::from_millis(1500)));
    assert_eq!(ch.transmit(&GET_CHALLENGE).unwrap().len(), 10);
    let started = Instant::now();
    let verify = Command::new(0x00, 0x20, 0x00, 0x01).with_data(b"1234");
    // The IAS-ECC table names the command (without it, an unknown command is a "command").
    let mut ex = Exchange::new(&mut ch);
    ex.register(&cps_iasecc::table::TABLE);
    match ex.transmit(&verify) {
        Err(TransportError::NoAnswer {
            command: "VERIFY",
            seconds,
        }) => assert!((seconds - 1.5).abs() < 0.01, "{seconds}"),
        other => panic!("expected NoAnswer for VERIFY, got {other:?}"),
    }
    let waited = started.elapsed();
    eprintln!("frozen card: gave up after {waited:?}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    // The channel is unusable afterwards, and says so at once.
    let again = Instant::now();
    assert!(matches!(
        ch.transmit(&GET_CHALLENGE),
        Err(TransportError::CardUnresponsive)
    ));
    assert!(again.elapsed() < Duration::from_millis(100));
    drop(ch);
    // Once the card thaws, pcscd goes on; the VERIFY reached the card exactly once.
    std::thread::sleep(FREEZE);
    assert_eq!(handle.card().verifies, 1, "VERIFY sent again");
    handle.remove().unwrap();
    ctx.wait_for_removal(READER, Duration::from_secs(10))
        .unwrap();
}
