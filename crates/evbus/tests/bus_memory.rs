//! The bus-level conformance suite on the in-memory transport.

mod bus_suite;

use std::{process::ExitCode, sync::Arc};

use async_trait::async_trait;
use bus_suite::{BusFactory, support::Configure};
use evbus::{
    BusConfig, ErrorCallback, EventBus,
    transport::memory::{MemoryBroker, MemoryConfig},
};

struct Memory {
    broker: MemoryBroker,
}

#[async_trait]
impl BusFactory for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn build(
        &self,
        configure: Configure,
        on_error: Option<ErrorCallback>,
    ) -> anyhow::Result<EventBus> {
        let mut config = BusConfig::default();
        configure(&mut config);
        let mut builder = EventBus::builder()
            .config(config)
            .transport(Arc::new(self.broker.connect()));
        if let Some(callback) = on_error {
            builder = builder.on_error(move |error| callback(error));
        }
        Ok(builder.build().await?)
    }
}

fn main() -> ExitCode {
    let broker =
        MemoryBroker::new(MemoryConfig::default()).expect("default memory config is valid");
    bus_suite::run(Memory { broker })
}
