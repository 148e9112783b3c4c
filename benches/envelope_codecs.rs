//! Encode and decode of one envelope with a 256-byte JSON payload, per codec.
//!
//! Run: `cargo bench -p evbus-envelope --bench envelope_codecs`
//! (results are quoted in docs/performance.md).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use evbus_envelope::{CodecConfig, CodecKind, Envelope, codec};

/// A representative envelope: every optional field set, one extension header,
/// and a 256-byte JSON object as payload (JSON so the Go codec accepts it).
fn sample() -> Envelope {
    let filler = "x".repeat(256 - r#"{"order":"o-1","note":""}"#.len());
    let payload = format!(r#"{{"order":"o-1","note":"{filler}"}}"#);
    assert_eq!(payload.len(), 256);
    Envelope::builder("order-0190c3a4", "order.created", 42, payload)
        .trace_id("4bf92f3577b34da6a3ce929d0e0e4736")
        .correlation_id("checkout-7f3a")
        .tenant_id(1042)
        .header("origin", "web")
        .content_type("application/json")
        .build()
        .expect("valid sample envelope")
}

fn codecs(c: &mut Criterion) {
    let envelope = sample();
    let config = CodecConfig::new("bench-service");
    for kind in CodecKind::ALL {
        let codec = codec(kind, &config);
        let encoded = codec.encode(&envelope).expect("encode");
        let mut group = c.benchmark_group(format!("envelope/{kind}"));
        group.bench_function("encode", |b| {
            b.iter(|| codec.encode(black_box(&envelope)).expect("encode"))
        });
        group.bench_function("decode", |b| {
            b.iter(|| {
                codec
                    .decode(black_box(&encoded.headers), black_box(encoded.body.clone()))
                    .expect("decode")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, codecs);
criterion_main!(benches);
