//! Operations scenarios run against every real broker: health levels from
//! missed beats, and backlog rising and draining with threshold alerts.
//! Each backend's test file builds the configs and calls these.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use anyhow::{Context, Result, bail, ensure};
use evbus::{
    BacklogAlert, BusConfig, Envelope, EventBus, HealthAlert, Level, TopicOptions,
    operations::BacklogOf,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tokio::sync::{Semaphore, mpsc};

/// Long enough for a consumer group to join on a loaded machine.
pub const WAIT: Duration = Duration::from_secs(60);

pub fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One recorder for the test binary, installed before any bus is built so
/// every handle is registered with it.
pub fn metrics() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the only recorder");
        snapshotter
    })
}

/// The gauge `name` labelled with `topic`, if recorded.
pub fn gauge(name: &str, topic: &str) -> Option<f64> {
    metrics()
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let labelled = key
                .labels()
                .any(|l| l.key() == "topic" && l.value() == topic);
            match value {
                DebugValue::Gauge(v) if key.name() == name && labelled => Some(v.into_inner()),
                _ => None,
            }
        })
}

async fn next<T>(alerts: &mut mpsc::UnboundedReceiver<T>, what: &str) -> Result<T> {
    tokio::time::timeout(WAIT, alerts.recv())
        .await
        .with_context(|| format!("no {what} within {WAIT:?}"))?
        .context("the alert channel closed")
}

/// A service that stops beating raises warning, error and critical at the
/// configured missed counts, in order, and clears when it beats again.
/// `config(service)` returns a bus config of the backend under test.
pub async fn health_levels(config: impl Fn(&str) -> BusConfig) -> Result<()> {
    metrics();
    let topic = unique("health");
    let with_health = |service: &str| {
        let mut config = config(service);
        let health = &mut config.operations.health;
        health.topic = Some(topic.clone());
        health.interval = Duration::from_millis(200);
        (
            health.warning_after,
            health.error_after,
            health.critical_after,
        ) = (3, 5, 10);
        config
    };
    let monitor = EventBus::from_config(with_health("watcher")).await?;
    monitor
        .configure_topics([(topic.as_str(), TopicOptions::new().partitions(1))])
        .await?;
    let (tx, mut alerts) = mpsc::unbounded_channel::<HealthAlert>();
    let watching = monitor
        .monitor_health(move |alert| {
            let _ = tx.send(alert.clone());
        })
        .await?;
    let service = unique("orders");
    let beating = EventBus::from_config(with_health(&service)).await?;
    let publisher = beating.start_health_publisher();

    // Heard from: the service is tracked and healthy.
    let heard = tokio::time::timeout(WAIT, async {
        loop {
            if monitor
                .health()
                .monitored
                .iter()
                .any(|s| s.source == service)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    ensure!(heard.is_ok(), "no beat of {service} reached the monitor");

    publisher.stop().await;
    let mut raised = Vec::new();
    for (level, at_least) in [
        (Level::Warning, 3),
        (Level::Error, 5),
        (Level::Critical, 10),
    ] {
        let alert = next(&mut alerts, "health alert").await?;
        ensure!(
            alert.source == service,
            "alert for another source: {alert:?}"
        );
        ensure!(
            alert.level == level,
            "expected {level:?}, got {alert:?} after {raised:?}"
        );
        ensure!(
            alert.missed_beats >= at_least,
            "{level:?} too early: {alert:?}"
        );
        raised.push(alert.level);
    }
    let snapshot = monitor.health();
    let tracked = snapshot
        .monitored
        .iter()
        .find(|s| s.source == service)
        .context("tracked")?;
    ensure!(tracked.level == Level::Critical, "snapshot: {tracked:?}");

    let resumed = beating.start_health_publisher();
    let cleared = next(&mut alerts, "all-clear").await?;
    ensure!(
        cleared.level == Level::Ok && cleared.previous == Level::Critical,
        "expected the all-clear, got {cleared:?}"
    );
    resumed.stop().await;
    watching.stop().await;
    beating.close().await?;
    monitor.close().await?;
    Ok(())
}

/// A blocked handler makes the backlog rise past the thresholds; released,
/// it drains to 0; the callback hears both ways and the gauge follows.
pub async fn backlog_rises_and_drains(config: BusConfig) -> Result<()> {
    const EVENTS: i64 = 30;
    metrics();
    let topic = unique("backlog");
    let mut config = config;
    config.operations.sample_interval = Duration::from_millis(100);
    config.operations.backlog.warning = Some(5);
    config.operations.backlog.error = Some(15);
    config.operations.backlog.critical = Some(EVENTS as u64);
    let bus = EventBus::from_config(config).await?;
    bus.configure_topics([(topic.as_str(), TopicOptions::new().partitions(2))])
        .await?;
    let (tx, mut alerts) = mpsc::unbounded_channel::<BacklogAlert>();
    let watched = BacklogOf::Subscription {
        topic: topic.clone(),
        group: bus.config().service_name.clone(),
    };
    bus.on_backlog(move |alert| {
        if alert.of == watched {
            let _ = tx.send(alert.clone());
        }
    });
    let gate = Arc::new(Semaphore::new(0));
    let held = gate.clone();
    bus.subscribe(&topic, move |_message| {
        let held = held.clone();
        async move {
            held.acquire().await.map(|p| p.forget())?;
            Ok(())
        }
    })
    .await?;
    let events: Vec<Envelope> = (1..=EVENTS)
        .map(|v| Envelope::builder("agg-1", "Tested", v, "{}").build())
        .collect::<std::result::Result<_, _>>()?;
    for result in bus.publish_batch(&topic, &events).await? {
        result?;
    }

    // Rising: every alert until critical goes up.
    let mut previous = Level::Ok;
    loop {
        let alert = next(&mut alerts, "rising backlog alert").await?;
        ensure!(
            alert.level > previous,
            "backlog fell while blocked: {alert:?}"
        );
        previous = alert.level;
        if alert.level == Level::Critical {
            ensure!(alert.backlog.total() >= EVENTS as u64, "{alert:?}");
            break;
        }
    }
    let lag = gauge("evbus_consumer_lag", &topic).context("lag gauge recorded")?;
    ensure!(
        lag >= EVENTS as f64,
        "lag gauge {lag} while {EVENTS} are blocked"
    );
    let json = serde_json::to_value(bus.health())?;
    let subscription = json["subscriptions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["topic"] == topic.as_str()))
        .context("subscription in the snapshot")?;
    ensure!(
        subscription["backlog_level"] == "critical",
        "{subscription}"
    );

    gate.add_permits(EVENTS as usize);
    let cleared = loop {
        let alert = next(&mut alerts, "falling backlog alert").await?;
        if alert.level == Level::Ok {
            break alert;
        }
        ensure!(
            alert.level < previous,
            "backlog rose after release: {alert:?}"
        );
        previous = alert.level;
    };
    // Below every threshold is not yet empty: wait for 0.
    let drained = tokio::time::timeout(WAIT, async {
        loop {
            if gauge("evbus_consumer_lag", &topic) == Some(0.0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    if drained.is_err() {
        bail!("the lag never reached 0 (last alert {cleared:?})");
    }
    let snapshot = bus.health();
    let sampled = snapshot
        .subscriptions
        .iter()
        .find(|s| s.topic == topic)
        .and_then(|s| s.backlog.clone())
        .context("sampled backlog")?;
    ensure!(sampled.total() == 0, "snapshot backlog {sampled:?}");
    bus.close().await?;
    Ok(())
}
