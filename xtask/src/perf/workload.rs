//! What every side publishes and how a consumer checks it: envelopes built
//! once per figure (outside the timed part), their wire form for the raw
//! clients, and the tally with the demo's definitions of order violations,
//! duplicates and losses (`examples/quickstart.rs`).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use bytes::Bytes;
use evbus::{
    CodecKind, Envelope, OutgoingMessage,
    envelope::{CodecConfig, X_AGGREGATE_ID, X_EVENT_VERSION, codec},
};
use hdrhistogram::Histogram;
use tokio::sync::Notify;

/// The service name every side publishes as (CloudEvents `source`).
pub const SERVICE: &str = "perf";
/// Payload size of every envelope (issue 8).
pub const PAYLOAD_BYTES: usize = 256;
/// The aggregate of the messages that check a consumer is live before the
/// timed part starts; the tally ignores it.
pub const WARMUP_AGGREGATE: &str = "warmup";
/// Envelopes per batch publish (the facade's `publish.batch_max`, 500, and
/// the demo's batch).
pub const BATCH: usize = 500;

/// Everything one figure publishes, in publish order (version v of every
/// aggregate, then v + 1): the envelopes for evbus and, at the same index,
/// the exact messages evbus puts on the wire for the raw clients (key =
/// aggregate id, the `X-*` headers and codec marker, protobuf body, event
/// id as dedup id).
pub struct Work {
    /// What evbus publishes.
    pub envelopes: Vec<Envelope>,
    /// What the raw clients publish.
    pub wires: Vec<OutgoingMessage>,
    /// Index of each message's topic in the figure's topic list.
    pub topics: Vec<usize>,
    /// Aggregates the messages are spread over.
    pub aggregates: u64,
}

/// Encodes an envelope exactly as `EventBus::publish_envelope` does with
/// the default configuration (protobuf codec, source = service name).
pub fn wire_of(envelope: &Envelope) -> anyhow::Result<OutgoingMessage> {
    static CODEC: OnceLock<Arc<dyn evbus::envelope::Codec>> = OnceLock::new();
    let codec = CODEC.get_or_init(|| codec(CodecKind::Protobuf, &CodecConfig::new(SERVICE)));
    let encoded = codec.encode(envelope)?;
    Ok(OutgoingMessage {
        key: Some(encoded.key),
        headers: encoded.headers,
        payload: encoded.body,
        dedup_id: Some(envelope.event_id().to_owned()),
    })
}

/// The aggregate id of aggregate `index`.
pub fn aggregate_id(index: u64) -> String {
    format!("agg-{index}")
}

impl Work {
    /// `messages` envelopes over `aggregates` aggregates (rounded up to
    /// whole versions when there are fewer aggregates than messages), the
    /// aggregate `a` on topic `a % topics`.
    pub fn new(messages: u64, aggregates: u64, topics: usize) -> anyhow::Result<Self> {
        Self::with_payload(
            messages,
            aggregates,
            topics,
            Bytes::from(vec![b'x'; PAYLOAD_BYTES]),
        )
    }

    /// As [`Work::new`], every envelope carrying `payload`.
    pub fn with_payload(
        messages: u64,
        aggregates: u64,
        topics: usize,
        payload: Bytes,
    ) -> anyhow::Result<Self> {
        let aggregates = aggregates.clamp(1, messages.max(1));
        let versions = messages.div_ceil(aggregates);
        let mut work = Self {
            envelopes: Vec::with_capacity(messages as usize),
            wires: Vec::with_capacity(messages as usize),
            topics: Vec::with_capacity(messages as usize),
            aggregates,
        };
        'all: for version in 1..=versions as i64 {
            for aggregate in 0..aggregates {
                if work.len() == messages {
                    break 'all;
                }
                let envelope = Envelope::builder(
                    aggregate_id(aggregate),
                    "PerfEvent",
                    version,
                    payload.clone(),
                )
                .build()?;
                work.wires.push(wire_of(&envelope)?);
                work.envelopes.push(envelope);
                work.topics.push((aggregate % topics as u64) as usize);
            }
        }
        Ok(work)
    }

    /// How many messages.
    pub fn len(&self) -> u64 {
        self.envelopes.len() as u64
    }
}

