//! The transport conformance suite against Apache Kafka.

use std::{
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use evbus_kafka::{
    KafkaTransport,
    testkit::{KafkaBroker, Stop},
};
use evbus_transport::{
    Transport,
    testkit::{self, Harness, Strictness},
};

struct Kafka {
    broker: Arc<KafkaBroker>,
    restarts: AtomicUsize,
}

#[async_trait::async_trait]
impl Harness for Kafka {
    fn name(&self) -> &str {
        "kafka"
    }

    async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>> {
        Ok(Arc::new(
            KafkaTransport::connect(self.broker.config()).await?,
        ))
    }

    fn can_restart(&self) -> bool {
        self.broker.can_restart()
    }

    /// Alternates a controlled shutdown (a rolling restart) with a crash,
    /// so the suite's restarts cover both.
    async fn restart_broker(&self) -> anyhow::Result<()> {
        let how = if self
            .restarts
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(2)
        {
            Stop::Graceful
        } else {
            Stop::Kill
        };
        eprintln!("restarting the broker ({how:?})");
        let broker = self.broker.clone();
        tokio::task::spawn_blocking(move || broker.restart(how)).await??;
        Ok(())
    }
}

fn main() -> ExitCode {
    match KafkaBroker::start() {
        Ok(broker) => {
            eprintln!("kafka conformance against {}", broker.describe());
            testkit::run(
                Kafka {
                    broker: Arc::new(broker),
                    restarts: AtomicUsize::new(0),
                },
                Strictness::AllRequired,
            )
        }
        Err(e) => {
            eprintln!("cannot start Apache Kafka: {e}");
            ExitCode::FAILURE
        }
    }
}
