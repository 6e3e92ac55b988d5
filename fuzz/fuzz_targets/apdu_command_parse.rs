//! Command APDU parsing (what a simulated card does with host bytes): never panics, and
//! whatever parses re-encodes to an APDU that parses to the same command.
#![no_main]
use cps_apdu::{Command, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cmd) = Command::parse(data) {
        let again = Command::parse(&cmd.to_bytes()).expect("re-encoded command parses");
        assert_eq!(again, cmd);
        let _ = cmd.encode(Encoding::Short);
        let ext = cmd
            .encode(Encoding::Extended)
            .expect("valid command encodes extended");
        assert_eq!(Command::parse(&ext).expect("extended parses"), cmd);
    }
});
