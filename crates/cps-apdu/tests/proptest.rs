//! Property tests: encode → parse → encode round trips, and parsers never panic.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "tests"
)]

use cps_apdu::chain::{self, Chained, Reassembler};
use cps_apdu::tlv::{self, Builder, Tag};
use cps_apdu::{Command, Encoding, Response};
use proptest::prelude::*;

fn command() -> impl Strategy<Value = Command> {
    (
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..300),
            1 => proptest::collection::vec(any::<u8>(), 0..5000),
        ],
        prop_oneof![
            Just(None),
            (1usize..=65536).prop_map(Some),
            (1usize..=256).prop_map(Some)
        ],
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

/// A tag of 1 to 3 bytes, primitive or constructed as asked.
fn tag(constructed: bool) -> impl Strategy<Value = Tag> {
    let c = if constructed { 0x20u32 } else { 0 };
    prop_oneof![
        // One byte, low bits not 11111.
        (0u32..=0xFF)
            .prop_filter("not multi-byte", |b| b & 0x1F != 0x1F)
            .prop_map(move |b| Tag((b & !0x20) | c)),
        // Two bytes: first xx11111, second < 0x80.
        (0u32..4, 0x1Fu32..0x80).prop_map(move |(cls, b)| Tag((((cls << 6) | 0x1F | c) << 8) | b)),
        // Three bytes.
        (0u32..4, 0x80u32..0x100, 0u32..0x80).prop_map(move |(cls, b, z)| Tag((((((cls << 6)
            | 0x1F
            | c)
            << 8)
            | b)
            << 8)
            | z)),
    ]
}

#[derive(Debug, Clone)]
enum Tree {
    Leaf(Tag, Vec<u8>),
    Node(Tag, Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = (tag(false), proptest::collection::vec(any::<u8>(), 0..300))
        .prop_map(|(t, v)| Tree::Leaf(t, v));
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

fn check(t: &Tree, obj: &tlv::Tlv<'_>) {
    match t {
        Tree::Leaf(tag, v) => {
            assert_eq!(obj.tag, *tag);
            assert_eq!(obj.value, &v[..]);
        }
        Tree::Node(tag, kids) => {
            assert_eq!(obj.tag, *tag);
            let parsed = obj.children().unwrap();
            assert_eq!(parsed.len(), kids.len());
            for (k, p) in kids.iter().zip(&parsed) {
                check(k, p);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn command_round_trip(cmd in command()) {
        let bytes = cmd.to_bytes();
        let parsed = Command::parse(&bytes).unwrap();
        prop_assert_eq!(&parsed, &cmd);
        prop_assert_eq!(parsed.to_bytes(), bytes.clone());
        if cmd.fits_short() {
            prop_assert_eq!(cmd.encode(Encoding::Short).unwrap(), bytes);
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
            check(t, p);
            again.extend(p.encode());
        }
        prop_assert_eq!(again, bytes);
    }

    #[test]
    fn tlv_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(objs) = tlv::parse_all(&bytes) {
            let mut again = Vec::new();
            for o in &objs {
                let _ = o.walk(&mut |_, _| {});
                again.extend(o.encode());
            }
            // Non-minimal length encodings parse but re-encode shorter; never longer.
            prop_assert!(again.len() <= bytes.len());
        }
        let _ = tlv::find_path(&bytes, &[Tag(0x62), Tag(0xA1), Tag(0x8C)]);
        let _: Vec<_> = tlv::Iter::new(&bytes).skip_padding().collect();
    }

    #[test]
    fn chain_round_trip(cmd in command(), chunk in 1usize..=255) {
        let mut cmd = cmd;
        cmd.cla &= !0x10;
        let parts = chain::split(&cmd, chunk).unwrap();
        let mut r = Reassembler::default();
        let mut out = None;
        for (i, p) in parts.iter().enumerate() {
            match r.push(p.clone()).unwrap() {
                Chained::NeedMore => prop_assert!(i + 1 < parts.len()),
                Chained::Complete(c) => out = Some(c),
            }
        }
        prop_assert_eq!(out.unwrap(), cmd);
    }
}
