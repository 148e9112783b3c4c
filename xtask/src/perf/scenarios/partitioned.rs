//! partitioned (NATS only, issue 16): ordered scale-out with a partitioned
//! consumer group. N envelopes over K = 1,000 aggregates on a topic of 12
//! partitions, handled with h = 1 ms by a group of 1 and of 3 bus
//! instances (each its own `EventBus` on its own tokio runtime, all in this
//! process) -> msg/s from the first publish to the last first delivery,
//! with per-aggregate order checked across the instances; and, in a third
//! run per repeat, the failover time after one of the 3 instances is killed
//! mid-stream (its runtime torn down, no close, no goodbye).
//!
//! Failover is measured from deliveries, not from ownership events (the
//! facade only counts those in a metric): from the kill to the first
//! delivery, on a surviving instance, of a message of a partition the
//! killed instance owned (`first`), and to the first such delivery of the
//! last of its partitions (`all`: every orphaned partition flows again).

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use evbus::{BusConfig, DeliveryMeta, Envelope, EventBus, TopicOptions, topics::key_partition};
use serde::Serialize;
use tokio::{runtime::Runtime, sync::Notify};

use crate::perf::{
    scenarios::{Ctx, e2e_ordered::DELIVERY_TIMEOUT},
    setup::{fresh_group, fresh_topics},
    side::WARMUP_TIMEOUT,
    stats::{Sample, Stopwatch, Summary},
    workload::{Sink, Tally, Work},
};

/// Partitions of the topic (issue 16's test topic).
pub const PARTITIONS: u32 = 12;
/// Aggregates the envelopes are spread over.
pub const AGGREGATES: u64 = 1_000;
/// The handler's wait per message.
pub const HANDLER: Duration = Duration::from_millis(1);
/// Instances of the scaled-out group.
pub const INSTANCES: usize = 3;
/// Worker threads of each instance's runtime: the machine's 2 cores, so a
/// single instance is not held back by its runtime.
const WORKERS: usize = 2;
/// The killed run kills an instance once this fraction of the messages
/// was handled: mid-stream, long before it ran out of work.
const KILL_AFTER: u64 = 4;
/// The aggregate-id prefix of the messages that spread the partitions
/// before the clock starts; the tally ignores them.
const SETTLE_PREFIX: &str = "settle-";
/// Pause between two settle rounds while the group rebalances (a quarter
/// of the default partition lease: one membership round of the group).
const SETTLE_PAUSE: Duration = Duration::from_millis(750);
/// Settle rounds before giving up on an even spread.
const SETTLE_ROUNDS: usize = 80;

/// The figures of one run of the suite.
#[derive(Debug, Clone, Serialize)]
pub struct Scaling {
    pub transport: &'static str,
    pub messages: u64,
    pub aggregates: u64,
    pub partitions: u32,
    pub handler_ms: u64,
    /// One instance in the group.
    pub one: Vec<Sample>,
    /// [`INSTANCES`] instances in the group.
    pub many: Vec<Sample>,
    /// The killed runs.
    pub failover: Vec<Failover>,
    /// The documented failover bound, `partition_lease * 5/4`, seconds.
    pub bound_seconds: f64,
}

/// One killed run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Failover {
    /// Partitions the killed instance owned at the kill.
    pub orphaned: usize,
    /// How many of them a survivor delivered from afterwards.
    pub moved: usize,
    /// Kill to the first survivor delivery of an orphaned partition, s.
    pub first_seconds: f64,
    /// Kill to the first survivor delivery of the last orphaned partition,
    /// s (NaN when not all moved).
    pub all_seconds: f64,
    /// What the instances handled over the whole run, the killed one
    /// included.
    pub tally: Tally,
}

impl Scaling {
    pub fn one_rate(&self) -> Summary {
        Summary::of(self.one.iter().map(Sample::rate))
    }

    pub fn many_rate(&self) -> Summary {
        Summary::of(self.many.iter().map(Sample::rate))
    }

    /// Median with [`INSTANCES`] instances over median with one.
    pub fn ratio(&self) -> f64 {
        self.many_rate().median / self.one_rate().median
    }

    pub fn first(&self) -> Summary {
        Summary::of(self.failover.iter().map(|f| f.first_seconds))
    }

    pub fn all(&self) -> Summary {
        Summary::of(self.failover.iter().map(|f| f.all_seconds))
    }

