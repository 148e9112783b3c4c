#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acker;
mod admin;
mod backlog;
mod config;
mod connection;
mod error;
mod gaps;
pub mod mapping;
mod partitioned;
mod publisher;
mod pull;
mod redact;
mod stream_probe;
mod subscriber;
mod topics;
mod transport;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use admin::NatsTopicAdmin;
pub use config::{GroupMode, NatsAuth, NatsConfig, NatsTls, Secret};
pub use connection::NatsEvent;
pub use transport::NatsTransport;

/// The transport's name in errors and logs.
const NAME: &str = "nats";
