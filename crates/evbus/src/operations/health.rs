//! Health-check beats, in the Go SDK's format so a mixed Go and Rust fleet
//! monitors itself: a publisher sends a small JSON message per service on
//! an interval; a monitor tracks each service heard from, counts whole
//! intervals without a beat, and raises warning, error and critical at the
//! configured counts, clearing when beats return.
//!
//! Severity: the Go SDK documents misses of 3 / 5 / 10 but its code derives
//! severity from the publisher's failure threshold (critical at >= 3, error
//! at >= 1) and counts one miss per monitor tick, so its levels depend on
//! how often the monitor looks. Here a miss is a whole beat interval since
//! the last beat (independent of how often the monitor looks), and the
//! levels are the configured counts, 3 / 5 / 10 by default, as the Go docs
//! say. Each level is announced once, in order, even when a stalled
//! monitor sees two thresholds pass at once.

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use evbus_transport::{ErrorKind, OutgoingMessage};
use metrics::{Counter, Gauge, counter, gauge};
use parking_lot::Mutex;
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::{Level, Ops, state::now_ms};
use crate::{
    EventBus,
    error::{BusError, Result},
    handler::HandlerResult,
    subscribe::SubscriptionHandle,
    telemetry::{HEALTH_BEATS_PUBLISHED, HEALTH_BEATS_RECEIVED, HEALTH_MISSED, HEALTH_SEVERITY},
};

/// The Go SDK's `HealthCheckMessage`, field for field (JSON names
/// `messageId`, `timestamp`, `source`, `eventBusType`, `version`,
/// `metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HealthMessage {
    /// `hc-<unix nanos>-<16 hex digits>`.
    pub message_id: String,
    /// When it was sent (RFC 3339, as Go's `time.Time` encodes).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// The sending service.
    pub source: String,
    /// `kafka`, `nats` or `memory`.
    pub event_bus_type: String,
    /// The sender's library version.
    pub version: String,
    /// Free-form details; Go encodes an empty map as `{}` and a nil one as
    /// `null`, both read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub metadata: BTreeMap<String, String>,
}

fn null_as_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::deserialize(deserializer)?.unwrap_or_default())
}

/// The Go SDK rejects beats stamped further from its clock than this.
const MAX_AGE: Duration = Duration::from_secs(5 * 60);
const MAX_AHEAD: Duration = Duration::from_secs(60);

impl HealthMessage {
    /// A beat from `source` on a transport named `event_bus_type`, now.
    pub fn new(source: impl Into<String>, event_bus_type: impl Into<String>) -> Self {
        let now = OffsetDateTime::now_utc();
        // The last 16 hex digits of a v7 UUID are random, as the Go SDK's
        // 8 random bytes are.
        let random = uuid::Uuid::now_v7().simple().to_string();
        Self {
            message_id: format!("hc-{}-{}", now.unix_timestamp_nanos(), &random[16..]),
            timestamp: now,
            source: source.into(),
            event_bus_type: event_bus_type.into(),
            version: concat!("evbus-", env!("CARGO_PKG_VERSION")).to_owned(),
            metadata: BTreeMap::new(),
        }
    }

    /// The JSON bytes sent on the wire.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and a map of strings always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses and validates a beat as the Go SDK's parser does: required
    /// fields present, timestamp no more than 5 minutes old or 1 minute
    /// ahead.
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, String> {
        let message: Self = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        for (field, value) in [
            ("messageId", &message.message_id),
            ("source", &message.source),
            ("eventBusType", &message.event_bus_type),
            ("version", &message.version),
        ] {
            if value.is_empty() {
                return Err(format!("{field} is required"));
            }
        }
        let age = OffsetDateTime::now_utc() - message.timestamp;
        if age > MAX_AGE || -age > MAX_AHEAD {
            return Err(format!("timestamp {} is out of range", message.timestamp));
        }
        Ok(message)
    }
}

