//! NATS partitioned consumer groups at the bus level, on a real server:
//! three instances share a topic of 12 partitions (4 each), a fourth joins
//! mid-stream and takes its share (3 each), one of the first three is
//! killed mid-stream (its runtime torn down, no goodbye) and its partitions
//! move to the survivors within the documented bound. Nothing is lost and
//! each aggregate's first deliveries come in version order; duplicates are
//! counted and printed.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use evbus::{Backend, BusConfig, Envelope, EventBus, TopicOptions, nats::testkit::NatsServer};
use parking_lot::Mutex;
use tokio::sync::Notify;

const PARTITIONS: u32 = 12;
const AGGREGATES: usize = 1_000;
const VERSIONS: i64 = 30;
/// The longest wait for one round of events to be handled.
const ROUND_WAIT: Duration = Duration::from_secs(60);

/// One handled event.
#[derive(Debug, Clone)]
struct Entry {
    member: &'static str,
    aggregate: String,
    version: i64,
    partition: u32,
    at: Instant,
}

#[derive(Clone, Default)]
struct Log {
    entries: Arc<Mutex<Vec<Entry>>>,
    changed: Arc<Notify>,
}

impl Log {
    fn handler(
        &self,
        member: &'static str,
    ) -> impl Fn(
        Envelope,
        evbus::DeliveryMeta,
    ) -> futures::future::BoxFuture<'static, evbus::HandlerResult>
    + Send
    + Sync
    + 'static {
        let log = self.clone();
        move |event, meta| {
            let log = log.clone();
            Box::pin(async move {
                log.entries.lock().push(Entry {
                    member,
                    aggregate: event.aggregate_id().to_owned(),
                    version: event.event_version(),
                    partition: meta.position.partition,
                    at: Instant::now(),
                });
                log.changed.notify_waiters();
                Ok(())
            })
        }
    }

    /// Waits until every aggregate's `version` was handled.
    async fn wait_round(&self, version: i64) {
        let deadline = tokio::time::Instant::now() + ROUND_WAIT;
        loop {
            let changed = self.changed.notified();
            let handled: HashSet<String> = self
                .entries
                .lock()
                .iter()
                .filter(|e| e.version == version)
                .map(|e| e.aggregate.clone())
                .collect();
            if handled.len() == AGGREGATES {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!(
                    "round {version}: {} of {AGGREGATES} aggregates handled",
                    handled.len()
                );
            }
        }
    }

    /// Waits until `count` events of `version` were handled: the stream is
    /// flowing.
    async fn wait_some(&self, version: i64, count: usize) {
        let deadline = tokio::time::Instant::now() + ROUND_WAIT;
        loop {
            let changed = self.changed.notified();
            let handled = self
                .entries
                .lock()
                .iter()
                .filter(|e| e.version == version)
                .count();
            if handled >= count {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                panic!("round {version}: only {handled} events handled");
            }
        }
    }

    /// Which partitions each member handled the first deliveries of
    /// `version` from.
    fn spread(&self, version: i64) -> BTreeMap<&'static str, BTreeSet<u32>> {
        let mut seen = HashSet::new();
        let mut spread: BTreeMap<_, BTreeSet<u32>> = BTreeMap::new();
        for entry in self.entries.lock().iter() {
            if entry.version == version && seen.insert(entry.aggregate.clone()) {
                spread
                    .entry(entry.member)
                    .or_default()
                    .insert(entry.partition);
            }
        }
        spread
    }
}

fn config(server: &NatsServer) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Nats;
    config.service_name = "partitioned".into();
    config.nats.servers = vec![server.url()];
    config.nats.reconnect_wait = Duration::from_millis(50);
    // group_mode stays at its default: a partitioned topic is consumed in
    // partitioned mode.
    config
}

fn options() -> TopicOptions {
    TopicOptions::default().partitions(PARTITIONS)
}

async fn member(server: &NatsServer, topic: &str, log: &Log, name: &'static str) -> EventBus {
    let bus = EventBus::from_config(config(server))
        .await
        .expect("bus instance");
    bus.configure_topics([(topic.to_owned(), options())])
        .await
        .expect("topic");
    bus.subscribe_envelope(topic, log.handler(name))
        .await
        .expect("subscribe");
    bus
}

async fn publish_round(bus: &EventBus, topic: &str, version: i64) {
    let round: Vec<Envelope> = (0..AGGREGATES)
        .map(|a| {
            Envelope::builder(format!("agg-{a}"), "TestEvent", version, "{}")
                .build()
                .expect("valid envelope")
        })
        .collect();
    for result in bus.publish_batch(topic, &round).await.expect("publish") {
        result.expect("stored");
    }
}

