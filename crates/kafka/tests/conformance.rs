//! The transport conformance suite against a tansu broker.

use std::{process::ExitCode, sync::Arc};

use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
use evbus_transport::{
    Transport,
    testkit::{self, Harness, Strictness},
};

struct Tansu(Arc<KafkaBroker>);

#[async_trait::async_trait]
impl Harness for Tansu {
    fn name(&self) -> &str {
        "kafka"
    }

    async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>> {
        Ok(Arc::new(KafkaTransport::connect(self.0.config()).await?))
    }

    fn can_restart(&self) -> bool {
        true
    }

    async fn restart_broker(&self) -> anyhow::Result<()> {
        let broker = self.0.clone();
        tokio::task::spawn_blocking(move || broker.restart()).await??;
        Ok(())
    }
}

fn main() -> ExitCode {
    match KafkaBroker::start() {
        Ok(broker) => testkit::run(Tansu(Arc::new(broker)), Strictness::AllRequired),
        Err(e) => {
            eprintln!("cannot start the Kafka-protocol broker: {e}");
            ExitCode::FAILURE
        }
    }
}
