//! The IAS-ECC client against the simulated card in process: "read identity", "read
//! certificates" and "verify PIN + sign", each from a freshly powered card (open included),
//! for CPS3 (RSA-2048, short APDUs) and CPS4 (P-256 by default, extended length). The APDU
//! count of each operation is printed before the timings.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;

use cps_iasecc::{CpsCard, Digest, KeyRole, Pin};
use cps_sim::{Profile, SimCard};
use cps_transport::InProcessChannel;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

type Card = CpsCard<InProcessChannel<SimCard>>;
/// One measured operation, from a freshly powered card.
type Op = fn(SimCard) -> Card;

fn read_identity(sim: SimCard) -> Card {
    let mut card = CpsCard::open(InProcessChannel::new(sim)).unwrap();
    black_box(card.identity().unwrap());
    card
}

fn read_certificates(sim: SimCard) -> Card {
    let mut card = CpsCard::open(InProcessChannel::new(sim)).unwrap();
    black_box(card.certificates().unwrap());
    card
}

fn verify_and_sign(sim: SimCard) -> Card {
    let mut card = CpsCard::open(InProcessChannel::new(sim)).unwrap();
    card.verify_pin(&Pin::new("1234").unwrap()).unwrap();
    black_box(
        card.sign(KeyRole::Signature, &Digest::sha256_of(b"bench"))
            .unwrap(),
    );
    card
}

fn benches(c: &mut Criterion) {
    let ops: [(&str, Op); 3] = [
        ("read identity", read_identity),
        ("read certificates", read_certificates),
        ("verify PIN + sign", verify_and_sign),
    ];
    for profile in [Profile::Cps3, Profile::Cps4] {
        // Building a card reads the test PKI from disk: once, then a clone per iteration.
        let template = SimCard::new(profile, "dr-martin").unwrap();
        for (name, op) in ops {
            let card = op(template.clone());
            println!(
                "{} {name}: {} APDUs (open included), card saw {}",
                profile.as_str(),
                card.round_trips(),
                card.channel().card().stats().summary()
            );
            c.bench_function(&format!("iasecc {} {name}", profile.as_str()), |b| {
                b.iter_batched(
                    || template.clone(),
                    |sim| black_box(op(sim)),
                    BatchSize::SmallInput,
                )
            });
        }
    }
}

criterion_group!(iasecc, benches);
criterion_main!(iasecc);
