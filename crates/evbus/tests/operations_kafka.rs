//! Operations on Kafka: health levels from missed beats, backlog (high
//! watermark minus committed, per partition) rising and draining.

mod operations_suite;

use evbus::{Backend, BusConfig, kafka::testkit::KafkaBroker};

fn config(broker: &KafkaBroker, service: &str) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.service_name = service.into();
    config.kafka = broker.config();
    config
}

fn broker() -> &'static KafkaBroker {
    KafkaBroker::shared().unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_missed_beats_raise_warning_error_critical_and_clear() -> anyhow::Result<()> {
    let broker = tokio::task::spawn_blocking(broker).await?;
    operations_suite::health_levels(|service| config(broker, service)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_backlog_rises_while_blocked_and_drains_to_zero() -> anyhow::Result<()> {
    let broker = tokio::task::spawn_blocking(broker).await?;
    operations_suite::backlog_rises_and_drains(config(broker, "lagging")).await
}
