//! The PC/SC reader list (a multi-string written by libpcsclite, untrusted bytes).
#![no_main]
use cps_transport::pcsc::split_multi_string;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let names = split_multi_string(data);
    let total: usize = names.iter().map(|n| n.as_bytes().len() + 1).sum();
    // Every name and its terminator came from the input.
    assert!(total <= data.len() + 1);
    assert!(names.iter().all(|n| !n.as_bytes().is_empty()));
});
