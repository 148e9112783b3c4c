//! The bus-level conformance suite against a real nats-server (JetStream).

mod bus_suite;

use std::{process::ExitCode, sync::Arc};

use bus_suite::support::Configured;
use evbus::{Backend, BusConfig, nats::testkit::NatsServer};

fn main() -> ExitCode {
    let server = match NatsServer::start() {
        Ok(server) => Arc::new(server),
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    bus_suite::run(Configured {
        name: "nats",
        base: Box::new(move || {
            let mut config = BusConfig::default();
            config.backend = Backend::Nats;
            config.nats.servers = vec![server.url()];
            config
        }),
    })
}
