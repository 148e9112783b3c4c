//! The backend-neutral connection events across a broker crash and restart:
//! librdkafka's lost-broker error marks the link disconnected, and the next
//! successful delivery marks it reconnected with the count.

mod common;

use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use evbus_kafka::testkit::{KafkaBroker, Stop};
use evbus_transport::{ConnectionChange, ConnectionState, OutgoingMessage, Transport};
use tokio::time::Instant;

const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_reports_disconnected_then_reconnected_with_the_count() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = common::connect(broker).await?;
    let topic = common::topic(&transport, "link", 1).await?;
    transport
        .publish(&topic, OutgoingMessage::new("before"))
        .await?;
    let mut events = transport.connection_events();
    let first = events.borrow_and_update().clone();
    ensure!(
        first.change == ConnectionChange::Connected && first.reconnects == 0,
        "{first:?}"
    );

    let restarting = tokio::task::spawn_blocking(|| KafkaBroker::shared()?.restart(Stop::Kill));
    let lost = tokio::time::timeout(
        WITHIN,
        events.wait_for(|e| e.change == ConnectionChange::Disconnected),
    )
    .await
    .context("no Disconnected while the broker is down")??
    .clone();
    ensure!(lost.state == ConnectionState::Reconnecting, "{lost:?}");
    ensure!(
        lost.last_error.is_some(),
        "the lost broker's error: {lost:?}"
    );
    restarting.await??;

    // A reconnect shows with the next delivery that succeeds.
    let deadline = Instant::now() + WITHIN;
    while let Err(error) = transport
        .publish(&topic, OutgoingMessage::new("after"))
        .await
    {
        ensure!(error.is_retryable() && Instant::now() < deadline, "{error}");
    }
    let back = events.borrow().clone();
    ensure!(
        back.change == ConnectionChange::Reconnected
            && back.state == ConnectionState::Connected
            && back.reconnects == 1,
        "{back:?}"
    );

    transport.close().await?;
    let closed = events.borrow().clone();
    ensure!(
        closed.change == ConnectionChange::Closed && closed.reconnects == 1,
        "{closed:?}"
    );
    Ok(())
}
