//! Trace propagation across NATS JetStream (see tracing_suite).

mod tracing_suite;

use evbus::{Backend, BusConfig, nats::testkit::NatsServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_a_trace_started_before_publish_continues_in_the_consumers_handler()
-> anyhow::Result<()> {
    let server = NatsServer::start().map_err(anyhow::Error::msg)?;
    tracing_suite::trace_crosses_the_broker("nats", |service| {
        let mut config = BusConfig::default();
        config.backend = Backend::Nats;
        config.service_name = service.into();
        config.nats.servers = vec![server.url()];
        config
    })
    .await
}
