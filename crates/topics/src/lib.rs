#![doc = include_str!("../README.md")]

mod admin;
mod drift;
mod engine;
mod error;
mod field;
mod name;
mod options;
mod partitioner;
mod policy;
mod preset;
mod registry;
mod serde_limits;

#[cfg(test)]
mod engine_tests;

pub use admin::{AdminLimits, TopicAdmin};
pub use drift::{Change, Drift, DriftReason};
pub use engine::{Outcome, configure};
pub use error::{BoxError, TopicsError, TopicsErrorKind};
pub use field::{FieldValue, TopicField, TopicFields};
pub use name::validate_topic_name;
pub use options::{Compression, Persistence, TopicOptions, UNLIMITED, UNLIMITED_RETENTION};
pub use partitioner::key_partition;
pub use policy::{MismatchAction, Strategy, TopicPolicy};
pub use preset::Preset;
pub use registry::TopicRegistry;
