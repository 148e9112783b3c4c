//! Bus-level Kafka behaviour that needs a real broker: a consumer's errors
//! reach the bus's error callback.

use std::{sync::Arc, time::Duration};

use evbus::{Backend, BusConfig, EventBus, kafka::testkit::KafkaBroker};
use parking_lot::Mutex;

fn config(broker: &KafkaBroker) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.kafka.bootstrap_servers = vec![broker.bootstrap()];
    config
}

/// A subscription to a topic the broker does not have consumes nothing;
/// the user must hear why, within seconds, instead of waiting in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_reaches_the_error_callback() {
    let broker = KafkaBroker::shared().expect("broker");
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = errors.clone();
    let bus = EventBus::builder()
        .config(config(broker))
        .on_error(move |error| seen.lock().push(error.to_string()))
        .build()
        .await
        .expect("bus");
    let topic = format!(
        "evbus-missing-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    bus.subscribe(&topic, |_| async { Ok(()) })
        .await
        .expect("subscribing itself succeeds; consuming cannot");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !errors.lock().iter().any(|error| error.contains(&topic)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error naming `{topic}` within 15 s: {:?}",
            errors.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bus.close().await.expect("close");
}

/// Jobs queued on a member for a partition it loses are not run there: once
/// the second member handles a partition, the first starts no handler for
/// that partition any more (they are the new owner's), and the revoke does
/// not wait for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_of_a_revoked_partition_are_not_run() {
    use evbus::kafka::KafkaTransport;
    use evbus_topics::{TopicAdmin as _, TopicOptions};
    use std::time::Instant;

    let broker = KafkaBroker::shared().expect("broker");
    let topic = format!(
        "evbus-fenced-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let admin = KafkaTransport::connect(broker.config())
        .await
        .expect("admin");
    admin
        .admin()
        .create(&topic, &TopicOptions::new().partitions(4))
        .await
        .expect("topic");
    let member = || {
        let mut config = config(broker);
        config.kafka.heartbeat_interval = Duration::from_millis(100);
        config.kafka.session_timeout = Duration::from_secs(6);
        config.kafka.drain_timeout = Duration::from_secs(2);
        // One worker: most fetched jobs wait in the pool's queue.
        config.pool.workers = 1;
        config
    };
    // (member, partition, started)
    let log = Arc::new(Mutex::new(Vec::<(usize, u32, Instant)>::new()));
    // Wakes the test each time a handler starts, instead of polling.
    let started = Arc::new(tokio::sync::Notify::new());
    let handler = |id: usize| {
        let log = log.clone();
        let started = started.clone();
        move |message: evbus::Message| {
            let log = log.clone();
            let started = started.clone();
            async move {
                log.lock()
                    .push((id, message.meta.position.partition, Instant::now()));
                started.notify_waiters();
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok(())
            }
        }
    };
    let first = EventBus::builder()
        .config(member())
        .build()
        .await
        .expect("first bus");
    for i in 0..200 {
        first
            .publish_message(
                &topic,
                evbus::OutgoingMessage::new(format!("m{i}")).with_key(format!("k{i}")),
            )
            .await
            .expect("publish");
    }
    first
        .subscribe_with(&topic, "fenced", handler(0))
        .await
        .expect("first subscription");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let until = |done: fn(&[(usize, u32, Instant)]) -> bool, what: &'static str| {
        let log = log.clone();
        let started = started.clone();
        async move {
            let wait = async {
                loop {
                    let next = started.notified();
                    if done(&log.lock()) {
                        return;
                    }
                    next.await;
                }
            };
            tokio::time::timeout_at(deadline, wait)
                .await
                .unwrap_or_else(|_| panic!("{what}"));
        }
    };
    until(|log| log.len() >= 5, "nothing handled").await;
    let second = EventBus::builder()
        .config(member())
        .build()
        .await
        .expect("second bus");
    second
        .subscribe_with(&topic, "fenced", handler(1))
        .await
        .expect("second subscription");
    until(
        |log| log.iter().any(|(member, ..)| *member == 1),
        "the second member never handled anything",
    )
    .await;
    // The first member's queue is seconds long: what it still runs of a
    // moved partition would show now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    second.close().await.expect("close");
    first.close().await.expect("close");

    let log = log.lock().clone();
    let mut taken_over = std::collections::HashMap::new();
    for (member, partition, at) in &log {
        if *member == 1 {
            let first_seen = taken_over.entry(*partition).or_insert(*at);
            *first_seen = (*first_seen).min(*at);
        }
    }
    let late: Vec<_> = log
        .iter()
        .filter(|(member, partition, at)| {
            *member == 0 && taken_over.get(partition).is_some_and(|t| at > t)
        })
        .map(|(_, partition, _)| *partition)
        .collect();
    assert!(
        late.is_empty(),
        "the first member ran {} jobs of partitions the second already handled: {late:?}",
        late.len()
    );
}
