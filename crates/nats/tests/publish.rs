//! Publishing: a bounded ack window, errors returned to the caller (an
//! unanswered publish, a server that is down or gone for good), and
//! ephemeral core NATS topics.

mod common;

use std::time::Duration;

use evbus_nats::{
    NatsConfig, NatsEvent,
    testkit::{NatsCluster, NodeStop},
};
use evbus_topics::{Persistence, TopicOptions};
use evbus_transport::{
    ConnectionState, DeliveryGuarantee, ErrorKind, OutgoingMessage, SubscribeOptions, Transport,
};
use futures::StreamExt;

use common::{connect, next_within, persistent_topic, text, unique};

const WINDOW: usize = 8;

/// A subscriber that stands in for JetStream on `subject`: it receives the
/// publishes and answers only when told to.
async fn fake_jetstream(client: &async_nats::Client, subject: &str) -> async_nats::Subscriber {
    let subscriber = client.subscribe(subject.to_owned()).await.unwrap();
    // A request is answered only after the server processed everything sent
    // before it on this connection, the subscription included (a flush only
    // writes it out).
    let _ = client.request(unique("sync"), "".into()).await;
    subscriber
}

async fn ack(client: &async_nats::Client, message: &async_nats::Message, sequence: u64) {
    let reply = message
        .reply
        .clone()
        .expect("a JetStream publish has a reply subject");
    let ack = format!(r#"{{"stream":"FAKE","seq":{sequence}}}"#);
    client.publish(reply, ack.into()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ack_window_makes_publishers_wait() {
    let server = common::server();
    let transport = connect(common::config(&server).max_pending_acks(WINDOW)).await;
    let raw = common::raw_client(&server).await;
    let topic = unique("window");
    let mut jetstream = fake_jetstream(&raw, &topic).await;

    const PUBLISHES: usize = 3 * WINDOW;
    let publishing = tokio::spawn({
        let transport = transport.clone();
        let topic = topic.clone();
        async move {
            let messages = (0..PUBLISHES)
                .map(|i| OutgoingMessage::new(format!("m{i}")))
                .collect();
            transport.publish_batch(&topic, messages).await
        }
    });

    // The window fills and nothing more is sent while no ack comes back.
    let mut received = Vec::new();
    while received.len() < WINDOW {
        let message = tokio::time::timeout(Duration::from_secs(10), jetstream.next())
            .await
            .expect("the first publishes arrive")
            .unwrap();
        received.push(message);
    }
    assert_eq!(transport.pending_publish_acks(), WINDOW);
    let more = tokio::time::timeout(Duration::from_millis(500), jetstream.next()).await;
    assert!(more.is_err(), "a publish was sent beyond the ack window");
    assert!(!publishing.is_finished());

    // Each ack lets exactly one more publish through.
    ack(&raw, &received[0], 1).await;
    let next = tokio::time::timeout(Duration::from_secs(10), jetstream.next())
        .await
        .expect("an ack frees a slot")
        .unwrap();
    received.push(next);
    assert_eq!(
        String::from_utf8_lossy(&received[WINDOW].payload),
        format!("m{WINDOW}")
    );

    let mut sequence = 2;
    for message in &received[1..] {
        ack(&raw, message, sequence).await;
        sequence += 1;
    }
    while received.len() < PUBLISHES {
        let message = tokio::time::timeout(Duration::from_secs(10), jetstream.next())
            .await
            .expect("the rest is sent as acks come back")
            .unwrap();
        ack(&raw, &message, sequence).await;
        sequence += 1;
        received.push(message);
    }
    let results = publishing.await.unwrap();
    let offsets: Vec<u64> = results
        .into_iter()
        .map(|r| r.expect("every publish was acked").position.offset)
        .collect();
    assert_eq!(offsets, (1..=PUBLISHES as u64).collect::<Vec<_>>());
    assert_eq!(transport.pending_publish_acks(), 0);
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_publish_fails_with_outcome_unknown() {
    let server = common::server();
    let transport =
        connect(common::config(&server).publish_timeout(Duration::from_millis(300))).await;
    let raw = common::raw_client(&server).await;
    let topic = unique("silent");
    let _jetstream = fake_jetstream(&raw, &topic).await;
    let error = transport
        .publish(&topic, OutgoingMessage::new("lost?").with_dedup_id("evt-1"))
        .await
        .expect_err("no ack ever comes");
    assert_eq!(error.kind(), ErrorKind::OutcomeUnknown, "{error}");
    assert!(error.is_retryable());
    transport.close().await.unwrap();
}

/// Issue 17: behind a stalled server (SIGSTOP here; a dead stream leader,
/// a black hole or a slow link in `cargo xtask chaos`) every publish of a
/// batch must end within `publish_timeout` with a retryable error, and a
/// resend of the same events must store each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_to_a_stalled_server_fails_each_publish_within_the_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(2);
    const BATCH: usize = 20;
    let server = common::server();
    let transport = connect(common::config(&server).publish_timeout(TIMEOUT)).await;
    let topic = persistent_topic(&transport, "stalled").await;
    transport
        .publish(&topic, OutgoingMessage::new("before"))
        .await
        .unwrap();
    let batch = || {
        (0..BATCH)
            .map(|i| OutgoingMessage::new(format!("m{i}")).with_dedup_id(format!("evt-{i}")))
            .collect::<Vec<_>>()
    };

    server.pause().unwrap();
    let started = std::time::Instant::now();
    let results = tokio::time::timeout(
        Duration::from_secs(120),
        transport.publish_batch(&topic, batch()),
    )
    .await;
    let took = started.elapsed();
    server.resume().unwrap();
    let results = results.unwrap_or_else(|_| panic!("publish_batch hung for {took:?}"));
    assert!(
        took < TIMEOUT + Duration::from_secs(3),
        "publish_batch took {took:?} with a publish_timeout of {TIMEOUT:?}"
    );
    assert_eq!(results.len(), BATCH);
    for result in &results {
        let error = result
            .as_ref()
            .expect_err("the stalled server acked nothing");
        assert!(error.is_retryable(), "{error}");
    }

    // Nothing is lost silently: the caller resends what failed, and the
    // stream deduplicates what the server stored once it ran again.
    let mut offsets = Vec::new();
    for result in transport.publish_batch(&topic, batch()).await {
        offsets.push(result.expect("the resend is acknowledged").position.offset);
    }
    offsets.sort_unstable();
    assert_eq!(offsets, (2..=BATCH as u64 + 1).collect::<Vec<_>>());
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_without_stream_fails_fast_naming_the_fix() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = unique("unconfigured");
    let error = transport
        .publish(&topic, OutgoingMessage::new("x"))
        .await
        .expect_err("no stream stores the subject");
    assert_eq!(error.kind(), ErrorKind::Rejected, "{error}");
    assert!(error.to_string().contains("configure the topic"), "{error}");
    let error = transport
        .subscribe(&topic, "g", SubscribeOptions::default())
        .await
        .map(|_| ())
        .expect_err("subscribe creates no stream");
    assert!(error.to_string().contains("no JetStream stream"), "{error}");
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_while_the_server_is_down_returns_a_retryable_error() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = persistent_topic(&transport, "outage").await;
    let mut events = transport.events();
    transport
        .publish(&topic, OutgoingMessage::new("before"))
        .await
        .unwrap();

    server.stop();
    let mut state = transport.state_changes();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnectionState::Reconnecting),
    )
    .await
    .expect("the transport notices the outage")
    .unwrap();
    assert_eq!(transport.connection_state(), ConnectionState::Reconnecting);
    let error = transport
        .publish(&topic, OutgoingMessage::new("during"))
        .await
        .expect_err("nothing can be stored while the server is down");
    assert_eq!(error.kind(), ErrorKind::Disconnected, "{error}");
    assert!(error.is_retryable());
    for result in transport
        .publish_batch(
            &topic,
            vec![OutgoingMessage::new("a"), OutgoingMessage::new("b")],
        )
        .await
    {
        assert_eq!(result.unwrap_err().kind(), ErrorKind::Disconnected);
    }

    server.restart().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnectionState::Connected),
    )
    .await
    .expect("the transport reconnects")
    .unwrap();
    let receipt = transport
        .publish(&topic, OutgoingMessage::new("after"))
        .await
        .unwrap();
    assert_eq!(
        receipt.position.offset, 2,
        "the stream kept the first message"
    );
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    assert!(seen.contains(&NatsEvent::Disconnected), "{seen:?}");
    assert!(seen.contains(&NatsEvent::Connected), "{seen:?}");
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_that_gives_up_reconnecting_reports_closed() {
    let server = common::server();
    let transport = connect(
        common::config(&server)
            .max_reconnects(2)
            .reconnect_wait(Duration::from_millis(20)),
    )
    .await;
    let mut events = transport.events();
    server.stop();
    let mut state = transport.state_changes();
    tokio::time::timeout(
        Duration::from_secs(10),
        state.wait_for(|s| *s == ConnectionState::Closed),
    )
    .await
    .expect("the transport gives up after two attempts")
    .unwrap();
    let error = transport
        .publish("anything", OutgoingMessage::new("x"))
        .await
        .expect_err("the transport is closed");
    assert_eq!(error.kind(), ErrorKind::Closed);
    assert!(error.to_string().contains("max_reconnects"), "{error}");
    let mut exhausted = false;
    while let Ok(event) = events.try_recv() {
        exhausted |= event == NatsEvent::ReconnectsExhausted;
    }
    assert!(exhausted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ephemeral_topics_use_core_nats_at_most_once() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = unique("clicks");
    let options = TopicOptions::new().persistence(Persistence::Ephemeral);
    transport.register_topic(&topic, &options);
    let admin = transport.topic_admin();
    admin.create(&topic, &options).await.unwrap();
    assert_eq!(
        admin.describe(&topic).await.unwrap(),
        Some(TopicOptions::new().persistence(Persistence::Ephemeral))
    );
    let capabilities = transport.capabilities(&topic);
    assert_eq!(capabilities.delivery, DeliveryGuarantee::AtMostOnce);
    assert!(!capabilities.persistent && !capabilities.redelivery);

    let mut first = transport
        .subscribe(&topic, "a", SubscribeOptions::default())
        .await
        .unwrap();
    let mut second = transport
        .subscribe(&topic, "b", SubscribeOptions::default())
        .await
        .unwrap();
    transport.flush().await.unwrap();
    let message = OutgoingMessage::new("hello")
        .with_key("user-1")
        .with_header("b", "1")
        .with_header("a", "2");
    transport.publish(&topic, message.clone()).await.unwrap();
    for sub in [&mut first, &mut second] {
        let mut batch = next_within(&mut **sub, 10, Duration::from_secs(10))
            .await
            .expect("each group receives a core NATS message");
        let delivery = batch.remove(0);
        assert_eq!(text(&delivery), "hello");
        assert_eq!(delivery.key.as_deref(), Some("user-1"));
        assert_eq!(delivery.headers, message.headers);
        let error = delivery.nack(Duration::ZERO).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Unsupported);
    }
    // Nothing is stored: no stream was created for the topic.
    let jetstream = async_nats::jetstream::new(common::raw_client(&server).await);
    assert!(jetstream.stream_by_subject(topic.clone()).await.is_err());
    transport.close().await.unwrap();
}