/// A monitored service changed level.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HealthAlert {
    /// The service the beats come from.
    pub source: String,
    /// The health topic.
    pub topic: String,
    /// The level now: warning, error or critical, or [`Level::Ok`] when
    /// beats came back.
    pub level: Level,
    /// The level before.
    pub previous: Level,
    /// Whole intervals without a beat when the level changed.
    pub missed_beats: u32,
    /// When its last beat arrived, in milliseconds since the Unix epoch.
    pub last_beat_unix_ms: u64,
}

/// What the snapshot says about one monitored service.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SourceHealth {
    /// The service.
    pub source: String,
    /// Its transport as its beats name it.
    pub event_bus_type: String,
    /// When its last beat arrived, in milliseconds since the Unix epoch.
    pub last_beat_unix_ms: u64,
    /// Whole intervals since.
    pub missed_beats: u32,
    /// Its level.
    pub level: Level,
}

struct Tracked {
    event_bus_type: String,
    last_beat: Instant,
    last_beat_ms: u64,
    missed: u32,
    level: Level,
    received: Counter,
    missed_gauge: Gauge,
    severity: Gauge,
}

/// The services a bus's monitors track.
#[derive(Default)]
pub(crate) struct Sources(Mutex<BTreeMap<String, Tracked>>);

type AlertCallback = Arc<dyn Fn(&HealthAlert) + Send + Sync>;

impl Ops {
    pub(crate) fn monitored(&self) -> Vec<SourceHealth> {
        self.sources
            .0
            .lock()
            .iter()
            .map(|(source, t)| SourceHealth {
                source: source.clone(),
                event_bus_type: t.event_bus_type.clone(),
                last_beat_unix_ms: t.last_beat_ms,
                missed_beats: t.missed,
                level: t.level,
            })
            .collect()
    }
}

/// A running health-beat publisher; see [`EventBus::start_health_publisher`].
#[derive(Debug)]
pub struct HealthPublisher {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl HealthPublisher {
    /// Stops publishing beats and waits for the task to end.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// A running health monitor; see [`EventBus::monitor_health`].
#[derive(Debug)]
pub struct HealthMonitor {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    subscription: SubscriptionHandle,
}

impl HealthMonitor {
    /// Stops monitoring: unsubscribes and ends the checking task.
    pub async fn stop(self) {
        self.stop.cancel();
        self.subscription.unsubscribe().await;
        let _ = self.task.await;
    }
}

impl EventBus {
    /// Starts publishing a health beat now and every
    /// [`HealthConfig::interval`](super::HealthConfig) to the health topic
    /// (which must exist: configure it with
    /// [`configure_topics`](Self::configure_topics)). Failed beats are
    /// logged and counted (`evbus_health_beats_published_total{outcome="failed"}`).
    /// Stops at [`HealthPublisher::stop`] or when the bus closes.
    pub fn start_health_publisher(&self) -> HealthPublisher {
        // The task holds the bus weakly: a publisher must not keep a bus
        // alive that its users dropped.
        let bus = std::sync::Arc::downgrade(&self.inner);
        let config = &self.inner.ops.config.health;
        let topic = config.topic_for(self.inner.transport.name());
        let every = config.interval;
        let stop = self.inner.ops.stop.child_token();
        let ok = counter!(HEALTH_BEATS_PUBLISHED, "outcome" => "ok");
        let failed = counter!(HEALTH_BEATS_PUBLISHED, "outcome" => "failed");
        let token = stop.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                let Some(bus) = bus.upgrade() else { return };
                let system = bus.transport.name();
                let beat = HealthMessage::new(bus.config.service_name.clone(), system);
                let message = OutgoingMessage::new(beat.to_json());
                match bus.transport.publish(&topic, message).await {
                    Ok(_) => ok.increment(1),
                    Err(error) if error.kind() == ErrorKind::Closed => return,
                    Err(error) => {
                        failed.increment(1);
                        tracing::warn!(%topic, %error, "health beat not published");
                    }
                }
            }
        });
        HealthPublisher { stop, task }
    }

    /// Subscribes to the health topic (group
    /// [`HealthConfig::monitor_group`](super::HealthConfig)) and tracks every
    /// service heard from: `callback` is called when one reaches warning,
    /// error or critical (whole beat intervals missed, 3 / 5 / 10 by
    /// default) and when its beats return. Levels are also in the
    /// `evbus_health_*` metrics and in [`health`](Self::health).
    pub async fn monitor_health(
        &self,
        callback: impl Fn(&HealthAlert) + Send + Sync + 'static,
    ) -> Result<HealthMonitor> {
        let config = self.inner.ops.config.health.clone();
        if config.interval.is_zero() {
            return Err(BusError::config("health.interval must be more than zero"));
        }
        let callback: AlertCallback = Arc::new(callback);
        let topic = config.topic_for(self.inner.transport.name());
        let group = config
            .monitor_group
            .clone()
            .unwrap_or_else(|| format!("{}-health-monitor", self.inner.config.service_name));
        let ops = self.inner.ops.clone();
        let on_beat = {
            let (ops, callback, topic) = (ops.clone(), callback.clone(), topic.clone());
            move |message: crate::Message| {
                beat(&ops, &callback, &topic, &message.payload);
                async { HandlerResult::Ok(()) }
            }
        };
        let subscription = self.subscribe_with(&topic, &group, on_beat).await?;
        let stop = ops.stop.child_token();
        let token = stop.clone();
        // Looking four times per interval bounds how late a level is seen.
        let look = (config.interval / 4).max(Duration::from_millis(10));
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(look);
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    _ = ticks.tick() => check(&ops, &callback, &topic),
                }
            }
        });
        Ok(HealthMonitor {
            stop,
            task,
            subscription,
        })
    }
}