/// Publishes rounds, each once the previous one was handled, until one is
/// handled with every member owning `each` partitions; returns the round.
async fn rounds_until_even(
    bus: &EventBus,
    topic: &str,
    log: &Log,
    next: &mut i64,
    members: usize,
    each: usize,
) -> BTreeMap<&'static str, BTreeSet<u32>> {
    loop {
        assert!(
            *next <= VERSIONS,
            "no round showed {members} members with {each} partitions each: last spread {:?}",
            log.spread(*next - 1)
        );
        publish_round(bus, topic, *next).await;
        log.wait_round(*next).await;
        let spread = log.spread(*next);
        *next += 1;
        if spread.len() == members && spread.values().all(|p| p.len() == each) {
            return spread;
        }
    }
}

#[test]
fn members_share_partitions_join_and_take_over_from_a_killed_member() {
    let server = NatsServer::start().unwrap_or_else(|error| panic!("{error}"));
    let topic = format!("pcg-{}", std::process::id());
    let log = Log::default();
    let lease = config(&server).nats.partition_lease;

    // The member to be killed lives in a runtime of its own.
    let victim_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    let (a, c) = runtime.block_on(async {
        let a = member(&server, &topic, &log, "a").await;
        let c = member(&server, &topic, &log, "c").await;
        (a, c)
    });
    let victim = victim_runtime.block_on(member(&server, &topic, &log, "b"));

    let mut next = 1;
    let (d, before_kill) = runtime.block_on(async {
        let three = rounds_until_even(&a, &topic, &log, &mut next, 3, 4).await;
        eprintln!("3 members by round {}: {three:?}", next - 1);
        // The fourth joins while a round is being handled.
        publish_round(&a, &topic, next).await;
        log.wait_some(next, AGGREGATES / 3).await;
        let d = member(&server, &topic, &log, "d").await;
        log.wait_round(next).await;
        next += 1;
        let four = rounds_until_even(&a, &topic, &log, &mut next, 4, 3).await;
        eprintln!("4 members by round {}: {four:?}", next - 1);
        // The kill comes while the next round is being handled.
        publish_round(&a, &topic, next).await;
        log.wait_some(next, AGGREGATES / 3).await;
        (d, four)
    });

    // The crash: every task of "b" stops where it is; its bus value
    // belonged to the dead runtime, and dropping it would run shutdown code
    // a crashed process never runs.
    let killed_at = Instant::now();
    victim_runtime.shutdown_background();
    std::mem::forget(victim);
    let orphaned = before_kill["b"].clone();

    runtime.block_on(async {
        log.wait_round(next).await;
        next += 1;
        let three = rounds_until_even(&a, &topic, &log, &mut next, 3, 4).await;
        eprintln!("3 survivors by round {}: {three:?}", next - 1);
        assert!(!three.contains_key("b"));
        while next <= VERSIONS {
            publish_round(&a, &topic, next).await;
            log.wait_round(next).await;
            next += 1;
        }
        for bus in [a, c, d] {
            bus.close().await.expect("close");
        }
    });

    let entries = log.entries.lock().clone();
    // Routed with the Kafka producer's hash.
    for entry in &entries {
        assert_eq!(
            entry.partition,
            evbus::topics::key_partition(entry.aggregate.as_bytes(), PARTITIONS),
            "{entry:?}"
        );
    }
    // Nothing lost.
    let distinct: HashSet<(&str, i64)> = entries
        .iter()
        .map(|e| (e.aggregate.as_str(), e.version))
        .collect();
    assert_eq!(
        distinct.len(),
        AGGREGATES * VERSIONS as usize,
        "lost events"
    );
    // First deliveries of each aggregate in version order, across members.
    let mut first = HashSet::new();
    let mut last: HashMap<&str, i64> = HashMap::new();
    for entry in &entries {
        if first.insert((entry.aggregate.as_str(), entry.version)) {
            let previous = last.insert(&entry.aggregate, entry.version).unwrap_or(0);
            assert_eq!(
                entry.version,
                previous + 1,
                "{} v{} (first delivery, {}) after v{previous}",
                entry.aggregate,
                entry.version,
                entry.member
            );
        }
    }
    // The killed member's partitions moved within the documented bound.
    let failover = entries
        .iter()
        .filter(|e| e.member != "b" && e.at > killed_at && orphaned.contains(&e.partition))
        .map(|e| e.at - killed_at)
        .min()
        .expect("the killed member's partitions were handled again");
    let bound = lease + lease / 4;
    let duplicates = entries.len() - distinct.len();
    eprintln!(
        "partitioned: {} handled, {duplicates} duplicates, failover after the kill {failover:?} \
         (documented bound {bound:?})",
        entries.len()
    );
    // One second of slack for scheduling on a loaded machine.
    assert!(
        failover <= bound + Duration::from_secs(1),
        "failover took {failover:?}, bound {bound:?}"
    );
}
