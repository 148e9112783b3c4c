//! sweep: how evbus's cost grows with the number of aggregates K and the
//! handler time h. For each K in [`AGGREGATES`] and h in [`HANDLER_US`],
//! e2e ordered runs (one topic, async publish, the order check) give
//! throughput and CPU per message. evbus alone: the raw pipelines have no
//! keyed pool to run a handler's time in parallel, so there is no baseline
//! to set a ratio against. h under 1 ms is CPU work, from 1 ms an async
//! wait (see [`Sink::handler_work`]).
//!
//! [`Sink::handler_work`]: crate::perf::workload::Sink::handler_work

use std::time::Duration;

use serde::Serialize;

use crate::perf::{
    scenarios::{Ctx, e2e_ordered},
    side::Evbus,
    stats::{Sample, Summary},
    workload::{SPIN_BELOW, Work},
};

/// Aggregate counts swept (issue 18: 1 to 100,000).
pub const AGGREGATES: [u64; 6] = [1, 10, 100, 1_000, 10_000, 100_000];
/// Handler times swept, microseconds (issue 18: 0, 0.1, 1 and 10 ms).
pub const HANDLER_US: [u64; 4] = [0, 100, 1_000, 10_000];
/// Runs per point: the sweep has 24 points per transport, so it takes
/// three runs each whatever `--runs` says.
pub const RUNS: usize = 3;
/// A point with a handler time publishes what its ideal rate handles in
/// about this long (at least K messages, at most the h = 0 size).
const SECONDS_PER_RUN: f64 = 1.0;
/// Fewest messages of a point.
const MIN_MESSAGES: u64 = 100;

/// One (K, h) point on one transport.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub transport: &'static str,
    pub aggregates: u64,
    pub handler_us: u64,
    pub messages: u64,
    pub samples: Vec<Sample>,
}

impl Point {
    pub fn rate(&self) -> Summary {
        Summary::of(self.samples.iter().map(Sample::rate))
    }

    pub fn cpu(&self) -> Summary {
        Summary::of(self.samples.iter().map(Sample::cpu_us_per_message))
    }

    /// Order violations and losses over the runs.
    pub fn broken(&self) -> (u64, u64) {
        self.samples
            .iter()
            .filter_map(|s| s.tally)
            .fold((0, 0), |(v, l), t| (v + t.violations, l + t.lost))
    }
}

/// Messages of the point (K, h): `h0` (the e2e size) without a handler
/// time; with one, what the ideal rate handles in [`SECONDS_PER_RUN`]:
/// `min(K, parallel) / h` messages a second, `parallel` being how many
/// handlers run at once (the subscription's share of the pool for a wait,
/// the machine's cores for CPU work); never fewer than K, so every
/// aggregate is used.
pub fn messages(aggregates: u64, handler_us: u64, h0: u64, parallel: u64, cores: u64) -> u64 {
    if handler_us == 0 {
        return h0.max(aggregates);
    }
    let at_once = if Duration::from_micros(handler_us) < SPIN_BELOW {
        aggregates.min(cores)
    } else {
        aggregates.min(parallel)
    };
    let ideal = at_once as f64 * 1e6 / handler_us as f64 * SECONDS_PER_RUN;
    (ideal as u64).clamp(MIN_MESSAGES, h0).max(aggregates)
}

/// The points of every (K, h) on `transport`, [`RUNS`] runs each.
pub async fn run(
    ctx: &Ctx,
    transport: &'static str,
    evbus: &Evbus,
    h0: u64,
) -> anyhow::Result<Vec<Point>> {
    // The subscription's share of the pool (`SubscribeConfig::pool_share`).
    let parallel =
        ((evbus.config.pool.workers as f64 * evbus.config.subscribe.pool_share) as u64).max(1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    let mut points = Vec::new();
    for handler_us in HANDLER_US {
        for aggregates in AGGREGATES {
            let messages = messages(aggregates, handler_us, h0, parallel, cores);
            let work = Work::new(messages, aggregates, 1)?;
            ctx.bar.set_message(format!(
                "{transport} sweep K={aggregates} h={}ms",
                handler_us as f64 / 1e3
            ));
            let mut samples = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                let handler = Duration::from_micros(handler_us);
                samples.push(e2e_ordered::once(evbus, &work, 1, handler).await?);
                ctx.tick();
            }
            points.push(Point {
                transport,
                aggregates,
                handler_us,
                messages,
                samples,
            });
        }
    }
    Ok(points)
}

/// Timed runs of the sweep on one transport, for the progress bar.
pub const PLANNED_RUNS: usize = AGGREGATES.len() * HANDLER_US.len() * RUNS;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_sizes_to_its_ideal_rate_and_uses_every_aggregate() {
        // No handler time: the e2e size, or K when K is larger.
        assert_eq!(messages(10, 0, 10_000, 128, 2), 10_000);
        assert_eq!(messages(100_000, 0, 10_000, 128, 2), 100_000);
        // A 10 ms wait on one aggregate: 100 a second.
        assert_eq!(messages(1, 10_000, 10_000, 128, 2), 100);
        // 1,000 aggregates, 128 waiting at once: 12,800 a second, capped.
        assert_eq!(messages(1_000, 10_000, 10_000, 128, 2), 10_000);
        // 0.1 ms of CPU work on 2 cores: 20,000 a second, capped.
        assert_eq!(messages(10, 100, 50_000, 128, 2), 20_000);
        // Every aggregate gets a message, even past the cap.
        assert_eq!(messages(100_000, 10_000, 10_000, 128, 2), 100_000);
    }
}
