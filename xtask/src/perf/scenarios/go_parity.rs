//! go-sdk-parity: the Go SDK's own scenario, 500 / 2,000 / 5,000 / 10,000
//! envelopes over 5 topics with aggregates = messages / 10, published the
//! async way and consumed with order checks -> msg/s from the first publish
//! to the last delivery, the same definition the Go SDK's honest figures
//! use (NATS 2,923 msg/s and Kafka 5,779 msg/s at 10,000, from its docs).

use std::time::Duration;

use crate::perf::{
    scenarios::{Ctx, Figure, Kind, Pair, e2e_ordered},
    side::Side,
    stats::interleave,
    workload::Work,
};

/// Message counts of the Go SDK's scenario.
pub const MESSAGES: [u64; 4] = [500, 2_000, 5_000, 10_000];
/// Topics of the Go SDK's scenario.
pub const TOPICS: usize = 5;

/// The Go SDK's own reported figure at 10,000 messages, for the report's
/// side-by-side line (quoted from its documentation, not measured here).
pub fn go_sdk_reported(transport: &str) -> Option<f64> {
    match transport {
        "nats" => Some(2_923.0),
        "kafka" => Some(5_779.0),
        _ => None,
    }
}

pub async fn run<B: Side>(ctx: &Ctx, pair: &Pair<'_, B>) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for &messages in &pair.sizes.parity_messages {
        let work = Work::new(messages, messages / 10, TOPICS)?;
        let name = format!("{messages} msgs");
        ctx.bar
            .set_message(format!("{} go-sdk-parity {name}", pair.transport));
        let (evbus, raw) = interleave(
            ctx.runs,
            || e2e_ordered::once(pair.evbus, &work, TOPICS, Duration::ZERO),
            || e2e_ordered::once(pair.raw, &work, TOPICS, Duration::ZERO),
            || ctx.tick(),
        )
        .await?;
        figures.push(Figure {
            suite: "go-sdk-parity".into(),
            transport: pair.transport,
            name,
            kind: Kind::Throughput,
            messages: work.len(),
            aggregates: work.aggregates,
            topics: TOPICS,
            baseline: format!("{} publish+consume", pair.raw_name),
            note: None,
            evbus,
            raw,
        });
    }
    Ok(figures)
}
