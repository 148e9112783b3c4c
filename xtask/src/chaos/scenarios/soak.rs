//! The soak: 2,000 events/s for a long while with a random broker fault
//! every 20-40 s, the consumer sampling its RSS, live heap, tasks and
//! threads every 5 s. Fails on loss, reorder, or growth: after warm-up (the
//! first quarter or the first minute, whichever is longer), the mean of the
//! last third of the samples may exceed the mean of the first third by at
//! most 25% and 16 MiB of heap or RSS, and 25% and 50 tasks. Growth is
//! judged only on two minutes of samples after warm-up: librdkafka's RSS
//! rises in steps at the first broker faults (a 300 s Kafka soak, seed 3:
//! 15.3 MB at 8 s, 18.7 MB after the first SIGKILL, 22.2 MB after the
//! second, 29.6 MB after a SIGTERM at ~125 s, then flat to 29.9 MB at 303 s
//! with the Rust heap flat at 0.4-0.6 MB), so a one-minute soak mistakes
//! those steps for a trend.

use std::time::Duration;

use futures::FutureExt;
use rand::Rng;

use crate::chaos::{
    ledger::Sample,
    report::Row,
    workload::{FaultCtx, Faults, Plan},
};

/// The load: 200 aggregates at 2,000 events/s.
pub fn plan(publish_for: Duration) -> Plan {
    Plan {
        aggregates: 200,
        rate: 2_000,
        publish_for,
        drain_within: Duration::from_secs(120),
        sample_every: Duration::from_secs(5),
    }
}

/// Random broker faults until 80% of the run: the leader or a follower
/// SIGKILLed and started again 5 s later, or a node SIGTERMed and started
/// again. Consumers are not killed: the samples follow one process.
pub fn random_faults() -> Faults {
    Box::new(|mut ctx: FaultCtx| {
        async move {
            let until = tokio::time::Instant::now() + ctx.publish_for.mul_f64(0.8);
            loop {
                let wait = Duration::from_secs(ctx.rng.random_range(20..=40));
                if tokio::time::Instant::now() + wait > until {
                    return Ok(());
                }
                tokio::time::sleep(wait).await;
                let leader = ctx.cluster.leader_of(&ctx.topic).await?;
                let nodes = ctx.cluster.node_ids();
                let node = nodes[ctx.rng.random_range(0..nodes.len())];
                let role = if node == leader {
                    "the leader"
                } else {
                    "a follower"
                };
                if ctx.rng.random_bool(0.5) {
                    ctx.mark(format!("SIGKILL node {node}, {role}"));
                    ctx.cluster.stop(node, true).await?;
                    tokio::time::sleep(Duration::from_secs(5)).await;
                } else {
                    ctx.mark(format!("SIGTERM node {node}, {role}"));
                    ctx.cluster.stop(node, false).await?;
                }
                ctx.cluster.start_node(node).await?;
            }
        }
        .boxed()
    })
}

/// The least warm-up, in seconds from the start of the consumer.
const WARM_UP_SECS: f64 = 60.0;

/// The least time the samples after warm-up must span to judge growth.
const JUDGED_SECS: f64 = 120.0;

/// Adds a failure to `row` for each resource whose samples grow.
pub fn judge_growth(row: &mut Row) {
    let samples: Vec<Sample> = row
        .samples
        .iter()
        .copied()
        .filter(|s| s.process == 0)
        .collect();
    let warm = samples
        .iter()
        .position(|s| s.at_secs >= WARM_UP_SECS)
        .unwrap_or(samples.len())
        .max(samples.len() / 4);
    let steady = &samples[warm..];
    let span = match (steady.first(), steady.last()) {
        (Some(first), Some(last)) => last.at_secs - first.at_secs,
        _ => 0.0,
    };
    if span < JUDGED_SECS {
        row.notes.push(format!(
            "{} samples over {span:.0} s after warm-up: growth not judged (needs {JUDGED_SECS:.0} s; \
             run --soak-secs 240 or more)",
            steady.len()
        ));
        return;
    }
    let third = steady.len() / 3;
    let (first, last) = (&steady[..third], &steady[steady.len() - third..]);
    let mean = |part: &[Sample], field: fn(&Sample) -> u64| {
        part.iter().map(field).sum::<u64>() as f64 / part.len() as f64
    };
    const MIB: f64 = 1024.0 * 1024.0;
    type Field = fn(&Sample) -> u64;
    let checks: [(&str, Field, f64); 4] = [
        ("RSS", |s| s.rss, 16.0 * MIB),
        ("live heap", |s| s.heap, 16.0 * MIB),
        ("tasks", |s| s.tasks, 50.0),
        ("threads", |s| s.threads, 8.0),
    ];
    for (name, field, slack) in checks {
        let (before, after) = (mean(first, field), mean(last, field));
        row.notes.push(format!(
            "{name}: mean {before:.0} over the first third of the steady samples, \
             {after:.0} over the last"
        ));
        if after > before * 1.25 && after - before > slack {
            row.failures
                .push(format!("{name} grew from {before:.0} to {after:.0}"));
        }
    }
}
