//! The configuration documented in docs/configuration.md parses, and every
//! default it states is the one the code has.

use std::time::Duration;

use evbus::{Backend, BusConfig, CodecKind};

fn documented_toml() -> String {
    let doc = include_str!("../../../docs/configuration.md");
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").expect("the block ends");
    doc[start..end].to_owned()
}

#[test]
fn documented_example_parses() {
    let config: BusConfig = toml::from_str(&documented_toml()).expect("docs example parses");
    assert_eq!(config.service_name, "billing");
    assert_eq!(config.backend, Backend::Nats);
    assert_eq!(config.codec, CodecKind::Protobuf);
    assert_eq!(config.pool.retry.max_attempts, 3);
    assert_eq!(config.pool.handler_timeout, Some(Duration::from_secs(30)));
    assert_eq!(config.dead_letter.suffix.as_deref(), Some(".dlq"));
    assert_eq!(config.subscribe.group.as_deref(), Some("billing"));
    assert_eq!(
        config.subscribe.handler_timeout,
        Some(Duration::from_secs(30))
    );
    assert!((config.subscribe.pool_share - 0.5).abs() < f64::EPSILON);
    assert_eq!(config.operations.backlog.warning, Some(1000));
    assert_eq!(config.operations.publisher_backlog.warning, Some(5000));
    assert_eq!(config.operations.health.interval, Duration::from_secs(120));
}

#[test]
fn documented_defaults_are_the_defaults() {
    let config = BusConfig::default();
    assert_eq!(config.service_name, "evbus");
    assert_eq!(config.backend, Backend::Memory);
    assert_eq!(config.max_envelope_bytes, 1_000_000);
    assert_eq!(config.close_timeout, Duration::from_secs(30));
    assert_eq!(config.pool.workers, 256);
    assert_eq!(config.pool.capacity, 10_000);
    assert_eq!(config.pool.enqueue_timeout, Duration::from_millis(500));
    assert_eq!(config.pool.retry.max_attempts, 1);
    assert_eq!(config.dead_letter.suffix.as_deref(), Some(".dlq"));
    assert_eq!(config.dead_letter.max_deliveries, 10);
    assert_eq!(config.subscribe.fetch_max, 500);
    assert_eq!(
        config.subscribe.handler_timeout,
        Some(Duration::from_secs(30))
    );
    assert_eq!(config.pool.handler_timeout, None);
    assert!((config.subscribe.pool_share - 0.5).abs() < f64::EPSILON);
    assert_eq!(config.publish.queue_capacity, 10_000);
    assert!(!config.publish.results);
    assert_eq!(config.publish.results_capacity, 10_000);
    let operations = &config.operations;
    assert_eq!(operations.sample_interval, Duration::from_secs(5));
    assert_eq!(operations.backlog.warning, None);
    assert_eq!(operations.backlog.critical, None);
    assert_eq!(operations.publisher_backlog.warning, None);
    let health = &operations.health;
    assert_eq!(health.interval, Duration::from_secs(120));
    assert_eq!(
        (
            health.warning_after,
            health.error_after,
            health.critical_after
        ),
        (3, 5, 10)
    );
    assert_eq!(health.topic_for("nats"), "jxt-core-nats-health-check");
    assert_eq!(health.monitor_group, None);
    // An empty file is the default configuration.
    let empty: BusConfig = toml::from_str("").expect("empty config");
    assert_eq!(empty.pool.workers, config.pool.workers);
    assert_eq!(empty.backend, config.backend);
}
