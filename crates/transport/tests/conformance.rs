//! Runs the transport conformance suite on the in-memory transport: every
//! scenario is required.

use std::{process::ExitCode, sync::Arc, time::Duration};

use evbus_transport::{
    Transport,
    memory::MemoryBroker,
    testkit::{self, Harness, Strictness},
};

/// One broker shared by all scenarios, as a real broker would be.
struct MemoryHarness {
    broker: MemoryBroker,
}

#[async_trait::async_trait]
impl Harness for MemoryHarness {
    fn name(&self) -> &str {
        "memory"
    }

    async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>> {
        Ok(Arc::new(self.broker.connect()))
    }

    fn can_restart(&self) -> bool {
        true
    }

    async fn restart_broker(&self) -> anyhow::Result<()> {
        self.broker.restart(Duration::from_millis(200)).await;
        Ok(())
    }
}

fn main() -> ExitCode {
    let harness = MemoryHarness {
        broker: MemoryBroker::default(),
    };
    testkit::run(harness, Strictness::AllRequired)
}