/// A warm-up envelope and its wire form (a fresh event id each time). Its
/// payload is a JSON value, so the JSON codecs of the peers suite can
/// carry it too.
pub fn warmup() -> anyhow::Result<(Envelope, OutgoingMessage)> {
    let envelope = Envelope::builder(WARMUP_AGGREGATE, "PerfWarmup", 1, "\"w\"").build()?;
    let wire = wire_of(&envelope)?;
    Ok((envelope, wire))
}

/// Reads aggregate id and version from the `X-*` headers every evbus
/// message carries (the raw consumers do not decode the body).
pub fn identity_from_headers<'a, I>(headers: I) -> Option<(String, i64)>
where
    I: IntoIterator<Item = (&'a str, &'a [u8])>,
{
    let mut aggregate = None;
    let mut version = None;
    for (name, value) in headers {
        if name == X_AGGREGATE_ID {
            aggregate = std::str::from_utf8(value).ok().map(str::to_owned);
        } else if name == X_EVENT_VERSION {
            version = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
        }
    }
    Some((aggregate?, version?))
}

/// Publish-time schedule of a latency figure: message i is due at
/// `start + i / rate`; latency is measured from the due time, so a
/// publisher that falls behind shows up in the figures (no coordinated
/// omission).
pub struct Schedule {
    start: OnceLock<Instant>,
    period: Duration,
    aggregates: u64,
}

impl Schedule {
    pub fn new(rate: u64, aggregates: u64) -> Self {
        Self {
            start: OnceLock::new(),
            period: Duration::from_secs(1) / rate.max(1) as u32,
            aggregates,
        }
    }

    /// Fixes the start; returns it.
    pub fn begin(&self) -> Instant {
        *self.start.get_or_init(Instant::now)
    }

    /// When message `index` is due.
    pub fn due(&self, index: u64) -> Instant {
        self.begin() + self.period * index as u32
    }

    fn index_of(&self, aggregate: &str, version: i64) -> Option<u64> {
        let a: u64 = aggregate.strip_prefix("agg-")?.parse().ok()?;
        Some((version as u64 - 1) * self.aggregates + a)
    }
}

/// Counts what a consumer handled and checks per-aggregate order.
///
/// Definitions (as in the demo): a handled version <= the last one seen for
/// its aggregate is a duplicate; a version > last + 1 is an order
/// violation; lost = published - distinct (aggregate, version) handled.
pub struct Sink {
    last_version: Mutex<HashMap<String, i64>>,
    handled: AtomicU64,
    distinct: AtomicU64,
    duplicates: AtomicU64,
    violations: AtomicU64,
    warmups: AtomicU64,
    expected: u64,
    expected_warmups: u64,
    all_done: Notify,
    all_handled: Notify,
    warm: Notify,
    /// Wait per handled message inside the handler (evbus only).
    pub handler_sleep: Duration,
    latency: Option<(Arc<Schedule>, Mutex<Histogram<u64>>)>,
}

/// Handler times below this are CPU work, not an async wait (see
/// [`Sink::handler_work`]).
pub const SPIN_BELOW: Duration = Duration::from_millis(1);

/// What a consumer saw.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Tally {
    pub handled: u64,
    pub distinct: u64,
    pub duplicates: u64,
    pub violations: u64,
    pub lost: u64,
}

impl Sink {
    pub fn new(expected: u64, expected_warmups: u64, handler_sleep: Duration) -> Self {
        Self {
            last_version: Mutex::new(HashMap::new()),
            handled: AtomicU64::new(0),
            distinct: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            violations: AtomicU64::new(0),
            warmups: AtomicU64::new(0),
            expected,
            expected_warmups,
            all_done: Notify::new(),
            all_handled: Notify::new(),
            warm: Notify::new(),
            handler_sleep,
            latency: None,
        }
    }

    /// Also records each first delivery's latency from its due time.
    pub fn with_latency(mut self, schedule: Arc<Schedule>) -> Self {
        let histogram = Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds");
        self.latency = Some((schedule, Mutex::new(histogram)));
        self
    }

