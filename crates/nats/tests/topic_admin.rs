//! Topic administration against a real server through the strategy engine
//! of `evbus-topics`, and no JetStream API request on the publish path.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_nats::jetstream::{self, stream::StorageType};
use evbus_nats::{NatsTransport, mapping};
use evbus_topics::{
    Compression, DriftReason, Outcome, Persistence, Strategy, TopicField, TopicOptions,
    TopicPolicy, TopicsErrorKind, configure,
};
use evbus_transport::{OutgoingMessage, Transport};
use futures::StreamExt;

use common::{connect, persistent_topic, unique};

const HOUR: Duration = Duration::from_secs(3600);

async fn run(
    transport: &NatsTransport,
    topic: &str,
    options: &TopicOptions,
    strategy: Strategy,
) -> Result<Outcome, evbus_topics::TopicsError> {
    configure(
        &*transport.topic_admin(),
        topic,
        options,
        &TopicPolicy::new(strategy),
    )
    .await
}

async fn stream_config(
    server: &evbus_nats::testkit::NatsServer,
    topic: &str,
) -> Option<jetstream::stream::Config> {
    let jetstream = jetstream::new(common::raw_client(server).await);
    let mut stream = jetstream
        .get_stream(mapping::stream_name("EVBUS_", topic))
        .await
        .ok()?;
    Some(stream.info().await.unwrap().config.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_create_update_validate_and_skip_as_documented() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let one_hour = TopicOptions::new().retention(HOUR).max_messages(1000);
    let two_hours = TopicOptions::new().retention(2 * HOUR).max_messages(1000);

    // CreateOnly creates a missing topic with its options...
    let topic = unique("orders");
    assert_eq!(
        run(&transport, &topic, &one_hour, Strategy::CreateOnly)
            .await
            .unwrap(),
        Outcome::Created
    );
    let created = stream_config(&server, &topic)
        .await
        .expect("the stream exists");
    assert_eq!(created.subjects, vec![topic.clone()]);
    assert_eq!(created.max_age, HOUR);
    assert_eq!(created.max_messages, 1000);
    assert_eq!(created.storage, StorageType::File);
    // ...and leaves an existing one alone, reporting the drift.
    let outcome = run(&transport, &topic, &two_hours, Strategy::CreateOnly)
        .await
        .unwrap();
    assert_eq!(outcome.drift().len(), 1, "{outcome:?}");
    assert_eq!(outcome.drift()[0].field, TopicField::Retention);
    assert_eq!(stream_config(&server, &topic).await.unwrap().max_age, HOUR);

    // ValidateOnly reports drift and changes nothing.
    let outcome = run(&transport, &topic, &two_hours, Strategy::ValidateOnly)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Drifted(ref drift) if drift.len() == 1),
        "{outcome:?}"
    );
    assert_eq!(stream_config(&server, &topic).await.unwrap().max_age, HOUR);
    // ValidateOnly on a missing topic creates nothing.
    let missing = unique("missing");
    assert_eq!(
        run(&transport, &missing, &one_hour, Strategy::ValidateOnly)
            .await
            .unwrap(),
        Outcome::Missing
    );
    assert!(stream_config(&server, &missing).await.is_none());

    // CreateOrUpdate fixes the drifted retention, and keeps the rest.
    let outcome = run(&transport, &topic, &two_hours, Strategy::CreateOrUpdate)
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Updated { ref drift, .. } if drift.is_empty()),
        "{outcome:?}"
    );
    let updated = stream_config(&server, &topic).await.unwrap();
    assert_eq!(updated.max_age, 2 * HOUR);
    assert_eq!(updated.max_messages, 1000);
    assert_eq!(
        run(&transport, &topic, &two_hours, Strategy::ValidateOnly)
            .await
            .unwrap(),
        Outcome::Unchanged
    );

    // Skip asks the broker nothing and creates nothing.
    let skipped = unique("skipped");
    assert_eq!(
        run(&transport, &skipped, &one_hour, Strategy::Skip)
            .await
            .unwrap(),
        Outcome::Skipped
    );
    assert!(stream_config(&server, &skipped).await.is_none());
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_drift_is_reported_not_updated_and_impossible_options_are_refused() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    // A stream someone created in memory, under evbus's name.
    let topic = unique("memory");
    jetstream::new(common::raw_client(&server).await)
        .create_stream(jetstream::stream::Config {
            name: mapping::stream_name("EVBUS_", &topic),
            subjects: vec![topic.clone()],
            storage: StorageType::Memory,
            ..Default::default()
        })
        .await
        .unwrap();
    let persistent = TopicOptions::new().persistence(Persistence::Persistent);
    let outcome = run(&transport, &topic, &persistent, Strategy::CreateOrUpdate)
        .await
        .unwrap();
    let drift = outcome.drift();
    assert_eq!(drift.len(), 1, "{outcome:?}");
    assert_eq!(
        (drift[0].field, drift[0].reason),
        (TopicField::Persistence, DriftReason::Immutable)
    );
    assert_eq!(
        stream_config(&server, &topic).await.unwrap().storage,
        StorageType::Memory
    );

    let fresh = unique("fresh");
    let error = run(
        &transport,
        &fresh,
        &TopicOptions::new().compression(Compression::Lz4),
        Strategy::CreateOnly,
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), TopicsErrorKind::Unsupported);
    assert!(error.to_string().contains("s2"), "{error}");
    let error = run(
        &transport,
        &fresh,
        &TopicOptions::new().replicas(3),
        Strategy::CreateOnly,
    )
    .await
    .unwrap_err();
    assert_eq!(
        error.kind(),
        TopicsErrorKind::ReplicasUnavailable { wanted: 3, max: 1 }
    );
    assert!(stream_config(&server, &fresh).await.is_none());
    assert_eq!(
        run(
            &transport,
            &fresh,
            &TopicOptions::new().compression(Compression::S2),
            Strategy::CreateOnly
        )
        .await
        .unwrap(),
        Outcome::Created
    );
    assert_eq!(
        stream_config(&server, &fresh).await.unwrap().compression,
        Some(jetstream::stream::Compression::S2)
    );
    transport.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_after_configuration_makes_no_jetstream_api_request() {
    const PUBLISHES: usize = 10_000;
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let topic = persistent_topic(&transport, "no-lookups").await;

    // Every JetStream API request of the account passes `$JS.API.>`.
    let raw = common::raw_client(&server).await;
    let mut api = raw.subscribe("$JS.API.>").await.unwrap();
    raw.flush().await.unwrap();
    let requests = Arc::new(AtomicUsize::new(0));
    let counting = tokio::spawn({
        let requests = requests.clone();
        async move {
            while api.next().await.is_some() {
                requests.fetch_add(1, Ordering::SeqCst);
            }
        }
    });

    let concurrent = 10;
    let publishers: Vec<_> = (0..concurrent)
        .map(|p| {
            let (transport, topic) = (transport.clone(), topic.clone());
            tokio::spawn(async move {
                for i in 0..PUBLISHES / concurrent {
                    transport
                        .publish(
                            &topic,
                            OutgoingMessage::new(format!("{p}-{i}"))
                                .with_dedup_id(format!("{p}-{i}")),
                        )
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for publisher in publishers {
        publisher.await.unwrap();
    }
    transport.flush().await.unwrap();
    raw.flush().await.unwrap();
    assert_eq!(
        requests.load(Ordering::SeqCst),
        0,
        "JetStream API requests during publishing"
    );

    // The control: an admin call is seen, so the counter works.
    transport.topic_admin().describe(&topic).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the API subscriber saw nothing"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let info = jetstream::new(raw.clone())
        .get_stream(mapping::stream_name("EVBUS_", &topic))
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages;
    assert_eq!(info, PUBLISHES as u64);
    counting.abort();
    transport.close().await.unwrap();
}
