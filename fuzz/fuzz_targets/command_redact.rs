//! The command tables and the redactor on arbitrary bytes (what `cps apdu` echoes, what a
//! transcript keeps): never panic, and a command the tables call secret (or do not list)
//! never shows its data field in the clear, whatever its class byte.
#![no_main]
use cps_apdu::Command;
use cps_apdu::table::{CommandTables, Hidden};
use cps_transport::record::{RedactionPolicy, Segment};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Every protocol's table, as the facade and the CLI's --trace register them.
    let tables = CommandTables::of(&[
        &cps_iasecc::table::TABLE,
        &cps_desfire::table::TABLE,
        &cps_fido2::table::TABLE,
        &cps_update::table::TABLE,
    ]);
    let info = tables.classify(data);
    let (cmd, resp) = RedactionPolicy::new(tables).redact(data, &[0x42, 0x90, 0x00]);
    assert_eq!(cmd.len(), data.len());
    if info.hidden == Hidden::DataAndResponse {
        assert!(resp.is_redacted(), "response of an unknown command shown");
    }
    if info.hidden != Hidden::Nothing && info.hidden != Hidden::DataAfterFirstAndResponse {
        if let Ok(c) = Command::parse(data) {
            let shown: usize = cmd
                .0
                .iter()
                .map(|s| match s {
                    Segment::Bytes(b) => b.len(),
                    Segment::Redacted(_) => 0,
                })
                .sum();
            assert!(shown + c.data.len() <= data.len(), "secret data shown");
            assert!(c.data.is_empty() || cmd.is_redacted(), "secret data shown");
        }
    }
    // A read is never secret; only reads may be re-sent.
    assert!(!(info.may_resend() && info.is_secret()));
});
