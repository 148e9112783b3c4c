//! The bus-level conformance suite against Apache Kafka.

mod bus_suite;

use std::{process::ExitCode, sync::Arc};

use bus_suite::support::Configured;
use evbus::{Backend, BusConfig, kafka::testkit::KafkaBroker};

fn main() -> ExitCode {
    let broker = match KafkaBroker::start() {
        Ok(broker) => {
            eprintln!("bus suite against {}", broker.describe());
            Arc::new(broker)
        }
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    bus_suite::run(Configured {
        name: "kafka",
        base: Box::new(move || {
            let mut config = BusConfig::default();
            config.backend = Backend::Kafka;
            config.kafka.bootstrap_servers = vec![broker.bootstrap()];
            config
        }),
    })
}
