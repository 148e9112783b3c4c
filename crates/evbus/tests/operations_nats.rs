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
