//! The documented metrics are recorded.

use std::time::Duration;

use evbus_keyed_pool::{KeyedPool, PoolConfig, RetryPolicy, metric_names};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

#[tokio::test(start_paused = true)]
async fn counters_and_histogram_are_recorded_with_the_pool_label() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut config = PoolConfig::default();
    config.name = "orders".to_owned();
    config.retry =
        RetryPolicy::attempts(2).with_backoff(Duration::from_millis(1), Duration::from_millis(1));
    // Handles are registered at build time, so the local recorder only needs
    // to be in place while building.
    let pool = metrics::with_local_recorder(&recorder, || {
        KeyedPool::<u8, bool, (), ()>::new(
            config,
            |ok| async move { if ok { Ok(()) } else { Err(()) } },
        )
        .unwrap()
    });
    pool.submit(Some(1), true).await.unwrap().await.unwrap();
    pool.submit(Some(1), false)
        .await
        .unwrap()
        .await
        .unwrap_err();
    pool.close(None).await;

    let snapshot = snapshotter.snapshot().into_hashmap();
    let value = |name: &str, reason: Option<&str>| {
        snapshot
            .iter()
            .find(|(key, _)| {
                let key = key.key();
                key.name() == name
                    && key
                        .labels()
                        .any(|l| l.key() == "pool" && l.value() == "orders")
                    && reason
                        .is_none_or(|r| key.labels().any(|l| l.key() == "reason" && l.value() == r))
            })
            .map(|(_, (_, _, value))| value)
    };
    assert_eq!(
        value(metric_names::COMPLETED, None),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(metric_names::FAILED, Some("handler")),
        Some(&DebugValue::Counter(1))
    );
    assert_eq!(
        value(metric_names::RETRIES, None),
        Some(&DebugValue::Counter(1))
    );
    assert!(
        matches!(value(metric_names::HANDLER_SECONDS, None), Some(DebugValue::Histogram(h)) if h.len() == 3)
    );
    assert!(matches!(value(metric_names::QUEUED, None), Some(DebugValue::Gauge(g)) if g.0 == 0.0));
    assert!(matches!(value(metric_names::RUNNING, None), Some(DebugValue::Gauge(g)) if g.0 == 0.0));
}
