//! The engine every load scenario shares: a publisher in this process
//! sending rounds at a fixed rate, a consumer child process, a fault task
//! alongside, then a drain and the accounting.
//!
//! Round v publishes version v of every aggregate in one batch and retries
//! the failed publishes (same event ids, so NATS deduplicates them) until
//! all are acknowledged, before round v + 1 starts: the broker then holds
//! each aggregate's versions in order, and any reorder the consumer reports
//! is the bus's.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use evbus::{Envelope, EventBus, TopicOptions};
use futures::future::BoxFuture;
use rand::{SeedableRng, rngs::StdRng};
use tokio::sync::Mutex;

use super::{
    child::ChildSpec,
    clusters::{Broker, Cluster, Target},
    consumers::Consumers,
    ledger::{self, Ledger},
    report::Row,
};

/// Percent of handler calls that fail transiently.
pub const FAIL_PERCENT: u32 = 10;
/// How long one round may take to be acknowledged before the scenario
/// fails: longer than any fault's outage (a Kafka broker restart).
const ROUND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one `publish_batch` call may take before the publisher gives
/// up on it and sends the batch again: well above the transports' own
/// publish timeouts (10 s NATS, 30 s Kafka), so only a hang reaches it.
const BATCH_HANG: Duration = Duration::from_secs(45);
/// How long rounds go on after the last fault.
const AFTER_FAULTS: Duration = Duration::from_secs(5);

/// Sizes and timings of a load scenario.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Aggregates, each getting one event per round.
    pub aggregates: usize,
    /// Events per second offered (rounds per second = rate / aggregates).
    pub rate: usize,
    /// How long rounds are started.
    pub publish_for: Duration,
    /// How long the consumer may take to handle everything acknowledged
    /// once publishing ended.
    pub drain_within: Duration,
    /// How often the consumer samples its resources.
    pub sample_every: Duration,
}

/// What a fault task works with.
pub struct FaultCtx {
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// The scenario's topic.
    pub topic: String,
    /// The consumer processes.
    pub consumers: Arc<Mutex<Consumers>>,
    /// Seeded from the run's seed.
    pub rng: StdRng,
    /// How long the publisher runs.
    pub publish_for: Duration,
    faults: Arc<parking_lot::Mutex<Vec<(String, Instant)>>>,
}

impl FaultCtx {
    /// Records that a fault is injected now (recovery is measured from
    /// here) and prints it.
    pub fn mark(&self, what: impl Into<String>) {
        let what = what.into();
        println!("    fault: {what}");
        self.faults.lock().push((what, Instant::now()));
    }
}

/// A fault task: runs while the publisher runs, returns once every node it
/// stopped is back.
pub type Faults = Box<dyn FnOnce(FaultCtx) -> BoxFuture<'static, anyhow::Result<()>> + Send>;

/// One load scenario to run.
pub struct Setup {
    /// Scenario name.
    pub name: String,
    /// The cluster.
    pub cluster: Arc<Cluster>,
    /// Where the publisher and consumer connect (the cluster, or proxies in
    /// front of it).
    pub target: Target,
    /// Sizes and timings.
    pub plan: Plan,
    /// The run's seed.
    pub seed: u64,
    /// The faults.
    pub faults: Faults,
}

/// Runs the scenario; its accounting whatever happens (an error becomes a
/// failed row with the error in its notes). Gives up after the plan's
/// publishing and drain times plus [`ROUND_TIMEOUT`] and five minutes for
/// starts and stops, so a hang fails the scenario instead of the run.
pub async fn run(setup: Setup) -> Row {
    let began = Instant::now();
    let mut row = Row::new(&setup.name, setup.cluster.broker(), setup.seed);
    let limit =
        setup.plan.publish_for + setup.plan.drain_within + ROUND_TIMEOUT + Duration::from_secs(300);
    match tokio::time::timeout(limit, drive(setup, &mut row, began)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => row.notes.push(format!("error: {error:#}")),
        Err(_) => row.notes.push(format!("error: not done within {limit:?}")),
    }
    row.seconds = began.elapsed().as_secs_f64();
    row.judge();
    row
}

