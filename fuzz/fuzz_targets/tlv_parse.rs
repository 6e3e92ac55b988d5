//! BER-TLV: parse, walk nested objects, look up paths, re-encode.
#![no_main]
use cps_apdu::tlv::{self, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(objs) = tlv::parse_all(data) {
        let mut again = Vec::new();
        for o in &objs {
            let _ = o.walk(&mut |_, t| {
                let _ = t.tag.is_constructed();
            });
            let enc = o.encode();
            // A re-encoded object parses back to the same tag and value.
            let (p, rest) = tlv::parse_one(&enc).expect("re-encoded object parses");
            assert!(rest.is_empty());
            assert_eq!((p.tag, p.value), (o.tag, o.value));
            again.extend(enc);
        }
        assert!(again.len() <= data.len());
    }
    let _ = tlv::find_path(data, &[Tag(0x70), Tag(0xBF8101), Tag(0x7F41)]);
    let _: Vec<_> = tlv::Iter::new(data).skip_padding().collect();
});
