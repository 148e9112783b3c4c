//! Behaviour of the memory transport beyond the conformance suite.

use std::time::Duration;

use evbus_topics::{Persistence, TopicOptions};

use super::*;
use crate::{
    ConnectionState, Delivery, ErrorKind, OutgoingMessage, StartFrom, SubscribeOptions,
    Subscription, Transport,
};

const LIMIT: Duration = Duration::from_secs(5);

async fn next(sub: &mut Box<dyn Subscription>) -> Vec<Delivery> {
    tokio::time::timeout(LIMIT, sub.next_batch(100))
        .await
        .expect("a delivery within the limit")
        .unwrap()
}

async fn nothing_within(sub: &mut Box<dyn Subscription>, window: Duration) {
    if let Ok(batch) = tokio::time::timeout(window, sub.next_batch(100)).await {
        panic!("expected nothing, got {} deliveries", batch.unwrap().len());
    }
}

fn payloads(batch: &[Delivery]) -> Vec<&[u8]> {
    batch.iter().map(|d| &d.payload[..]).collect()
}

#[tokio::test]
async fn a_latest_group_skips_what_was_published_before_it() {
    let transport = MemoryTransport::default();
    transport
        .publish("t", OutgoingMessage::new("old"))
        .await
        .unwrap();
    let options = SubscribeOptions::default().start_from(StartFrom::Latest);
    let mut sub = transport.subscribe("t", "g", options).await.unwrap();
    transport
        .publish("t", OutgoingMessage::new("new"))
        .await
        .unwrap();
    assert_eq!(payloads(&next(&mut sub).await), [b"new"]);
}

#[tokio::test]
async fn an_unsettled_delivery_comes_back_after_ack_wait_unless_kept_alive() {
    let ack_wait = Duration::from_millis(400);
    let transport = MemoryTransport::new(MemoryConfig::default().ack_wait(ack_wait)).unwrap();
    transport
        .publish("t", OutgoingMessage::new("x"))
        .await
        .unwrap();
    let mut sub = transport
        .subscribe("t", "g", SubscribeOptions::default())
        .await
        .unwrap();
    let first = next(&mut sub).await.remove(0);
    let lease = first.ack.lease();
    // Kept alive for one and a half times the ack wait: not redelivered.
    for _ in 0..6 {
        lease.keep_alive();
        nothing_within(&mut sub, ack_wait / 4).await;
    }
    let again = next(&mut sub).await.remove(0);
    assert_eq!(again.delivery_count, 2);
    again.ack().await.unwrap();
    // The stale handle's ack is harmless.
    first.ack().await.unwrap();
    nothing_within(&mut sub, ack_wait + ack_wait / 2).await;
}

#[tokio::test]
async fn a_republished_dedup_id_is_not_stored_again() {
    let transport = MemoryTransport::default();
    let message = OutgoingMessage::new("x").with_dedup_id("event-1");
    let first = transport.publish("t", message.clone()).await.unwrap();
    let second = transport.publish("t", message).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.position, second.position);
    let mut sub = transport
        .subscribe("t", "g", SubscribeOptions::default())
        .await
        .unwrap();
    assert_eq!(next(&mut sub).await.len(), 1);
}

#[tokio::test]
async fn two_clients_in_one_group_split_the_partitions() {
    let broker = MemoryBroker::new(MemoryConfig::default().partitions(2)).unwrap();
    let (a, b) = (broker.connect(), broker.connect());
    let mut sub_a = a
        .subscribe("t", "g", SubscribeOptions::default())
        .await
        .unwrap();
    let mut sub_b = b
        .subscribe("t", "g", SubscribeOptions::default())
        .await
        .unwrap();
    for i in 0..20 {
        let message = OutgoingMessage::new(vec![i]).with_key(format!("k{i}"));
        a.publish("t", message).await.unwrap();
    }
    let (from_a, from_b) = (next(&mut sub_a).await, next(&mut sub_b).await);
    assert_eq!(from_a.len() + from_b.len(), 20);
    let partitions = |batch: &[Delivery]| {
        batch
            .iter()
            .map(|d| d.position.partition)
            .collect::<std::collections::HashSet<_>>()
    };
    assert!(partitions(&from_a).is_disjoint(&partitions(&from_b)));
}

#[tokio::test]
async fn a_restart_fails_publishes_with_a_retryable_error_and_keeps_persistent_topics() {
    let broker = MemoryBroker::default();
    let transport = broker.connect();
    transport.register_topic(
        "gone",
        &TopicOptions::new().persistence(Persistence::Ephemeral),
    );
    transport
        .publish("kept", OutgoingMessage::new("k"))
        .await
        .unwrap();
    transport
        .publish("gone", OutgoingMessage::new("g"))
        .await
        .unwrap();
    let restart = tokio::spawn({
        let broker = broker.clone();
        async move { broker.restart(Duration::from_millis(100)).await }
    });
    let error = loop {
        // The outage begins when the spawned task runs.
        match transport
            .publish("kept", OutgoingMessage::new("during"))
            .await
        {
            Ok(_) => tokio::task::yield_now().await,
            Err(error) => break error,
        }
    };
    assert_eq!(error.kind(), ErrorKind::Disconnected);
    assert!(error.is_retryable());
    assert_eq!(transport.connection_state(), ConnectionState::Reconnecting);
    restart.await.unwrap();
    assert_eq!(transport.connection_state(), ConnectionState::Connected);

    let mut kept = transport
        .subscribe("kept", "g", SubscribeOptions::default())
        .await
        .unwrap();
    assert_eq!(payloads(&next(&mut kept).await)[0], b"k");
    let mut gone = transport
        .subscribe("gone", "g", SubscribeOptions::default())
        .await
        .unwrap();
    nothing_within(&mut gone, Duration::from_millis(100)).await;
}

#[tokio::test]
async fn limits_and_names_are_checked_before_storing() {
    let transport = MemoryTransport::new(MemoryConfig::default().max_message_bytes(10)).unwrap();
    let error = transport
        .publish("t", OutgoingMessage::new(vec![0; 11]))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert!(
        error.to_string().contains("memory.max_message_bytes"),
        "{error}"
    );
    let error = transport
        .subscribe("t.*", "g", SubscribeOptions::default())
        .await
        .err()
        .expect("no wildcard subscriptions");
    assert_eq!(error.kind(), ErrorKind::InvalidTopic);
    let error = MemoryTransport::new(MemoryConfig::default().partitions(0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
}

#[tokio::test]
async fn ephemeral_topics_declare_they_are_not_persistent() {
    let transport = MemoryTransport::default();
    transport.register_topic(
        "scratch",
        &TopicOptions::new().persistence(evbus_topics::Persistence::Ephemeral),
    );
    assert!(!transport.capabilities("scratch").persistent);
    assert!(transport.capabilities("scratch").redelivery);
    assert!(transport.capabilities("orders").persistent);
}
