//! The span exporter's cost per span: writing one request's span (with and
//! without a fault applied) into a batch's buffer, as the exporter's thread
//! does for every exchange. Run with `cargo bench --bench span_write`;
//! `TRACES=export benches/callgrind.sh` counts the whole exporter in
//! instructions per request.

use std::hint::black_box;
use std::time::{Duration, UNIX_EPOCH};

use brownout::record::{fields, Entry};
use brownout::telemetry::span::{write, Known};
use criterion::{criterion_group, criterion_main, Criterion};

fn request() -> Entry {
    Entry {
        at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        kind: fields::TYPE_REQUEST.into(),
        target: "payments".into(),
        method: Some("GET".into()),
        path: Some("/v1/charges/42".into()),
        status: Some(200),
        latency_us: Some(850),
        bytes_out: 16,
        trace_id: Some(0x4bf92f3577b34da6a3ce929d0e0e4736),
        span_id: Some(0x1111_2222_3333_4444),
        parent_span_id: Some(0x00f0_67aa_0ba9_02b7),
        ..Entry::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut known = Known::new([("payments".to_string(), "127.0.0.1:9001".parse().unwrap())]);
    let mut buf = Vec::with_capacity(1 << 20);
    let ok = request();
    let faulted = Entry {
        status: Some(503),
        origin: Some(brownout::record::journal::Origin::Injected),
        fault: Some("down".into()),
        fault_events: Some("150\tdown\terror\tstatus 503\n".into()),
        ..request()
    };
    for (name, e) in [("span_write/ok", &ok), ("span_write/faulted", &faulted)] {
        c.bench_function(name, |b| {
            b.iter(|| {
                buf.clear();
                write(black_box(e), &mut known, &mut buf);
                black_box(buf.len())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
