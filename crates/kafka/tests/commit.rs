//! The commit rule: a slow message holds its partition's committed offset
//! while later offsets finish; the commit then jumps past all of them.

mod common;

use anyhow::{Result, ensure};
use common::{WITHIN, committed, connect, eventually, topic, unique};
use evbus_kafka::testkit::KafkaBroker;
use evbus_transport::{ErrorKind, OutgoingMessage, SubscribeOptions, Transport};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_message_holds_the_commit_until_it_completes() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let topic = topic(&transport, "slow", 1).await?;
    let group = unique("slow");
    for i in 0..10 {
        let message = OutgoingMessage::new(format!("m{i}")).with_key(format!("k{i}"));
        transport.publish(&topic, message).await?;
    }
    let mut sub = transport
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await?;
    let deadline = Instant::now() + WITHIN;
    let mut deliveries = Vec::new();
    while deliveries.len() < 10 {
        let batch = tokio::time::timeout_at(deadline, sub.next_batch(10)).await??;
        deliveries.extend(batch);
    }
    let offsets: Vec<u64> = deliveries.iter().map(|d| d.position.offset).collect();
    ensure!(
        offsets == (0..10).collect::<Vec<_>>(),
        "offset order: {offsets:?}"
    );

    // Offset 3 is the slow one; every later offset (other keys) finishes first.
    let slow = deliveries.remove(3);
    for delivery in deliveries {
        delivery.ack().await?;
    }
    eventually("the commit reaches the slow message", || async {
        Ok(committed(broker, &topic, &group, 1).await?.get(&0) == Some(&3))
    })
    .await?;
    // While it is still being handled, several commit intervals pass and the
    // committed offset stays at it.
    let interval = transport.config().commit_interval;
    let mut tick = tokio::time::interval(interval * 2);
    for _ in 0..5 {
        tick.tick().await;
        let now = committed(broker, &topic, &group, 1).await?;
        ensure!(
            now.get(&0) == Some(&3),
            "committed past the slow message: {now:?}"
        );
    }

    slow.ack().await?;
    eventually("the commit jumps past everything done", || async {
        Ok(committed(broker, &topic, &group, 1).await?.get(&0) == Some(&10))
    })
    .await?;
    sub.close().await?;
    transport.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_fails_fast_with_a_clear_error() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let started = Instant::now();
    let err = transport
        .publish(&unique("missing"), OutgoingMessage::new("x"))
        .await
        .expect_err("publishing to a missing topic");
    let elapsed = started.elapsed();
    ensure!(err.kind() == ErrorKind::Rejected, "{:?}: {err}", err.kind());
    ensure!(err.to_string().contains("does not exist"), "{err}");
    // librdkafka would retry for its 300 s message timeout; the transport
    // fails after the missing-topic timeout, well inside its own.
    ensure!(
        elapsed < transport.config().publish_timeout,
        "took {elapsed:?}"
    );
    println!("publish to a missing topic failed after {elapsed:?}: {err}");
    transport.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_window_pauses_the_partition_until_it_drains() -> Result<()> {
    const WINDOW: usize = 10;
    let broker = KafkaBroker::shared()?;
    let mut config = broker.config();
    config.partition_window = WINDOW;
    let transport = evbus_kafka::KafkaTransport::connect(config).await?;
    let topic = topic(&transport, "window", 1).await?;
    let batch = (0..50)
        .map(|i| OutgoingMessage::new(format!("m{i}")).with_key(format!("k{i}")))
        .collect();
    for result in transport.publish_batch(&topic, batch).await {
        result?;
    }
    let mut sub = transport
        .subscribe(&topic, &unique("window"), SubscribeOptions::default())
        .await?;
    let deadline = Instant::now() + WITHIN;
    let mut held = Vec::new();
    while held.len() < WINDOW {
        held.extend(tokio::time::timeout_at(deadline, sub.next_batch(50)).await??);
    }
    // Nothing settled: the paused partition hands out nothing more.
    let more =
        tokio::time::timeout(std::time::Duration::from_millis(500), sub.next_batch(50)).await;
    ensure!(
        more.is_err(),
        "a full window handed out {:?} more",
        more.map(|b| b.map(|b| b.len()))
    );
    ensure!(
        held.len() == WINDOW,
        "{} handed out with a window of {WINDOW}",
        held.len()
    );
    // Settling resumes it, and the rest arrives in order.
    let mut next = 0;
    while next < 50 {
        for delivery in held.drain(..) {
            ensure!(
                delivery.position.offset == next,
                "offset {} before {next}",
                delivery.position.offset
            );
            next += 1;
            delivery.ack().await?;
        }
        if next < 50 {
            held.extend(tokio::time::timeout_at(deadline, sub.next_batch(50)).await??);
            ensure!(
                held.len() <= WINDOW,
                "{} pending with a window of {WINDOW}",
                held.len()
            );
        }
    }
    sub.close().await?;
    transport.close().await?;
    Ok(())
}
