//! Bus-level NATS behaviour that needs a real server: the pool's keep-alive
//! hook holding JetStream leases, and an ordered group surviving the crash
//! of its active member.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use evbus::{
    Backend, BusConfig, Envelope, EventBus, TopicOptions,
    nats::{GroupMode, testkit::NatsServer},
};
use parking_lot::Mutex;
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(40);

fn server() -> NatsServer {
    NatsServer::start().unwrap_or_else(|error| panic!("{error}"))
}

/// Short JetStream timers so leases and hand-overs play out in seconds.
fn config(server: &NatsServer, service: &str) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Nats;
    config.service_name = service.into();
    config.nats.servers = vec![server.url()];
    config.nats.ack_wait = Duration::from_secs(1);
    config.nats.pinned_ttl = Duration::from_secs(1);
    config.nats.reconnect_wait = Duration::from_millis(50);
    config.pool.keepalive_interval = Some(Duration::from_millis(200));
    config
}

fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn envelope(aggregate: &str, version: i64) -> Envelope {
    Envelope::builder(aggregate, "TestEvent", version, "{}")
        .build()
        .expect("valid envelope")
}

/// (member, aggregate, version, delivery count) of one handled event.
type Entry = (&'static str, String, i64, u32);

/// Handled events in handling order.
#[derive(Clone)]
struct Log {
    entries: Arc<Mutex<Vec<Entry>>>,
    changed: Arc<Notify>,
    slow_started: Arc<tokio::sync::Semaphore>,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            changed: Arc::default(),
            slow_started: Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

impl Log {
    fn record(&self, member: &'static str, event: &Envelope, count: u32) {
        let entry = (
            member,
            event.aggregate_id().to_owned(),
            event.event_version(),
            count,
        );
        self.entries.lock().push(entry);
        self.changed.notify_waiters();
    }

    fn distinct(&self) -> usize {
        let entries = self.entries.lock();
        let set: std::collections::HashSet<(&String, i64)> =
            entries.iter().map(|(_, a, v, _)| (a, *v)).collect();
        set.len()
    }

    async fn wait(&self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let changed = self.changed.notified();
            if done(self) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, changed).await.is_err() {
                panic!("timed out waiting for {what}: {:?}", self.entries.lock());
            }
        }
    }

    fn handler(
        &self,
        member: &'static str,
        work: Duration,
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
                let slow = event.aggregate_id() == "slow" && event.event_version() == 1;
                if slow {
                    log.slow_started.add_permits(1);
                }
                tokio::time::sleep(if slow {
                    Duration::from_millis(2_500)
                } else {
                    work
                })
                .await;
                log.record(member, &event, meta.delivery_count);
                Ok(())
            })
        }
    }
}

