//! Connecting the configured backend.

use std::sync::Arc;

use evbus_transport::{Transport, memory::MemoryTransport};

use crate::{
    config::{Backend, BusConfig},
    error::{BusError, Result},
};

/// Connects the transport `config.backend` names.
pub(crate) async fn connect(config: &BusConfig) -> Result<Arc<dyn Transport>> {
    match config.backend {
        Backend::Memory => Ok(Arc::new(MemoryTransport::new(config.memory.clone())?)),
        #[cfg(feature = "nats")]
        Backend::Nats => Ok(Arc::new(
            evbus_nats::NatsTransport::connect(config.nats.clone()).await?,
        )),
        #[cfg(feature = "kafka")]
        Backend::Kafka => Ok(Arc::new(
            evbus_kafka::KafkaTransport::connect(config.kafka.clone()).await?,
        )),
        #[allow(unreachable_patterns)]
        other => Err(BusError::config(format!(
            "backend `{other:?}` needs evbus built with the `{}` cargo feature",
            format!("{other:?}").to_lowercase()
        ))),
    }
}
