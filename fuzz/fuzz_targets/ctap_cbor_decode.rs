//! CTAP canonical CBOR decoding of untrusted bytes (card responses on the client, requests on
//! the simulated applet): never panics, and whatever is accepted re-encodes byte for byte.
#![no_main]
use cps_fido2::cbor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = cbor::decode(data) {
        assert_eq!(cbor::encode(&v), data);
    }
    let _ = cbor::decode_prefix(data);
});
