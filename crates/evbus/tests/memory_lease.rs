//! The bus keeps a delivery's lease alive at the pace of the transport's
//! real lease, however short: with a 1 s ack wait, a 3 s handler's event
//! and the events queued behind it are never redelivered to another member.

use std::{sync::Arc, time::Duration};

use evbus::{
    Envelope, EventBus, TopicOptions,
    transport::memory::{MemoryBroker, MemoryConfig},
};
use parking_lot::Mutex;
use tokio::sync::Notify;

/// (member, aggregate, version, delivery count) of one handled event.
type Entry = (&'static str, String, i64, u32);

async fn member(
    broker: &MemoryBroker,
    name: &'static str,
    topic: &str,
    log: &Arc<Mutex<Vec<Entry>>>,
    changed: &Arc<Notify>,
) -> EventBus {
    let bus = EventBus::builder()
        .service_name("leases")
        .transport(Arc::new(broker.connect()))
        .build()
        .await
        .expect("bus");
    bus.configure_topics([(topic.to_owned(), TopicOptions::default().partitions(4))])
        .await
        .expect("topic");
    let (log, changed) = (log.clone(), changed.clone());
    bus.subscribe_envelope(topic, move |event: Envelope, meta| {
        let (log, changed) = (log.clone(), changed.clone());
        async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            log.lock().push((
                name,
                event.aggregate_id().to_owned(),
                event.event_version(),
                meta.delivery_count,
            ));
            changed.notify_waiters();
            Ok(())
        }
    })
    .await
    .expect("subscribe");
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_shorter_than_the_handler_is_kept_alive() {
    let broker = MemoryBroker::new(MemoryConfig::default().ack_wait(Duration::from_secs(1)))
        .expect("config");
    let topic = "leases";
    let log = Arc::new(Mutex::new(Vec::new()));
    let changed = Arc::new(Notify::new());
    let first = member(&broker, "first", topic, &log, &changed).await;
    let second = member(&broker, "second", topic, &log, &changed).await;
    // Two events per aggregate: the second waits queued behind the first.
    let events: Vec<Envelope> = (0..4)
        .flat_map(|a| (1..=2).map(move |v| (a, v)))
        .map(|(a, v)| {
            Envelope::builder(format!("agg-{a}"), "TestEvent", v, "{}")
                .build()
                .expect("valid")
        })
        .collect();
    for result in first.publish_batch(topic, &events).await.expect("publish") {
        result.expect("stored");
    }
    let wait = async {
        loop {
            let notified = changed.notified();
            if log.lock().len() >= events.len() {
                return;
            }
            notified.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .unwrap_or_else(|_| panic!("not all handled: {:?}", log.lock()));
    // A redelivery would come within one more ack wait.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    first.close().await.expect("close");
    second.close().await.expect("close");
    let entries = log.lock().clone();
    assert_eq!(
        entries.len(),
        events.len(),
        "each event handled once: {entries:?}"
    );
    assert!(
        entries.iter().all(|(_, _, _, count)| *count == 1),
        "no event was redelivered: {entries:?}"
    );
}
