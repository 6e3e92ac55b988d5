//! Property tests: encode → parse → encode round trips, and parsers never panic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_apdu::chain::{self, Chained, Reassembler};
use cps_apdu::tlv::{self, Builder, Tag};
use cps_apdu::{Command, EXTENDED_MAX_LC, Encoding, Response};
use proptest::prelude::*;

fn data(max_common: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..=max_common),
        1 => proptest::collection::vec(any::<u8>(), 250..=260),
        1 => proptest::collection::vec(any::<u8>(), 0..=EXTENDED_MAX_LC),
        1 => proptest::collection::vec(any::<u8>(), EXTENDED_MAX_LC - 2..=EXTENDED_MAX_LC),
    ]
}

fn ne() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![
        Just(None),
        (1usize..=256).prop_map(Some),
        (1usize..=65_536).prop_map(Some),
        prop_oneof![Just(256), Just(257), Just(65_535), Just(65_536)].prop_map(Some),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        data(300),
        ne(),
    )
        .prop_map(|(cla, ins, p1, p2, data, ne)| Command {
            cla,
            ins,
            p1,
            p2,
            data,
            ne,
        })
}

/// A valid tag of 1 to 4 bytes, primitive or constructed as asked.
fn tag(constructed: bool) -> impl Strategy<Value = Tag> {
    let c = if constructed { 0x20u32 } else { 0 };
    // First byte of a multi-byte tag: class bits, constructed bit, 11111.
    let multi = move |cls: u32| (cls << 6) | c | 0x1F;
    prop_oneof![
        // One byte, low bits not 11111.
        (0u32..=0xFF)
            .prop_filter("not multi-byte", |b| b & 0x1F != 0x1F)
            .prop_map(move |b| Tag((b & !0x20) | c)),
        // Two bytes: second byte with b8 clear.
        (0u32..4, 0u32..0x80).prop_map(move |(cls, b)| Tag((multi(cls) << 8) | b)),
        // Three bytes.
        (0u32..4, 0x80u32..0x100, 0u32..0x80).prop_map(move |(cls, b, z)| Tag((((multi(cls)
            << 8)
            | b)
            << 8)
            | z)),
        // Four bytes.
        (0u32..4, 0x80u32..0x100, 0x80u32..0x100, 0u32..0x80)
            .prop_map(move |(cls, b, y, z)| Tag((((((multi(cls) << 8) | b) << 8) | y) << 8) | z)),
    ]
}

#[derive(Debug, Clone)]
enum Tree {
    Leaf(Tag, Vec<u8>),
    Node(Tag, Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (
        tag(false),
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 0..40),
            1 => proptest::collection::vec(any::<u8>(), 100..300),
        ],
    )
        .prop_map(|(t, v)| Tree::Leaf(t, v));
    // Depth ≤ 4 below the top-level object.
    leaf.prop_recursive(4, 64, 6, |inner| {
        (tag(true), proptest::collection::vec(inner, 0..6))
            .prop_map(|(t, kids)| Tree::Node(t, kids))
    })
}

fn build(b: Builder, t: &Tree) -> Builder {
    match t {
        Tree::Leaf(tag, v) => b.primitive(*tag, v),
        Tree::Node(tag, kids) => b.constructed(*tag, |mut inner| {
            for k in kids {
                inner = build(inner, k);
            }
            inner
        }),
    }
}

