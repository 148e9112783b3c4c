//! The bus-level conformance suite against a real Kafka-protocol broker (tansu).

mod bus_suite;

use std::process::ExitCode;

use async_trait::async_trait;
use bus_suite::{BusFactory, Configure};
use evbus::{Backend, BusConfig, ErrorCallback, EventBus, kafka::testkit::KafkaBroker};

struct Kafka {
    broker: KafkaBroker,
}

#[async_trait]
impl BusFactory for Kafka {
    fn name(&self) -> &'static str {
        "kafka"
    }

    async fn build(
        &self,
        configure: Configure,
        on_error: Option<ErrorCallback>,
    ) -> anyhow::Result<EventBus> {
        let mut config = BusConfig::default();
        config.backend = Backend::Kafka;
        config.kafka.bootstrap_servers = vec![self.broker.bootstrap()];
        configure(&mut config);
        let mut builder = EventBus::builder().config(config);
        if let Some(callback) = on_error {
            builder = builder.on_error(move |error| callback(error));
        }
        Ok(builder.build().await?)
    }
}

fn main() -> ExitCode {
    let broker = match KafkaBroker::start() {
        Ok(broker) => broker,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    bus_suite::run(Kafka { broker })
}
