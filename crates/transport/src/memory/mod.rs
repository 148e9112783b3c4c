//! The in-memory transport: evbus's embedded default.
//!
//! A [`MemoryBroker`] holds topics as partition logs with consumer groups,
//! per-message acks, redelivery (nack, dropped handle, member gone, ack
//! timeout), retention limits and replay for new groups. Each
//! [`MemoryTransport`] is one client of a broker. It passes the whole
//! conformance suite.

mod acker;
mod admin;
mod broker;
mod config;
mod group;
mod log;
mod subscription;
mod transport;

pub use admin::MemoryAdmin;
pub use broker::MemoryBroker;
pub use config::MemoryConfig;
pub use transport::MemoryTransport;

#[cfg(test)]
mod tests;
