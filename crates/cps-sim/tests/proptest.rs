//! Property tests: random APDU sequences never panic, always get a status word, and change the
//! PIN/PUK counters only through VERIFY, CHANGE REFERENCE DATA or RESET RETRY COUNTER with data.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

use std::sync::OnceLock;

use cps_sim::{Profile, SimCard};
use cps_transport::VirtualCard;
use proptest::prelude::*;

/// One step of a session: an APDU or a power event.
#[derive(Debug, Clone)]
enum Step {
    Apdu(Vec<u8>),
    Reset,
    PowerCycle,
}

fn cards() -> &'static [SimCard; 2] {
    static CARDS: OnceLock<[SimCard; 2]> = OnceLock::new();
    CARDS.get_or_init(|| {
        let build = |p| {
            SimCard::builder()
                .profile(p)
                .key_generation(false)
                .build()
                .unwrap()
        };
        [build(Profile::Cps3), build(Profile::Cps4)]
    })
}

fn digits() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"1234".to_vec()),
        Just(b"12345678".to_vec()),
        prop::collection::vec(b'0'..=b'9', 0..10),
        prop::collection::vec(any::<u8>(), 0..12),
    ]
}

fn with_lc(header: [u8; 4], data: &[u8], le: Option<u8>) -> Vec<u8> {
    let mut v = header.to_vec();
    if !data.is_empty() {
        v.push(data.len() as u8);
        v.extend_from_slice(data);
    }
    if let Some(le) = le {
        v.push(le);
    }
    v
}

fn apdu() -> impl Strategy<Value = Vec<u8>> {
    let cla = prop_oneof![Just(0x00u8), Just(0x10), any::<u8>()];
    let ins = prop_oneof![
        Just(0xA4u8),
        Just(0xB0),
        Just(0xD6),
        Just(0x84),
        Just(0xC0),
        Just(0x20),
        Just(0x24),
        Just(0x2C),
        Just(0xCB),
        Just(0x22),
        Just(0x2A),
        Just(0x88),
        Just(0x46),
        any::<u8>()
    ];
    prop_oneof![
        // Structured: plausible header, random parameters and data.
        (
            cla,
            ins,
            prop_oneof![
                Just(0u8),
                Just(1),
                Just(2),
                Just(3),
                Just(4),
                Just(8),
                Just(9),
                any::<u8>()
            ],
            prop_oneof![
                Just(0u8),
                Just(1),
                Just(2),
                Just(4),
                Just(0x0C),
                any::<u8>()
            ],
            prop::collection::vec(any::<u8>(), 0..40),
            proptest::option::of(any::<u8>())
        )
            .prop_map(|(cla, ins, p1, p2, data, le)| with_lc(
                [cla, ins, p1, p2],
                &data,
                le
            )),
        // PIN commands with digit strings.
        (
            prop_oneof![Just(0x20u8), Just(0x24), Just(0x2C)],
            0u8..4,
            0u8..4,
            digits()
        )
            .prop_map(|(ins, p1, p2, d)| with_lc([0, ins, p1, p2], &d, None)),
        // Known-good commands that open deeper states.
        prop_oneof![
            Just(hex::decode("002000010431323334").unwrap()),
            Just(hex::decode("00200002083132333435363738").unwrap()),
            Just(hex::decode("00A40904063F000001D002").unwrap()),
            Just(hex::decode("00A404040DE828BD080F8025000001FF0010").unwrap()),
            Just(hex::decode("002241A406840182800102").unwrap()),
            Just(hex::decode("002241B606840181800142").unwrap()),
            Just(hex::decode("002241B806840182800 11A".replace(' ', "")).unwrap()),
            Just(hex::decode("002241A406840184800104").unwrap()),
            Just(
                hex::decode(
                    "002A90A02290200102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20"
                )
                .unwrap()
            ),
            Just(hex::decode("002A9E9A00").unwrap()),
            Just(hex::decode("00CB3FFF0B4D097007BF8101037F4180").unwrap()),
            Just(hex::decode("00CB3FFF0B4D097007BFA002037F4980").unwrap()),
            Just(hex::decode("00C0000000").unwrap()),
            Just(hex::decode("00B0000000").unwrap()),
            Just(hex::decode("00B09C00C0").unwrap()),
        ],
        // INTERNAL AUTHENTICATE with random data.
        prop::collection::vec(any::<u8>(), 1..80).prop_map(|d| with_lc(
            [0, 0x88, 0, 0],
            &d,
            Some(0)
        )),
        // Garbage.
        prop::collection::vec(any::<u8>(), 0..300),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        20 => apdu().prop_map(Step::Apdu),
        1 => Just(Step::Reset),
        1 => Just(Step::PowerCycle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_sessions(profile in 0usize..2, steps in prop::collection::vec(step(), 1..40)) {
        let mut card = cards()[profile].clone();
        card.power_on();
        // Data bytes of the command chain in progress (a chain's last part may be empty).
        let mut chain_bytes = 0usize;
        for s in steps {
            let before = (card.tries_left(1), card.tries_left(2));
            match &s {
                Step::Reset => { card.reset(); chain_bytes = 0; }
                Step::PowerCycle => { card.power_off(); card.power_on(); chain_bytes = 0; }
                Step::Apdu(a) => {
                    let r = card.process(a);
                    prop_assert!(r.len() >= 2, "no status word for {}", hex::encode(a));
                    let parsed = cps_apdu::Command::parse(a).ok();
                    let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
                    let after = (card.tries_left(1), card.tries_left(2));
                    if after != before {
                        let c = parsed.as_ref().unwrap();
                        prop_assert!(
                            matches!(c.ins, 0x20 | 0x24 | 0x2C) && (!c.data.is_empty() || chain_bytes > 0),
                            "counters {before:?} -> {after:?} changed by {}", hex::encode(a)
                        );
                        for (b, a2) in [(before.0, after.0), (before.1, after.1)] {
                            let (b, a2) = (b.unwrap(), a2.unwrap());
                            prop_assert!(a2 + 1 == b || a2 == 3 || a2 == b, "{b} -> {a2}");
                        }
                    }
                    // Track chains the card accepted.
                    chain_bytes = match &parsed {
                        Some(c) if c.cla & 0x10 != 0 && sw == 0x9000 => chain_bytes + c.data.len(),
                        _ => 0,
                    };
                }
            }
            if matches!(s, Step::Reset | Step::PowerCycle) {
                prop_assert_eq!((card.tries_left(1), card.tries_left(2)), before);
                prop_assert!(!card.is_verified(1));
            }
        }
    }
}