/// Checks that `obj` (found in `whole`) is `t`, offsets included.
fn check(t: &Tree, obj: &tlv::Tlv<'_>, whole: &[u8]) {
    let (tag, len) = match t {
        Tree::Leaf(tag, v) => (*tag, v.len()),
        Tree::Node(tag, _) => (*tag, obj.value.len()),
    };
    assert_eq!(obj.tag, tag);
    assert_eq!(obj.value.len(), len);
    assert!(obj.tag.is_valid());
    assert_eq!(
        &whole[obj.offset..obj.offset + obj.raw_len()],
        &obj.encode()[..]
    );
    match t {
        Tree::Leaf(_, v) => assert_eq!(obj.value, &v[..]),
        Tree::Node(_, kids) => {
            assert!(obj.tag.is_constructed());
            let parsed = obj.children().unwrap();
            assert_eq!(parsed.len(), kids.len());
            for (k, p) in kids.iter().zip(&parsed) {
                check(k, p, whole);
                // The path from this node finds the first child with that tag.
                let first = kids
                    .iter()
                    .position(|x| match x {
                        Tree::Leaf(t, _) | Tree::Node(t, _) => *t == p.tag,
                    })
                    .unwrap();
                assert_eq!(
                    obj.child(p.tag).unwrap().unwrap().offset,
                    parsed[first].offset
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn command_round_trip(cmd in command()) {
        let bytes = cmd.to_bytes();
        let parsed = Command::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &cmd);
        prop_assert_eq!(parsed.to_bytes(), bytes.clone());
        if cmd.fits_short() {
            prop_assert_eq!(cmd.encode(Encoding::Short).unwrap(), bytes);
        } else {
            prop_assert!(cmd.encode(Encoding::Short).is_err());
        }
        let ext = cmd.encode(Encoding::Extended).unwrap();
        prop_assert_eq!(Command::parse(&ext).unwrap(), cmd);
    }

    #[test]
    fn command_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(cmd) = Command::parse(&bytes) {
            // What parses re-encodes to something that parses to the same command.
            prop_assert_eq!(Command::parse(&cmd.to_bytes()).unwrap(), cmd);
        }
    }

    #[test]
    fn command_parse_of_plausible_lengths(
        header in any::<[u8; 4]>(),
        marker in prop_oneof![Just(0u8), any::<u8>()],
        lens in any::<[u8; 2]>(),
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = header.to_vec();
        bytes.push(marker);
        bytes.extend(lens);
        bytes.extend(body);
        if let Ok(cmd) = Command::parse(&bytes) {
            prop_assert_eq!(Command::parse(&cmd.to_bytes()).unwrap(), cmd);
        }
    }

    #[test]
    fn response_round_trip(data in proptest::collection::vec(any::<u8>(), 0..600), sw in any::<u16>()) {
        let r = Response::new(data, sw.into());
        prop_assert_eq!(Response::parse(&r.to_bytes()).unwrap(), r);
    }

    #[test]
    fn tlv_tree_round_trip(trees in proptest::collection::vec(tree(), 1..4)) {
        let mut b = Builder::new();
        for t in &trees {
            b = build(b, t);
        }
        let bytes = b.finish();
        let parsed = tlv::parse_all(&bytes).unwrap();
        prop_assert_eq!(parsed.len(), trees.len());
        let mut again = Vec::new();
        for (t, p) in trees.iter().zip(&parsed) {
            check(t, p, &bytes);
            p.walk(&mut |depth, _| assert!(depth <= 5)).unwrap();
            again.extend(p.encode());
        }
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn tlv_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(objs) = tlv::parse_all(&bytes) {
            let mut again = Vec::new();
            for o in &objs {
                let _ = o.walk(&mut |_, t| {
                    // Every visited object re-encodes to something that parses back to it.
                    let enc = t.encode();
                    let (p, rest) = tlv::parse_one(&enc).unwrap();
                    assert!(rest.is_empty());
                    assert_eq!(p, *t);
                });
                again.extend(o.encode());
            }
            // Non-minimal length encodings parse but re-encode shorter; never longer.
            prop_assert!(again.len() <= bytes.len());
            prop_assert_eq!(tlv::parse_all(&again).unwrap(), objs);
        }
        let _ = tlv::find_path(&bytes, &[Tag(0x62), Tag(0xA1), Tag(0x8C)]);
        let _: Vec<_> = tlv::Iter::new(&bytes).skip_padding().collect();
    }

    #[test]
    fn tlv_errors_point_inside_the_input(bytes in proptest::collection::vec(any::<u8>(), 1..64)) {
        if let Err(cps_apdu::ApduError::Tlv { offset, .. }) = tlv::parse_all(&bytes) {
            prop_assert!(offset < bytes.len());
        }
    }

    #[test]
    fn chain_round_trip(
        cmd in command(),
        chunk in prop_oneof![4 => 1usize..=255, 1 => 1usize..=EXTENDED_MAX_LC],
    ) {
        let mut cmd = cmd;
        cmd.cla &= !chain::CHAINING_BIT;
        let parts = chain::split(&cmd, chunk).unwrap();
        prop_assert_eq!(parts.len(), cmd.data.len().div_ceil(chunk).max(1));
        let mut r = Reassembler::default();
        let mut out = None;
        for (i, p) in parts.iter().enumerate() {
            // Each part survives the wire.
            let p = Command::parse(&p.to_bytes()).unwrap();
            prop_assert!(p.data.len() <= chunk);
            match r.push(p).unwrap() {
                Chained::NeedMore => prop_assert!(i + 1 < parts.len()),
                Chained::Complete(c) => out = Some(c),
            }
        }
        prop_assert_eq!(out.unwrap(), cmd);
        prop_assert!(!r.in_progress());
    }
}