    /// The handler's work per message, [`Sink::handler_sleep`] long: under
    /// [`SPIN_BELOW`] a spin on the CPU (a CPU-bound handler; tokio's timer
    /// counts in whole milliseconds, so an async wait that short would last
    /// 1 ms), from there an async wait (a handler waiting on I/O).
    pub async fn handler_work(&self) {
        let h = self.handler_sleep;
        if h.is_zero() {
            return;
        }
        if h < SPIN_BELOW {
            let until = Instant::now() + h;
            while Instant::now() < until {
                std::hint::spin_loop();
            }
        } else {
            tokio::time::sleep(h).await;
        }
    }

    /// Records one handled message.
    pub fn record(&self, aggregate: &str, version: i64) {
        if aggregate == WARMUP_AGGREGATE {
            if self.warmups.fetch_add(1, Ordering::AcqRel) + 1 == self.expected_warmups {
                self.warm.notify_one();
            }
            return;
        }
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.all_handled.notify_one();
        }
        let first = {
            let mut last = self.last_version.lock().expect("tally lock");
            let seen = last.entry(aggregate.to_owned()).or_insert(0);
            if version <= *seen {
                false
            } else {
                if version > *seen + 1 {
                    self.violations.fetch_add(1, Ordering::Relaxed);
                }
                *seen = version;
                true
            }
        };
        if !first {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Some((schedule, histogram)) = &self.latency
            && let Some(index) = schedule.index_of(aggregate, version)
        {
            let micros = schedule.due(index).elapsed().as_micros() as u64;
            histogram
                .lock()
                .expect("histogram lock")
                .saturating_record(micros.max(1));
        }
        if self.distinct.fetch_add(1, Ordering::AcqRel) + 1 == self.expected {
            self.all_done.notify_one();
        }
    }

    /// Waits until every warm-up message arrived.
    pub async fn wait_warm(&self, timeout: Duration) -> anyhow::Result<()> {
        let notified = self.warm.notified();
        if self.warmups.load(Ordering::Acquire) >= self.expected_warmups {
            return Ok(());
        }
        tokio::time::timeout(timeout, notified)
            .await
            .context("the consumer did not receive the warm-up message")
    }

    /// Waits until every expected message was handled once; `false` on
    /// timeout (the tally then shows what is lost).
    pub async fn wait_all(&self, timeout: Duration) -> bool {
        let notified = self.all_done.notified();
        if self.distinct.load(Ordering::Acquire) >= self.expected {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok()
    }

    /// Waits until as many messages were handled as expected, first
    /// deliveries or not (a consumer that reorders an aggregate never
    /// reaches [`Sink::wait_all`]: the late versions count as duplicates);
    /// `false` on timeout.
    pub async fn wait_handled(&self, timeout: Duration) -> bool {
        let notified = self.all_handled.notified();
        if self.handled.load(Ordering::Acquire) >= self.expected {
            return true;
        }
        tokio::time::timeout(timeout, notified).await.is_ok()
    }

    pub fn tally(&self) -> Tally {
        let distinct = self.distinct.load(Ordering::Acquire);
        Tally {
            handled: self.handled.load(Ordering::Acquire),
            distinct,
            duplicates: self.duplicates.load(Ordering::Acquire),
            violations: self.violations.load(Ordering::Acquire),
            lost: self.expected.saturating_sub(distinct),
        }
    }

    /// The latency histogram (microseconds), when recorded.
    pub fn latency(&self) -> Option<Histogram<u64>> {
        self.latency
            .as_ref()
            .map(|(_, h)| h.lock().expect("histogram lock").clone())
    }
}

impl Tally {
    /// Fails when the promise was broken.
    pub fn check(&self, what: &str) -> anyhow::Result<()> {
        if self.violations > 0 || self.lost > 0 {
            bail!(
                "{what}: {} order violations, {} lost (handled {}, distinct {})",
                self.violations,
                self.lost,
                self.handled,
                self.distinct
            );
        }
        Ok(())
    }
}
