//! MIFARE DESFire secure messaging: EV2 CommMode.Full ReadData answers (MACt check over the
//! ciphertext, AES-CBC decryption under IVr, M2 unpadding, CmdCtr) of 32 B and 8 KiB,
//! compared with a bare AES-CMAC of the RustCrypto `cmac` crate over the same number of
//! bytes (the floor: the MAC alone, no decryption).
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;

use aes::Aes128;
use cmac::{Cmac, Mac};
use cps_desfire::crypto::Key;
use cps_desfire::frame::DesfireStatus;
use cps_desfire::session::{CommMode, Ev1Session, Ev2Session, Protection};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn ev2_full_read(c: &mut Criterion) {
    // AN12343 Table 25 session keys; any keys would do.
    let enc = Key::aes([
        0xFF, 0xBC, 0xFE, 0x1F, 0x41, 0x84, 0x0A, 0x09, 0xC9, 0xA8, 0x8D, 0x0A, 0x4B, 0x10, 0xDF,
        0x05,
    ]);
    let mac = Key::aes([
        0x37, 0xE7, 0x23, 0x4B, 0x11, 0xBE, 0xBE, 0xFD, 0xE4, 0x1A, 0x8F, 0x29, 0x00, 0x90, 0xEF,
        0x80,
    ]);
    let p = Protection::FileRead(CommMode::Full);
    let mut group = c.benchmark_group("desfire_ev2_full_read");
    for size in [32usize, 8192] {
        let data: Vec<u8> = (0..size).map(|i| (i * 31) as u8).collect();
        let host = Ev2Session::new(enc.clone(), mac.clone(), [0xCD, 0x73, 0xD8, 0xE5], 1).unwrap();
        let mut card = host.clone();
        let answer = card.seal_response(DesfireStatus::Ok, &data, p).unwrap();
        group.throughput(Throughput::Bytes(answer.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("ev2_open_full", size),
            &answer,
            |b, answer| {
                b.iter(|| {
                    let mut s = host.clone();
                    let plain = s
                        .open_response(DesfireStatus::Ok, black_box(answer), p)
                        .unwrap();
                    black_box(plain.len())
                })
            },
        );
        // The same bytes through the cmac crate: the MAC part only. Keyed once and cloned
        // per iteration, as the session is.
        let mac_input_len = 7 + answer.len() - 8;
        let input: Vec<u8> = (0..mac_input_len).map(|i| i as u8).collect();
        let keyed = <Cmac<Aes128> as cmac::digest::KeyInit>::new_from_slice(&[0x37; 16]).unwrap();
        group.bench_with_input(
            BenchmarkId::new("cmac_crate_aes", size),
            &input,
            |b, input| {
                b.iter(|| {
                    let mut m = keyed.clone();
                    m.update(black_box(input));
                    black_box(m.finalize().into_bytes())
                })
            },
        );
        // Our own CMAC (the one the sessions use, with a running-IV option) on those bytes.
        let cipher = mac.cipher();
        group.bench_with_input(
            BenchmarkId::new("own_cmac_aes", size),
            &input,
            |b, input| b.iter(|| black_box(cipher.cmac(black_box(input)))),
        );
        // EV1 for comparison: an 8-byte-CMAC'd plain answer of the same size, AES session.
        let ev1 = Ev1Session::new(Key::aes([0x42; 16]));
        let mut ev1_card = ev1.clone();
        let ev1_answer = ev1_card.seal_response(
            DesfireStatus::Ok,
            &data,
            Protection::FileRead(CommMode::Plain),
        );
        group.bench_with_input(
            BenchmarkId::new("ev1_open_cmac", size),
            &ev1_answer,
            |b, a| {
                b.iter(|| {
                    let mut s = ev1.clone();
                    black_box(
                        s.open_response(
                            DesfireStatus::Ok,
                            black_box(a),
                            Protection::FileRead(CommMode::Plain),
                            None,
                        )
                        .unwrap()
                        .len(),
                    )
                })
            },
        );
    }
    group.finish();
}

/// The door flow against the simulated CPS4 PICC in process (select, EV2First in two frames,
/// full-mode ReadData of the 32-byte credential, with AN10922 diversification): the client's
/// and the card's cryptography without transport latency. Through pcscd the same flow is
/// timed by `crates/cps-sim/tests/desfire_pcsc.rs`.
fn door_flow(c: &mut Criterion) {
    use cps_desfire::client::{DoorConfig, UidSource};
    use cps_desfire::{Aid, Desfire};
    use cps_sim::desfire::{DesfireApplet, access_control as ac};
    use cps_sim::{Interface, Profile, SimCard};
    use cps_transport::InProcessChannel;

    let card = SimCard::builder()
        .profile(Profile::Cps4)
        .interface(Interface::Contactless)
        .build()
        .unwrap();
    let uid = card.applet::<DesfireApplet>().unwrap().uid();
    let mut door = Desfire::new(InProcessChannel::new(card));
    let config = DoorConfig {
        uid: UidSource::Known(uid.to_vec()),
        ..ac::door_config()
    };
    let aid = Aid::new(ac::AID).unwrap();
    let master = ac::door_master_key();
    let first = door
        .door_check_with(aid, ac::DOOR_KEY_NO, &master, true, 1, &config)
        .unwrap();
    assert_eq!(first.exchanges, 4);
    c.bench_function("desfire_door_flow_4_exchanges_in_process", |b| {
        b.iter(|| {
            let c = door
                .door_check_with(aid, ac::DOOR_KEY_NO, &master, true, 1, &config)
                .unwrap();
            black_box(c.data.len())
        })
    });
}

criterion_group!(benches, ev2_full_read, door_flow);
criterion_main!(benches);
