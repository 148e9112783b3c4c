//! The bus's connection callback across a Kafka broker crash and restart.
//! Its own test binary: restarting the binary's shared broker would break
//! any test running beside it.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use evbus::{
    Backend, BusConfig, ConnectionChange, ConnectionEvent, ConnectionState, EventBus,
    kafka::testkit::{KafkaBroker, Stop},
};
use evbus_topics::TopicOptions;
use tokio::sync::mpsc;

/// How long librdkafka may take to see the broker gone, or back.
const WITHIN: Duration = Duration::from_secs(60);

async fn next(
    events: &mut mpsc::UnboundedReceiver<ConnectionEvent>,
) -> anyhow::Result<ConnectionEvent> {
    tokio::time::timeout(WITHIN, events.recv())
        .await
        .context("no connection event within 60 s")?
        .context("the callback task ended")
}

/// The callback sees `Connected`, then `Disconnected` with the reason while
/// the broker is down, `Reconnected` with the count once a delivery gets
/// through again, and `Closed` at close. On Kafka a reconnect shows with the
/// next confirmed delivery (the documented behaviour), so the test publishes
/// until one is confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_callback_follows_a_broker_restart() -> anyhow::Result<()> {
    let broker = tokio::task::spawn_blocking(KafkaBroker::shared).await??;
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.service_name = "connection-callback".into();
    config.kafka = broker.config();
    let (tx, mut events) = mpsc::unbounded_channel::<ConnectionEvent>();
    let bus = EventBus::builder()
        .config(config)
        .on_connection(move |event| {
            let _ = tx.send(event.clone());
        })
        .build()
        .await?;
    let topic = "evbus-connection-callback";
    bus.configure_topics([(topic, TopicOptions::new().partitions(1))])
        .await?;
    bus.publish(topic, "before").await?;
    let first = next(&mut events).await?;
    ensure!(first.change == ConnectionChange::Connected, "{first:?}");

    let restarting = tokio::task::spawn_blocking(|| KafkaBroker::shared()?.restart(Stop::Kill));
    let lost = next(&mut events).await?;
    ensure!(
        lost.change == ConnectionChange::Disconnected
            && lost.state == ConnectionState::Reconnecting
            && lost.reconnects == 0
            && lost.last_error.is_some(),
        "{lost:?}"
    );
    restarting.await??;

    let deadline = tokio::time::Instant::now() + WITHIN;
    while let Err(error) = bus.publish(topic, "after").await {
        ensure!(
            error.is_retryable() && tokio::time::Instant::now() < deadline,
            "{error}"
        );
    }
    let back = next(&mut events).await?;
    ensure!(
        back.change == ConnectionChange::Reconnected
            && back.state == ConnectionState::Connected
            && back.reconnects == 1,
        "{back:?}"
    );

    bus.close().await?;
    let closed = next(&mut events).await?;
    ensure!(
        closed.change == ConnectionChange::Closed && closed.reconnects == 1,
        "{closed:?}"
    );
    Ok(())
}
