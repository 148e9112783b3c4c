//! Ordered mode: one active member per (topic, group); when it goes away
//! mid-stream a standby member takes over, nothing is lost and the
//! per-key order of first deliveries holds across both.

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use evbus_transport::{Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport};
use parking_lot::Mutex;
use tokio::{sync::watch, time::Instant};

use common::{connect, next_within, persistent_topic, text, unique};

const KEYS: usize = 10;
const PER_KEY: usize = 30;

/// One delivery in the order the group saw them.
#[derive(Debug, Clone)]
struct Seen {
    member: &'static str,
    id: String,
    count: u32,
    at: Instant,
}

type Log = Arc<Mutex<Vec<Seen>>>;

fn record(log: &Log, member: &'static str, delivery: &Delivery) {
    log.lock().push(Seen {
        member,
        id: text(delivery),
        count: delivery.delivery_count,
        at: Instant::now(),
    });
}

/// `k<key>-<version>`, each key's versions published in order.
fn messages() -> Vec<OutgoingMessage> {
    (0..PER_KEY)
        .flat_map(|version| {
            (0..KEYS).map(move |key| {
                OutgoingMessage::new(format!("k{key}-{version}")).with_key(format!("k{key}"))
            })
        })
        .collect()
}

fn key_and_version(id: &str) -> (String, usize) {
    let (key, version) = id.split_once('-').expect("k<key>-<version>");
    (key.to_owned(), version.parse().expect("a version"))
}

/// How the active member goes away.
#[derive(Clone, Copy)]
enum Departure {
    /// Its handler settles what it holds (naks it), then its transport is
    /// closed: the group moves at once, not after the pinned TTL.
    Close,
    /// Its subscription and transport are dropped without closing while
    /// its unsettled deliveries stay held (a hung process): the group moves
    /// after the pinned TTL, the held messages after AckWait.
    Drop,
}

async fn standby_takes_over(departure: Departure) {
    let server = common::server();
    let pinned_ttl = match departure {
        // Far beyond the test's deadline: only a hand-over can pass.
        Departure::Close => Duration::from_secs(60),
        Departure::Drop => Duration::from_secs(1),
    };
    let config = common::config(&server).pinned_ttl(pinned_ttl);
    let active = connect(config.clone()).await;
    let standby = connect(config).await;
    let topic = persistent_topic(&active, "ordered").await;
    let group = unique("ordered");
    for result in active.publish_batch(&topic, messages()).await {
        result.expect("publish");
    }
    let log: Log = Arc::default();

    // The first member to pull becomes the active one.
    let mut active_sub = active
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .unwrap();
    let mut acked = 0;
    while acked < 100 {
        let batch = next_within(&mut *active_sub, 20, Duration::from_secs(10))
            .await
            .expect("the active member receives");
        for delivery in batch {
            record(&log, "active", &delivery);
            delivery.ack().await.unwrap();
            acked += 1;
        }
    }

    let (stop, stopped) = watch::channel(false);
    let standby_task = tokio::spawn(consume(
        standby
            .subscribe(&topic, &group, SubscribeOptions::default())
            .await
            .unwrap(),
        log.clone(),
        stopped,
    ));
    // More of the stream while the standby waits: it must get none of it.
    for _ in 0..3 {
        let batch = next_within(&mut *active_sub, 20, Duration::from_secs(10))
            .await
            .expect("the active member keeps receiving");
        for delivery in batch {
            record(&log, "active", &delivery);
            delivery.ack().await.unwrap();
        }
    }
    // Leaves mid-stream holding a batch it never settles.
    let held = next_within(&mut *active_sub, 15, Duration::from_secs(10))
        .await
        .expect("a batch to hold");
    for delivery in &held {
        record(&log, "active", delivery);
    }
    let left_at = Instant::now();
    let held = match departure {
        Departure::Close => {
            for delivery in held {
                delivery.nack(Duration::ZERO).await.unwrap();
            }
            active.close().await.unwrap();
            drop(active_sub);
            Vec::new()
        }
        Departure::Drop => {
            drop(active_sub);
            drop(active);
            held
        }
    };

    let all: HashSet<String> = messages()
        .iter()
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got: HashSet<String> = log.lock().iter().map(|s| s.id.clone()).collect();
        if all.is_subset(&got) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the standby did not take over: {} of {} received",
            got.len(),
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.send_replace(true);
    standby_task.await.unwrap();
    standby.close().await.unwrap();
    drop(held);

    let log = log.lock().clone();
    assert!(
        log.iter()
            .filter(|s| s.member == "standby")
            .all(|s| s.at >= left_at),
        "the standby received messages while the active member was there"
    );
    assert!(
        log.iter().any(|s| s.member == "standby"),
        "the standby never took over"
    );
    let mut last_first: HashMap<String, usize> = HashMap::new();
    for seen in log.iter().filter(|s| s.count == 1) {
        let (key, version) = key_and_version(&seen.id);
        if let Some(last) = last_first.insert(key.clone(), version) {
            assert!(
                version > last,
                "key {key}: version {version} was first-delivered after {last} ({seen:?})"
            );
        }
    }
}

