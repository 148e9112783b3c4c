//! backlog: evbus's memory while [`MESSAGES`] messages wait in the broker
//! for a slow consumer. The run publishes them (not measured), then a child
//! process subscribes with a handler that waits [`HANDLER`] per message and
//! samples its live heap (the counting allocator), RSS and handled count
//! every [`SAMPLE_EVERY`] for [`SECONDS`]. What a user relies on: the
//! consumer's memory is bounded by its prefetch and the pool, not by the
//! backlog, and stays flat while it works through it. NATS and Kafka only:
//! the in-memory transport's backlog lives in the publishing process.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use evbus::{BusConfig, EventBus};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::perf::{
    alloc, child, probe,
    scenarios::Ctx,
    setup::{fresh_group, fresh_topics},
    side::{Evbus, PublishMode, Run, Side, publish_all},
    workload::Work,
};

/// Messages waiting in the broker (issue 18).
pub const MESSAGES: u64 = 1_000_000;
/// Aggregates they are spread over.
pub const AGGREGATES: u64 = 1_000;
/// The slow consumer's wait per message.
pub const HANDLER: Duration = Duration::from_millis(10);
/// How long the child samples once its first message was handled.
pub const SECONDS: u64 = 30;
/// Time between samples.
pub const SAMPLE_EVERY: Duration = Duration::from_millis(500);
/// The bound on the consumer's live heap: far above what the prefetch
/// and the pool hold (thousands of messages of a few hundred bytes), far
/// below the backlog's size (hundreds of MiB).
pub const HEAP_BOUND: u64 = 64 << 20;
/// How much the last third's mean live heap may exceed the middle third's
/// and still count as flat.
pub const FLAT_SLACK: u64 = 4 << 20;
/// How long the child may take in all (connect and group join included).
const CHILD_TIMEOUT: Duration = Duration::from_secs(SECONDS + 120);

/// What the child runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub transport: String,
    pub config: BusConfig,
    pub topic: String,
}

/// One sample of the child.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Reading {
    /// Since the first handled message.
    pub seconds: f64,
    pub heap_bytes: u64,
    pub rss_bytes: u64,
    pub handled: u64,
}

/// What a transport's backlog run found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backlog {
    pub transport: String,
    pub messages: u64,
    /// Live heap before the bus was built.
    pub heap_before: u64,
    pub readings: Vec<Reading>,
}

impl Backlog {
    /// The highest live heap sampled.
    pub fn peak_heap(&self) -> u64 {
        self.readings
            .iter()
            .map(|r| r.heap_bytes)
            .max()
            .unwrap_or(0)
    }

    /// Mean live heap of the middle and of the last third of the samples
    /// (the first third includes the pool filling up).
    pub fn thirds(&self) -> (u64, u64) {
        let third = self.readings.len() / 3;
        let mean = |readings: &[Reading]| {
            if readings.is_empty() {
                return 0;
            }
            readings.iter().map(|r| r.heap_bytes).sum::<u64>() / readings.len() as u64
        };
        (
            mean(&self.readings[third..2 * third]),
            mean(&self.readings[2 * third..]),
        )
    }

    /// Messages handled from subscribing to the last sample.
    pub fn handled(&self) -> u64 {
        self.readings.last().map_or(0, |r| r.handled)
    }

    /// Bounded (peak under [`HEAP_BOUND`]) and flat (the last third's mean
    /// within [`FLAT_SLACK`] of the middle third's), with messages handled.
    pub fn passes(&self) -> bool {
        let (middle, last) = self.thirds();
        self.handled() > 0 && self.peak_heap() <= HEAP_BOUND && last <= middle + FLAT_SLACK
    }
}

