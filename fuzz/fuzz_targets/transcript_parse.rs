//! APDU transcript files (untrusted text) and their replay.
#![no_main]
use cps_transport::CardChannel;
use cps_transport::record::{ReplayChannel, Transcript};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(t) = Transcript::from_text(text) {
        let again = Transcript::from_text(&t.to_text()).expect("re-serialised transcript parses");
        assert_eq!(again, t);
        let cmds: Vec<Vec<u8>> = t.exchanges.iter().map(|e| e.command.to_bytes_zero_filled()).collect();
        let mut replay = ReplayChannel::new(t);
        for c in cmds {
            let _ = replay.transmit(&c);
        }
    }
});
