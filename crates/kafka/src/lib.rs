#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acker;
mod admin;
mod config;
mod consumer;
mod error;
mod lag;
mod link;
mod logs;
mod producer;
mod transport;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use admin::KafkaTopicAdmin;
pub use config::{KafkaConfig, RESERVED_PROPERTIES, SaslConfig, SaslMechanism, Secret, TlsConfig};
pub use transport::KafkaTransport;

/// The transport's name in errors and logs.
const NAME: &str = "kafka";
