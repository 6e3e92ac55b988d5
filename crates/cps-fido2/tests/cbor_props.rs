//! Property tests of the canonical CBOR codec.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use cps_fido2::cbor::{self, Value};
use proptest::prelude::*;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<u64>().prop_map(Value::Unsigned),
        any::<u64>().prop_map(Value::Negative),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::Bytes),
        ".{0,12}".prop_map(Value::Text),
        any::<bool>().prop_map(Value::Bool),
    ];
    // Depth 3 of containers below the top keeps every tree within MAX_DEPTH = 4.
    leaf.prop_recursive(3, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((inner.clone(), inner), 0..6).prop_map(Value::map),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn encode_decode_round_trip(v in value()) {
        let bytes = cbor::encode(&v);
        let back = cbor::decode(&bytes).unwrap();
        // Maps built by Value::map are canonical already, so the value comes back equal.
        prop_assert_eq!(&back, &v);
        prop_assert_eq!(cbor::encode(&back), bytes);
    }

    #[test]
    fn decode_never_panics_and_accepted_input_is_canonical(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(v) = cbor::decode(&bytes) {
            prop_assert_eq!(cbor::encode(&v), bytes);
        }
    }
}