    fn tallies(&self) -> impl Iterator<Item = Tally> + '_ {
        self.one
            .iter()
            .chain(&self.many)
            .filter_map(|s| s.tally)
            .chain(self.failover.iter().map(|f| f.tally))
    }

    /// Order violations and losses over every run.
    pub fn broken(&self) -> (u64, u64) {
        self.tallies()
            .fold((0, 0), |(v, l), t| (v + t.violations, l + t.lost))
    }

    /// Duplicates over every run (expected after a kill: what the killed
    /// instance handled but had not acked is delivered again).
    pub fn duplicates(&self) -> u64 {
        self.tallies().map(|t| t.duplicates).sum()
    }

    /// Killed runs whose orphaned partitions did not all move.
    pub fn unmoved(&self) -> usize {
        self.failover
            .iter()
            .filter(|f| f.moved < f.orphaned || f.orphaned == 0)
            .count()
    }
}

/// The kill, once it happened.
struct Kill {
    victim: usize,
    at: Instant,
    orphaned: BTreeSet<u32>,
    /// First survivor delivery of each orphaned partition.
    moved: BTreeMap<u32, Instant>,
}

#[derive(Default)]
struct State {
    /// Per partition, the instance that handled its latest message.
    last: Vec<Option<usize>>,
    /// Settle messages handled: (round, partition, instance).
    settled: Vec<(u64, u32, usize)>,
    kill: Option<Kill>,
}

/// What the instances of one run handled: the order check (a [`Sink`]
/// shared by every instance, so order is checked across them), who handled
/// which partition, and the kill.
struct Recorder {
    sink: Sink,
    state: Mutex<State>,
    changed: Notify,
    handled: AtomicU64,
    /// Handled messages at which `reached` fires.
    kill_after: u64,
    reached: Notify,
}

impl Recorder {
    fn new(messages: u64) -> Self {
        Self {
            sink: Sink::new(messages, 0, HANDLER),
            state: Mutex::new(State {
                last: vec![None; PARTITIONS as usize],
                ..State::default()
            }),
            changed: Notify::new(),
            handled: AtomicU64::new(0),
            kill_after: (messages / KILL_AFTER).max(1),
            reached: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("recorder lock")
    }

    async fn handle(&self, instance: usize, envelope: &Envelope, partition: u32) {
        let aggregate = envelope.aggregate_id();
        if let Some(round) = aggregate
            .strip_prefix(SETTLE_PREFIX)
            .and_then(|rest| rest.split('-').next()?.parse().ok())
        {
            self.lock().settled.push((round, partition, instance));
            self.changed.notify_waiters();
            return;
        }
        tokio::time::sleep(self.sink.handler_sleep).await;
        {
            let mut state = self.lock();
            let victim = state.kill.as_ref().map(|k| k.victim);
            if victim != Some(instance) {
                state.last[partition as usize] = Some(instance);
                if let Some(kill) = &mut state.kill
                    && kill.orphaned.contains(&partition)
                {
                    kill.moved.entry(partition).or_insert_with(Instant::now);
                }
            }
        }
        self.sink.record(aggregate, envelope.event_version());
        if self.handled.fetch_add(1, Ordering::AcqRel) + 1 == self.kill_after {
            self.reached.notify_one();
        }
    }

    /// Marks `victim` as killed now; returns the partitions it owned (those
    /// whose latest message it handled).
    fn kill(&self, victim: usize) -> BTreeSet<u32> {
        let mut state = self.lock();
        let orphaned: BTreeSet<u32> = (0..PARTITIONS)
            .filter(|&p| state.last[p as usize] == Some(victim))
            .collect();
        state.kill = Some(Kill {
            victim,
            at: Instant::now(),
            orphaned: orphaned.clone(),
            moved: BTreeMap::new(),
        });
        orphaned
    }

    /// Which partitions each instance handled in settle round `round`, once
    /// every partition's message of that round arrived.
    async fn spread(&self, round: u64) -> anyhow::Result<BTreeMap<usize, BTreeSet<u32>>> {
        let deadline = tokio::time::Instant::now() + WARMUP_TIMEOUT;
        loop {
            let changed = self.changed.notified();
            {
                let state = self.lock();
                let mut spread: BTreeMap<usize, BTreeSet<u32>> = BTreeMap::new();
                let mut seen = BTreeSet::new();
                for &(r, partition, instance) in &state.settled {
                    if r == round && seen.insert(partition) {
                        spread.entry(instance).or_default().insert(partition);
                    }
                }
                if seen.len() == PARTITIONS as usize {
                    return Ok(spread);
                }
            }
            tokio::time::timeout_at(deadline, changed)
                .await
                .with_context(|| format!("settle round {round} was not handled"))?;
        }
    }
}

/// One bus instance of the group, on a runtime of its own so that it can
/// be killed without the others noticing anything but its silence.
struct Instance {
    /// `None` once closed or killed.
    runtime: Option<Runtime>,
    bus: Option<EventBus>,
}

impl Instance {
    async fn start(
        config: BusConfig,
        topic: &str,
        recorder: Arc<Recorder>,
        index: usize,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name(format!("perf-instance-{index}"))
            .enable_all()
            .build()?;
        let topic = topic.to_owned();
        let bus = runtime
            .spawn(async move {
                let bus = EventBus::builder()
                    .config(config)
                    .on_error(move |error| eprintln!("evbus instance {index}: {error}"))
                    .build()
                    .await
                    .context("starting an instance")?;
                bus.configure_topics([(topic.clone(), options())])
                    .await
                    .context("configuring the topic")?;
                bus.subscribe_envelope(&topic, move |envelope: Envelope, meta: DeliveryMeta| {
                    let recorder = recorder.clone();
                    async move {
                        recorder
                            .handle(index, &envelope, meta.position.partition)
                            .await;
                        Ok(())
                    }
                })
                .await
                .context("subscribing")?;
                anyhow::Ok(bus)
            })
            .await;
        // On failure, Drop stops the runtime.
        let mut instance = Self {
            runtime: Some(runtime),
            bus: None,
        };
        instance.bus = Some(bus??);
        Ok(instance)
    }

