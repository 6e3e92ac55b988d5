//! Remote update, in process: a whole CPS4 update (EF.DAM + renewal of the two P-256 keys:
//! secure channel, on-card key generation, proof of possession, certificate issuance by the
//! test CA, staging, commit), and a data-only update. The card, the issuer and the pending
//! update are built outside the measured part.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::sync::atomic::AtomicBool;

use cps_iasecc::PracticeSituation;
use cps_sim::{Profile, SimCard};
use cps_transport::InProcessChannel;
use cps_update::issuer::{DAM_PATH, Issuer, test_record};
use cps_update::relay::update;
use cps_update::scp::TEST_MASTER_KEY;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn setup(renew: bool) -> (SimCard, Issuer) {
    let card = SimCard::new(Profile::Cps4, "dr-martin").unwrap();
    let serial = card.serial();
    let mut situations = PracticeSituation::parse_all(card.file(&DAM_PATH).unwrap()).unwrap();
    let mut issuer = Issuer::new(TEST_MASTER_KEY).unwrap();
    issuer.register(
        test_record(
            cps_iasecc::Generation::Cps4,
            "dr-martin",
            serial.clone(),
            situations.clone(),
        )
        .unwrap(),
    );
    situations[0].city = Some("LYON".into());
    issuer.update_situations(&serial, situations).unwrap();
    if renew {
        issuer
            .schedule_renewal(&serial, cps_x509::UnixTime::from_secs(1_861_920_000))
            .unwrap();
    }
    (card, issuer)
}

fn full_update(c: &mut Criterion) {
    let no = AtomicBool::new(false);
    for (name, renew) in [
        ("update_cps4_data_and_renewal", true),
        ("update_cps4_data_only", false),
    ] {
        let (card, mut issuer) = setup(renew);
        let mut apdus = 1;
        update(
            InProcessChannel::new(card),
            &mut issuer,
            &mut |_| apdus += 1,
            &no,
        )
        .unwrap();
        println!("{name}: {apdus} APDUs");
        c.bench_function(name, |b| {
            b.iter_batched(
                || setup(renew),
                |(card, mut issuer)| {
                    update(InProcessChannel::new(card), &mut issuer, &mut |_| {}, &no).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, full_update);
criterion_main!(benches);
