//! publish: sync, async (bounded window) and batch publish of 256-byte
//! envelopes, nothing consuming -> msg/s until the last ack.

use crate::perf::{
    scenarios::{Ctx, Figure, Kind, Pair},
    setup::fresh_topics,
    side::{PublishMode, Run, Side, publish_all},
    stats::{Sample, Stopwatch, interleave},
    workload::Work,
};

/// Aggregates the published envelopes are spread over.
const AGGREGATES: u64 = 1_000;

pub async fn once<S: Side>(side: &S, work: &Work, mode: PublishMode) -> anyhow::Result<Sample> {
    let topics = fresh_topics(1);
    let run = side.open(&topics, None).await?;
    let watch = Stopwatch::start();
    publish_all(&run, &topics, work, mode).await?;
    let (seconds, cpu_seconds) = watch.stop();
    run.close().await?;
    Ok(Sample {
        messages: work.len(),
        seconds,
        cpu_seconds,
        tally: None,
        latency: None,
    })
}

pub async fn run<B: Side>(ctx: &Ctx, pair: &Pair<'_, B>) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for mode in [PublishMode::Sync, PublishMode::Async, PublishMode::Batch] {
        let messages = match mode {
            PublishMode::Sync => pair.sizes.publish_sync,
            _ => pair.sizes.publish,
        };
        ctx.bar
            .set_message(format!("{} publish {}", pair.transport, mode.name()));
        let work = Work::new(messages, AGGREGATES, 1)?;
        let (evbus, raw) = interleave(
            ctx.runs,
            || once(pair.evbus, &work, mode),
            || once(pair.raw, &work, mode),
            || ctx.tick(),
        )
        .await?;
        figures.push(Figure {
            suite: "publish".into(),
            transport: pair.transport,
            name: mode.name().into(),
            kind: Kind::Throughput,
            messages: work.len(),
            aggregates: work.aggregates,
            topics: 1,
            baseline: pair.raw_name.into(),
            note: None,
            evbus,
            raw,
        });
    }
    Ok(figures)
}
