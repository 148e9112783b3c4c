//! A partition revoked while records of it are already polled (a backlog:
//! librdkafka queues the revoke behind fetched records, so the polling
//! thread meets it in the middle of a poll batch). The revoke must not wait
//! for those records (they were never handed out, they can never settle) and
//! the old member must never receive them after the revoke: the new owner
//! handles them.

mod common;

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, ensure};
use common::{WITHIN, topic, unique};
use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
use evbus_transport::{
    OutgoingMessage, SubscribeOptions, Subscription, Transport,
    ownership::{OwnershipChange, OwnershipEvent},
};
use parking_lot::Mutex;
use tokio::{sync::watch, task::JoinHandle};

const PARTITIONS: u32 = 4;
/// Large enough that the first member is still reading it when the second
/// joins.
const BACKLOG: usize = 20_000;
/// Headers per backlog record.
const HEADERS: usize = 300;

/// What a member saw, in the order it saw it.
#[derive(Debug, Clone)]
enum Seen {
    Event(OwnershipEvent, Instant),
    Delivery { partition: u32 },
}

type Log = Arc<Mutex<Vec<Seen>>>;

async fn connect(broker: &KafkaBroker) -> Result<KafkaTransport> {
    let mut config = broker.config();
    // Rebalances noticed quickly; the drain bound long enough to tell a
    // revoke that waits for it from one that does not.
    config.heartbeat_interval = Duration::from_millis(100);
    config.session_timeout = Duration::from_secs(6);
    config.drain_timeout = Duration::from_secs(10);
    config.partition_window = 1_000_000;
    Ok(KafkaTransport::connect(config).await?)
}

/// A member whose polling thread is busy in the middle of its poll batches
/// most of the time: heavy records (many headers, each read one by one),
/// fetched a few at a time per partition, so one batch interleaves every
/// partition. A revoke then lands in a batch that already holds records of
/// the revoked partitions.
async fn slow_member(broker: &KafkaBroker) -> Result<KafkaTransport> {
    let mut config = broker.config();
    config.heartbeat_interval = Duration::from_millis(100);
    config.session_timeout = Duration::from_secs(6);
    config.drain_timeout = Duration::from_secs(10);
    config.partition_window = 1_000_000;
    config
        .properties
        .insert("fetch.message.max.bytes".into(), "20000".into());
    Ok(KafkaTransport::connect(config).await?)
}

fn heavy(i: usize) -> OutgoingMessage {
    let mut message = OutgoingMessage::new("x").with_key(format!("k{}", i % 64));
    for h in 0..HEADERS {
        message = message.with_header(format!("h{h}"), "v");
    }
    message
}