/// A beat arrived: the source is alive; a raised level clears.
fn beat(ops: &Ops, callback: &AlertCallback, topic: &str, payload: &[u8]) {
    let message = match HealthMessage::parse(payload) {
        Ok(message) => message,
        Err(error) => {
            // As in the Go SDK: a bad beat is logged and dropped, never
            // dead-lettered or retried.
            tracing::warn!(%topic, %error, "health beat ignored");
            return;
        }
    };
    let mut sources = ops.sources.0.lock();
    let tracked = sources
        .entry(message.source.clone())
        .or_insert_with(|| Tracked {
            event_bus_type: message.event_bus_type.clone(),
            last_beat: Instant::now(),
            last_beat_ms: 0,
            missed: 0,
            level: Level::Ok,
            received: counter!(HEALTH_BEATS_RECEIVED, "source" => message.source.clone()),
            missed_gauge: gauge!(HEALTH_MISSED, "source" => message.source.clone()),
            severity: gauge!(HEALTH_SEVERITY, "source" => message.source.clone()),
        });
    tracked.received.increment(1);
    tracked.last_beat = Instant::now();
    tracked.last_beat_ms = now_ms();
    tracked.missed = 0;
    tracked.missed_gauge.set(0.0);
    tracked.event_bus_type = message.event_bus_type;
    let previous = std::mem::replace(&mut tracked.level, Level::Ok);
    tracked.severity.set(0.0);
    let alert = (previous != Level::Ok).then(|| HealthAlert {
        source: message.source,
        topic: topic.to_owned(),
        level: Level::Ok,
        previous,
        missed_beats: 0,
        last_beat_unix_ms: tracked.last_beat_ms,
    });
    drop(sources);
    if let Some(alert) = alert {
        tracing::info!(source = %alert.source, previous = previous.as_str(), "health beats resumed");
        callback(&alert);
    }
}

