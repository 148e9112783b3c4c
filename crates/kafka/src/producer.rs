//! The idempotent producer: bounded in-flight publishes, one delivery
//! report per publish, and a new client after a fatal error.
//!
//! librdkafka makes an idempotent producer unusable after a fatal error
//! (for example a sequence gap the broker cannot explain): every later
//! publish would fail. The producer then builds a new client; publishes
//! still in the old one are purged, so each gets its error report
//! (`OutcomeUnknown`: it may or may not have been stored) rather than
//! hanging or vanishing.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use evbus_transport::{ErrorKind, OutgoingMessage, Position, Receipt, Result, TransportError};
use parking_lot::RwLock;
use rdkafka::{
    ClientConfig, ClientContext,
    config::RDKafkaLogLevel,
    error::KafkaError,
    message::{Header, Message, OwnedHeaders},
    producer::{
        BaseRecord, DeliveryResult, Producer as _, ProducerContext, PurgeConfig, ThreadedProducer,
    },
    types::RDKafkaErrorCode,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::{NAME, config::KafkaConfig, error, link::Link, logs};

/// How long a publish waits before retrying when librdkafka's local queue is
/// full (only when user properties shrank it below `max_in_flight`).
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(5);

/// What the delivery callback sends back to the waiting publish.
type Outcome = std::result::Result<Position, KafkaError>;

/// One publish on its way: where to report, and its in-flight slot, freed
/// when the report arrives even if the publishing future was dropped.
pub(crate) struct Pending {
    report: oneshot::Sender<Outcome>,
    _slot: OwnedSemaphorePermit,
}

/// Receives delivery reports on the producer's polling thread.
pub(crate) struct DeliveryContext {
    /// Lost when the brokers cannot be reached, up by a successful delivery.
    link: Arc<Link>,
    /// Set when librdkafka reports a fatal error: the client must be replaced.
    fatal: Arc<AtomicBool>,
}

impl ClientContext for DeliveryContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        logs::log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if logs::is_connection_error(&error) {
            self.link.lost(format!("{error}: {reason}"));
        }
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            self.fatal.store(true, Ordering::SeqCst);
        }
        logs::client_error(&error, reason);
    }
}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = Box<Pending>;

    fn delivery(&self, result: &DeliveryResult<'_>, pending: Box<Pending>) {
        let outcome = match result {
            Ok(message) => {
                self.link.up();
                Ok(Position {
                    partition: u32::try_from(message.partition()).unwrap_or_default(),
                    offset: u64::try_from(message.offset()).unwrap_or_default(),
                })
            }
            Err((error, _)) => {
                if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
                    self.fatal.store(true, Ordering::SeqCst);
                }
                Err(error.clone())
            }
        };
        // The publisher may have stopped waiting (its future was dropped);
        // the slot is freed either way when `pending` drops here.
        let _ = pending.report.send(outcome);
    }
}

/// A publish handed to librdkafka, waiting for its delivery report.
pub(crate) struct InFlight {
    topic: String,
    report: oneshot::Receiver<Outcome>,
}

impl InFlight {
    /// Waits for the broker's answer.
    pub async fn receipt(self) -> Result<Receipt> {
        match self.report.await {
            Ok(Ok(position)) => Ok(Receipt {
                position,
                duplicate: false,
            }),
            Ok(Err(err)) => Err(error::produce_error(err, &self.topic)),
            Err(_) => Err(TransportError::new(
                ErrorKind::Closed,
                NAME,
                "the producer was closed before the broker answered",
            )
            .with_topic(&self.topic)),
        }
    }
}

type Client = ThreadedProducer<DeliveryContext>;

/// A client and its own fatal flag: reports from a replaced client can
/// never mark its replacement.
struct Current {
    client: Client,
    fatal: Arc<AtomicBool>,
}

/// The transport's producer.
pub(crate) struct Producer {
    /// The current client; replaced after a fatal error.
    inner: RwLock<Current>,
    /// What a replacement client is built from.
    client_config: ClientConfig,
    rebuilds: AtomicU64,
    slots: Arc<Semaphore>,
    max_in_flight: u32,
    publish_timeout: Duration,
    max_payload: usize,
    link: Arc<Link>,
}

