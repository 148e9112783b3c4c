//! AckWait runs from delivery: deliveries queued behind a slow handler, and
//! the one it is running, stay leased while `keep_alive` is called, so
//! JetStream does not redeliver them to another member.

mod common;

use std::{sync::Arc, time::Duration};

use evbus_nats::{GroupMode, mapping};
use evbus_transport::{Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport};
use parking_lot::Mutex;
use tokio::sync::watch;

use common::{connect, next_within, persistent_topic, text, unique};

/// Longer than AckWait (1 s in these tests).
const HANDLER_TIME: Duration = Duration::from_millis(1300);

/// What the other member of the group received while the slow one worked.
struct Observer {
    seen: Arc<Mutex<Vec<(String, u32)>>>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Observer {
    fn start(mut sub: Box<dyn Subscription>) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn({
            let seen = seen.clone();
            async move {
                loop {
                    let batch = tokio::select! {
                        _ = stopped.wait_for(|s| *s) => break,
                        batch = sub.next_batch(10) => batch.expect("observer next_batch"),
                    };
                    for delivery in batch {
                        seen.lock().push((text(&delivery), delivery.delivery_count));
                        delivery.ack().await.expect("observer ack");
                    }
                }
                sub.close().await.expect("closing the observer");
            }
        });
        Self { seen, stop, task }
    }

    async fn finish(self) -> Vec<(String, u32)> {
        self.stop.send_replace(true);
        self.task.await.expect("observer task");
        self.seen.lock().clone()
    }
}

/// Takes `n` deliveries on `sub`.
async fn take(sub: &mut dyn Subscription, n: usize) -> Vec<Delivery> {
    let mut taken = Vec::new();
    while taken.len() < n {
        let batch = next_within(sub, n - taken.len(), Duration::from_secs(10))
            .await
            .expect("the published messages arrive");
        taken.extend(batch);
    }
    taken
}

/// Runs a slow "handler" over `deliveries` one after the other, calling
/// `keep_alive` on every unsettled one every 100 ms when `keep_alive` is set.
async fn handle_slowly(deliveries: Vec<Delivery>, keep_alive: bool) {
    let leases: Vec<_> = deliveries.iter().map(|d| d.ack.lease()).collect();
    let (stop, mut stopped) = watch::channel(false);
    let ticker = tokio::spawn(async move {
        if !keep_alive {
            return;
        }
        loop {
            for lease in &leases {
                lease.keep_alive();
            }
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => break,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    });
    for delivery in deliveries {
        tokio::time::sleep(HANDLER_TIME).await;
        delivery.ack().await.expect("ack");
    }
    stop.send_replace(true);
    ticker.await.expect("ticker");
}

/// How many deliveries the group's consumer made, redeliveries included.
async fn deliveries_made(
    server: &evbus_nats::testkit::NatsServer,
    topic: &str,
    group: &str,
) -> u64 {
    let jetstream = async_nats::jetstream::new(common::raw_client(server).await);
    let stream = jetstream
        .get_stream(mapping::stream_name("EVBUS_", topic))
        .await
        .expect("the topic's stream");
    stream
        .consumer_info(mapping::durable_name(group))
        .await
        .expect("the group's consumer")
        .delivered
        .consumer_sequence
}

/// Sets up a slow member holding 3 deliveries and an observer member of the
/// same group (shared mode, so it would receive any redelivery).
async fn scenario(keep_alive: bool) -> (Vec<(String, u32)>, u64) {
    let server = common::server();
    let config = common::config(&server).group_mode(GroupMode::Shared);
    let slow = connect(config.clone()).await;
    let other = connect(config).await;
    let topic = persistent_topic(&slow, "lease").await;
    let group = unique("workers");
    let mut slow_sub = slow
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .unwrap();
    for i in 0..3 {
        slow.publish(&topic, OutgoingMessage::new(format!("m{i}")).with_key("k"))
            .await
            .unwrap();
    }
    let deliveries = take(&mut *slow_sub, 3).await;
    let observer = Observer::start(
        other
            .subscribe(&topic, &group, SubscribeOptions::default())
            .await
            .unwrap(),
    );
    handle_slowly(deliveries, keep_alive).await;
    let seen = observer.finish().await;
    let deliveries = deliveries_made(&server, &topic, &group).await;
    slow_sub.close().await.unwrap();
    slow.close().await.unwrap();
    other.close().await.unwrap();
    (seen, deliveries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_kept_alive_behind_a_slow_handler_are_not_redelivered() {
    let (seen, deliveries) = scenario(true).await;
    assert!(seen.is_empty(), "the other member received {seen:?}");
    assert_eq!(deliveries, 3, "JetStream redelivered a leased message");
}

/// The control: without keep-alives the same wait makes JetStream redeliver
/// to the other member, so the test above can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keep_alive_a_slow_handler_gets_its_messages_redelivered() {
    let (seen, deliveries) = scenario(false).await;
    assert!(
        seen.iter().any(|(_, count)| *count >= 2),
        "no redelivery reached the other member: {seen:?}"
    );
    assert!(deliveries > 3, "{deliveries} deliveries");
}

/// A delivery held past AckWait without keep-alives is redelivered by
/// JetStream, and the copy is dropped while the original is in flight on
/// the same subscription: the caller never sees it twice at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_copy_of_a_message_in_flight_is_dropped() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = persistent_topic(&transport, "copies").await;
    let group = unique("g");
    let mut sub = transport
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .unwrap();
    transport
        .publish(&topic, OutgoingMessage::new("held"))
        .await
        .unwrap();
    let held = take(&mut *sub, 1).await.remove(0);
    assert_eq!(text(&held), "held");

    // Pull for three AckWaits while holding it: JetStream redelivers it to
    // this very subscription, which must not hand it out again.
    let until = tokio::time::Instant::now() + Duration::from_secs(3);
    let mut seen = Vec::new();
    while tokio::time::Instant::now() < until {
        if let Some(batch) = next_within(&mut *sub, 10, Duration::from_millis(200)).await {
            seen.extend(batch.iter().map(|d| (text(d), d.delivery_count)));
        }
    }
    assert!(
        seen.is_empty(),
        "handed out again while in flight: {seen:?}"
    );
    assert!(
        deliveries_made(&server, &topic, &group).await > 1,
        "JetStream did not redeliver, so nothing was tested"
    );

    // Once settled, a redelivery is handed out again.
    held.nack(Duration::ZERO).await.unwrap();
    let again = take(&mut *sub, 1).await.remove(0);
    assert_eq!(text(&again), "held");
    assert!(again.delivery_count >= 2);
    again.ack().await.unwrap();
    transport.close().await.unwrap();
}