/// Receives and acks on `sub` until told to stop.
async fn consume(mut sub: Box<dyn Subscription>, log: Log, mut stopped: watch::Receiver<bool>) {
    loop {
        let batch = tokio::select! {
            _ = stopped.wait_for(|s| *s) => break,
            batch = sub.next_batch(20) => batch.expect("standby next_batch"),
        };
        for delivery in batch {
            record(&log, "standby", &delivery);
            delivery.ack().await.unwrap();
        }
    }
    sub.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_when_the_active_member_closes() {
    standby_takes_over(Departure::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_when_the_active_member_is_dropped() {
    standby_takes_over(Departure::Drop).await;
}

/// Issue 17: a delivery JetStream sent to the active member that never
/// arrived (in `cargo xtask chaos` the consumer leader was SIGKILLed right
/// after sending it; here a raw pull request carrying the member's pin
/// takes it and drops it) is handled before the messages stored after it,
/// not after its AckWait ran out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_lost_on_the_way_is_handled_before_newer_messages() {
    use futures::StreamExt;

    let server = common::server();
    let transport = connect(common::config(&server).ack_wait(Duration::from_secs(30))).await;
    let topic = persistent_topic(&transport, "lost").await;
    let mut sub = transport
        .subscribe(&topic, "g", SubscribeOptions::default())
        .await
        .unwrap();
    let publish = |body: &'static str| {
        let (transport, topic) = (transport.clone(), topic.clone());
        async move {
            transport
                .publish(&topic, OutgoingMessage::new(body))
                .await
                .unwrap();
        }
    };
    publish("v1").await;
    // A batch of 1 asks the server for exactly one message: no pull request
    // of the member waits afterwards.
    let first = next_within(&mut *sub, 1, Duration::from_secs(10))
        .await
        .expect("v1 arrives");
    assert_eq!(text(&first[0]), "v1");
    for delivery in first {
        delivery.ack().await.unwrap();
    }

    // v2 is delivered, on the member's pin, to a request whose reply never
    // reaches the member.
    let raw = common::raw_client(&server).await;
    let jetstream = async_nats::jetstream::new(raw.clone());
    let stream = jetstream.stream_by_subject(topic.clone()).await.unwrap();
    let stream = jetstream.get_stream(&stream).await.unwrap();
    let consumer_name = stream
        .consumer_names()
        .next()
        .await
        .expect("the group's consumer")
        .unwrap();
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(&consumer_name).await.unwrap();
    let pin = consumer.info().await.unwrap().priority_groups[0]
        .pinned_client_id
        .clone();
    let inbox = raw.new_inbox();
    let mut thief = raw.subscribe(inbox.clone()).await.unwrap();
    let request = serde_json::json!({
        "batch": 1, "expires": 10_000_000_000u64, "group": "evbus", "id": pin,
    });
    raw.publish_with_reply(
        format!(
            "$JS.API.CONSUMER.MSG.NEXT.{}.{consumer_name}",
            stream.cached_info().config.name
        ),
        inbox,
        request.to_string().into(),
    )
    .await
    .unwrap();
    raw.flush().await.unwrap();
    publish("v2").await;
    let stolen = tokio::time::timeout(Duration::from_secs(10), thief.next())
        .await
        .expect("v2 is delivered to the raw request")
        .unwrap();
    assert_eq!(&stolen.payload[..], b"v2");
    drop(thief);

    for body in ["v3", "v4", "v5"] {
        publish(body).await;
    }
    let mut handled = Vec::new();
    while handled.len() < 4 {
        let Some(batch) = next_within(&mut *sub, 1, Duration::from_secs(10)).await else {
            break;
        };
        for delivery in batch {
            handled.push(text(&delivery));
            delivery.ack().await.unwrap();
        }
    }
    assert_eq!(handled, ["v2", "v3", "v4", "v5"]);
    sub.close().await.unwrap();
    transport.close().await.unwrap();
}
