//! Operations on NATS JetStream: health levels from missed beats, backlog
//! (consumer pending + ack-pending) rising and draining.

mod operations_suite;

use std::time::Duration;

use evbus::{Backend, BusConfig, nats::testkit::NatsServer};

fn config(server: &NatsServer, service: &str) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Nats;
    config.service_name = service.into();
    config.nats.servers = vec![server.url()];
    config.nats.reconnect_wait = Duration::from_millis(50);
    config
}

fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_missed_beats_raise_warning_error_critical_and_clear() -> anyhow::Result<()> {
    let server = server();
    operations_suite::health_levels(|service| config(&server, service)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_backlog_rises_while_blocked_and_drains_to_zero() -> anyhow::Result<()> {
    let server = server();
    operations_suite::backlog_rises_and_drains(config(&server, "lagging")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_callback_follows_a_server_restart() {
    use evbus::{ConnectionChange, ConnectionEvent, EventBus};

    let server = server();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ConnectionEvent>();
    let bus = EventBus::builder()
        .config(config(&server, "connection-callback"))
        .on_connection(move |event| {
            let _ = tx.send(event.clone());
        })
        .build()
        .await
        .unwrap();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a connection event within 10s")
            .expect("the callback task is running")
    };
    assert_eq!(next().await.change, ConnectionChange::Connected);

    server.stop();
    let lost = next().await;
    assert_eq!(
        (lost.change, lost.reconnects),
        (ConnectionChange::Disconnected, 0)
    );
    server.restart().await.unwrap();
    let back = next().await;
    assert_eq!(
        (back.change, back.reconnects),
        (ConnectionChange::Reconnected, 1)
    );

    bus.close().await.unwrap();
    let closed = next().await;
    assert_eq!(
        (closed.change, closed.reconnects),
        (ConnectionChange::Closed, 1)
    );
}
