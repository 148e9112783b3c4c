//! The demo: publishes envelopes over many aggregates on the embedded
//! in-memory transport (no broker), consumes them through the keyed pool and
//! checks the promise: per-aggregate order, nothing lost.
//!
//! ```text
//! cargo run --release --example quickstart                 # 100,000 events over 1,000 aggregates
//! cargo run --release --example quickstart -- --events 10000 --aggregates 100
//! ```
//!
//! Definitions: a handled version <= the last one seen for its aggregate is a
//! duplicate; a version > last + 1 is an order violation; lost = published -
//! distinct (aggregate, version) handled. Exits non-zero on any violation or
//! loss.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use evbus::{Envelope, EventBus, TopicOptions};
use tokio::sync::Notify;

#[derive(Default)]
struct Tally {
    last_version: Mutex<HashMap<String, i64>>,
    handled: AtomicU64,
    distinct: AtomicU64,
    duplicates: AtomicU64,
    violations: AtomicU64,
}

impl Tally {
    fn record(&self, aggregate: &str, version: i64) {
        self.handled.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_version.lock().expect("tally lock");
        let seen = last.entry(aggregate.to_owned()).or_insert(0);
        if version <= *seen {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        } else {
            if version > *seen + 1 {
                self.violations.fetch_add(1, Ordering::Relaxed);
            }
            *seen = version;
            self.distinct.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn arg(name: &str, default: u64) -> anyhow::Result<u64> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => args
            .get(i + 1)
            .with_context(|| format!("{name} needs a value"))?
            .parse()
            .with_context(|| format!("{name} takes a whole number")),
        None => Ok(default),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events = arg("--events", 100_000)?;
    let aggregates = arg("--aggregates", 1_000)?.max(1);
    let versions = events.div_ceil(aggregates);
    let events = versions * aggregates;

    // The in-memory transport is the default backend: no broker needed.
    let bus = EventBus::builder().service_name("demo").build().await?;
    bus.configure_topics([("orders", TopicOptions::default())])
        .await?;

    let tally = Arc::new(Tally::default());
    let done = Arc::new(Notify::new());
    let (t, d) = (tally.clone(), done.clone());
    bus.subscribe_envelope("orders", move |envelope: Envelope, _meta| {
        let (tally, done) = (t.clone(), d.clone());
        async move {
            tally.record(envelope.aggregate_id(), envelope.event_version());
            if tally.distinct.load(Ordering::Relaxed) == events {
                done.notify_one();
            }
            Ok(())
        }
    })
    .await?;

    // Version v of every aggregate, then v + 1: batches mix aggregates, and
    // each aggregate's versions are published in order.
    let started = Instant::now();
    let payload = bytes::Bytes::from(vec![b'x'; 256]);
    let mut batch = Vec::with_capacity(500);
    let mut published = 0u64;
    for version in 1..=versions as i64 {
        for aggregate in 0..aggregates {
            let envelope = Envelope::builder(
                format!("order-{aggregate}"),
                "OrderUpdated",
                version,
                payload.clone(),
            )
            .build()?;
            batch.push(envelope);
            if batch.len() == 500 {
                published += publish(&bus, &batch).await?;
                batch.clear();
            }
        }
    }
    published += publish(&bus, &batch).await?;
    let publish_time = started.elapsed();

    let finished = tokio::time::timeout(Duration::from_secs(120), done.notified()).await;
    let total_time = started.elapsed();
    bus.close().await?;

    let handled = tally.handled.load(Ordering::Relaxed);
    let distinct = tally.distinct.load(Ordering::Relaxed);
    let lost = published - distinct;
    let violations = tally.violations.load(Ordering::Relaxed);
    println!("published:        {published} envelopes over {aggregates} aggregates");
    println!(
        "publish rate:     {:.0} msg/s",
        published as f64 / publish_time.as_secs_f64()
    );
    println!("handled:          {handled}");
    println!(
        "end-to-end rate:  {:.0} msg/s",
        distinct as f64 / total_time.as_secs_f64()
    );
    println!(
        "duplicates:       {}",
        tally.duplicates.load(Ordering::Relaxed)
    );
    println!("lost messages:    {lost}");
    println!("order violations: {violations}");
    if finished.is_err() {
        bail!("timed out waiting for all {published} events");
    }
    if lost > 0 || violations > 0 {
        bail!("the promise was broken: {lost} lost, {violations} order violations");
    }
    Ok(())
}

async fn publish(bus: &EventBus, batch: &[Envelope]) -> anyhow::Result<u64> {
    let mut stored = 0;
    for result in bus.publish_batch("orders", batch).await? {
        result?;
        stored += 1;
    }
    Ok(stored)
}
