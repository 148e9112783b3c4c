//! The soak: 2,000 events/s for a long while with a random broker fault
//! every 20-40 s, the consumer sampling its RSS, live heap, tasks and
//! threads every 5 s. Fails on loss, reorder, or growth: after the first
//! quarter (warm-up), the mean of the last third of the samples may exceed
//! the mean of the first third by at most 25% and 16 MiB of heap or RSS,
//! and 25% and 50 tasks.

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

/// Adds a failure to `row` for each resource whose samples grow.
pub fn judge_growth(row: &mut Row) {
    let samples: Vec<Sample> = row
        .samples
        .iter()
        .copied()
        .filter(|s| s.process == 0)
        .collect();
    let warm = samples.len() / 4;
    let steady = &samples[warm..];
    if steady.len() < 6 {
        row.notes
            .push(format!("only {} samples: growth not judged", steady.len()));
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