/// Issue 17: a connection that went silent (SIGSTOP here; a black-holed
/// network path in `cargo xtask chaos`) is given up by the client's pings
/// within about three `ping_interval`s, not async-nats's three minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_is_given_up_within_three_ping_intervals() {
    const PING: Duration = Duration::from_millis(500);
    let server = common::server();
    let transport = connect(common::config(&server).ping_interval(PING)).await;
    let mut events = transport.events();

    server.pause().unwrap();
    let disconnected = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.recv().await {
                Ok(NatsEvent::Disconnected) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(error) => panic!("events ended: {error}"),
            }
        }
    })
    .await;
    server.resume().unwrap();
    assert!(
        disconnected.is_ok(),
        "no disconnect within 10 s of the server going silent, pinging every {PING:?}"
    );
}

/// A stream that exists but that no reachable node can store to right now
/// (its only replica is down, as its leader is on the far side of a
/// partition): the server answers "no responders", as for a subject no
/// stream stores. That is an outage to retry, not a topic to configure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_no_node_can_reach_is_a_retryable_error_naming_it() {
    let cluster = tokio::task::spawn_blocking(NatsCluster::start)
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("{error}"));
    let urls = cluster.urls();
    let raw = async_nats::connect(urls[0].as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(raw);
    let topic = unique("unreachable");
    let stream = unique("UNREACHABLE");
    jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![topic.clone()],
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let holder = cluster
        .stream_leader(&stream)
        .expect("an R1 stream is placed when created");
    cluster.stop(holder, NodeStop::Kill).unwrap();
    let other = cluster
        .node_ids()
        .into_iter()
        .find(|id| *id != holder)
        .unwrap();

    let url = format!("nats://127.0.0.1:{}", cluster.client_port(other));
    // The killed node may have led the cluster's metadata: until the others
    // elect a new meta leader the JetStream API does not answer, and the
    // error can only say "cut off", not name the stream.
    cluster
        .wait_meta_leader(holder, Duration::from_secs(30))
        .expect("the surviving nodes elect a meta leader");
    let transport = connect(NatsConfig::new(url).publish_timeout(Duration::from_secs(5))).await;
    let error = transport
        .publish(&topic, OutgoingMessage::new("x"))
        .await
        .expect_err("no node can store it now");
    assert!(error.kind().is_retryable(), "{error}");
    assert!(error.to_string().contains(&stream), "{error}");
    transport.close().await.unwrap();
}