/// One handler runs 2.5 s, over twice the 1 s AckWait, while later events of
/// its aggregate wait behind it in the pool. An idle member of the same
/// group (shared mode) would receive any redelivery; with the bus's
/// keep-alive hook none happens. (That JetStream does redeliver without
/// keep-alives is shown by the transport's `tests/lease.rs`; the bus keeps
/// leases alive whatever `keepalive_interval` says, see `memory_lease.rs`.)
async fn slow_handler_scenario() -> Vec<Entry> {
    let server = server();
    let mut slow_config = config(&server, "leases");
    slow_config.nats.group_mode = GroupMode::Shared;
    // Room for exactly the four events: once it has them, the slow member
    // takes nothing more, so any redelivery goes to the idle member.
    slow_config.pool.capacity = 4;
    // Longer than AckWait: the bus must shorten it to the lease.
    slow_config.pool.keepalive_interval = Some(Duration::from_secs(3_600));
    let mut idle_config = slow_config.clone();
    idle_config.pool.keepalive_interval = Some(Duration::from_millis(200));
    idle_config.pool.capacity = 100;
    let slow = EventBus::from_config(slow_config)
        .await
        .expect("slow member");
    let idle = EventBus::from_config(idle_config)
        .await
        .expect("idle member");
    let topic = unique("leases");
    slow.configure_topics([(topic.clone(), TopicOptions::default())])
        .await
        .expect("topic");

    let log = Log::default();
    let events: Vec<Envelope> = (1..=4).map(|v| envelope("slow", v)).collect();
    for result in slow.publish_batch(&topic, &events).await.expect("publish") {
        result.expect("stored");
    }
    slow.subscribe_envelope(&topic, log.handler("slow-member", Duration::ZERO))
        .await
        .expect("subscribe");
    // The slow member has taken all four (one fetch) once v1 runs.
    log.slow_started.acquire().await.expect("open").forget();
    idle.subscribe_envelope(&topic, log.handler("idle-member", Duration::ZERO))
        .await
        .expect("subscribe");
    log.wait("all four events handled", |log| log.distinct() == 4)
        .await;
    // Give a late redelivery time to show up before judging.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    slow.close().await.expect("close");
    idle.close().await.expect("close");
    log.entries.lock().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_queued_behind_a_slow_handler_are_not_redelivered() {
    let entries = slow_handler_scenario().await;
    let versions: Vec<i64> = entries.iter().map(|(_, _, v, _)| *v).collect();
    assert_eq!(
        versions,
        vec![1, 2, 3, 4],
        "handled once each, in order: {entries:?}"
    );
    assert!(
        entries
            .iter()
            .all(|(member, _, _, count)| *member == "slow-member" && *count == 1),
        "no redelivery while they waited: {entries:?}"
    );
}

/// Two bus instances in one ordered group: the active one crashes (its
/// runtime is torn down mid-stream, dropping the connection and everything
/// in flight); the standby takes over, nothing is lost, and per-aggregate
/// order of first deliveries holds across the two.
#[test]
fn standby_takes_over_when_the_active_member_crashes() {
    let server = server();
    let topic = unique("failover");
    let log = Log::default();
    let (aggregates, versions) = (10usize, 40i64);

    // The active member lives in a runtime of its own, so it can be killed.
    let active_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let active = active_runtime.block_on(async {
        let bus = EventBus::from_config(config(&server, "failover"))
            .await
            .expect("active member");
        bus.configure_topics([(topic.clone(), TopicOptions::default())])
            .await
            .expect("topic");
        bus.subscribe_envelope(&topic, log.handler("active", Duration::from_millis(5)))
            .await
            .expect("subscribe");
        bus
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let standby = runtime.block_on(async {
        let bus = EventBus::from_config(config(&server, "failover"))
            .await
            .expect("standby member");
        bus.subscribe_envelope(&topic, log.handler("standby", Duration::from_millis(1)))
            .await
            .expect("subscribe");
        let half = versions / 2;
        for version in 1..=half {
            let round: Vec<Envelope> = (0..aggregates)
                .map(|a| envelope(&format!("agg-{a}"), version))
                .collect();
            for result in bus.publish_batch(&topic, &round).await.expect("publish") {
                result.expect("stored");
            }
        }
        log.wait("the active member handling part of the stream", |log| {
            log.entries.lock().len() >= 50
        })
        .await;
        bus
    });

    // The crash: every task of the active member stops where it is.
    active_runtime.shutdown_background();
    // Its bus value belonged to the dead runtime; dropping it would run
    // shutdown code a crashed process never runs.
    std::mem::forget(active);

    runtime.block_on(async {
        for version in versions / 2 + 1..=versions {
            let round: Vec<Envelope> = (0..aggregates)
                .map(|a| envelope(&format!("agg-{a}"), version))
                .collect();
            for result in standby
                .publish_batch(&topic, &round)
                .await
                .expect("publish")
            {
                result.expect("stored");
            }
        }
        let total = aggregates * versions as usize;
        log.wait("every event handled by one member or the other", |log| {
            log.distinct() == total
        })
        .await;
        standby.close().await.expect("close");
    });

    let entries = log.entries.lock().clone();
    assert!(
        entries.iter().any(|(m, ..)| *m == "active"),
        "the active member worked first"
    );
    assert!(
        entries.iter().any(|(m, ..)| *m == "standby"),
        "the standby took over"
    );
    // First deliveries of each aggregate come in version order across both
    // members; redeliveries (count > 1) may repeat what was handled.
    let mut last: std::collections::HashMap<&str, i64> = Default::default();
    for (member, aggregate, version, count) in &entries {
        if *count == 1 {
            let previous = last.insert(aggregate.as_str(), *version).unwrap_or(0);
            assert!(
                *version > previous,
                "{aggregate} v{version} (first delivery, {member}) after v{previous}"
            );
        }
    }
    let duplicates = entries.len() - aggregates * versions as usize;
    eprintln!(
        "failover: {} handled, {duplicates} duplicates after the crash",
        entries.len()
    );
}

/// The server dies under load and the client keeps reconnecting: `close`
/// still returns within `close_timeout` (acks, flushes and the connection's
/// close wait on a client that never reconnects), and whatever it did not
/// settle is redelivered once the server is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_keeps_its_deadline_while_the_server_is_down() {
    let server = server();
    let close_timeout = Duration::from_secs(2);
    let mut first_config = config(&server, "outage");
    first_config.nats.max_reconnects = None;
    first_config.close_timeout = close_timeout;
    let first = EventBus::from_config(first_config)
        .await
        .expect("first member");
    let topic = unique("outage");
    first
        .configure_topics([(topic.clone(), TopicOptions::default())])
        .await
        .expect("topic");
    let log = Log::default();
    let (aggregates, versions) = (10usize, 20i64);
    for version in 1..=versions {
        let round: Vec<Envelope> = (0..aggregates)
            .map(|a| envelope(&format!("agg-{a}"), version))
            .collect();
        for result in first.publish_batch(&topic, &round).await.expect("publish") {
            result.expect("stored");
        }
    }
    first
        .subscribe_envelope(&topic, log.handler("first", Duration::from_millis(50)))
        .await
        .expect("subscribe");
    log.wait("the first member handling part of the stream", |log| {
        log.entries.lock().len() >= 20
    })
    .await;

    server.stop();
    // Queued fire-and-forget publishes wait on the reconnecting client too.
    for version in 1..=5 {
        first
            .publish_detached(&topic, &envelope("during-outage", version))
            .await
            .expect("queued");
    }
    let began = Instant::now();
    let closed = tokio::time::timeout(close_timeout * 5, first.close()).await;
    let took = began.elapsed();
    assert!(
        closed.is_ok(),
        "close did not return within {:?}",
        close_timeout * 5
    );
    // A second of slack for scheduling on a loaded machine: the point is
    // that the close ends, not how fast.
    assert!(
        took <= close_timeout + Duration::from_secs(1),
        "close took {took:?} with close_timeout {close_timeout:?}"
    );

    server.restart().await.expect("server back");
    let second = EventBus::from_config(config(&server, "outage"))
        .await
        .expect("second member");
    second
        .subscribe_envelope(&topic, log.handler("second", Duration::ZERO))
        .await
        .expect("subscribe");
    let total = aggregates * versions as usize;
    log.wait(
        "every stored event handled by one member or the other",
        |log| {
            let entries = log.entries.lock();
            let stored: std::collections::HashSet<(&String, i64)> = entries
                .iter()
                .filter(|(_, a, _, _)| a.starts_with("agg-"))
                .map(|(_, a, v, _)| (a, *v))
                .collect();
            stored.len() == total
        },
    )
    .await;
    second.close().await.expect("close");
}

/// A message published with JetStream expectation headers (here: the stream
/// it must land in) fails for good: its dead-letter copy goes to another
/// stream, so the headers are not copied, and the aggregate moves on at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_does_not_carry_publish_expectations() {
    let server = server();
    let bus = EventBus::from_config(config(&server, "expectations"))
        .await
        .expect("bus");
    let topic = unique("expectations");
    bus.configure_topics([(topic.clone(), TopicOptions::default())])
        .await
        .expect("topic");
    let letters = Arc::new(Mutex::new(Vec::new()));
    let l = letters.clone();
    bus.subscribe_with(&format!("{topic}.dlq"), "reader", move |message| {
        l.lock().push(message);
        async { Ok(()) }
    })
    .await
    .expect("dead-letter reader");
    let handled = Arc::new(Notify::new());
    let h = handled.clone();
    bus.subscribe(&topic, move |message: evbus::Message| {
        let h = h.clone();
        async move {
            if &message.payload[..] == b"first" {
                return Err(evbus::HandlerError::permanent("cannot handle the first"));
            }
            h.notify_one();
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    let stream = evbus::nats::mapping::stream_name("EVBUS_", &topic);
    let first = evbus::OutgoingMessage::new(&b"first"[..])
        .with_key("k")
        .with_header("Nats-Expected-Stream", stream)
        .with_header("Nats-Expected-Last-Subject-Sequence", "0");
    bus.publish_message(&topic, first).await.expect("stored");
    bus.publish_message(
        &topic,
        evbus::OutgoingMessage::new(&b"second"[..]).with_key("k"),
    )
    .await
    .expect("stored");
    tokio::time::timeout(Duration::from_secs(5), handled.notified())
        .await
        .expect("the next event of the aggregate was not handled within 5 s");
    let deadline = Instant::now() + WAIT;
    while letters.lock().is_empty() {
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let letter = letters.lock()[0].clone();
    assert_eq!(&letter.payload[..], b"first");
    assert!(
        letter
            .headers
            .iter()
            .all(|(name, _)| !name.starts_with("Nats-Expected")),
        "{:?}",
        letter.headers
    );
    bus.close().await.expect("close");
}
