//! Trace propagation across Kafka (see tracing_suite).

mod tracing_suite;

use evbus::{Backend, BusConfig, kafka::testkit::KafkaBroker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_a_trace_started_before_publish_continues_in_the_consumers_handler()
-> anyhow::Result<()> {
    let broker = tokio::task::spawn_blocking(KafkaBroker::shared).await??;
    tracing_suite::trace_crosses_the_broker("kafka", |service| {
        let mut config = BusConfig::default();
        config.backend = Backend::Kafka;
        config.service_name = service.into();
        config.kafka = broker.config();
        config
    })
    .await
}
