//! While the dead-letter topic cannot be written, the failed event's
//! aggregate waits: its later events are not handled before the failed one
//! is stored as a dead letter, and the outage is reported, not hidden.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use evbus::{
    BusConfig, Envelope, EventBus, HandlerError, TopicOptions,
    topics::{TopicAdmin, TopicOptions as Options},
    transport::{
        Capabilities, ErrorKind, OutgoingMessage, Receipt, Result, SubscribeOptions, Subscription,
        TopicUse, Transport, TransportError, memory::MemoryTransport,
    },
};
use parking_lot::Mutex;

/// The in-memory transport with a switch that makes publishes to dead-letter
/// topics fail as if their broker were unreachable.
struct DeadLetterOutage {
    inner: MemoryTransport,
    down: AtomicBool,
}

#[async_trait]
impl Transport for DeadLetterOutage {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn capabilities(&self, topic: &str) -> Capabilities {
        self.inner.capabilities(topic)
    }
    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        self.inner.validate_topic(topic, usage)
    }
    fn topic_admin(&self) -> Arc<dyn TopicAdmin> {
        self.inner.topic_admin()
    }
    fn register_topic(&self, topic: &str, options: &Options) {
        self.inner.register_topic(topic, options)
    }
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        if topic.ends_with(".dlq") && self.down.load(Ordering::SeqCst) {
            return Err(TransportError::new(
                ErrorKind::Disconnected,
                "memory",
                "dead-letter broker unreachable",
            ));
        }
        self.inner.publish(topic, message).await
    }
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        self.inner.publish_batch(topic, messages).await
    }
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>> {
        self.inner.subscribe(topic, group, options).await
    }
    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }
    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

fn envelope(aggregate: &str, version: i64) -> Envelope {
    Envelope::builder(aggregate, "TestEvent", version, "{}")
        .build()
        .expect("valid")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dead_letter_publish_holds_the_aggregate_until_it_succeeds() {
    let transport = Arc::new(DeadLetterOutage {
        inner: MemoryTransport::default(),
        down: AtomicBool::new(true),
    });
    let reports = Arc::new(Mutex::new(Vec::<String>::new()));
    let r = reports.clone();
    let bus = EventBus::builder()
        .config(BusConfig::default())
        .transport(transport.clone())
        .on_error(move |error| r.lock().push(error.to_string()))
        .build()
        .await
        .expect("bus");
    bus.configure_topics([("orders", TopicOptions::default())])
        .await
        .expect("topics");
    let handled = Arc::new(Mutex::new(Vec::<(String, i64)>::new()));
    let (changed_tx, mut changed) = tokio::sync::mpsc::unbounded_channel::<()>();
    let h = handled.clone();
    bus.subscribe_envelope("orders", move |event: Envelope, _| {
        let (h, changed_tx) = (h.clone(), changed_tx.clone());
        async move {
            if event.aggregate_id() == "A" && event.event_version() == 1 {
                return Err(HandlerError::msg("A v1 always fails"));
            }
            h.lock()
                .push((event.aggregate_id().to_owned(), event.event_version()));
            changed_tx.send(()).ok();
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    let batch = [envelope("A", 1), envelope("A", 2), envelope("B", 1)];
    for result in bus.publish_batch("orders", &batch).await.expect("publish") {
        result.expect("stored");
    }
    // B is not held back by A's trouble.
    tokio::time::timeout(Duration::from_secs(10), changed.recv())
        .await
        .expect("B handled");
    // While the dead letter cannot be stored, A v2 waits (nothing must
    // arrive within this window).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        *handled.lock(),
        vec![("B".to_owned(), 1)],
        "A v2 must wait for A v1"
    );
    assert!(
        reports
            .lock()
            .iter()
            .any(|r| r.contains("dead-lettering") && r.contains("unreachable")),
        "the outage is reported: {:?}",
        reports.lock()
    );
    // The dead-letter broker comes back: A v1 is stored, then A v2 runs.
    transport.down.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(10), changed.recv())
        .await
        .expect("A v2 handled once A v1 was dead-lettered");
    assert_eq!(
        *handled.lock(),
        vec![("B".to_owned(), 1), ("A".to_owned(), 2)],
    );
    bus.close().await.expect("close");
}
