//! cps-iasecc's holder-data parsers (EF.IDENT, EF.DAM) on arbitrary bytes: no panic, and
//! whatever parses re-encodes to something that parses back to the same value.
#![no_main]
use cps_iasecc::{HolderIdentity, PracticeSituation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = HolderIdentity::parse(data) {
        let again = HolderIdentity::parse(&id.encode()).expect("re-encoded identity parses");
        assert_eq!(again, id);
        let _ = id.display_name();
    }
    if let Ok(sits) = PracticeSituation::parse_all(data) {
        let again = PracticeSituation::parse_all(&PracticeSituation::encode_all(&sits))
            .expect("re-encoded situations parse");
        assert_eq!(again, sits);
    }
});
