//! Partitioned mode at the transport level: ownership events, fences, and a
//! hand-over that never lets two members handle one partition at once.

mod common;

use std::time::Duration;

use evbus_nats::{GroupMode, NatsTransport};
use evbus_topics::{Outcome, Strategy, TopicOptions, TopicPolicy, key_partition};
use evbus_transport::{
    Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport,
    ownership::{OwnershipChange, OwnershipEvent, OwnershipEvents},
};
use tokio::time::Instant;

use common::{connect, next_within, text, unique};

const WAIT: Duration = Duration::from_secs(20);

async fn partitioned_topic(transport: &NatsTransport, partitions: u32) -> String {
    let topic = unique("pcg");
    let options = TopicOptions::new().partitions(partitions);
    let outcome = evbus_topics::configure(
        &*transport.topic_admin(),
        &topic,
        &options,
        &TopicPolicy::new(Strategy::CreateOnly),
    )
    .await
    .expect("creating a topic");
    assert_eq!(outcome, Outcome::Created);
    transport.register_topic(&topic, &options);
    topic
}

/// A key of `partition` among `partitions`, with a version number.
fn key_of(partition: u32, partitions: u32) -> String {
    (0..)
        .map(|n| format!("agg-{n}"))
        .find(|key| key_partition(key.as_bytes(), partitions) == partition)
        .expect("some key lands on every partition")
}

/// The next ownership event with `change`, within `WAIT`.
async fn next_event(events: &mut OwnershipEvents, change: OwnershipChange) -> OwnershipEvent {
    let deadline = Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no {change:?} event within {WAIT:?}"))
            .expect("events open");
        if event.change == change {
            return event;
        }
    }
}

/// Takes deliveries until one of each partition in `wanted` is held.
async fn take_one_each(sub: &mut dyn Subscription, wanted: u32) -> Vec<Delivery> {
    let mut held: Vec<Delivery> = Vec::new();
    while held.len() < wanted as usize {
        let batch = next_within(sub, 1, WAIT).await.expect("a delivery");
        for delivery in batch {
            if held
                .iter()
                .all(|h| h.position.partition != delivery.position.partition)
            {
                held.push(delivery);
            }
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_moves_only_once_its_previous_owner_settled_it() {
    let server = common::server();
    // AckWait 1 s: the held delivery outlives it only by keep-alives, as a
    // long handler's does in the bus.
    let config = common::config(&server).group_mode(GroupMode::Partitioned);
    let first = connect(config.clone()).await;
    let topic = partitioned_topic(&first, 2).await;
    let group = unique("group");
    for partition in 0..2 {
        let key = key_of(partition, 2);
        for version in 1..=10 {
            let message = OutgoingMessage::new(format!("{key}-{version}")).with_key(key.clone());
            let receipt = first.publish(&topic, message).await.expect("publish");
            assert_eq!(receipt.position.partition, partition);
        }
    }

    // No member took a partition yet: everything stored is pending.
    let backlog = first.backlog(&topic, &group).await.expect("backlog");
    assert_eq!((backlog.pending, backlog.ack_pending), (20, 0));

    let mut first_sub = first
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .expect("subscribe");
    let mut first_events = first_sub.ownership_events().expect("ownership events");
    // Alone in the group, the first member owns both partitions.
    let held = take_one_each(&mut *first_sub, 2).await;
    assert!(held.iter().all(|d| d.ack.fence().is_current()));
    let leases: Vec<_> = held.iter().map(|d| d.ack.lease()).collect();
    let keep_alive = tokio::spawn(async move {
        loop {
            leases.iter().for_each(evbus_transport::Lease::keep_alive);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let second = connect(config).await;
    second.register_topic(&topic, &TopicOptions::new().partitions(2));
    let mut second_sub = second
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .expect("subscribe");
    let mut second_events = second_sub.ownership_events().expect("ownership events");

    let revoked = next_event(&mut first_events, OwnershipChange::Revoked).await;
    let moving = revoked.partition;
    let (held_moving, held_kept): (Vec<_>, Vec<_>) = held
        .into_iter()
        .partition(|d| d.position.partition == moving);
    let held_moving = held_moving.into_iter().next().expect("one held");
    assert!(!held_moving.ack.fence().is_current(), "revoked: stale");
    assert!(held_kept[0].ack.fence().is_current(), "still owned");

    // While the first member still holds a delivery of the partition (kept
    // alive past AckWait), the second must not take it.
    let early = tokio::time::timeout(
        Duration::from_millis(2_500),
        next_event(&mut second_events, OwnershipChange::Assigned),
    )
    .await;
    assert!(
        early.is_err(),
        "assigned while the previous owner still held a delivery: {early:?}"
    );
    // Nothing of the moving partition comes out of the first member any
    // more, though it had more of it queued.
    while let Some(batch) = next_within(&mut *first_sub, 100, Duration::from_millis(300)).await {
        for delivery in batch {
            assert_ne!(delivery.position.partition, moving, "{}", text(&delivery));
            delivery.ack().await.expect("ack");
        }
    }

    let handled_first = text(&held_moving);
    held_moving.ack().await.expect("ack");
    keep_alive.abort();
    let assigned = next_event(&mut second_events, OwnershipChange::Assigned).await;
    assert_eq!(assigned.partition, moving);

    // The new owner gets the rest of the partition, in order.
    let mut versions = Vec::new();
    while versions.len() < 9 {
        let batch = next_within(&mut *second_sub, 100, WAIT)
            .await
            .expect("the rest of the moved partition");
        for delivery in batch {
            assert_eq!(delivery.position.partition, moving);
            let (_, version) = text(&delivery)
                .rsplit_once('-')
                .map(|(k, v)| (k.to_owned(), v.parse::<u32>().unwrap()))
                .unwrap();
            versions.push(version);
            delivery.ack().await.expect("ack");
        }
    }
    assert!(handled_first.ends_with("-1"), "{handled_first}");
    assert_eq!(versions, (2..=10).collect::<Vec<_>>());
    drop(held_kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_cannot_renew_stops_before_its_lease_can_expire() {
    let server = common::server();
    let config = common::config(&server).group_mode(GroupMode::Partitioned);
    let lease = config.partition_lease;
    let member = connect(config).await;
    let topic = partitioned_topic(&member, 4).await;
    for partition in 0..4 {
        let key = key_of(partition, 4);
        member
            .publish(&topic, OutgoingMessage::new("v1").with_key(key))
            .await
            .expect("publish");
    }
    let mut sub = member
        .subscribe(&topic, &unique("group"), SubscribeOptions::default())
        .await
        .expect("subscribe");
    let mut events = sub.ownership_events().expect("ownership events");
    let held = take_one_each(&mut *sub, 4).await;

    server.stop();
    let stopped = Instant::now();
    let mut lost = Vec::new();
    while lost.len() < 4 {
        lost.push(
            next_event(&mut events, OwnershipChange::Lost)
                .await
                .partition,
        );
    }
    let took = stopped.elapsed();
    lost.sort_unstable();
    assert_eq!(lost, [0, 1, 2, 3]);
    assert!(held.iter().all(|d| !d.ack.fence().is_current()));
    // Each lease was renewed before the server stopped, so none of them
    // could expire before `lease` after the stop: the member gave up first.
    assert!(took < lease, "lost after {took:?}, lease {lease:?}");
}
