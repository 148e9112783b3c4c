//! The bus-level conformance suite against a real nats-server (JetStream).

mod bus_suite;

use std::process::ExitCode;

use async_trait::async_trait;
use bus_suite::{BusFactory, Configure};
use evbus::{Backend, BusConfig, ErrorCallback, EventBus, nats::testkit::NatsServer};

struct Nats {
    server: NatsServer,
}

#[async_trait]
impl BusFactory for Nats {
    fn name(&self) -> &'static str {
        "nats"
    }

    async fn build(
        &self,
        configure: Configure,
        on_error: Option<ErrorCallback>,
    ) -> anyhow::Result<EventBus> {
        let mut config = BusConfig::default();
        config.backend = Backend::Nats;
        config.nats.servers = vec![self.server.url()];
        configure(&mut config);
        let mut builder = EventBus::builder().config(config);
        if let Some(callback) = on_error {
            builder = builder.on_error(move |error| callback(error));
        }
        Ok(builder.build().await?)
    }
}

fn main() -> ExitCode {
    let server = match NatsServer::start() {
        Ok(server) => server,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    bus_suite::run(Nats { server })
}
