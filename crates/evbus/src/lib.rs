#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod bus;
mod config;
mod context;
mod detached;
mod error;
mod handler;
pub mod operations;
mod publish;
mod rate_limit;
mod report;
mod shutdown;
mod subscribe;
pub mod telemetry;
mod tracing_otel;

pub use bus::{EventBus, EventBusBuilder};
pub use config::{
    Backend, BusConfig, DEFAULT_HANDLER_TIMEOUT, DeadLetterConfig, PublishConfig, SubscribeConfig,
};
pub use context::DeliveryContext;
pub use error::{BusError, BusErrorKind, Result};
pub use handler::{DeliveryMeta, HandlerError, HandlerResult, Message};
pub use operations::{
    BacklogAlert, DeadLettered, HealthAlert, HealthSnapshot, Level, OperationsConfig,
};
pub use publish::{
    callbacks::{Published, PublishedCallback},
    options::PublishOptions,
    results::{PublishResult, PublishResults},
};
pub use rate_limit::RateLimit;
pub use report::ErrorCallback;
pub use subscribe::{
    DeadLetterTarget, Failure, FailureAction, FailureHook, SubscriptionHandle, SubscriptionOptions,
};

pub use evbus_envelope as envelope;
pub use evbus_envelope::{CodecKind, Envelope, TenantId};
pub use evbus_keyed_pool::{PoolConfig, RetryPolicy};
pub use evbus_topics as topics;
pub use evbus_topics::{Strategy, TopicOptions, TopicPolicy};
pub use evbus_transport as transport;
pub use evbus_transport::{
    ConnectionChange, ConnectionEvent, ConnectionState, OutgoingMessage, Position, Receipt,
    StartFrom,
};

#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use evbus_nats as nats;

#[cfg(feature = "kafka")]
#[cfg_attr(docsrs, doc(cfg(feature = "kafka")))]
pub use evbus_kafka as kafka;
