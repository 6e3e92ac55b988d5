//! The `cps` facade: what `cps info` and `cps doctor` cost in process on the built-in
//! simulated cards (card construction included, as the command does it), without process
//! start-up (measured separately as whole-process time, see docs/cli.md "Speed").
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::hint::black_box;

use cps::x509::UnixTime;
use cps::{Card, CardSource, SimSpec};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let at = UnixTime::from_ymd(2026, 3, 1).unwrap();
    let mut g = c.benchmark_group("facade");
    for profile in [cps::sim::Profile::Cps3, cps::sim::Profile::Cps4] {
        let source = CardSource::Simulator(SimSpec {
            profile,
            ..SimSpec::default()
        });
        g.bench_function(format!("open + info {}", profile.as_str()), |b| {
            b.iter(|| {
                let mut card = Card::open(&source).unwrap();
                black_box(card.info(at).unwrap())
            })
        });
        g.bench_function(format!("doctor {}", profile.as_str()), |b| {
            b.iter(|| black_box(cps::doctor::run(&source, at, &mut |_| {})))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
