//! Command chaining. Even first byte: the card side fed any sequence of APDUs (never
//! panics, never holds more than its limit). Odd first byte: a command split by the host
//! side and reassembled by the card side comes back unchanged.
#![no_main]
use cps_apdu::Command;
use cps_apdu::chain::{self, Chained, Reassembler};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 1024;

fn card_side(data: &[u8]) {
    let mut r = Reassembler::new(LIMIT);
    // The input is a sequence of APDUs, each behind a 1-byte length prefix.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let (apdu, next) = tail.split_at(usize::from(len).min(tail.len()));
        rest = next;
        let Ok(cmd) = Command::parse(apdu) else {
            continue;
        };
        let was_chaining = r.in_progress() || cmd.is_chained();
        match r.push(cmd) {
            Ok(Chained::Complete(c)) => {
                assert!(!r.in_progress());
                assert!(!was_chaining || c.data.len() <= LIMIT);
            }
            Ok(Chained::NeedMore) => assert!(r.in_progress()),
            Err(sw) => {
                assert!(matches!(sw.0, 0x6700 | 0x6883));
                assert!(!r.in_progress());
            }
        }
        assert!(r.pending_len() <= LIMIT);
    }
}

fn host_then_card(data: &[u8]) {
    let Some((&[c1, c2], apdu)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Ok(mut cmd) = Command::parse(apdu) else {
        return;
    };
    cmd.cla &= !chain::CHAINING_BIT;
    let chunk = usize::from(u16::from_be_bytes([c1, c2])).max(1);
    let parts = chain::split(&cmd, chunk).expect("valid command splits");
    let mut r = Reassembler::default();
    let mut out = None;
    for (i, p) in parts.iter().enumerate() {
        let p = Command::parse(&p.to_bytes()).expect("part parses");
        match r.push(p).expect("chain accepted") {
            Chained::NeedMore => assert!(i + 1 < parts.len()),
            Chained::Complete(c) => out = Some(c),
        }
    }
    assert_eq!(out.expect("chain completes"), cmd);
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode & 1 == 0 => card_side(rest),
        Some((_, rest)) => host_then_card(rest),
        None => {}
    }
});
