//! Per-subscription options on the in-memory transport: start position,
//! concurrency cap, dead-lettering turned off, rate limit, and a custom
//! codec. The timeout, retry policy and dead-letter topic overriding the
//! bus's, and the failure hook's four decisions, are bus-suite scenarios
//! run on every backend (`tests/bus_suite`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use evbus::{
    BusConfig, DeadLetterTarget, Envelope, EventBus, HandlerError, Message, RateLimit, StartFrom,
    SubscriptionOptions, TopicOptions,
    envelope::{Codec, CodecConfig, CodecKind, Encoded, EnvelopeError},
};
use parking_lot::Mutex;
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn envelope(aggregate: &str, version: i64) -> Envelope {
    Envelope::builder(aggregate, "TestEvent", version, "{}")
        .build()
        .expect("valid")
}

async fn bus_with(topics: &[&str]) -> EventBus {
    let bus = EventBus::from_config(BusConfig::default())
        .await
        .expect("bus");
    bus.configure_topics(
        topics
            .iter()
            .map(|t| ((*t).to_owned(), TopicOptions::default())),
    )
    .await
    .expect("topics");
    bus
}

/// Every message of `topic` read by a raw subscription of its own group.
async fn reader(bus: &EventBus, topic: &str) -> mpsc::UnboundedReceiver<Message> {
    let (sender, receiver) = mpsc::unbounded_channel();
    bus.subscribe_with(topic, "reader", move |message: Message| {
        let sender = sender.clone();
        async move {
            let _ = sender.send(message);
            Ok(())
        }
    })
    .await
    .expect("reader");
    receiver
}

fn header<'a>(message: &'a Message, name: &str) -> Option<&'a str> {
    message
        .headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