    /// Closes the bus (leaving the group), then stops the runtime.
    async fn close(mut self) -> anyhow::Result<()> {
        if let (Some(runtime), Some(bus)) = (&self.runtime, self.bus.take()) {
            runtime.spawn(async move { bus.close().await }).await??;
        }
        Ok(())
    }

    /// The crash: every task of the instance stops where it is, its
    /// connection drops, its leases are left to expire. Returns the bus
    /// handle, to be dropped outside any runtime once the run is over
    /// (dropping it in a runtime would start the shutdown a crashed
    /// process never runs).
    fn kill(mut self) -> Option<EventBus> {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        self.bus.take()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Runtimes cannot be dropped in async code; this one's tasks need
        // not be waited for.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn options() -> TopicOptions {
    TopicOptions::default().partitions(PARTITIONS)
}

/// An aggregate id of settle round `round` whose messages go to `partition`.
fn settle_aggregate(round: u64, partition: u32) -> String {
    (0u64..)
        .map(|i| format!("{SETTLE_PREFIX}{round}-{partition}-{i}"))
        .find(|id| key_partition(id.as_bytes(), PARTITIONS) == partition)
        .expect("some id hashes to every partition")
}

/// A group of instances on a fresh topic, with a publisher, settled to an
/// even spread of the partitions.
struct Group {
    topic: String,
    publisher: EventBus,
    failures: Arc<AtomicU64>,
    instances: Vec<Option<Instance>>,
    /// Handles of killed instances.
    killed: Vec<EventBus>,
    recorder: Arc<Recorder>,
}

impl Group {
    async fn open(config: &BusConfig, instances: usize, messages: u64) -> anyhow::Result<Self> {
        let topic = fresh_topics(1).remove(0);
        let failures = Arc::new(AtomicU64::new(0));
        let counter = failures.clone();
        let publisher = EventBus::builder()
            .config(config.clone())
            .on_error(move |error| {
                eprintln!("evbus publisher: {error}");
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .await
            .context("starting the publisher")?;
        publisher
            .configure_topics([(topic.clone(), options())])
            .await
            .context("configuring the topic")?;
        let mut member = config.clone();
        member.subscribe.group = Some(fresh_group());
        let recorder = Arc::new(Recorder::new(messages));
        let mut group = Self {
            topic,
            publisher,
            failures,
            instances: Vec::with_capacity(instances),
            killed: Vec::new(),
            recorder,
        };
        for index in 0..instances {
            group.instances.push(Some(
                Instance::start(member.clone(), &group.topic, group.recorder.clone(), index)
                    .await?,
            ));
        }
        group.settle().await?;
        Ok(group)
    }

    /// Publishes a message per partition, round after round, until one
    /// round is handled with the partitions spread evenly over every
    /// instance (not timed: the group's joins and hand-overs happen here).
    async fn settle(&self) -> anyhow::Result<()> {
        let instances = self.instances.len();
        let each = PARTITIONS as usize / instances;
        let mut spread = BTreeMap::new();
        for round in 0..SETTLE_ROUNDS as u64 {
            let envelopes = (0..PARTITIONS)
                .map(|p| {
                    Envelope::builder(settle_aggregate(round, p), "PerfSettle", 1, "s").build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            for result in self
                .publisher
                .publish_batch(&self.topic, &envelopes)
                .await?
            {
                result?;
            }
            spread = self.recorder.spread(round).await?;
            if spread.len() == instances && spread.values().all(|p| p.len() == each) {
                return Ok(());
            }
            tokio::time::sleep(SETTLE_PAUSE).await;
        }
        bail!("the partitions did not spread evenly over {instances} instances: last {spread:?}")
    }

    /// Publishes every message of `work` the async way.
    async fn publish(&self, work: &Work) -> anyhow::Result<()> {
        for envelope in &work.envelopes {
            self.publisher
                .publish_detached(&self.topic, envelope)
                .await?;
        }
        self.publisher.flush().await?;
        let failed = self.failures.load(Ordering::Relaxed);
        if failed > 0 {
            bail!("{failed} detached publishes failed");
        }
        Ok(())
    }

    /// Kills instance `index`.
    fn kill(&mut self, index: usize) {
        if let Some(bus) = self.instances[index].take().and_then(Instance::kill) {
            self.killed.push(bus);
        }
    }

    async fn close(self) -> anyhow::Result<()> {
        for instance in self.instances.into_iter().flatten() {
            instance.close().await?;
        }
        self.publisher.close().await?;
        // On a thread of no runtime (tokio's blocking threads are in one),
        // so that the drop starts no shutdown.
        let killed = self.killed;
        std::thread::spawn(move || drop(killed))
            .join()
            .map_err(|_| anyhow::anyhow!("dropping a killed instance's handle panicked"))?;
        Ok(())
    }
}

/// One timed run: `instances` instances handle `work`.
async fn throughput(config: &BusConfig, work: &Work, instances: usize) -> anyhow::Result<Sample> {
    let group = Group::open(config, instances, work.len()).await?;
    let watch = Stopwatch::start();
    group.publish(work).await?;
    group.recorder.sink.wait_all(DELIVERY_TIMEOUT).await;
    let (seconds, cpu_seconds) = watch.stop();
    let tally = group.recorder.sink.tally();
    group.close().await?;
    Ok(Sample {
        messages: work.len(),
        seconds,
        cpu_seconds,
        tally: Some(tally),
        latency: None,
    })
}

/// One killed run: [`INSTANCES`] instances handle `work`, and one of them
/// is killed once a quarter of it was handled.
async fn failover(config: &BusConfig, work: &Work) -> anyhow::Result<Failover> {
    let mut group = Group::open(config, INSTANCES, work.len()).await?;
    let recorder = group.recorder.clone();
    let reached = recorder.reached.notified();
    group.publish(work).await?;
    tokio::time::timeout(DELIVERY_TIMEOUT, reached)
        .await
        .context("a quarter of the messages was not handled")?;
    let victim = 1;
    let orphaned = recorder.kill(victim);
    group.kill(victim);
    recorder.sink.wait_all(DELIVERY_TIMEOUT).await;
    let tally = recorder.sink.tally();
    let (first, all, moved) = {
        let state = recorder.lock();
        let kill = state.kill.as_ref().expect("killed");
        let after = |t: &Instant| t.duration_since(kill.at).as_secs_f64();
        let first = kill.moved.values().map(after).reduce(f64::min);
        let last = kill.moved.values().map(after).reduce(f64::max);
        let moved = kill.moved.len();
        let all = if moved == orphaned.len() { last } else { None };
        (first, all, moved)
    };
    group.close().await?;
    Ok(Failover {
        orphaned: orphaned.len(),
        moved,
        first_seconds: first.unwrap_or(f64::NAN),
        all_seconds: all.unwrap_or(f64::NAN),
        tally,
    })
}

/// The suite: per repeat one run with 1 instance, one with [`INSTANCES`]
/// and one killed run, alternated.
pub async fn run(
    ctx: &Ctx,
    transport: &'static str,
    config: &BusConfig,
    messages: u64,
) -> anyhow::Result<Scaling> {
    let work = Work::new(messages, AGGREGATES, 1)?;
    let lease = config.nats.partition_lease;
    let mut scaling = Scaling {
        transport,
        messages: work.len(),
        aggregates: work.aggregates,
        partitions: PARTITIONS,
        handler_ms: HANDLER.as_millis() as u64,
        one: Vec::new(),
        many: Vec::new(),
        failover: Vec::new(),
        bound_seconds: (lease + lease / 4).as_secs_f64(),
    };
    let name = format!("{transport} partitioned K={AGGREGATES} h=1ms");
    for _ in 0..ctx.runs {
        ctx.bar.set_message(format!("{name}, 1 instance"));
        scaling.one.push(throughput(config, &work, 1).await?);
        ctx.tick();
        ctx.bar
            .set_message(format!("{name}, {INSTANCES} instances"));
        scaling
            .many
            .push(throughput(config, &work, INSTANCES).await?);
        ctx.tick();
        ctx.bar
            .set_message(format!("{name}, failover after a kill"));
        scaling.failover.push(failover(config, &work).await?);
        ctx.tick();
    }
    Ok(scaling)
}
