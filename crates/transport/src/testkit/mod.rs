//! The transport conformance suite: one set of scenarios every transport
//! passes, run from each backend crate's tests.
//!
//! ```no_run
//! // crates/<backend>/tests/conformance.rs, a `harness = false` test
//! use std::{process::ExitCode, sync::Arc};
//! use evbus_transport::{Transport, memory::MemoryBroker, testkit::{self, Harness, Strictness}};
//!
//! struct Memory(MemoryBroker);
//!
//! #[async_trait::async_trait]
//! impl Harness for Memory {
//!     fn name(&self) -> &str { "memory" }
//!     async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>> {
//!         Ok(Arc::new(self.0.connect()))
//!     }
//!     fn can_restart(&self) -> bool { true }
//!     async fn restart_broker(&self) -> anyhow::Result<()> {
//!         self.0.restart(std::time::Duration::from_millis(200)).await;
//!         Ok(())
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     testkit::run(Memory(MemoryBroker::default()), Strictness::AllRequired)
//! }
//! ```

mod basic;
mod groups;
mod lifecycle;
mod load;
mod redelivery;
mod runner;
mod support;

use std::sync::Arc;

pub use runner::run;

use crate::Transport;

/// What the suite needs from a backend: transports connected to one broker
/// the harness owns, and optionally a way to restart that broker.
#[async_trait::async_trait]
pub trait Harness: Send + Sync + 'static {
    /// The transport's name in the report, e.g. "nats".
    fn name(&self) -> &str;

    /// A new transport (a new client/connection) to the one broker the
    /// harness owns. Called inside a tokio multi-thread runtime; a scenario
    /// may create several (e.g. one per group member) and closes them at its
    /// end.
    async fn transport(&self) -> anyhow::Result<Arc<dyn Transport>>;

    /// Whether `restart_broker` works (memory simulates a restart; real
    /// brokers restart the process with the same data dir).
    fn can_restart(&self) -> bool;

    /// Restarts the broker keeping its stored data; returns when it accepts
    /// connections again.
    async fn restart_broker(&self) -> anyhow::Result<()>;
}

/// What a scenario excluded by a missing capability counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Every scenario must run: a skip is a failed trial naming the missing
    /// capability (memory, NATS JetStream and Kafka run this way).
    AllRequired,
    /// A scenario the transport cannot run is reported as ignored, with the
    /// capability that excluded it in the summary.
    AllowSkips,
}
