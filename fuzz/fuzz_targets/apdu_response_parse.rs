//! Response APDU parsing and status-word decoding, as the host does with card bytes.
#![no_main]
use cps_apdu::Response;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Response::parse(data) {
        assert_eq!(r.to_bytes(), data);
        let _ = r.sw.class();
        let _ = r.sw.retries_left();
        assert!(!r.sw.message().to_string().is_empty());
    }
});