/// Receives and acks until told to stop, logging ownership events and
/// deliveries in the order it sees them (events first when both are ready:
/// the transport announces a revoke before anything after it).
fn member(
    mut sub: Box<dyn Subscription>,
    log: Log,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Result<()>> {
    tokio::spawn(async move {
        let mut events = sub.ownership_events().context("kafka reports ownership")?;
        loop {
            tokio::select! {
                biased;
                _ = stop.changed() => break,
                event = events.recv() => log.lock().push(Seen::Event(event?, Instant::now())),
                batch = sub.next_batch(256) => {
                    let batch = batch?;
                    ensure!(!batch.is_empty(), "the subscription ended");
                    for delivery in batch {
                        log.lock().push(Seen::Delivery {
                            partition: delivery.position.partition,
                        });
                        delivery.ack().await?;
                    }
                }
            }
        }
        sub.close().await?;
        Ok(())
    })
}

fn deliveries(log: &Log) -> usize {
    log.lock()
        .iter()
        .filter(|s| matches!(s, Seen::Delivery { .. }))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_in_a_poll_batch_is_quick_and_hands_nothing_out_after() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let publisher = connect(broker).await?;
    let topic = topic(&publisher, "revoke", PARTITIONS).await?;
    let group = unique("revoke");
    for chunk in 0..BACKLOG / 1_000 {
        let batch = (0..1_000).map(|i| heavy(chunk * 1_000 + i)).collect();
        for result in publisher.publish_batch(&topic, batch).await {
            result?;
        }
    }
    let (stop, stop_rx) = watch::channel(false);
    // A stream of about 2k messages a second beside the backlog.
    let stream = {
        let (publisher, topic, mut stop) = (connect(broker).await?, topic.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            let mut n = 0usize;
            loop {
                tokio::select! {
                    _ = stop.wait_for(|s| *s) => break,
                    _ = tick.tick() => {}
                }
                let batch = (0..100)
                    .map(|i| OutgoingMessage::new("y").with_key(format!("s{}", (n + i) % 64)))
                    .collect();
                n += 100;
                for result in publisher.publish_batch(&topic, batch).await {
                    result?;
                }
            }
            anyhow::Ok(())
        })
    };

    let first = slow_member(broker).await?;
    let second = slow_member(broker).await?;
    let (log_a, log_b): (Log, Log) = Default::default();
    let a = member(
        first
            .subscribe(&topic, &group, SubscribeOptions::default())
            .await?,
        log_a.clone(),
        stop_rx.clone(),
    );
    // The second member joins once the first is reading the backlog.
    let deadline = tokio::time::Instant::now() + WITHIN;
    while deliveries(&log_a) < 1_000 {
        ensure!(tokio::time::Instant::now() < deadline, "nothing consumed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let b = member(
        second
            .subscribe(&topic, &group, SubscribeOptions::default())
            .await?,
        log_b.clone(),
        stop_rx,
    );
    let taken = |log: &Log| {
        log.lock()
            .iter()
            .filter_map(|s| match s {
                Seen::Event(e, at) if e.change == OwnershipChange::Assigned => {
                    Some((e.partition, *at))
                }
                _ => None,
            })
            .collect::<HashMap<u32, Instant>>()
    };
    let deadline = tokio::time::Instant::now() + WITHIN;
    while taken(&log_b).is_empty() {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the second member was never assigned a partition"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Whatever the first member still had of the moved partitions would
    // arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.send_replace(true);
    a.await??;
    b.await??;
    stream.await??;

    let assigned_b = taken(&log_b);
    let seen_a = log_a.lock().clone();
    let mut revoked: HashMap<u32, Instant> = HashMap::new();
    let mut after_revoke: HashMap<u32, usize> = HashMap::new();
    let mut polled_before = 0usize;
    for seen in &seen_a {
        match seen {
            Seen::Event(e, at) => match e.change {
                OwnershipChange::Assigned => {
                    revoked.remove(&e.partition);
                }
                _ => {
                    revoked.insert(e.partition, *at);
                }
            },
            Seen::Delivery { partition } => {
                if revoked.contains_key(partition) {
                    *after_revoke.entry(*partition).or_default() += 1;
                } else {
                    polled_before += 1;
                }
            }
        }
    }
    println!(
        "first member: {polled_before} deliveries while owning; revoked {:?}; \
         second member assigned {:?}",
        revoked.keys().collect::<Vec<_>>(),
        assigned_b.keys().collect::<Vec<_>>()
    );
    println!("first member, deliveries of revoked partitions after the revoke: {after_revoke:?}");
    ensure!(!revoked.is_empty(), "the first member gave nothing up");
    for (partition, at) in &revoked {
        let handed_over = assigned_b
            .get(partition)
            .with_context(|| format!("partition {partition} revoked but not reassigned"))?;
        let took = handed_over.saturating_duration_since(*at);
        println!("partition {partition}: revoke to new owner in {took:?}");
        // The hand-over includes the group's second join round (about a
        // second on the test broker); a revoke waiting for records that can
        // never settle takes the whole drain timeout (10 s) on top.
        ensure!(
            took < Duration::from_secs(3),
            "partition {partition}: the revoke took {took:?} to hand it over"
        );
    }
    ensure!(
        after_revoke.is_empty(),
        "deliveries of revoked partitions after the revoke, per partition: {after_revoke:?}"
    );
    for transport in [publisher, first, second] {
        transport.close().await?;
    }
    Ok(())
}