/// Publishes [`MESSAGES`] on a fresh topic with evbus, then measures a slow
/// consumer of them in a child process.
pub async fn run(ctx: &Ctx, transport: &str, evbus: &Evbus) -> anyhow::Result<Backlog> {
    let topics = fresh_topics(1);
    ctx.bar.set_message(format!(
        "{transport} backlog: publishing {MESSAGES} messages"
    ));
    {
        let work = Work::new(MESSAGES, AGGREGATES, 1)?;
        let run = evbus.open(&topics, None).await?;
        publish_all(&run, &topics, &work, PublishMode::Async).await?;
        run.close().await?;
    }
    ctx.bar.set_message(format!(
        "{transport} backlog: a slow consumer for {SECONDS} s (child process)"
    ));
    let spec = ChildSpec {
        transport: transport.to_owned(),
        config: evbus.config.clone(),
        topic: topics[0].clone(),
    };
    let backlog = tokio::task::spawn_blocking(move || run_child(&spec)).await??;
    ctx.tick();
    Ok(backlog)
}

fn run_child(spec: &ChildSpec) -> anyhow::Result<Backlog> {
    let child = child::spawn("--backlog-child", spec)?;
    let what = format!("the {} backlog child", spec.transport);
    child::report(child, Instant::now(), CHILD_TIMEOUT, &what)
}

/// The child process: a slow consumer of the spec's topic, sampled.
pub fn child(spec: &str) -> anyhow::Result<()> {
    alloc::enable();
    let spec: ChildSpec = serde_json::from_str(spec).context("reading the backlog spec")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let heap_before = alloc::live() as u64;
    let readings = runtime.block_on(async {
        let mut config = spec.config.clone();
        config.subscribe.group = Some(fresh_group());
        let bus = EventBus::builder()
            .config(config)
            .build()
            .await
            .context("starting the bus")?;
        let handled = Arc::new(AtomicU64::new(0));
        let first = Arc::new(Notify::new());
        let (counter, first_handled) = (handled.clone(), first.clone());
        bus.subscribe_envelope(&spec.topic, move |_envelope: evbus::Envelope, _meta| {
            let (counter, first_handled) = (counter.clone(), first_handled.clone());
            async move {
                tokio::time::sleep(HANDLER).await;
                if counter.fetch_add(1, Ordering::Relaxed) == 0 {
                    // A permit is kept if the sampler is not waiting yet.
                    first_handled.notify_one();
                }
                Ok(())
            }
        })
        .await
        .context("subscribing")?;
        let readings = sample(&handled, &first).await?;
        bus.close().await?;
        anyhow::Ok(readings)
    })?;
    let report = Backlog {
        transport: spec.transport,
        messages: MESSAGES,
        heap_before,
        readings,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Samples from the first handled message (`first` notified) on, for
/// [`SECONDS`].
async fn sample(handled: &AtomicU64, first: &Notify) -> anyhow::Result<Vec<Reading>> {
    if tokio::time::timeout(Duration::from_secs(60), first.notified())
        .await
        .is_err()
    {
        bail!("no message handled within 60 s of subscribing");
    }
    let start = Instant::now();
    let mut readings = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while start.elapsed() < Duration::from_secs(SECONDS) {
        tick.tick().await;
        readings.push(Reading {
            seconds: start.elapsed().as_secs_f64(),
            heap_bytes: alloc::live() as u64,
            rss_bytes: probe::rss(),
            handled: handled.load(Ordering::Relaxed),
        });
    }
    Ok(readings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backlog(heaps: &[u64]) -> Backlog {
        Backlog {
            transport: "nats".into(),
            messages: MESSAGES,
            heap_before: 1 << 20,
            readings: heaps
                .iter()
                .enumerate()
                .map(|(i, &heap_bytes)| Reading {
                    seconds: i as f64,
                    heap_bytes,
                    rss_bytes: 0,
                    handled: 100 * i as u64 + 1,
                })
                .collect(),
        }
    }

    #[test]
    fn a_flat_bounded_heap_passes_and_a_growing_one_does_not() {
        const MIB: u64 = 1 << 20;
        assert!(backlog(&[5 * MIB, 8 * MIB, 9 * MIB, 9 * MIB, 10 * MIB, 9 * MIB]).passes());
        // Growing with every message handled: not flat.
        assert!(!backlog(&[5 * MIB, 10 * MIB, 15 * MIB, 20 * MIB, 25 * MIB, 30 * MIB]).passes());
        // Flat but above the bound.
        assert!(!backlog(&[70 * MIB; 6]).passes());
    }
}