impl Producer {
    pub fn new(config: &KafkaConfig, link: Arc<Link>) -> Result<Self> {
        let max_in_flight = u32::try_from(config.max_in_flight)
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32);
        let client_config = config.producer_client_config();
        let inner = create(&client_config, &link)?;
        Ok(Self {
            inner: RwLock::new(inner),
            client_config,
            rebuilds: AtomicU64::new(0),
            slots: Arc::new(Semaphore::new(max_in_flight as usize)),
            max_in_flight,
            publish_timeout: config.publish_timeout,
            max_payload: config.max_payload_bytes(),
            link,
        })
    }

    /// Publishes sent and not yet answered by the brokers.
    pub fn in_flight(&self) -> usize {
        (self.max_in_flight as usize).saturating_sub(self.slots.available_permits())
    }

    /// How many times the client was replaced after a fatal error.
    pub fn rebuilds(&self) -> u64 {
        self.rebuilds.load(Ordering::Relaxed)
    }

    /// Replaces the client if librdkafka declared it dead. Publishes still
    /// in the old client are purged: each gets an error report.
    fn recover(&self) -> Result<()> {
        if !self.inner.read().fatal.load(Ordering::SeqCst) {
            return Ok(());
        }
        let mut inner = self.inner.write();
        // Another publish may have replaced it while this one waited.
        if !inner.fatal.load(Ordering::SeqCst) {
            return Ok(());
        }
        let reason = inner.client.client().fatal_error();
        let fresh = create(&self.client_config, &self.link)?;
        let old = std::mem::replace(&mut *inner, fresh).client;
        drop(inner);
        let rebuilds = self.rebuilds.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::warn!(
            ?reason,
            rebuilds,
            "the Kafka producer hit a fatal error; publishing continues on a new client, \
             publishes in flight on the old one fail with their error"
        );
        // Purging delivers every outstanding report (as errors); dropping
        // joins the old client's polling thread, so off this thread.
        std::thread::spawn(move || {
            old.purge(PurgeConfig::default().queue().inflight());
            let _ = old.flush(Duration::from_secs(5));
        });
        Ok(())
    }

    /// Raises a fatal error in the current client, as librdkafka would on
    /// an unrecoverable idempotence failure. Test support only.
    #[cfg(feature = "testkit")]
    #[allow(unsafe_code)]
    pub fn inject_fatal_error(&self) {
        let reason = c"injected by evbus_kafka::testkit";
        let inner = self.inner.read();
        // SAFETY: the client pointer is valid while `inner` is borrowed, and
        // `reason` is a NUL-terminated string librdkafka copies.
        unsafe {
            rdkafka::bindings::rd_kafka_test_fatal_error(
                inner.client.client().native_ptr(),
                rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                reason.as_ptr(),
            );
        }
    }

    /// Whether the last thing heard from the brokers was good.
    pub fn is_connected(&self) -> bool {
        self.link.is_connected()
    }

    /// The largest accepted [`OutgoingMessage::wire_size`].
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Checks the message size: fails before anything is sent.
    pub fn check_size(&self, topic: &str, message: &OutgoingMessage) -> Result<()> {
        let size = message.wire_size();
        if size > self.max_payload {
            return Err(TransportError::new(
                ErrorKind::TooLarge,
                NAME,
                format!(
                    "{size} bytes (payload, key and headers) exceed the limit of {} bytes \
                     (`max_message_bytes` less record framing)",
                    self.max_payload
                ),
            )
            .with_topic(topic));
        }
        Ok(())
    }

    /// Hands the message to librdkafka once an in-flight slot is free.
    /// Messages enqueued one after another keep their order per partition
    /// (the idempotent producer never reorders).
    pub async fn enqueue(&self, topic: &str, message: &OutgoingMessage) -> Result<InFlight> {
        let slot =
            match tokio::time::timeout(self.publish_timeout, self.slots.clone().acquire_owned())
                .await
            {
                Ok(Ok(slot)) => slot,
                Ok(Err(_)) => return Err(TransportError::closed(NAME, "the transport")),
                Err(_) => {
                    return Err(TransportError::new(
                        ErrorKind::Timeout,
                        NAME,
                        format!(
                            "{} publishes in flight and none finished within the publish timeout \
                         ({:?}); nothing was sent",
                            self.max_in_flight, self.publish_timeout
                        ),
                    )
                    .with_topic(topic));
                }
            };
        let (report, receiver) = oneshot::channel();
        let pending = Box::new(Pending {
            report,
            _slot: slot,
        });
        let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
        for (name, value) in &message.headers {
            headers = headers.insert(Header {
                key: name,
                value: Some(value.as_bytes()),
            });
        }
        let mut record: BaseRecord<'_, str, [u8], Box<Pending>> =
            BaseRecord::with_opaque_to(topic, pending)
                .payload(&message.payload[..])
                .headers(headers);
        if let Some(key) = &message.key {
            record = record.key(key.as_str());
        }
        let deadline = tokio::time::Instant::now() + self.publish_timeout;
        // A message refused for a fatal error was never enqueued: it is
        // sent once more on the replacement client.
        let mut fatal_retry = true;
        loop {
            self.recover()?;
            let sent = self.inner.read().client.send(record);
            match sent {
                Ok(()) => {
                    return Ok(InFlight {
                        topic: topic.to_owned(),
                        report: receiver,
                    });
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if tokio::time::Instant::now() < deadline =>
                {
                    record = back;
                    tokio::time::sleep(QUEUE_FULL_BACKOFF).await;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::Fatal), back))
                    if fatal_retry =>
                {
                    fatal_retry = false;
                    self.inner.read().fatal.store(true, Ordering::SeqCst);
                    record = back;
                }
                // Dropping the record frees its slot.
                Err((err, _)) => return Err(error::produce_error(err, topic)),
            }
        }
    }

    /// Waits until every publish enqueued before the call has its report.
    pub async fn flush(&self) -> Result<()> {
        // The semaphore is fair: taking every slot waits for exactly the
        // publishes holding one now (and those already waiting for one).
        match self.slots.acquire_many(self.max_in_flight).await {
            Ok(_all) => Ok(()),
            Err(_) => Err(TransportError::closed(NAME, "the transport")),
        }
    }

    /// Flushes, then refuses new publishes. Returns the client to drop on a
    /// blocking thread (dropping joins its polling thread).
    pub async fn close(&self) -> Result<()> {
        let flushed = self.flush().await;
        self.slots.close();
        // Reports are all in; this only makes librdkafka's own queues empty.
        let inner = self.inner.read().client.clone();
        let _ = tokio::task::spawn_blocking(move || inner.flush(Duration::from_secs(1))).await;
        flushed
    }
}

fn create(config: &ClientConfig, link: &Arc<Link>) -> Result<Current> {
    let fatal = Arc::new(AtomicBool::new(false));
    let client = config
        .create_with_context(DeliveryContext {
            link: link.clone(),
            fatal: fatal.clone(),
        })
        .map_err(error::config_error)?;
    Ok(Current { client, fatal })
}
