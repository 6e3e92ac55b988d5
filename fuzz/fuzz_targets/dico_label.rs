//! cps-iasecc's dictionary lookups (`dico::label`, `dico::label_qualified`) on arbitrary
//! codes, as read from a hostile card: no panic, and every answer is a real entry of the table.
#![no_main]
use cps_iasecc::dico::{self, Table};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let table = Table::ALL[usize::from(selector) % Table::ALL.len()];
    let text = String::from_utf8_lossy(rest);
    let (code, qualifier) = text.split_once('\u{1f}').unwrap_or((&text, ""));
    let _ = Table::from_id(code);
    if let Some(label) = dico::label(table, code) {
        assert!(table.entries().any(|e| e.code == code && e.label == label));
    }
    if let Some(label) = dico::label_qualified(table, code, qualifier) {
        assert!(table.entries().any(|e| e.code == code
            && e.label == label
            && matches!(e.qualifier.unwrap_or(""), q if q == qualifier || q == "*")));
    }
});
