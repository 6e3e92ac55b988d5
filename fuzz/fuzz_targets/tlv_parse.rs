//! BER-TLV: parse, descend through every constructed object (children, find_path, walk),
//! re-encode, and check that re-encoding round-trips.
#![no_main]
use cps_apdu::tlv::{self, MAX_DEPTH, Tag, Tlv};
use libfuzzer_sys::fuzz_target;

/// Checks `o` (found in `data` by following `path`) and, recursively, its children.
fn check(o: &Tlv<'_>, data: &[u8], path: &mut Vec<Tag>) {
    path.push(o.tag);
    // Offsets point at the object's bytes in the original input.
    let raw = data
        .get(o.offset..o.offset + o.raw_len())
        .expect("object lies inside the input");
    assert_eq!(raw.get(o.value_offset() - o.offset..), Some(o.value));
    let enc = o.encode();
    assert!(enc.len() <= raw.len());
    let (again, rest) = tlv::parse_one(&enc).expect("re-encoded object parses");
    assert!(rest.is_empty());
    assert_eq!(again, *o);
    // The same path finds an object with this tag (the first match at each level, which may
    // be an earlier sibling; its malformed content may then be an error).
    if let Ok(Some(found)) = tlv::find_path(data, path) {
        assert_eq!(found.tag, o.tag);
    }
    if o.tag.is_constructed() && path.len() < MAX_DEPTH {
        if let Ok(kids) = o.children() {
            let mut value = Vec::new();
            for k in &kids {
                check(k, data, path);
                k.encode_into(&mut value);
            }
            assert_eq!(
                tlv::parse_all(&value).expect("re-encoded children parse"),
                kids
            );
        }
    }
    path.pop();
}

fuzz_target!(|data: &[u8]| {
    let _: Vec<_> = tlv::Iter::new(data).skip_padding().collect();
    let _ = tlv::find_path(data, &[Tag(0x70), Tag(0xBF8101), Tag(0x7F41)]);
    let Ok(objs) = tlv::parse_all(data) else {
        return;
    };
    let mut again = Vec::new();
    let mut path = Vec::new();
    for o in &objs {
        check(o, data, &mut path);
        let _ = o.walk(&mut |depth, _| assert!(depth <= MAX_DEPTH));
        o.encode_into(&mut again);
    }
    assert_eq!(tlv::parse_all(&again).expect("re-encoding parses"), objs);
    // Minimal length encodings everywhere: the bytes themselves round-trip.
    assert!(again.len() <= data.len());
    if again.len() == data.len() {
        assert_eq!(again, data);
    }
});
