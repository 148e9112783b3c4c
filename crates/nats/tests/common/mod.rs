//! Helpers shared by the transport-level tests: a server per test, a
//! configuration with short timers, unique names, configured topics.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use evbus_nats::{NatsConfig, NatsTransport, testkit::NatsServer};
use evbus_topics::{Outcome, Strategy, TopicOptions, TopicPolicy};
use evbus_transport::{Delivery, Subscription, Transport};

/// A fresh server, or a failure that says how to get the binary.
pub fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|error| panic!("{error}"))
}

/// Short timers: redeliveries and hand-overs within a few seconds.
pub fn config(server: &NatsServer) -> NatsConfig {
    NatsConfig::new(server.url())
        .ack_wait(Duration::from_secs(1))
        .pinned_ttl(Duration::from_secs(1))
        .reconnect_wait(Duration::from_millis(50))
        .max_reconnects(None)
        .publish_timeout(Duration::from_secs(5))
}

pub async fn connect(config: NatsConfig) -> NatsTransport {
    NatsTransport::connect(config)
        .await
        .expect("connecting to the test server")
}

/// A name no other test uses.
pub fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A new persistent topic, created through the configuration engine.
pub async fn persistent_topic(transport: &NatsTransport, label: &str) -> String {
    let topic = unique(label);
    let outcome = evbus_topics::configure(
        &*transport.topic_admin(),
        &topic,
        &TopicOptions::new(),
        &TopicPolicy::new(Strategy::CreateOnly),
    )
    .await
    .expect("creating a topic");
    assert_eq!(outcome, Outcome::Created);
    topic
}

/// A plain client on the same server, to look behind the transport.
pub async fn raw_client(server: &NatsServer) -> async_nats::Client {
    async_nats::connect(server.url())
        .await
        .expect("connecting a raw client")
}

/// The next non-empty batch within `within`, or `None`.
pub async fn next_within(
    sub: &mut dyn Subscription,
    max: usize,
    within: Duration,
) -> Option<Vec<Delivery>> {
    match tokio::time::timeout(within, sub.next_batch(max)).await {
        Ok(Ok(batch)) if !batch.is_empty() => Some(batch),
        Ok(Ok(_)) => None,
        Ok(Err(error)) => panic!("next_batch failed: {error}"),
        Err(_) => None,
    }
}

/// The payload as text.
pub fn text(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.payload).into_owned()
}