async fn drive(setup: Setup, row: &mut Row, began: Instant) -> anyhow::Result<()> {
    let Setup {
        name,
        cluster,
        target,
        plan,
        seed,
        faults,
    } = setup;
    let topic = format!("chaos-{name}");
    // Kafka spreads the aggregates over partitions. On NATS a partitioned
    // topic is consumed by a partitioned group, whose faults these scenarios
    // do not cover yet: they test the ordered group, on one subject.
    let partitions = match target.broker {
        Broker::Nats => 1,
        Broker::Kafka => 6,
    };
    let publisher = EventBus::from_config(target.bus_config("chaos-publisher")).await?;
    create_topic(&publisher, &topic, partitions).await?;

    let ledger = Arc::new(Ledger::default());
    let spec = ChildSpec {
        target: target.clone(),
        topic: topic.clone(),
        group: format!("chaos-{name}-consumer"),
        seed,
        fail_percent: FAIL_PERCENT,
        sample_every: plan.sample_every,
    };
    let consumers = Arc::new(Mutex::new(Consumers::start(spec, ledger.clone(), began)?));

    let fault_log = Arc::default();
    let ctx = FaultCtx {
        cluster,
        topic: topic.clone(),
        consumers: consumers.clone(),
        rng: StdRng::seed_from_u64(seed),
        publish_for: plan.publish_for,
        faults: Arc::clone(&fault_log),
    };
    let fault_task = tokio::spawn(faults(ctx));

    let progress = tokio::spawn(report_progress(ledger.clone()));
    let mut rounds = Rounds::default();
    let published = rounds.publish(&publisher, &topic, plan, &fault_task).await;
    let faulted = fault_task.await.context("the fault task panicked")?;
    row.published = rounds.published;
    row.acknowledged = rounds.acknowledged;
    row.publish_retries = rounds.retries;
    if !rounds.hangs.is_empty() {
        row.failures
            .push(format!("{} publish_batch calls hung", rounds.hangs.len()));
        row.notes.extend(rounds.hangs.iter().cloned());
    }
    // Whatever was acknowledged is still accounted for when publishing or
    // a fault failed part-way.
    if let Err(error) = published {
        row.notes.push(format!("error: publishing: {error:#}"));
    }
    if let Err(error) = faulted {
        row.notes
            .push(format!("error: injecting faults: {error:#}"));
    }

    let acked: HashMap<String, i64> = (0..plan.aggregates)
        .map(|a| (aggregate(a), rounds.acked_versions))
        .collect();
    let deadline = Instant::now() + plan.drain_within;
    while ledger.distinct() < rounds.acknowledged && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    progress.abort();
    consumers.lock().await.stop().await?;
    publisher.close().await?;

    let handled = ledger.handled();
    let tally = ledger::tally(&handled, &acked);
    if let Some(&began) = rounds.started.first() {
        row.notes
            .extend(tally.first_reorders.iter().map(|r| describe(r, began)));
    }
    row.apply(tally);
    let faults = fault_log.lock().clone();
    let instants: Vec<Instant> = faults.iter().map(|(_, at)| *at).collect();
    row.recoveries_ms = ledger::recoveries(&handled, &instants, &rounds.started)
        .into_iter()
        .map(|r| r.map(|d| d.as_millis() as u64))
        .collect();
    row.faults = faults.into_iter().map(|(what, _)| what).collect();
    row.consumer_processes = consumers.lock().await.started();
    row.samples = ledger.samples();
    Ok(())
}

/// Creates the scenario's topic, asking again while the error is
/// retryable: a cluster that just became healthy may still time out a
/// replicated stream's creation on a loaded machine (a run beside a build:
/// "jetstream request timed out"). The request's own timeout paces the
/// attempts.
async fn create_topic(publisher: &EventBus, topic: &str, partitions: u32) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 3;
    let mut attempt = 1;
    loop {
        let options = TopicOptions::new().partitions(partitions).replicas(3);
        match publisher.configure_topics([(topic, options)]).await {
            Ok(_) => return Ok(()),
            Err(error) if error.is_retryable() && attempt < ATTEMPTS => {
                println!("    creating the topic failed ({error}), asking again");
                attempt += 1;
            }
            Err(error) => return Err(error).context("creating the topic"),
        }
    }
}

