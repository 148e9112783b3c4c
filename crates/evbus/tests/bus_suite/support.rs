//! What the bus scenarios share: the backend factory, unique names, and
//! recorders that wake waiters instead of being polled on a timer.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{bail, ensure};
use async_trait::async_trait;
use evbus::{BusConfig, Envelope, ErrorCallback, EventBus, Message};
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::Handled;

/// How long a scenario waits for an expected outcome.
const WAIT: Duration = Duration::from_secs(45);

/// Changes to the default test configuration of a bus.
pub type Configure = Box<dyn Fn(&mut BusConfig) + Send + Sync>;

/// Makes buses on one backend. Buses made by one factory share its broker.
#[async_trait]
pub trait BusFactory: Send + Sync + 'static {
    /// The backend's name in test names.
    fn name(&self) -> &'static str;

    /// A new bus (its own connection) on the factory's broker.
    async fn build(
        &self,
        configure: Configure,
        on_error: Option<ErrorCallback>,
    ) -> anyhow::Result<EventBus>;

    /// A new bus with no error callback.
    async fn bus(&self, configure: Configure) -> anyhow::Result<EventBus> {
        self.build(configure, None).await
    }

    /// A new bus reporting background errors to `on_error`.
    async fn bus_with_callback(
        &self,
        configure: Configure,
        on_error: ErrorCallback,
    ) -> anyhow::Result<EventBus> {
        self.build(configure, Some(on_error)).await
    }
}

/// Buses on a broker reached through configuration alone (NATS, Kafka):
/// `base` gives the backend's configuration, the scenario adjusts it.
#[allow(
    dead_code,
    reason = "the broker suites use it; bus_memory shares a broker instead"
)]
pub struct Configured {
    pub name: &'static str,
    pub base: Box<dyn Fn() -> BusConfig + Send + Sync>,
}

#[async_trait]
impl BusFactory for Configured {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn build(
        &self,
        configure: Configure,
        on_error: Option<ErrorCallback>,
    ) -> anyhow::Result<EventBus> {
        let mut config = (self.base)();
        configure(&mut config);
        let mut builder = EventBus::builder().config(config);
        if let Some(callback) = on_error {
            builder = builder.on_error(move |error| callback(error));
        }
        Ok(builder.build().await?)
    }
}

/// A topic name no other scenario or run uses (topics are never deleted).
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A valid envelope of `aggregate` at `version`.
pub fn envelope(aggregate: &str, version: i64) -> Envelope {
    Envelope::builder(
        aggregate,
        "TestEvent",
        version,
        format!("{{\"v\":{version}}}"),
    )
    .build()
    .expect("test envelopes are valid")
}

/// Waits until `condition` holds, re-checking whenever `notify` fires.
pub async fn wait_on(
    notify: &Notify,
    what: &str,
    mut condition: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT;
    loop {
        let changed = notify.notified();
        if condition() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, changed).await.is_err() {
            bail!("timed out after {WAIT:?} waiting for {what}");
        }
    }
}

/// Records handled (aggregate, version) pairs in handling order.
#[derive(Clone, Default)]
pub struct Recorder {
    log: Arc<Mutex<Vec<(String, i64)>>>,
    changed: Arc<Notify>,
}

impl Recorder {
    pub fn record(&self, aggregate: &str, version: i64) {
        self.log.lock().push((aggregate.to_owned(), version));
        self.changed.notify_waiters();
    }

    /// Waits until `n` events were handled (repeats included).
    pub async fn wait_for(&self, n: usize) -> anyhow::Result<()> {
        wait_on(&self.changed, &format!("{n} handled events"), || {
            self.log.lock().len() >= n
        })
        .await
    }

    /// Waits until `condition` holds for the handled versions per
    /// aggregate.
    pub async fn wait_until(
        &self,
        what: &str,
        mut condition: impl FnMut(&Handled) -> bool,
    ) -> anyhow::Result<()> {
        wait_on(&self.changed, what, || condition(&self.by_aggregate())).await
    }

    pub fn count(&self) -> usize {
        self.log.lock().len()
    }

    pub fn versions(&self, aggregate: &str) -> Vec<i64> {
        self.by_aggregate().remove(aggregate).unwrap_or_default()
    }

    pub fn by_aggregate(&self) -> Handled {
        let mut handled = Handled::new();
        for (aggregate, version) in self.log.lock().iter() {
            handled.entry(aggregate.clone()).or_default().push(*version);
        }
        handled
    }

    /// Every aggregate `agg-0..` handled versions 1..=versions exactly once,
    /// in order.
    pub fn assert_in_order(&self, aggregates: usize, versions: i64) -> anyhow::Result<()> {
        let handled = self.by_aggregate();
        let expected: Vec<i64> = (1..=versions).collect();
        for a in 0..aggregates {
            let name = format!("agg-{a}");
            let got = handled.get(&name).cloned().unwrap_or_default();
            ensure!(
                got == expected,
                "{name}: expected 1..={versions} in order, got {got:?}"
            );
        }
        Ok(())
    }
}

/// Collects what arrives on a topic's dead-letter topic.
#[derive(Clone, Default)]
pub struct DeadLetters {
    letters: Arc<Mutex<Vec<Message>>>,
    changed: Arc<Notify>,
}

impl DeadLetters {
    pub async fn wait_for(&self, n: usize) -> anyhow::Result<Vec<Message>> {
        wait_on(&self.changed, &format!("{n} dead letters"), || {
            self.letters.lock().len() >= n
        })
        .await?;
        Ok(self.letters.lock().clone())
    }

    pub fn count(&self) -> usize {
        self.letters.lock().len()
    }
}

/// Subscribes a reader (its own group) to `topic`'s dead-letter topic.
pub async fn dead_letters(bus: &EventBus, topic: &str) -> anyhow::Result<DeadLetters> {
    let letters = DeadLetters::default();
    let l = letters.clone();
    let suffix = bus.config().dead_letter.suffix.clone().unwrap_or_default();
    bus.subscribe_with(
        &format!("{topic}{suffix}"),
        "dead-letter-reader",
        move |m| {
            let l = l.clone();
            async move {
                l.letters.lock().push(m);
                l.changed.notify_waiters();
                Ok(())
            }
        },
    )
    .await?;
    Ok(letters)
}
