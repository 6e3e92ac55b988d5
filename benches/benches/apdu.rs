//! APDU and BER-TLV encode/parse costs (host and simulated-card side).
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;

use cps_apdu::chain;
use cps_apdu::tlv::{self, Builder, Tag};
use cps_apdu::{Command, Response};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn select() -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x04)
        .with_data(&[
            0xE8, 0x28, 0xBD, 0x08, 0x0F, 0x80, 0x25, 0x00, 0x00, 0x01, 0xFF, 0x00, 0x10,
        ])
        .with_ne(256)
}

/// Three private-key entries shaped like a PKCS#15 PrKDF (ISO/IEC 7816-15), about 200
/// bytes: common object attributes, common key attributes with a 20-byte key ID, and the
/// RSA key's path and modulus length in a context-specific [1] template.
fn nested() -> Vec<u8> {
    let mut b = Builder::new();
    for i in 0..3u8 {
        b = b.constructed(Tag(0x30), |b| {
            b.constructed(Tag(0x30), |b| {
                b.primitive(Tag(0x0C), b"CPS_PRIV_AUT")
                    .primitive(Tag(0x03), &[0x06, 0x40])
                    .primitive(Tag(0x04), &[i])
            })
            .constructed(Tag(0x30), |b| {
                b.primitive(Tag(0x04), &[0xA5 ^ i; 20])
                    .primitive(Tag(0x03), &[0x05, 0x20])
                    .primitive(Tag(0x02), &[0x80 + i])
            })
            .constructed(Tag(0xA1), |b| {
                b.constructed(Tag(0x30), |b| {
                    b.constructed(Tag(0x30), |b| {
                        b.primitive(Tag(0x04), &[0x3F, 0x00, 0x00, 0x01 + i])
                    })
                    .primitive(Tag(0x02), &[0x08, 0x00])
                })
            })
        });
    }
    b.finish()
}

fn benches(c: &mut Criterion) {
    let sel = select();
    let sel_bytes = sel.to_bytes();
    c.bench_function("command/encode short SELECT", |b| {
        b.iter(|| black_box(&sel).to_bytes())
    });
    c.bench_function("command/parse short SELECT", |b| {
        b.iter(|| Command::parse(black_box(&sel_bytes)).unwrap())
    });

    let big = Command::new(0x00, 0x2A, 0x9E, 0x9A)
        .with_data(&[0x5A; 3000])
        .with_ne(65536);
    let big_bytes = big.to_bytes();
    let mut g = c.benchmark_group("command/extended 3000 B");
    g.throughput(Throughput::Bytes(big_bytes.len() as u64));
    g.bench_function("encode", |b| b.iter(|| black_box(&big).to_bytes()));
    g.bench_function("parse", |b| {
        b.iter(|| Command::parse(black_box(&big_bytes)).unwrap())
    });
    g.finish();

    let resp = Response::success(vec![0xA5; 256]).to_bytes();
    c.bench_function("response/parse 256 B", |b| {
        b.iter(|| Response::parse(black_box(&resp)).unwrap())
    });

    let doc = nested();
    let mut g = c.benchmark_group(format!("tlv/{} B nested", doc.len()));
    g.throughput(Throughput::Bytes(doc.len() as u64));
    g.bench_function("parse_all + walk", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for o in tlv::parse_all(black_box(&doc)).unwrap() {
                o.walk(&mut |_, _| n += 1).unwrap();
            }
            n
        })
    });
    g.bench_function("find_path depth 4", |b| {
        b.iter(|| {
            tlv::find_path(
                black_box(&doc),
                &[Tag(0x30), Tag(0xA1), Tag(0x30), Tag(0x02)],
            )
            .unwrap()
            .unwrap()
            .value
            .len()
        })
    });
    g.bench_function("encode (Builder)", |b| b.iter(|| black_box(nested()).len()));
    g.finish();

    c.bench_function("chain/split 3000 B into 255 B", |b| {
        b.iter(|| chain::split(black_box(&big), 255).unwrap().len())
    });
    let parts = chain::split(&big, 255).unwrap();
    c.bench_function("chain/reassemble 12 parts (3000 B)", |b| {
        b.iter(|| {
            let mut r = chain::Reassembler::default();
            let mut last = None;
            for p in black_box(&parts) {
                last = Some(r.push(p.clone()).unwrap());
            }
            last
        })
    });
}

criterion_group!(apdu, benches);
criterion_main!(apdu);
