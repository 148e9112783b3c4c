//! The consuming process: an `EventBus` subscribed to one topic, its
//! handler failing transiently at a given rate, reporting every handled
//! event and periodic resource samples on stdout, one line each.
//!
//! Lines (space-separated):
//! - `h <aggregate> <version> <delivery count>`: handled, written before the
//!   handler returns, so an event acknowledged to the broker was reported
//!   (a kill in between makes a duplicate, never a false loss);
//! - `s <rss bytes> <live heap bytes> <tokio tasks> <threads>`.
//!
//! The child closes its bus and exits when its stdin closes; the parent
//! SIGKILLs it to simulate a crash.

use std::{
    io::{Read, Write},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use evbus::{Envelope, EventBus, HandlerError};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};

use super::clusters::Target;
use crate::perf::{alloc, probe};

/// What a consumer child does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    /// Where it connects.
    pub target: Target,
    /// The topic it consumes.
    pub topic: String,
    /// Its consumer group.
    pub group: String,
    /// Seed of its handler failures.
    pub seed: u64,
    /// Percent of handler calls that fail (transiently).
    pub fail_percent: u32,
    /// How often it samples its resources.
    pub sample_every: Duration,
}

/// Runs the consumer until stdin closes.
pub fn main(spec: &str) -> anyhow::Result<()> {
    let spec: ChildSpec = serde_json::from_str(spec).context("parsing the child spec")?;
    // The NATS backend's warnings (deliveries lost on the way, a gap not
    // refilled within AckWait) explain a reorder in the run's log;
    // `RUST_LOG` widens them.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "evbus_nats=warn".into()),
        )
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .with_writer(std::io::stderr)
        .init();
    alloc::enable();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(consume(spec));
    runtime.shutdown_timeout(Duration::from_secs(5));
    result
}

async fn consume(spec: ChildSpec) -> anyhow::Result<()> {
    let bus = EventBus::from_config(spec.target.bus_config(&spec.group)).await?;
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(spec.seed)));
    let fail_percent = spec.fail_percent;
    bus.subscribe_envelope_with(&spec.topic, &spec.group, move |event: Envelope, meta| {
        let rng = rng.clone();
        async move {
            if rng.lock().random_range(0..100) < fail_percent {
                return Err(HandlerError::msg("injected transient failure"));
            }
            let line = format!(
                "h {} {} {}\n",
                event.aggregate_id(),
                event.event_version(),
                meta.delivery_count
            );
            // Unbuffered and before returning: see the module doc.
            std::io::stdout()
                .lock()
                .write_all(line.as_bytes())
                .map_err(HandlerError::msg)?;
            Ok(())
        }
    })
    .await?;

    let sampler = tokio::spawn(async move {
        let mut every = tokio::time::interval(spec.sample_every);
        loop {
            every.tick().await;
            let tasks = tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks();
            let line = format!(
                "s {} {} {} {}\n",
                probe::rss(),
                alloc::live(),
                tasks,
                probe::threads()
            );
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    });
    // Stdin closing is the parent's "stop": read it to the end off the
    // runtime's threads.
    tokio::task::spawn_blocking(|| {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
    })
    .await?;
    sampler.abort();
    bus.close().await?;
    Ok(())
}