/// A reorder as a note: which version overtook which, when (seconds into
/// the run) and with what delivery counts, to tell a lost delivery that
/// came back after `ack_wait` from one the broker stored out of order.
fn describe(reorder: &ledger::Reorder, began: Instant) -> String {
    let at = |h: &ledger::Handled| h.at.saturating_duration_since(began).as_secs_f64();
    let early = &reorder.handled;
    let missing = match &reorder.missing {
        Some(m) => format!(
            "v{} came at {:.1} s (delivery {})",
            m.version,
            at(m),
            m.delivery_count
        ),
        None => "the version before it never came".to_owned(),
    };
    format!(
        "reorder: {} v{} handled at {:.1} s (delivery {}); {missing}",
        early.aggregate,
        early.version,
        at(early),
        early.delivery_count
    )
}

/// Prints how many events were handled every 5 s, so a stall shows.
async fn report_progress(ledger: Arc<Ledger>) {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.tick().await;
    loop {
        every.tick().await;
        println!("    handled so far: {}", ledger.distinct());
    }
}

/// The aggregate id of aggregate number `n`.
fn aggregate(n: usize) -> String {
    format!("agg-{n}")
}

/// The publisher's progress.
#[derive(Default)]
struct Rounds {
    started: Vec<Instant>,
    published: usize,
    acknowledged: usize,
    retries: usize,
    acked_versions: i64,
    hangs: Vec<String>,
}

impl Rounds {
    /// Publishes rounds for `plan.publish_for`, and on while `faults` runs
    /// and [`AFTER_FAULTS`] beyond, so every fault has rounds after it to
    /// measure recovery by (at most three times `publish_for` in all).
    async fn publish(
        &mut self,
        bus: &EventBus,
        topic: &str,
        plan: Plan,
        faults: &tokio::task::JoinHandle<anyhow::Result<()>>,
    ) -> anyhow::Result<()> {
        let began = Instant::now();
        let interval = Duration::from_secs_f64(plan.aggregates as f64 / plan.rate as f64);
        let mut version = 0;
        let mut faults_done: Option<Instant> = None;
        loop {
            if faults_done.is_none() && faults.is_finished() {
                faults_done = Some(Instant::now());
            }
            let tail_done = faults_done.is_some_and(|at| at.elapsed() >= AFTER_FAULTS);
            let elapsed = began.elapsed();
            if elapsed >= plan.publish_for * 3 || (elapsed >= plan.publish_for && tail_done) {
                break;
            }
            version += 1;
            self.started.push(Instant::now());
            let mut pending: Vec<Envelope> = (0..plan.aggregates)
                .map(|a| Envelope::builder(aggregate(a), "ChaosTested", version, "{}").build())
                .collect::<Result<_, _>>()?;
            self.published += pending.len();
            let deadline = Instant::now() + ROUND_TIMEOUT;
            let mut attempt = 0;
            while !pending.is_empty() {
                attempt += 1;
                if Instant::now() > deadline {
                    bail!("round {version} not acknowledged within {ROUND_TIMEOUT:?}");
                }
                // A failed batch call fails every envelope in it; so does one
                // that hangs (a finding: every publish has its own timeout).
                let call = tokio::time::timeout(BATCH_HANG, bus.publish_batch(topic, &pending));
                let mut first_error = None;
                let failed: Vec<bool> = match call.await {
                    Ok(Ok(results)) => {
                        first_error = results
                            .iter()
                            .find_map(|r| r.as_ref().err())
                            .map(|e| e.to_string());
                        results.iter().map(Result::is_err).collect()
                    }
                    Ok(Err(error)) => {
                        first_error = Some(error.to_string());
                        vec![true; pending.len()]
                    }
                    Err(_) => {
                        let hang = format!(
                            "publish_batch of round {version} did not return within {BATCH_HANG:?}"
                        );
                        println!("    {hang}");
                        self.hangs.push(hang);
                        vec![true; pending.len()]
                    }
                };
                let before = pending.len();
                pending = pending
                    .into_iter()
                    .zip(failed)
                    .filter(|(_, failed)| *failed)
                    .map(|(e, _)| e)
                    .collect();
                self.acknowledged += before - pending.len();
                if !pending.is_empty() {
                    // The first attempt, then every tenth: a stuck round
                    // shows what it is stuck on.
                    if attempt % 10 == 1 {
                        println!(
                            "    round {version}: {} of {before} publishes failed ({}), retrying",
                            pending.len(),
                            first_error.as_deref().unwrap_or("hung")
                        );
                    }
                    self.retries += pending.len();
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
            self.acked_versions = version;
            let next = began + interval * version as u32;
            tokio::time::sleep_until(next.into()).await;
        }
        Ok(())
    }
}