/// Counts each source's missed intervals and raises its level.
fn check(ops: &Ops, callback: &AlertCallback, topic: &str) {
    let health = &ops.config.health;
    let interval = health.interval.as_nanos().max(1);
    let mut alerts = Vec::new();
    for (source, tracked) in ops.sources.0.lock().iter_mut() {
        let missed = tracked.last_beat.elapsed().as_nanos() / interval;
        let missed = u32::try_from(missed).unwrap_or(u32::MAX);
        tracked.missed = missed;
        tracked.missed_gauge.set(f64::from(missed));
        let level = Level::of(
            u64::from(missed),
            Some(health.warning_after.into()),
            Some(health.error_after.into()),
            Some(health.critical_after.into()),
        );
        // Each level passed is announced, in order.
        for next in [Level::Warning, Level::Error, Level::Critical] {
            if next > tracked.level && next <= level {
                alerts.push(HealthAlert {
                    source: source.clone(),
                    topic: topic.to_owned(),
                    level: next,
                    previous: tracked.level,
                    missed_beats: missed,
                    last_beat_unix_ms: tracked.last_beat_ms,
                });
                tracked.level = next;
            }
        }
        tracked.severity.set(tracked.level.as_f64());
    }
    for alert in &alerts {
        tracing::warn!(%alert.source, level = alert.level.as_str(), missed = alert.missed_beats,
            "health beats missed");
        callback(alert);
    }
}

#[cfg(test)]
mod tests {
    use super::HealthMessage;

    /// A beat as the Go SDK's `CreateHealthCheckMessage` + `ToBytes` make
    /// it (`sdk/pkg/eventbus/health_check_message.go`): id
    /// `hc-<unix nanos>-<16 hex>`, Go's RFC 3339 nanosecond time with a zone
    /// offset, version `2.0.0`, metadata from its builder.
    fn go_vector(timestamp: &str) -> String {
        format!(
            r#"{{"messageId":"hc-1764627200123456789-9f86d081884c7d65","timestamp":"{timestamp}","source":"order-service","eventBusType":"kafka","version":"2.0.0","metadata":{{"checkType":"periodic","instanceId":"order-1"}}}}"#
        )
    }

    fn now_in_shanghai() -> String {
        time::OffsetDateTime::now_utc()
            .to_offset(time::macros::offset!(+8))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    #[test]
    fn a_go_sdk_beat_decodes() {
        let beat = HealthMessage::parse(go_vector(&now_in_shanghai()).as_bytes()).unwrap();
        assert_eq!(beat.source, "order-service");
        assert_eq!(beat.event_bus_type, "kafka");
        assert_eq!(beat.version, "2.0.0");
        assert_eq!(beat.message_id, "hc-1764627200123456789-9f86d081884c7d65");
        assert_eq!(beat.metadata["instanceId"], "order-1");
        // Go encodes a nil map as null.
        let nil = go_vector(&now_in_shanghai())
            .replace(r#"{"checkType":"periodic","instanceId":"order-1"}"#, "null");
        assert!(
            HealthMessage::parse(nil.as_bytes())
                .unwrap()
                .metadata
                .is_empty()
        );
    }

    #[test]
    fn a_stale_or_incomplete_beat_is_rejected_as_go_rejects_it() {
        let stale = go_vector("2024-12-01T22:13:20.123456789+08:00");
        assert!(HealthMessage::parse(stale.as_bytes()).is_err());
        let no_source = go_vector(&now_in_shanghai()).replace("order-service", "");
        assert!(HealthMessage::parse(no_source.as_bytes()).is_err());
    }

    #[test]
    fn our_beat_carries_the_go_field_names() {
        let beat = HealthMessage::new("billing", "nats");
        let json: serde_json::Value = serde_json::from_slice(&beat.to_json()).unwrap();
        let object = json.as_object().unwrap();
        let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "eventBusType",
                "messageId",
                "metadata",
                "source",
                "timestamp",
                "version"
            ]
        );
        assert!(json["messageId"].as_str().unwrap().starts_with("hc-"));
        assert_eq!(json["messageId"].as_str().unwrap().split('-').count(), 3);
        assert_eq!(json["source"], "billing");
        assert_eq!(json["metadata"], serde_json::json!({}));
        assert_eq!(HealthMessage::parse(&beat.to_json()).unwrap(), beat);
    }
}
