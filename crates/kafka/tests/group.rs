//! Two transports in one group: the partitions are split between them, and
//! the revoke when the second joins mid-stream loses nothing and keeps each
//! key's order.

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, ensure};
use common::{WITHIN, connect, eventually, topic, unique};
use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
use evbus_transport::{OutgoingMessage, SubscribeOptions, Transport};
use parking_lot::Mutex;
use tokio::{sync::watch, task::JoinHandle};

const KEYS: usize = 20;

/// One delivery as a member saw it, in global receive order.
#[derive(Debug, Clone)]
struct Seen {
    member: usize,
    key: String,
    seq: usize,
    partition: u32,
    count: u32,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn message(key: usize, seq: usize) -> OutgoingMessage {
    OutgoingMessage::new(format!("k{key}-{seq}")).with_key(format!("k{key}"))
}

/// Receives, records and acks until told to stop; then closes.
fn member(
    id: usize,
    transport: Arc<KafkaTransport>,
    topic: String,
    group: String,
    log: Log,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<Result<()>> {
    tokio::spawn(async move {
        let mut sub = transport
            .subscribe(&topic, &group, SubscribeOptions::default())
            .await?;
        loop {
            let batch = tokio::select! {
                _ = stop.wait_for(|s| *s) => break,
                batch = sub.next_batch(64) => batch?,
            };
            for delivery in batch {
                let payload = String::from_utf8_lossy(&delivery.payload).into_owned();
                let (key, seq) = payload.split_once('-').context("payload")?;
                log.lock().push(Seen {
                    member: id,
                    key: key.to_owned(),
                    seq: seq.parse()?,
                    partition: delivery.position.partition,
                    count: delivery.delivery_count,
                });
                delivery.ack().await?;
            }
        }
        sub.close().await?;
        Ok(())
    })
}

/// A member's transport. It commits every 5 ms (the default: 100 ms) so a
/// periodic commit is nearly always on its way when the revoke comes; the
/// rebalance fails such commits, possibly after the revoke, so the revoke
/// must not count on them.
async fn connect_member(broker: &KafkaBroker) -> Result<KafkaTransport> {
    let mut config = broker.config();
    config.commit_interval = Duration::from_millis(5);
    Ok(KafkaTransport::connect(config).await?)
}

fn distinct(log: &Log) -> usize {
    log.lock()
        .iter()
        .map(|s| (s.key.clone(), s.seq))
        .collect::<HashSet<_>>()
        .len()
}

/// The transport's and librdkafka's logs in the test's output (shown when
/// it fails): what the group did (assignments, revokes, failed commits) is
/// the first thing to read about a failure here.
fn show_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("evbus_kafka=info,librdkafka=warn")
        .with_test_writer()
        .try_init();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_split_and_a_revoke_mid_stream_loses_nothing() -> Result<()> {
    show_logs();
    const ROUNDS: usize = 60;
    let broker = KafkaBroker::shared()?;
    let publisher = connect(broker).await?;
    let topic = topic(&publisher, "group", 4).await?;
    let group = unique("group");
    let log: Log = Arc::default();
    let (stop, stop_rx) = watch::channel(false);
    let first = Arc::new(connect_member(broker).await?);
    let second = Arc::new(connect_member(broker).await?);
    let a = member(
        0,
        first.clone(),
        topic.clone(),
        group.clone(),
        log.clone(),
        stop_rx.clone(),
    );

    // Keys published round by round; the second member joins a third of the
    // way through, while messages keep coming, until it takes part.
    let publish_round = |round: usize| {
        let batch = (0..KEYS).map(|key| message(key, round)).collect();
        let publisher = &publisher;
        let topic = &topic;
        async move {
            for result in publisher.publish_batch(topic, batch).await {
                result?;
            }
            anyhow::Ok(())
        }
    };
    let mut round = 0;
    while round < ROUNDS / 3 {
        publish_round(round).await?;
        round += 1;
    }
    eventually("the first member received the first rounds", || async {
        Ok(distinct(&log) == KEYS * round)
    })
    .await?;
    let b = member(
        1,
        second.clone(),
        topic.clone(),
        group.clone(),
        log.clone(),
        stop_rx,
    );
    let deadline = tokio::time::Instant::now() + WITHIN;
    while round < ROUNDS || !log.lock().iter().any(|s| s.member == 1) {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the second member never took part"
        );
        publish_round(round).await?;
        round += 1;
        // Paces the stream so the rebalance happens in the middle of it.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A final round once both are members: each partition goes to one.
    let last = round;
    publish_round(last).await?;
    let total = KEYS * (last + 1);
    eventually("every message arrived", || async {
        Ok(distinct(&log) == total)
    })
    .await?;
    stop.send_replace(true);
    a.await??;
    b.await??;

    let seen = log.lock().clone();
    // Nothing lost, and per key the first deliveries in publish order.
    let mut next: HashMap<&str, usize> = HashMap::new();
    let mut firsts: HashMap<(&str, usize), HashSet<usize>> = HashMap::new();
    for s in &seen {
        let expected = next.entry(&s.key).or_default();
        if s.seq == *expected {
            *expected += 1;
        } else {
            ensure!(
                s.seq < *expected,
                "key {}: message {} first-delivered before {expected}",
                s.key,
                s.seq
            );
        }
        if s.count == 1 {
            firsts.entry((&s.key, s.seq)).or_default().insert(s.member);
        }
    }
    ensure!(next.values().all(|&n| n == last + 1), "{next:?}");
    let twice = firsts.values().filter(|m| m.len() > 1).count();
    ensure!(
        twice == 0,
        "{twice} messages first-delivered to both members"
    );
    let duplicates = seen.len() - total;

    // The split: the final round's partitions went to one member each, and
    // each member got some.
    let mut owners: HashMap<u32, HashSet<usize>> = HashMap::new();
    for s in seen.iter().filter(|s| s.seq == last) {
        owners.entry(s.partition).or_default().insert(s.member);
    }
    ensure!(
        owners.values().all(|m| m.len() == 1),
        "shared partitions: {owners:?}"
    );
    let members: HashSet<usize> = owners.values().flatten().copied().collect();
    ensure!(
        members.len() == 2,
        "the final round went to {members:?} only: {owners:?}"
    );
    println!("{total} messages, {duplicates} redelivered; final partition owners {owners:?}");
    for transport in [first, second] {
        transport.close().await?;
    }
    publisher.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latest_group_gets_everything_published_after_subscribe_returned() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let topic = topic(&transport, "latest", 2).await?;
    for i in 0..10 {
        transport
            .publish(&topic, message(i % KEYS, i).with_header("phase", "before"))
            .await?;
    }
    let mut sub = transport
        .subscribe(
            &topic,
            &unique("latest"),
            SubscribeOptions::default().start_from(evbus_transport::StartFrom::Latest),
        )
        .await?;
    // Published at once, before the group has even joined.
    let after: HashSet<String> = (0..10)
        .map(|i| format!("k{}-{}", i % KEYS, 100 + i))
        .collect();
    for i in 0..10 {
        transport
            .publish(&topic, message(i % KEYS, 100 + i))
            .await?;
    }
    let mut got = HashSet::new();
    let deadline = tokio::time::Instant::now() + WITHIN;
    while got.len() < after.len() {
        for delivery in tokio::time::timeout_at(deadline, sub.next_batch(16)).await?? {
            let id = String::from_utf8_lossy(&delivery.payload).into_owned();
            ensure!(
                after.contains(&id),
                "received `{id}`, published before subscribe"
            );
            got.insert(id);
            delivery.ack().await?;
        }
    }
    sub.close().await?;
    transport.close().await?;
    Ok(())
}
