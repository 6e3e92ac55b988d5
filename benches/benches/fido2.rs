//! FIDO2 over APDUs in process: makeCredential + getAssertion through our client and the
//! simulated applet (real P-256 keys, canonical CBOR both ways, ISO 7816 framing).
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;

use cps_fido2::{Fido2, Registration};
use cps_sim::fido2::applet::FidoCard;
use cps_transport::InProcessChannel;
use criterion::{Criterion, criterion_group, criterion_main};

fn registration(i: u32) -> Registration {
    Registration {
        rp_id: "bench.example".into(),
        rp_name: "Bench".into(),
        user_id: i.to_be_bytes().to_vec(),
        user_name: format!("user{i}"),
        user_display_name: "User".into(),
        client_data_hash: [7; 32],
        resident_key: false,
        cred_protect: None,
        hmac_secret: false,
        exclude: vec![],
    }
}

fn benches(c: &mut Criterion) {
    let mut fido = Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap();
    // APDU counts of one register + authenticate without PIN (what the closing note reports).
    let before = fido.card().round_trips();
    let mc = fido.register(&registration(0), None).unwrap();
    let reg_apdus = fido.card().round_trips() - before;
    let id = mc.auth_data.attested.unwrap().credential_id;
    let before = fido.card().round_trips();
    fido.authenticate("bench.example", &[1; 32], std::slice::from_ref(&id), None)
        .unwrap();
    let auth_apdus = fido.card().round_trips() - before;
    println!(
        "fido2 in-process: register {reg_apdus} APDUs, authenticate {auth_apdus} APDUs (no PIN)"
    );

    let mut i = 1;
    c.bench_function(
        "fido2/makeCredential + getAssertion (in-process, no PIN)",
        |b| {
            b.iter(|| {
                let mc = fido.register(&registration(i), None).unwrap();
                i += 1;
                let id = mc.auth_data.attested.unwrap().credential_id;
                black_box(
                    fido.authenticate("bench.example", &[1; 32], &[id], None)
                        .unwrap(),
                )
            })
        },
    );
    let mut fido = Fido2::open(InProcessChannel::new(FidoCard::new())).unwrap();
    fido.enroll("1234").unwrap();
    c.bench_function("fido2/getPinUvAuthToken (protocol 2, in-process)", |b| {
        b.iter(|| black_box(fido.pin_token("1234", 2, Some("bench.example")).unwrap()))
    });
}

criterion_group!(fido2, benches);
criterion_main!(fido2);
