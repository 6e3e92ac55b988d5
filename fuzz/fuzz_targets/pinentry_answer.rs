//! The answers of a pinentry program (Assuan lines) as cps-pkcs11 reads them: classify each
//! line, percent-decode `D` lines into a bounded buffer, and check that escaping then decoding
//! gives the text back.
#![no_main]
use cps_pkcs11::pinentry::{Answer, decode_into, escape, parse_answer};
use libfuzzer_sys::fuzz_target;
use zeroize::Zeroizing;

const MAX: usize = 64;

fuzz_target!(|data: &[u8]| {
    for line in data.split(|&b| b == b'\n') {
        if let Answer::Data(d) = parse_answer(line) {
            let mut out = Zeroizing::new(Vec::with_capacity(MAX));
            if decode_into(d, &mut out, MAX).is_ok() {
                assert!(out.len() <= MAX);
                assert!(out.len() <= d.len());
            }
        }
    }
    // Text sent to the program (card label, description) survives escaping.
    if let Ok(text) = std::str::from_utf8(data) {
        let escaped = escape(text);
        assert!(!escaped.bytes().any(|b| b == b'\n' || b == b'\r'));
        let mut out = Zeroizing::new(Vec::with_capacity(escaped.len()));
        decode_into(escaped.as_bytes(), &mut out, escaped.len()).expect("escaped text decodes");
        assert_eq!(out.as_slice(), text.as_bytes());
    }
});
