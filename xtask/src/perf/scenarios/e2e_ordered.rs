//! end-to-end ordered: N envelopes over K aggregates published the async
//! way and consumed through the keyed pool by a handler that checks
//! per-aggregate order and optionally waits h -> msg/s from the first
//! publish to the last first delivery, order violations, losses,
//! duplicates.

use std::{sync::Arc, time::Duration};

use crate::perf::{
    scenarios::{Ctx, Figure, Kind, Pair},
    setup::fresh_topics,
    side::{PublishMode, Run, Side, publish_all},
    stats::{Sample, Stopwatch, interleave},
    workload::{Sink, Work},
};

/// How long the last message may take to arrive before it counts as lost.
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(120);

/// Aggregate counts of the suite (issue 8).
pub const AGGREGATES: [u64; 3] = [10, 1_000, 100_000];

/// Publishes `work` over `topic_count` topics while a consumer checks it;
/// one timed run.
pub async fn once<S: Side>(
    side: &S,
    work: &Work,
    topic_count: usize,
    handler_sleep: Duration,
) -> anyhow::Result<Sample> {
    let topics = fresh_topics(topic_count);
    let sink = Arc::new(Sink::new(work.len(), topic_count as u64, handler_sleep));
    let run = side.open(&topics, Some(sink.clone())).await?;
    let watch = Stopwatch::start();
    publish_all(&run, &topics, work, PublishMode::Async).await?;
    sink.wait_all(DELIVERY_TIMEOUT).await;
    let (seconds, cpu_seconds) = watch.stop();
    run.close().await?;
    Ok(Sample {
        messages: work.len(),
        seconds,
        cpu_seconds,
        tally: Some(sink.tally()),
        latency: None,
    })
}

pub async fn run<B: Side>(ctx: &Ctx, pair: &Pair<'_, B>) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for &(aggregates, handler_ms) in &pair.sizes.e2e_variants {
        {
            let messages = if handler_ms == 0 {
                pair.sizes.e2e
            } else {
                pair.sizes.e2e / 5
            };
            let sleep = Duration::from_millis(handler_ms);
            let work = Work::new(messages, aggregates, 1)?;
            let name = format!("K={aggregates} h={handler_ms}ms");
            ctx.bar
                .set_message(format!("{} e2e-ordered {name}", pair.transport));
            // The raw pipeline has no keyed pool to run handlers in
            // parallel: it is measured without the wait, as the ceiling.
            let (evbus, raw) = interleave(
                ctx.runs,
                || once(pair.evbus, &work, 1, sleep),
                || once(pair.raw, &work, 1, Duration::ZERO),
                || ctx.tick(),
            )
            .await?;
            figures.push(Figure {
                suite: "e2e-ordered".into(),
                transport: pair.transport,
                name,
                kind: Kind::Throughput,
                messages: work.len(),
                aggregates: work.aggregates,
                topics: 1,
                baseline: format!("{} publish+consume", pair.raw_name),
                note: (handler_ms > 0)
                    .then(|| "baseline without the handler wait (no keyed pool)".into()),
                evbus,
                raw,
            });
        }
    }
    Ok(figures)
}
