//! The producer after a fatal librdkafka error: publishing goes on on a new
//! client, every publish gets its outcome, and nothing acknowledged is lost.

mod common;

use std::collections::HashSet;

use anyhow::{Result, ensure};
use evbus_kafka::testkit::KafkaBroker;
use evbus_transport::{OutgoingMessage, SubscribeOptions, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fatal_error_rebuilds_the_producer_and_loses_nothing_acknowledged() -> Result<()> {
    const EACH: usize = 300;
    let broker = KafkaBroker::shared()?;
    let transport = common::connect(broker).await?;
    let topic = common::topic(&transport, "fatal", 2).await?;
    let publish = |range: std::ops::Range<usize>| {
        let messages = range
            .map(|i| OutgoingMessage::new(format!("m{i}")).with_key(format!("k{}", i % 8)))
            .collect();
        transport.publish_batch(&topic, messages)
    };

    let before = publish(0..EACH).await;
    ensure!(before.iter().all(Result::is_ok), "{before:?}");
    // Fatal while a batch is being published: those in the old client fail
    // or succeed, each with its outcome; later publishes go to a new client.
    let during = publish(EACH..2 * EACH);
    transport.inject_fatal_producer_error();
    let during = during.await;
    let after = publish(2 * EACH..3 * EACH).await;
    let failed_after: Vec<_> = after.iter().filter_map(|r| r.as_ref().err()).collect();
    ensure!(
        failed_after.is_empty(),
        "{} publishes failed after the fatal error, the first: {}",
        failed_after.len(),
        failed_after[0]
    );
    ensure!(
        transport.producer_rebuilds() == 1,
        "{} rebuilds",
        transport.producer_rebuilds()
    );
    let failed_during = during.iter().filter(|r| r.is_err()).count();

    let acknowledged: HashSet<String> = before
        .iter()
        .chain(&during)
        .chain(&after)
        .zip(0..)
        .filter(|(r, _)| r.is_ok())
        .map(|(_, i)| format!("m{i}"))
        .collect();
    let mut sub = transport
        .subscribe(
            &topic,
            &common::unique("fatal"),
            SubscribeOptions::default(),
        )
        .await?;
    let mut seen = HashSet::new();
    let deadline = tokio::time::Instant::now() + common::WITHIN;
    while !acknowledged.is_subset(&seen) {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "{} acknowledged publishes never arrived",
            acknowledged.difference(&seen).count()
        );
        for delivery in sub.next_batch(500).await? {
            seen.insert(String::from_utf8_lossy(&delivery.payload).into_owned());
            delivery.ack().await?;
        }
    }
    println!(
        "{} publishes acknowledged and all consumed; {failed_during} of the {EACH} in flight at the \
         fatal error failed with their error",
        acknowledged.len()
    );
    sub.close().await?;
    transport.close().await?;
    Ok(())
}
