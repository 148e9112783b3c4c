//! latency: publish-to-handler latency at fixed offered rates (1k and 10k
//! msg/s), measured from each message's due time (so a publisher that
//! falls behind is counted, no coordinated omission) -> p50/p90/p99/p99.9.

use std::{sync::Arc, time::Duration};

use crate::perf::{
    scenarios::{Ctx, Figure, Kind, Pair, e2e_ordered::DELIVERY_TIMEOUT},
    setup::fresh_topics,
    side::{Run, Side},
    stats::{Percentiles, Sample, Stopwatch, interleave},
    workload::{Schedule, Sink, Work},
};

/// Offered rates, msg/s.
pub const RATES: [u64; 2] = [1_000, 10_000];
/// Aggregates the messages are spread over.
const AGGREGATES: u64 = 1_000;

async fn once<S: Side>(side: &S, work: &Work, rate: u64) -> anyhow::Result<Sample> {
    let topics = fresh_topics(1);
    let schedule = Arc::new(Schedule::new(rate, work.aggregates));
    let sink = Arc::new(Sink::new(work.len(), 1, Duration::ZERO).with_latency(schedule.clone()));
    let run = side.open(&topics, Some(sink.clone())).await?;
    let watch = Stopwatch::start();
    schedule.begin();
    run.send_async_all(&topics, work, Some(&schedule)).await?;
    sink.wait_all(DELIVERY_TIMEOUT).await;
    let (seconds, cpu_seconds) = watch.stop();
    run.close().await?;
    Ok(Sample {
        messages: work.len(),
        seconds,
        cpu_seconds,
        tally: Some(sink.tally()),
        latency: sink.latency().map(|h| Percentiles::of(&h)),
    })
}

pub async fn run<B: Side>(ctx: &Ctx, pair: &Pair<'_, B>) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for &rate in &pair.sizes.latency_rates {
        let work = Work::new(rate * pair.sizes.latency_seconds, AGGREGATES, 1)?;
        let name = format!("{rate} msg/s");
        ctx.bar
            .set_message(format!("{} latency {name}", pair.transport));
        let (evbus, raw) = interleave(
            ctx.runs,
            || once(pair.evbus, &work, rate),
            || once(pair.raw, &work, rate),
            || ctx.tick(),
        )
        .await?;
        figures.push(Figure {
            suite: "latency".into(),
            transport: pair.transport,
            name,
            kind: Kind::Latency,
            messages: work.len(),
            aggregates: work.aggregates,
            topics: 1,
            baseline: format!("{} publish+consume", pair.raw_name),
            note: None,
            evbus,
            raw,
        });
    }
    Ok(figures)
}
