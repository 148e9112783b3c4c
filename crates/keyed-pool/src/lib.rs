#![doc = include_str!("../README.md")]

mod builder;
mod completion;
mod config;
mod error;
mod pool;
mod shared;
mod state;
mod sweeper;
mod telemetry;
mod worker;

pub use builder::PoolBuilder;
pub use completion::Completion;
pub use config::{PoolConfig, RetryPolicy};
pub use error::{BuildError, SubmitError, TaskError, TaskErrorKind};
pub use pool::{CloseReport, KeyedPool};

/// Names of the metrics the pool records through the `metrics` crate; every
/// metric carries a `pool` label with [`PoolConfig::name`].
pub mod metric_names {
    pub use crate::telemetry::{
        ABANDONED, COMPLETED, FAILED, HANDLER_SECONDS, QUEUED, RETRIES, RUNNING,
    };
}
