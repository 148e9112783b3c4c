//! [`KafkaConfig`]: every setting of the transport, with its default, and the
//! librdkafka client configurations built from it.

use std::{collections::BTreeMap, fmt, path::PathBuf, time::Duration};

use evbus_transport::{ErrorKind, TransportError};
use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::NAME;

/// librdkafka properties the transport sets itself because its guarantees
/// depend on them; passing them in [`KafkaConfig::properties`] is a
/// [`Config`](ErrorKind::Config) error naming the property.
pub const RESERVED_PROPERTIES: &[&str] = &[
    // Offsets are committed only for the contiguous settled prefix.
    "enable.auto.commit",
    "auto.commit.enable",
    "enable.auto.offset.store",
    // EOF events carry no message and would only disturb the poll loop.
    "enable.partition.eof",
    // fnv1a_random keeps a key on the partition Sarama (Go) publishers use.
    "partitioner",
    // Per-key order and no duplicates from producer retries.
    "enable.idempotence",
    "acks",
    "request.required.acks",
    // Set per subscription (group, `StartFrom`).
    "group.id",
    "auto.offset.reset",
    // Set from `bootstrap_servers`.
    "bootstrap.servers",
    "metadata.broker.list",
];
/// A secret (password) that never shows in `Debug` output or logs.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value, for the client configuration only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

/// TLS towards the brokers (`security.protocol` `ssl` or `sasl_ssl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TlsConfig {
    /// CA certificate file (`ssl.ca.location`). Default: `None`, the system's
    /// trust store.
    pub ca_location: Option<PathBuf>,
    /// Client certificate file for mutual TLS (`ssl.certificate.location`).
    /// Default: `None`.
    pub certificate_location: Option<PathBuf>,
    /// Client private key file (`ssl.key.location`). Default: `None`.
    pub key_location: Option<PathBuf>,
    /// Password of the private key (`ssl.key.password`). Default: `None`.
    pub key_password: Option<Secret>,
    /// Check that the broker's certificate names the host
    /// (`ssl.endpoint.identification.algorithm=https`). Default: `true`.
    pub verify_hostname: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            ca_location: None,
            certificate_location: None,
            key_location: None,
            key_password: None,
            verify_hostname: true,
        }
    }
}

/// A SASL mechanism librdkafka supports without Kerberos libraries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN`: username and password in clear (use it with TLS).
    Plain,
    /// `SCRAM-SHA-256`.
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
}

