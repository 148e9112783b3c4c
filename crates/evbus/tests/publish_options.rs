//! Per-call publish options on the in-memory broker, with a transport
//! wrapper that loses acknowledgements or never answers (the faults a
//! network causes, which the memory broker itself does not).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use evbus::topics::TopicAdmin;
use evbus::{
    BusErrorKind, Envelope, EventBus, PublishOptions, RetryPolicy, TopicOptions,
    transport::{
        Capabilities, ErrorKind, OutgoingMessage, Receipt, Result, SubscribeOptions, Subscription,
        TopicUse, Transport, TransportError,
        memory::{MemoryBroker, MemoryConfig, MemoryTransport},
    },
};
use parking_lot::Mutex;
use tokio::sync::mpsc;

/// What the wrapper does to publishes.
#[derive(Clone, Copy)]
enum Fault {
    /// The first `n` publishes are stored, then answered with a retryable
    /// error, as when the acknowledgement is lost.
    LoseAcks(u32),
    /// Publishes never answer.
    Hang,
}

struct Faulty {
    inner: MemoryTransport,
    fault: Fault,
    publishes: AtomicU32,
    dedup_ids: Mutex<Vec<Option<String>>>,
}

#[async_trait]
impl Transport for Faulty {
    fn name(&self) -> &'static str {
        "faulty-memory"
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
    fn register_topic(&self, topic: &str, options: &TopicOptions) {
        self.inner.register_topic(topic, options)
    }
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        self.dedup_ids.lock().push(message.dedup_id.clone());
        let n = self.publishes.fetch_add(1, Ordering::SeqCst) + 1;
        match self.fault {
            Fault::LoseAcks(lost) if n <= lost => {
                self.inner.publish(topic, message).await?;
                Err(TransportError::new(
                    ErrorKind::Disconnected,
                    "faulty-memory",
                    "the acknowledgement was lost",
                ))
            }
            Fault::LoseAcks(_) => self.inner.publish(topic, message).await,
            Fault::Hang => std::future::pending().await,
        }
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

async fn bus_with(fault: Fault) -> anyhow::Result<(EventBus, Arc<Faulty>, MemoryBroker)> {
    let broker = MemoryBroker::new(MemoryConfig::default())?;
    let faulty = Arc::new(Faulty {
        inner: broker.connect(),
        fault,
        publishes: AtomicU32::new(0),
        dedup_ids: Mutex::new(Vec::new()),
    });
    let bus = EventBus::builder()
        .transport(faulty.clone())
        .build()
        .await?;
    bus.configure_topics([("orders", TopicOptions::default())])
        .await?;
    Ok((bus, faulty, broker))
}

fn fast(attempts: u32) -> RetryPolicy {
    RetryPolicy::attempts(attempts).with_backoff(Duration::from_millis(1), Duration::from_millis(5))
}

/// A lost acknowledgement is retried with the same event id; the broker's
/// dedup recognises the retry and the consumer gets one copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_keeps_the_event_id_and_the_consumer_sees_one_copy() -> anyhow::Result<()> {
    let (bus, faulty, broker) = bus_with(Fault::LoseAcks(2)).await?;
    let event = Envelope::builder("order-1", "OrderPlaced", 1, "{}").build()?;
    let receipt = bus
        .publish_envelope_with("orders", &event, &PublishOptions::new().retry(fast(3)))
        .await?;
    assert!(
        receipt.duplicate,
        "the retries were recognised as the stored event"
    );
    let ids = faulty.dedup_ids.lock().clone();
    assert_eq!(ids, vec![Some(event.event_id().to_owned()); 3]);

    // A second bus on the same broker reads the topic: one copy.
    let reader = EventBus::builder()
        .transport(Arc::new(broker.connect()))
        .build()
        .await?;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    reader
        .subscribe_envelope("orders", move |event: Envelope, _| {
            let seen_tx = seen_tx.clone();
            async move {
                let _ = seen_tx.send(event.event_id().to_owned());
                Ok(())
            }
        })
        .await?;
    // A marker published after the event: once it is handled, an extra
    // copy of the event (same aggregate, stored before it) would have been.
    let marker = Envelope::builder("order-1", "Marker", 2, "{}").build()?;
    reader.publish_envelope("orders", &marker).await?;
    let mut handled = Vec::new();
    while let Some(id) = seen.recv().await {
        let done = id == marker.event_id();
        handled.push(id);
        if done {
            break;
        }
    }
    assert_eq!(
        handled,
        vec![event.event_id().to_owned(), marker.event_id().to_owned()]
    );
    reader.close().await?;
    bus.close().await?;
    Ok(())
}

#[tokio::test]
async fn without_a_retry_policy_a_retryable_failure_is_returned() -> anyhow::Result<()> {
    let (bus, faulty, _broker) = bus_with(Fault::LoseAcks(1)).await?;
    let event = Envelope::builder("order-1", "OrderPlaced", 1, "{}").build()?;
    let error = bus
        .publish_envelope_with("orders", &event, &PublishOptions::new())
        .await
        .expect_err("one attempt");
    assert!(error.is_retryable());
    assert_eq!(
        error.kind(),
        BusErrorKind::Transport(ErrorKind::Disconnected)
    );
    assert_eq!(faulty.publishes.load(Ordering::SeqCst), 1);
    bus.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_failure_that_is_not_retryable_is_not_retried() -> anyhow::Result<()> {
    let (bus, faulty, _broker) = bus_with(Fault::LoseAcks(0)).await?;
    // Larger than the memory broker takes (1 MiB), within the bus limit.
    let mut config = bus.config().clone();
    config.max_envelope_bytes = 4 << 20;
    let bus = EventBus::builder()
        .config(config)
        .transport(faulty.clone())
        .build()
        .await?;
    let event = Envelope::builder("order-1", "Huge", 1, vec![b'x'; 2 << 20]).build()?;
    let error = bus
        .publish_envelope_with("orders", &event, &PublishOptions::new().retry(fast(5)))
        .await
        .expect_err("too large");
    assert_eq!(error.kind(), BusErrorKind::Transport(ErrorKind::TooLarge));
    assert_eq!(faulty.publishes.load(Ordering::SeqCst), 1);
    bus.close().await?;
    Ok(())
}

/// The timeout bounds the whole call; what it cuts short may be stored,
/// so it says OutcomeUnknown (retryable with the same event id).
#[tokio::test]
async fn the_timeout_bounds_the_call_with_an_outcome_unknown_error() -> anyhow::Result<()> {
    let (bus, _faulty, _broker) = bus_with(Fault::Hang).await?;
    let event = Envelope::builder("order-1", "OrderPlaced", 1, "{}").build()?;
    let options = PublishOptions::new()
        .timeout(Duration::from_millis(50))
        .retry(fast(3));
    let error = bus
        .publish_envelope_with("orders", &event, &options)
        .await
        .expect_err("hangs");
    assert_eq!(
        error.kind(),
        BusErrorKind::Transport(ErrorKind::OutcomeUnknown)
    );
    assert!(error.is_retryable());
    assert!(error.to_string().contains(event.event_id()), "{error}");
    Ok(())
}
