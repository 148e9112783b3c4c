//! allocs: heap allocations per message (calls and bytes, from the counting
//! allocator) of evbus and of the raw client doing the same work: publish
//! async, and end to end through a consumer (the consume path's share is
//! end to end less publish).
//!
//! Unlike the timed suites these counts do not depend on the machine's
//! load: each side runs alone on a current-thread runtime, so every task
//! runs on the calling thread inside [`measured`]. That function is also
//! what callgrind is pointed at for instructions per message (the command
//! is in `docs/performance.md`): with collection toggled on only inside it
//! and a dump after each call, every dump holds one side's measured part.

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::runtime::Runtime;

use crate::perf::{
    alloc::{self, Allocations},
    scenarios::{Pair, e2e_ordered::DELIVERY_TIMEOUT},
    setup::fresh_topics,
    side::{PublishMode, Run, Side, publish_all},
    workload::{Sink, Work},
};

/// Messages per measurement: large enough that one-time costs (a queue or
/// map growing) round away, small enough for callgrind (about 50x slower).
/// The first message of each aggregate is part of the work, as in the
/// timed suites.
pub const MESSAGES: u64 = 10_000;
/// Aggregates the messages are spread over (as the publish and e2e suites).
const AGGREGATES: u64 = 1_000;

/// The paths measured, in the order `measured` is called for them: for
/// each, evbus first, then the raw client.
pub const PATHS: [&str; 2] = ["publish async", "e2e K=1000 h=0ms"];

/// Allocations of one path on one transport, evbus and the raw client.
#[derive(Debug, Clone, Serialize)]
pub struct AllocFigure {
    pub transport: &'static str,
    pub path: &'static str,
    pub messages: u64,
    pub baseline: String,
    pub evbus: Allocations,
    pub raw: Allocations,
}

impl AllocFigure {
    /// Allocation calls per message of (evbus, raw).
    pub fn calls_per_message(&self) -> (f64, f64) {
        let per = |a: Allocations| a.calls as f64 / self.messages as f64;
        (per(self.evbus), per(self.raw))
    }

    /// Bytes requested per message of (evbus, raw).
    pub fn bytes_per_message(&self) -> (f64, f64) {
        let per = |a: Allocations| a.bytes as f64 / self.messages as f64;
        (per(self.evbus), per(self.raw))
    }
}

/// The measured part of one side's run, driven to its end on `runtime`.
/// Not inlined, and not generic, so that callgrind can name it.
#[inline(never)]
pub fn measured(
    runtime: &Runtime,
    work: Pin<Box<dyn Future<Output = anyhow::Result<()>> + '_>>,
) -> anyhow::Result<()> {
    runtime.block_on(work)
}

/// Allocations of publishing `work` async on a fresh topic.
fn publish<S: Side>(runtime: &Runtime, side: &S, work: &Work) -> anyhow::Result<Allocations> {
    let topics = fresh_topics(1);
    let run = runtime.block_on(side.open(&topics, None))?;
    let before = alloc::allocations();
    measured(
        runtime,
        Box::pin(publish_all(&run, &topics, work, PublishMode::Async)),
    )?;
    let used = alloc::allocations() - before;
    runtime.block_on(run.close())?;
    Ok(used)
}

/// Allocations of publishing `work` async and handling every message.
fn end_to_end<S: Side>(runtime: &Runtime, side: &S, work: &Work) -> anyhow::Result<Allocations> {
    let topics = fresh_topics(1);
    let sink = Arc::new(Sink::new(work.len(), 1, Duration::ZERO));
    let run = runtime.block_on(side.open(&topics, Some(sink.clone())))?;
    let before = alloc::allocations();
    measured(
        runtime,
        Box::pin(async {
            publish_all(&run, &topics, work, PublishMode::Async).await?;
            sink.wait_all(DELIVERY_TIMEOUT).await;
            Ok(())
        }),
    )?;
    let used = alloc::allocations() - before;
    runtime.block_on(run.close())?;
    let tally = sink.tally();
    if tally.lost + tally.violations > 0 {
        bail!("allocs e2e run: {tally:?}");
    }
    Ok(used)
}

/// Measures every path of `pair`'s transport, evbus then the raw client.
pub fn run<B: Side>(pair: &Pair<'_, B>) -> anyhow::Result<Vec<AllocFigure>> {
    let work = Work::new(MESSAGES, AGGREGATES, 1)?;
    // Off the caller's runtime: a runtime cannot block on another from
    // inside its own tasks.
    tokio::task::block_in_place(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the allocs runtime")?;
        alloc::enable();
        let measure = || -> anyhow::Result<Vec<AllocFigure>> {
            let figure = |path, evbus, raw| AllocFigure {
                transport: pair.transport,
                path,
                messages: work.len(),
                baseline: pair.raw_name.into(),
                evbus,
                raw,
            };
            let publish_evbus = publish(&runtime, pair.evbus, &work)?;
            let publish_raw = publish(&runtime, pair.raw, &work)?;
            let e2e_evbus = end_to_end(&runtime, pair.evbus, &work)?;
            let e2e_raw = end_to_end(&runtime, pair.raw, &work)?;
            Ok(vec![
                figure(PATHS[0], publish_evbus, publish_raw),
                figure(PATHS[1], e2e_evbus, e2e_raw),
            ])
        };
        let figures = measure();
        alloc::disable();
        figures
    })
}
