//! Card-side command chaining: any sequence of APDUs, never panics, never exceeds the limit.
#![no_main]
use cps_apdu::Command;
use cps_apdu::chain::{Chained, Reassembler};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = Reassembler::new(1024);
    // Split the input into APDUs with a 1-byte length prefix each.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        rest = next;
        if let Ok(cmd) = Command::parse(apdu) {
            if let Ok(Chained::Complete(c)) = r.push(cmd) {
                assert!(c.data.len() <= 1024 || !r.in_progress());
            }
        }
    }
});
