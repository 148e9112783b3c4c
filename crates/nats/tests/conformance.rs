//! The transport conformance suite against a real nats-server, in all
//! three group modes, and on topics of 4 partitions: every scenario must run
//! and pass.

mod partitioned_topics;

use std::{process::ExitCode, sync::Arc, time::Duration};

use evbus_nats::{GroupMode, NatsConfig, NatsTransport, testkit::NatsServer};
use evbus_transport::{
    Transport,
    testkit::{self, Harness, Strictness},
};

struct Nats {
    name: &'static str,
    server: Arc<NatsServer>,
    config: NatsConfig,
    /// Every topic the suite creates gets this many partitions.
    partitions: Option<u32>,
}

#[async_trait::async_trait]
impl Harness for Nats {
    fn name(&self) -> &str {
        self.name
    }

    async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>> {
        let transport = NatsTransport::connect(self.config.clone()).await?;
        Ok(match self.partitions {
            Some(partitions) => {
                Arc::new(partitioned_topics::Partitioned::new(transport, partitions))
            }
            None => Arc::new(transport),
        })
    }

    fn can_restart(&self) -> bool {
        true
    }

    async fn restart_broker(&self) -> anyhow::Result<()> {
        Ok(self.server.restart().await?)
    }
}

fn main() -> ExitCode {
    let server = match NatsServer::start() {
        Ok(server) => Arc::new(server),
        Err(error) => {
            eprintln!("cannot run the NATS conformance suite: {error}");
            return ExitCode::FAILURE;
        }
    };
    // Short timers so that redelivery after a member goes away (AckWait)
    // and the hand-over of an ordered group (pinned TTL) fit the suite's
    // deadlines; unlimited reconnects so the restart scenario never gives up.
    let config = NatsConfig::new(server.url())
        .ack_wait(Duration::from_secs(5))
        .pinned_ttl(Duration::from_secs(2))
        .reconnect_wait(Duration::from_millis(100))
        .max_reconnects(None)
        .publish_timeout(Duration::from_secs(5));
    let mut failed = false;
    for (name, mode, partitions) in [
        ("nats", GroupMode::Ordered, None),
        ("nats-shared", GroupMode::Shared, None),
        // One partition: an unpartitioned topic in partitioned mode.
        ("nats-partitioned", GroupMode::Partitioned, None),
        // Every topic of 4 partitions, in the mode partitioned topics use by
        // default.
        ("nats-partitioned-4", GroupMode::Ordered, Some(4)),
    ] {
        let harness = Nats {
            name,
            server: server.clone(),
            config: config.clone().group_mode(mode),
            partitions,
        };
        failed |= testkit::run(harness, Strictness::AllRequired) != ExitCode::SUCCESS;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
