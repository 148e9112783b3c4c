#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backlog;
mod capabilities;
mod connection;
pub mod dead_letter;
mod delivery;
mod error;
pub mod memory;
mod message;
pub mod ownership;
mod topic;
mod transport;

#[cfg(feature = "testkit")]
#[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
pub mod testkit;

pub use backlog::{Backlog, PartitionLag};
pub use capabilities::{Capabilities, DeliveryGuarantee};
pub use connection::{ConnectionChange, ConnectionEvent};
pub use delivery::{AckHandle, Acker, Delivery, Lease, Settlement};
pub use error::{ErrorKind, Result, TransportError};
pub use message::{Headers, OutgoingMessage, Position, Receipt, header};
pub use topic::{MAX_TOPIC_LEN, TopicRule, TopicUse, validate_topic};
pub use transport::{ConnectionState, StartFrom, SubscribeOptions, Subscription, Transport};

/// Re-exported so transports and users name one version of the topic types.
pub use evbus_topics;