impl SaslMechanism {
    fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL authentication (`security.protocol` `sasl_plaintext` or `sasl_ssl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SaslConfig {
    /// The mechanism (`sasl.mechanism`).
    pub mechanism: SaslMechanism,
    /// The user name (`sasl.username`).
    pub username: String,
    /// The password (`sasl.password`), hidden from `Debug`.
    pub password: Secret,
}

impl SaslConfig {
    /// SASL with `mechanism`, `username` and `password`.
    pub fn new(
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self {
            mechanism,
            username: username.into(),
            password: password.into(),
        }
    }
}

/// Configuration of a [`KafkaTransport`](crate::KafkaTransport).
///
/// Every field has a default (see each field); deserializing `{}` gives
/// [`KafkaConfig::default`]. `Debug` hides passwords and secret-looking
/// librdkafka properties.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct KafkaConfig {
    /// Brokers to bootstrap from, `host:port` (`bootstrap.servers`).
    /// Default: `["127.0.0.1:9092"]`.
    pub bootstrap_servers: Vec<String>,
    /// Client id shown in broker logs and metrics (`client.id`).
    /// Default: `"evbus"`.
    pub client_id: String,
    /// How long a publish may wait for the broker's acknowledgement,
    /// retries included (`message.timeout.ms`); also how long a publish
    /// waits for room when [`max_in_flight`](Self::max_in_flight) publishes
    /// are pending. Far below librdkafka's 300 s so a missing topic or a dead
    /// cluster fails fast. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// How long librdkafka waits for a topic it cannot find to appear before
    /// failing publishes to it (`topic.metadata.propagation.max.ms`).
    /// Default: 5 s (librdkafka: 30 s).
    #[serde(with = "humantime_serde")]
    pub missing_topic_timeout: Duration,
    /// Publishes sent but not yet acknowledged, over all topics; a publish
    /// beyond it waits for room (backpressure). Default: 10,000.
    pub max_in_flight: usize,
    /// The largest record accepted: payload, key and headers
    /// (`message.max.bytes`). Larger messages fail with
    /// [`TooLarge`](ErrorKind::TooLarge) before anything is sent.
    /// Default: 1,000,000 bytes (librdkafka's default).
    pub max_message_bytes: usize,
    /// Consumer group session timeout (`session.timeout.ms`): a member that
    /// sends no heartbeat for this long is removed. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Consumer heartbeat interval (`heartbeat.interval.ms`); also bounds how
    /// quickly a member notices a rebalance. Default: 3 s.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// Offsets of one partition tracked, from the oldest unsettled one to
    /// the newest fetched, before the partition is paused; it resumes once
    /// the span is down to half. A stuck delivery thus pauses its partition
    /// and bounds what is tracked behind it. Polling goes on while paused,
    /// so the member is never evicted. Default: 1,000.
    ///
    /// The window also caps throughput when handlers wait (a database or
    /// HTTP call): each partition holds at most this many records from
    /// fetch to commit. With a 10 ms handler, one member of a 4-partition
    /// topic handled about 4,000 msg/s at 1,000, 8,000 at 2,000 and 11,000
    /// at 4,000, holding 5, 9 and 15 MiB (docs/performance.md, backlog).
    /// Raise it for slow handlers where memory allows: what it holds grows
    /// with the window times the partitions assigned.
    pub partition_window: usize,
    /// How often finished offsets are committed while consuming; they are
    /// also committed on revoke and close. Default: 100 ms.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// How long a revoke waits for deliveries already handed out to be
    /// settled before committing what finished; those not settled in time
    /// are redelivered to the group, possibly while their handlers still run
    /// here, so keep it above the longest handler. Records never handed out
    /// are dropped at once, and the facade drops queued deliveries of the
    /// revoked partitions (their fences are stale), so in practice the
    /// revoke waits only for handlers already running. (A subscription close
    /// does not wait: the facade drains its handlers first.) Default: 10 s.
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// Partitions of a topic created without
    /// [`TopicOptions::partitions`](evbus_topics::TopicOptions::partitions).
    /// Default: `None`, the broker's `num.partitions`.
    pub default_partitions: Option<u32>,
    /// TLS towards the brokers. Default: `None` (plaintext).
    pub tls: Option<TlsConfig>,
    /// SASL authentication. Default: `None`.
    pub sasl: Option<SaslConfig>,
    /// Further librdkafka properties, set on every client (producer,
    /// consumers, admin) after the transport's own, so they override them.
    /// The [`RESERVED_PROPERTIES`] are rejected. Default: empty.
    pub properties: BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            bootstrap_servers: vec!["127.0.0.1:9092".to_owned()],
            client_id: "evbus".to_owned(),
            publish_timeout: Duration::from_secs(30),
            missing_topic_timeout: Duration::from_secs(5),
            max_in_flight: 10_000,
            max_message_bytes: 1_000_000,
            session_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(3),
            partition_window: 1_000,
            commit_interval: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(10),
            default_partitions: None,
            tls: None,
            sasl: None,
            properties: BTreeMap::new(),
        }
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let value = if is_secret_property(k) {
                    "***"
                } else {
                    v.as_str()
                };
                (k.as_str(), value)
            })
            .collect();
        f.debug_struct("KafkaConfig")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("client_id", &self.client_id)
            .field("publish_timeout", &self.publish_timeout)
            .field("missing_topic_timeout", &self.missing_topic_timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("session_timeout", &self.session_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("partition_window", &self.partition_window)
            .field("commit_interval", &self.commit_interval)
            .field("drain_timeout", &self.drain_timeout)
            .field("default_partitions", &self.default_partitions)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("properties", &properties)
            .finish()
    }
}

fn is_secret_property(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "ssl.key",
        "keystore",
        "oauthbearer.config",
    ]
    .iter()
    .any(|s| key.contains(s))
}

/// Room a record needs beyond payload, key and header bytes (record batch
/// and record framing, varints per header), so the transport's own size
/// check fires before librdkafka's.
const RECORD_OVERHEAD: usize = 1024;

impl KafkaConfig {
    /// A configuration bootstrapping from `servers` (comma-separated
    /// `host:port` list), everything else default.
    pub fn new(servers: &str) -> Self {
        Self {
            bootstrap_servers: servers.split(',').map(|s| s.trim().to_owned()).collect(),
            ..Self::default()
        }
    }

    /// Sets a librdkafka property (see [`properties`](Self::properties)).
    pub fn property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// The largest message [`OutgoingMessage::wire_size`](evbus_transport::OutgoingMessage::wire_size)
    /// the transport accepts: [`max_message_bytes`](Self::max_message_bytes)
    /// less room for record framing.
    pub fn max_payload_bytes(&self) -> usize {
        self.max_message_bytes.saturating_sub(RECORD_OVERHEAD)
    }

    /// Checks every setting; the error names the offending one.
    pub fn validate(&self) -> Result<(), TransportError> {
        let fail = |message: String| Err(TransportError::new(ErrorKind::Config, NAME, message));
        if let Some(key) = self
            .properties
            .keys()
            .find(|k| RESERVED_PROPERTIES.contains(&k.as_str()))
        {
            return fail(format!(
                "the librdkafka property `{key}` is set by the transport and cannot be \
                 overridden (its guarantees depend on it)"
            ));
        }
        if self.bootstrap_servers.is_empty() || self.bootstrap_servers.iter().any(String::is_empty)
        {
            return fail("`bootstrap_servers` needs at least one non-empty `host:port`".into());
        }
        for (name, value) in [
            ("max_in_flight", self.max_in_flight),
            ("partition_window", self.partition_window),
        ] {
            if value == 0 {
                return fail(format!("`{name}` must be at least 1"));
            }
        }
        if self.max_message_bytes <= RECORD_OVERHEAD {
            return fail(format!(
                "`max_message_bytes` must exceed {RECORD_OVERHEAD} (record framing)"
            ));
        }
        for (name, value) in [
            ("publish_timeout", self.publish_timeout),
            ("missing_topic_timeout", self.missing_topic_timeout),
            ("session_timeout", self.session_timeout),
            ("heartbeat_interval", self.heartbeat_interval),
            ("commit_interval", self.commit_interval),
        ] {
            if value.as_millis() == 0 || value.as_millis() > i32::MAX as u128 {
                return fail(format!("`{name}` must be between 1 ms and {} ms", i32::MAX));
            }
        }
        if self.default_partitions == Some(0) {
            return fail("`default_partitions` must be at least 1".into());
        }
        if self.heartbeat_interval >= self.session_timeout {
            return fail("`heartbeat_interval` must be shorter than `session_timeout`".into());
        }
        Ok(())
    }

    /// Settings every client shares: servers, id, security, user properties.
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.bootstrap_servers.join(","))
            .set("client.id", &self.client_id)
            // Topics are created by the topic strategies, never as a side
            // effect of a publish or a metadata lookup.
            .set("allow.auto.create.topics", "false");
        let protocol = match (&self.tls, &self.sasl) {
            (None, None) => "plaintext",
            (Some(_), None) => "ssl",
            (None, Some(_)) => "sasl_plaintext",
            (Some(_), Some(_)) => "sasl_ssl",
        };
        config.set("security.protocol", protocol);
        if let Some(tls) = &self.tls {
            let path = |p: &PathBuf| p.to_string_lossy().into_owned();
            if let Some(ca) = &tls.ca_location {
                config.set("ssl.ca.location", path(ca));
            }
            if let Some(cert) = &tls.certificate_location {
                config.set("ssl.certificate.location", path(cert));
            }
            if let Some(key) = &tls.key_location {
                config.set("ssl.key.location", path(key));
            }
            if let Some(password) = &tls.key_password {
                config.set("ssl.key.password", password.expose());
            }
            config.set(
                "ssl.endpoint.identification.algorithm",
                if tls.verify_hostname { "https" } else { "none" },
            );
        }
        if let Some(sasl) = &self.sasl {
            config
                .set("sasl.mechanism", sasl.mechanism.as_str())
                .set("sasl.username", &sasl.username)
                .set("sasl.password", sasl.password.expose());
        }
        config
    }

    fn with_properties(&self, mut config: ClientConfig) -> ClientConfig {
        for (key, value) in &self.properties {
            config.set(key, value);
        }
        config
    }

    /// The librdkafka configuration of the transport's producer. Public so
    /// that a side-by-side baseline (`cargo xtask perf`) runs the raw client
    /// with exactly these settings.
    pub fn producer_client_config(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(self.publish_timeout))
            .set(
                "topic.metadata.propagation.max.ms",
                millis(self.missing_topic_timeout),
            )
            .set("message.max.bytes", self.max_message_bytes.to_string())
            // Room for every permitted in-flight publish, so the local queue
            // is never the bound (the transport's semaphore is).
            .set(
                "queue.buffering.max.messages",
                self.max_in_flight.clamp(1, 10_000_000).to_string(),
            );
        let mut config = self.with_properties(config);
        config.set("partitioner", "fnv1a_random");
        config
    }

    /// The configuration of one subscription's consumer.
    ///
    /// `auto.offset.reset` is always `earliest`: a `Latest` subscription
    /// sets explicit start offsets instead, so a failure falls back to
    /// replaying rather than skipping.
    ///
    /// Public so that a side-by-side baseline runs the raw client with
    /// exactly these settings.
    pub fn consumer_client_config(&self, group: &str) -> ClientConfig {
        let mut config = self.base();
        config
            .set("session.timeout.ms", millis(self.session_timeout))
            .set("heartbeat.interval.ms", millis(self.heartbeat_interval))
            .set("partition.assignment.strategy", "cooperative-sticky")
            .set(
                "fetch.message.max.bytes",
                self.max_message_bytes.to_string(),
            )
            // Topics exist before anyone subscribes (the topic strategies
            // create them), so one missing from the metadata is reported to
            // the subscriber after 2 s rather than librdkafka's 30 s.
            .set("topic.metadata.propagation.max.ms", "2000");
        let mut config = self.with_properties(config);
        config
            .set("group.id", group)
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false");
        config
    }

    /// The admin client's configuration.
    pub(crate) fn admin(&self) -> ClientConfig {
        self.with_properties(self.base())
    }
}

fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_properties_are_rejected_by_name() {
        for &key in RESERVED_PROPERTIES {
            let err = KafkaConfig::default()
                .property(key, "x")
                .validate()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(&format!("`{key}`")), "{err}");
        }
        KafkaConfig::default()
            .property("linger.ms", "10")
            .validate()
            .unwrap();
    }

    #[test]
    fn debug_hides_secrets() {
        let mut config = KafkaConfig::default().property("sasl.oauthbearer.config", "token=abc");
        config.sasl = Some(SaslConfig::new(SaslMechanism::ScramSha512, "u", "hunter2"));
        config.tls = Some(TlsConfig {
            key_password: Some(Secret::new("keypass")),
            ..TlsConfig::default()
        });
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("keypass"), "{debug}");
        assert!(!debug.contains("token=abc"), "{debug}");
        assert!(debug.contains("\"u\""), "{debug}");
    }

    #[test]
    fn security_protocol_follows_tls_and_sasl() {
        let mut config = KafkaConfig::default();
        assert_eq!(config.admin().get("security.protocol"), Some("plaintext"));
        config.sasl = Some(SaslConfig::new(SaslMechanism::Plain, "u", "p"));
        assert_eq!(
            config.admin().get("security.protocol"),
            Some("sasl_plaintext")
        );
        assert_eq!(config.admin().get("sasl.mechanism"), Some("PLAIN"));
        config.tls = Some(TlsConfig::default());
        assert_eq!(config.admin().get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(
            config.admin().get("ssl.endpoint.identification.algorithm"),
            Some("https")
        );
    }

    #[test]
    fn guarantees_cannot_be_overridden_and_defaults_deserialize() {
        let config: KafkaConfig =
            serde_json::from_str(r#"{"publish_timeout":"5s","properties":{"acks":"1"}}"#).unwrap();
        assert_eq!(config.publish_timeout, Duration::from_secs(5));
        let producer = config.producer_client_config();
        assert_eq!(producer.get("partitioner"), Some("fnv1a_random"));
        assert_eq!(producer.get("message.timeout.ms"), Some("5000"));
        let consumer = config.consumer_client_config("g");
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("auto.offset.reset"), Some("earliest"));
        assert_eq!(consumer.get("group.id"), Some("g"));
        assert!(serde_json::from_str::<KafkaConfig>(r#"{"bootstrap":"x"}"#).is_err());
    }
}
