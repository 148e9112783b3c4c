//! A durable consumer created elsewhere with rules that would weaken the
//! guarantee (ack-all, a finite max_deliver) is refused, not used.

mod common;

use async_nats::jetstream::consumer::{AckPolicy, pull};
use common::{connect, persistent_topic, unique};
use evbus_nats::mapping;
use evbus_transport::{ErrorKind, SubscribeOptions, Transport};

async fn subscribe_to_foreign(consumer: pull::Config) -> evbus_transport::TransportError {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = persistent_topic(&transport, "foreign").await;
    let group = unique("group");
    let jetstream = async_nats::jetstream::new(common::raw_client(&server).await);
    let stream = jetstream
        .get_stream(mapping::stream_name("EVBUS_", &topic))
        .await
        .expect("the topic's stream");
    stream
        .create_consumer(pull::Config {
            durable_name: Some(mapping::durable_name(&group)),
            filter_subject: topic.clone(),
            ..consumer
        })
        .await
        .expect("a consumer made by another tool");
    let refused = transport
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .err()
        .expect("the foreign consumer is refused");
    transport.close().await.expect("close");
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ack_all_consumer_is_refused() {
    let error = subscribe_to_foreign(pull::Config {
        ack_policy: AckPolicy::All,
        ..Default::default()
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("explicit acks"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_with_a_finite_max_deliver_is_refused() {
    let error = subscribe_to_foreign(pull::Config {
        ack_policy: AckPolicy::Explicit,
        max_deliver: 5,
        ..Default::default()
    })
    .await;
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("max_deliver 5"), "{error}");
}

/// A consumer made elsewhere with a smaller `max_batch` than the transport
/// asks for answers every larger pull request with a 409 at once: the
/// subscription must still receive messages, and not re-request in a spin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_with_a_small_max_batch_is_used_without_spinning() {
    use std::sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    };
    use std::time::Duration;

    use evbus_transport::OutgoingMessage;
    use futures::StreamExt;

    let server = common::server();
    // Shared mode: the consumer below has no priority group.
    let mut config = common::config(&server);
    config.group_mode = evbus_nats::GroupMode::Shared;
    let transport = connect(config).await;
    let topic = persistent_topic(&transport, "small-batch").await;
    let group = unique("group");
    let raw = common::raw_client(&server).await;
    let jetstream = async_nats::jetstream::new(raw.clone());
    let stream_name = mapping::stream_name("EVBUS_", &topic);
    let durable = mapping::durable_name(&group);
    jetstream
        .get_stream(&stream_name)
        .await
        .expect("the topic's stream")
        .create_consumer(pull::Config {
            durable_name: Some(durable.clone()),
            filter_subject: topic.clone(),
            ack_policy: AckPolicy::Explicit,
            max_deliver: -1,
            max_batch: 10,
            ..Default::default()
        })
        .await
        .expect("a consumer made by another tool");
    let requests = Arc::new(AtomicU64::new(0));
    let mut pulls = raw
        .subscribe(format!("$JS.API.CONSUMER.MSG.NEXT.{stream_name}.{durable}"))
        .await
        .expect("watching pull requests");
    raw.flush().await.expect("flush");
    let counter = requests.clone();
    let watcher = tokio::spawn(async move {
        while pulls.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let mut sub = transport
        .subscribe(&topic, &group, SubscribeOptions::default())
        .await
        .expect("the consumer is usable");
    transport
        .publish(&topic, OutgoingMessage::new("hello"))
        .await
        .expect("stored");
    let batch = common::next_within(sub.as_mut(), 500, Duration::from_secs(5))
        .await
        .expect("the message arrives within 5 s");
    assert_eq!(common::text(&batch[0]), "hello");
    for delivery in batch {
        delivery.ack().await.expect("ack");
    }
    // One idle second: count the pull requests sent meanwhile.
    let before = requests.load(Ordering::Relaxed);
    let idle = tokio::time::timeout(Duration::from_secs(1), sub.next_batch(500)).await;
    assert!(idle.is_err(), "nothing more to receive: {idle:?}");
    let sent = requests.load(Ordering::Relaxed) - before;
    assert!(sent < 50, "{sent} pull requests in one idle second");
    watcher.abort();
    sub.close().await.expect("close");
    transport.close().await.expect("close");
}
