//! The CTAP engine of the simulated authenticator fed arbitrary `command ‖ CBOR` requests
//! (what the applet passes after reassembly): never panics, always answers a status byte.
#![no_main]
use cps_sim::fido2::authenticator::Authenticator;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut a = Authenticator::new();
    let r = a.handle(data, true);
    assert!(!r.is_empty());
    // A successful response body is canonical CBOR.
    if r.len() > 1 && r[0] == 0 {
        cps_fido2::cbor::decode(&r[1..]).expect("responses are canonical CBOR");
    }
});
