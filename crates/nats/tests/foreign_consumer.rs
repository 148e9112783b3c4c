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