async fn next<T>(receiver: &mut mpsc::UnboundedReceiver<T>, what: &str) -> T {
    tokio::time::timeout(WAIT, receiver.recv())
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_from_latest_skips_what_a_new_group_did_not_see() {
    let bus = bus_with(&["positions"]).await;
    bus.publish_envelope("positions", &envelope("a", 1))
        .await
        .expect("publish");
    let subscribe = |group: &'static str, start: StartFrom| {
        let (sender, receiver) = mpsc::unbounded_channel();
        let options = SubscriptionOptions::new().group(group).start_from(start);
        let bus = bus.clone();
        async move {
            bus.subscribe_envelope_with_options("positions", options, move |event: Envelope, _| {
                let sender = sender.clone();
                async move {
                    let _ = sender.send(event.event_version());
                    Ok(())
                }
            })
            .await
            .expect("subscribe");
            receiver
        }
    };
    let mut latest = subscribe("latest", StartFrom::Latest).await;
    let mut earliest = subscribe("earliest", StartFrom::Earliest).await;
    bus.publish_envelope("positions", &envelope("a", 2))
        .await
        .expect("publish");
    assert_eq!(next(&mut earliest, "v1").await, 1);
    assert_eq!(next(&mut earliest, "v2").await, 2);
    assert_eq!(next(&mut latest, "v2").await, 2, "latest started at v2");
    bus.close().await.expect("close");
    assert!(latest.try_recv().is_err(), "latest saw nothing else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_caps_a_subscriptions_concurrency() {
    let bus = bus_with(&["capped"]).await;
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (done, mut done_rx) = mpsc::unbounded_channel();
    let (r, m) = (running.clone(), most.clone());
    let options = SubscriptionOptions::new().max_in_flight(2);
    bus.subscribe_envelope_with_options("capped", options, move |_, _| {
        let (running, most, done) = (r.clone(), m.clone(), done.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            running.fetch_sub(1, Ordering::SeqCst);
            let _ = done.send(());
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    let events: Vec<Envelope> = (0..20).map(|a| envelope(&format!("a{a}"), 1)).collect();
    for result in bus.publish_batch("capped", &events).await.expect("publish") {
        result.expect("stored");
    }
    for _ in 0..events.len() {
        next(&mut done_rx, "every event handled").await;
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "20 aggregates, a cap of 2 (the bus default would run 20)"
    );
    bus.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_lettering_disabled_for_one_subscription_redelivers() {
    let mut config = BusConfig::default();
    config.dead_letter.redelivery_delay = Duration::from_millis(50);
    let bus = EventBus::from_config(config).await.expect("bus");
    bus.configure_topics([("nodlq".to_owned(), TopicOptions::default())])
        .await
        .expect("topics");
    let mut dead = reader(&bus, "nodlq.dlq").await;
    let (deliveries, mut deliveries_rx) = mpsc::unbounded_channel();
    let options = SubscriptionOptions::new().dead_letter(DeadLetterTarget::Disabled);
    bus.subscribe_envelope_with_options("nodlq", options, move |_, meta| {
        let deliveries = deliveries.clone();
        async move {
            let _ = deliveries.send(meta.delivery_count);
            if meta.delivery_count < 2 {
                return Err(HandlerError::permanent("not yet"));
            }
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    bus.publish_envelope("nodlq", &envelope("a", 1))
        .await
        .expect("publish");
    assert_eq!(next(&mut deliveries_rx, "first delivery").await, 1);
    assert_eq!(next(&mut deliveries_rx, "redelivery").await, 2);
    bus.close().await.expect("close");
    assert!(dead.try_recv().is_err(), "nothing was dead-lettered");
}

/// Protobuf with a marker header of its own, counting decodes.
struct Tagged {
    inner: Arc<dyn Codec>,
    decoded: AtomicUsize,
}

impl Codec for Tagged {
    fn kind(&self) -> CodecKind {
        self.inner.kind()
    }

    fn encode(&self, envelope: &Envelope) -> Result<Encoded, EnvelopeError> {
        let mut encoded = self.inner.encode(envelope)?;
        encoded.headers.push(("x-tagged".into(), "yes".into()));
        Ok(encoded)
    }

    fn decode(
        &self,
        headers: &[(String, String)],
        body: bytes::Bytes,
    ) -> Result<Envelope, EnvelopeError> {
        self.decoded.fetch_add(1, Ordering::SeqCst);
        self.inner.decode(headers, body)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_codec_encodes_and_decodes_for_the_bus() {
    let codec = Arc::new(Tagged {
        inner: evbus::envelope::codec(CodecKind::Protobuf, &CodecConfig::default()),
        decoded: AtomicUsize::new(0),
    });
    let bus = EventBus::builder()
        .codec(codec.clone())
        .build()
        .await
        .expect("bus");
    bus.configure_topics([("coded".to_owned(), TopicOptions::default())])
        .await
        .expect("topics");
    let mut raw = reader(&bus, "coded").await;
    let (events, mut events_rx) = mpsc::unbounded_channel();
    bus.subscribe_envelope("coded", move |event: Envelope, _| {
        let events = events.clone();
        async move {
            let _ = events.send(event);
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    let sent = envelope("a", 1);
    bus.publish_envelope("coded", &sent).await.expect("publish");
    assert_eq!(next(&mut events_rx, "the decoded event").await, sent);
    assert_eq!(
        header(&next(&mut raw, "the raw message").await, "x-tagged"),
        Some("yes")
    );
    assert_eq!(codec.decoded.load(Ordering::SeqCst), 1);
    bus.close().await.expect("close");
}

/// The rate limit holds over a window: 1,000 msg/s for 5 s lets 5,000
/// handlers start, within 5 %, however large the backlog.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_of_1000_per_second_holds_over_five_seconds() {
    let bus = bus_with(&["limited"]).await;
    let events: Vec<Envelope> = (0..8_000).map(|i| envelope(&format!("a{i}"), 1)).collect();
    for chunk in events.chunks(1_000) {
        for result in bus.publish_batch("limited", chunk).await.expect("publish") {
            result.expect("stored");
        }
    }
    let starts = Arc::new(Mutex::new(Vec::with_capacity(events.len())));
    let (first_tx, first_rx) = tokio::sync::oneshot::channel();
    let first_tx = Mutex::new(Some(first_tx));
    let recorded = starts.clone();
    let options = SubscriptionOptions::new().rate_limit(RateLimit::new(1_000, 50));
    bus.subscribe_envelope_with_options("limited", options, move |_, _| {
        let now = Instant::now();
        recorded.lock().push(now);
        if let Some(first) = first_tx.lock().take() {
            let _ = first.send(now);
        }
        async { Ok(()) }
    })
    .await
    .expect("subscribe");
    // The count is taken over the 5 s that start at the first handler.
    let first = tokio::time::timeout(WAIT, first_rx)
        .await
        .expect("a handler started")
        .expect("sent");
    let window = Duration::from_secs(5);
    tokio::time::sleep_until((first + window + Duration::from_millis(200)).into()).await;
    let count = starts
        .lock()
        .iter()
        .filter(|at| at.duration_since(first) < window)
        .count();
    // The burst of 50 may come on top of 5,000.
    assert!(
        (4_750..=5_250).contains(&count),
        "{count} handlers started in 5 s at 1,000/s"
    );
    bus.close().await.expect("close");
}
