//! Bus-level Kafka behaviour that needs a real broker: a consumer's errors
//! reach the bus's error callback.

use std::{sync::Arc, time::Duration};

use evbus::{Backend, BusConfig, EventBus, kafka::testkit::KafkaBroker};
use parking_lot::Mutex;

fn config(broker: &KafkaBroker) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.kafka.bootstrap_servers = vec![broker.bootstrap()];
    config
}

/// A subscription to a topic the broker does not have consumes nothing;
/// the user must hear why, within seconds, instead of waiting in silence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_topic_reaches_the_error_callback() {
    let broker = KafkaBroker::shared().expect("broker");
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = errors.clone();
    let bus = EventBus::builder()
        .config(config(broker))
        .on_error(move |error| seen.lock().push(error.to_string()))
        .build()
        .await
        .expect("bus");
    let topic = format!(
        "evbus-missing-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    bus.subscribe(&topic, |_| async { Ok(()) })
        .await
        .expect("subscribing itself succeeds; consuming cannot");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !errors.lock().iter().any(|error| error.contains(&topic)) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error naming `{topic}` within 15 s: {:?}",
            errors.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bus.close().await.expect("close");
}
