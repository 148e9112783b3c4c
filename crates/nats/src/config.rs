//! The NATS transport's configuration.

use std::{fmt, path::PathBuf, time::Duration};

use evbus_topics::Persistence;
use evbus_transport::{ErrorKind, Result, TransportError};
use serde::{Deserialize, Serialize};

use crate::NAME;

/// How the members of one consumer group share a JetStream topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GroupMode {
    /// One member of a (topic, group) receives messages at a time; the others
    /// wait on standby and take over when it goes away (JetStream priority
    /// group with the `pinned_client` policy, nats-server 2.11+). Per-key
    /// order holds across instances. Default.
    #[default]
    Ordered,
    /// Every member pulls from the group's consumer and JetStream spreads the
    /// messages over them (competing consumers). Per-key order holds only
    /// within one instance.
    Shared,
    /// The topic's partitions are spread evenly over the live members, one
    /// member per partition at a time; members join and leave at run time
    /// and a crashed member's partitions move after
    /// [`partition_lease`](NatsConfig::partition_lease). Per-key order holds
    /// across instances. A partitioned topic (more than one partition in its
    /// `TopicOptions`) always uses this mode unless the group is `shared`;
    /// on an unpartitioned topic it works with one partition (an ordered
    /// group with a short failover).
    Partitioned,
}

/// A secret string (password, token, nkey seed): serialized as given,
/// never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl From<&str> for Secret {
    fn from(secret: &str) -> Self {
        Self::new(secret)
    }
}

impl From<String> for Secret {
    fn from(secret: String) -> Self {
        Self::new(secret)
    }
}

/// How the connection authenticates. Set at most one method; none means an
/// anonymous connection (or credentials in the URL).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NatsAuth {
    /// User name, with [`password`](Self::password). Default: none.
    pub user: Option<String>,
    /// Password of [`user`](Self::user). Default: none.
    pub password: Option<Secret>,
    /// Authentication token. Default: none.
    pub token: Option<Secret>,
    /// Credentials file (`.creds`: user JWT and nkey seed), as written by
    /// `nsc` or the NATS CLI. Only its path is kept here (and shown by
    /// `Debug`); the secrets are read from the file at connect time.
    /// Default: none.
    pub credentials_file: Option<PathBuf>,
    /// Nkey seed (`SU...`) for nkey authentication. Default: none.
    pub nkey_seed: Option<Secret>,
}

impl NatsAuth {
    fn methods(&self) -> usize {
        [
            self.user.is_some() || self.password.is_some(),
            self.token.is_some(),
            self.credentials_file.is_some(),
            self.nkey_seed.is_some(),
        ]
        .into_iter()
        .filter(|set| *set)
        .count()
    }
}

/// TLS settings. A `tls://` URL or a server that requires TLS turns TLS on
/// with the system's root certificates even when nothing is set here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NatsTls {
    /// Refuse to connect without TLS. Default: `false`.
    pub required: bool,
    /// PEM file with the root certificates that sign the server's
    /// certificate, added to the system roots. Default: none.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate for mutual TLS, with [`key_file`](Self::key_file).
    /// Default: none.
    pub cert_file: Option<PathBuf>,
    /// PEM private key of [`cert_file`](Self::cert_file). Default: none.
    pub key_file: Option<PathBuf>,
}

/// Configuration of a [`NatsTransport`](crate::NatsTransport).
///
/// Every field has a default, so `NatsConfig::default()` (a local server)
/// and an empty serde map are both valid. Durations read as humantime
/// strings (`"30s"`, `"100ms"`).
///
/// ```
/// use std::time::Duration;
/// use evbus_nats::{GroupMode, NatsConfig};
///
/// let config: NatsConfig = serde_json::from_str(
///     r#"{"servers": ["nats://nats-1:4222"], "ack_wait": "10s", "group_mode": "shared"}"#,
/// ).unwrap();
/// assert_eq!(config.ack_wait, Duration::from_secs(10));
/// assert_eq!(config.group_mode, GroupMode::Shared);
/// assert_eq!(config.fetch_batch, 500);
///
/// let config = NatsConfig::new("nats://127.0.0.1:4222").ack_wait(Duration::from_secs(5));
/// assert_eq!(config.max_reconnects, Some(10));
/// ```
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct NatsConfig {
    /// Server URLs (`nats://`, `tls://`, `ws://`); the client picks one and
    /// fails over to the others. A password or token in a URL
    /// (`nats://user:password@host`) is hidden in `Debug` output and errors.
    /// Default: `["nats://127.0.0.1:4222"]`.
    pub servers: Vec<String>,
    /// Connection name shown by the server's monitoring. Default: `"evbus"`.
    pub name: String,
    /// Authentication. Default: none (anonymous).
    pub auth: NatsAuth,
    /// TLS. Default: TLS only where the URL or the server asks for it.
    pub tls: NatsTls,
    /// Reconnect attempts after the connection is lost before the transport
    /// gives up and reports [`ConnectionState::Closed`](evbus_transport::ConnectionState::Closed);
    /// `None` retries forever. Default: `10` (the Go SDK's value).
    pub max_reconnects: Option<usize>,
    /// Wait between reconnect attempts (the first one is immediate).
    /// Default: `2s`.
    #[serde(with = "humantime_serde")]
    pub reconnect_wait: Duration,
    /// Timeout of the initial connection (TCP, TLS and handshake).
    /// Default: `5s`.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// How often the client pings the server when it has heard nothing
    /// from it. After two unanswered pings the connection counts as dead
    /// and the client reconnects, so a connection that went silent (a
    /// black-holed network path, a half-open TCP connection after a NAT or
    /// load balancer dropped it) is noticed within about three intervals.
    /// Default: `20s` (async-nats's own default, 60 s, notices it only
    /// after some three minutes, all publishes timing out meanwhile).
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// How long a publish waits for JetStream's ack before it fails with
    /// [`OutcomeUnknown`](evbus_transport::ErrorKind::OutcomeUnknown); also
    /// bounds JetStream API requests (stream and consumer management).
    /// Default: `10s` (the Go SDK's value).
    #[serde(with = "humantime_serde")]
    pub publish_timeout: Duration,
    /// Most JetStream publishes awaiting their ack at once on this
    /// connection. Further publishes wait for a free slot (async-nats's
    /// `max_ack_inflight` with backpressure), which bounds memory.
    /// Default: `4000` (nats.go's `PublishAsyncMaxPending`).
    pub max_pending_acks: usize,
    /// How long JetStream waits for a delivery to be settled (or its lease
    /// kept alive) before redelivering it. Default: `30s`.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// Most messages one pull request asks for; each request also asks for
    /// no more than the caller's free capacity. Default: `500`.
    pub fetch_batch: usize,
    /// How long a pull request waits for messages before it expires.
    /// Default: `100ms`.
    #[serde(with = "humantime_serde")]
    pub fetch_max_wait: Duration,
    /// Most deliveries of one group that may be unsettled at once (consumer
    /// `max_ack_pending`); JetStream stops delivering at the limit.
    /// Default: `10000`.
    pub max_ack_pending: usize,
    /// Prefix of the JetStream stream names this transport creates (see the
    /// crate docs for the mapping). Default: `"EVBUS_"`.
    pub stream_prefix: String,
    /// Persistence of a topic whose options say
    /// [`Persistence::Auto`]: `persistent` is a JetStream stream,
    /// `ephemeral` is core NATS (at-most-once). Default: `persistent`.
    pub default_persistence: Persistence,
    /// How members of a group share a JetStream topic. Default: `ordered`.
    pub group_mode: GroupMode,
    /// In ordered mode, how long the active member may go without pulling
    /// before JetStream hands the group to a standby member (the consumer's
    /// `priority_timeout`). A member that closes its subscription hands over
    /// at once. Keep it above `ack_wait + fetch_max_wait`: then a crashed
    /// member's unsettled messages come back before the group moves, so the
    /// standby receives them before newer ones. Default: `35s` (with the
    /// default `ack_wait` of 30 s).
    #[serde(with = "humantime_serde")]
    pub pinned_ttl: Duration,
    /// In partitioned mode, how long a member owns a partition without
    /// renewing its lease. A member renews every quarter of it and stops
    /// handling a partition it could not renew in time; a crashed member's
    /// partitions move to the others within `partition_lease * 5/4` (plus
    /// the server's expiry timer). Applies to the group's lease bucket when
    /// this member creates it. Default: `3s` (failover under 4 s).
    #[serde(with = "humantime_serde")]
    pub partition_lease: Duration,
    /// JetStream duplicate window of created streams: a publish with the
    /// same dedup id (`Nats-Msg-Id`) within it is not stored again. Capped
    /// at the stream's retention. Default: `2m` (JetStream's default).
    #[serde(with = "humantime_serde")]
    pub duplicate_window: Duration,
}

impl fmt::Debug for NatsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // By hand, for the servers: a URL may carry a password.
        f.debug_struct("NatsConfig")
            .field("servers", &crate::redact::Servers(&self.servers))
            .field("name", &self.name)
            .field("auth", &self.auth)
            .field("tls", &self.tls)
            .field("max_reconnects", &self.max_reconnects)
            .field("reconnect_wait", &self.reconnect_wait)
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_interval", &self.ping_interval)
            .field("publish_timeout", &self.publish_timeout)
            .field("max_pending_acks", &self.max_pending_acks)
            .field("ack_wait", &self.ack_wait)
            .field("fetch_batch", &self.fetch_batch)
            .field("fetch_max_wait", &self.fetch_max_wait)
            .field("max_ack_pending", &self.max_ack_pending)
            .field("stream_prefix", &self.stream_prefix)
            .field("default_persistence", &self.default_persistence)
            .field("group_mode", &self.group_mode)
            .field("pinned_ttl", &self.pinned_ttl)
            .field("partition_lease", &self.partition_lease)
            .field("duplicate_window", &self.duplicate_window)
            .finish()
    }
}

impl Default for NatsConfig {
    fn default() -> Self {
        Self {
            servers: vec!["nats://127.0.0.1:4222".into()],
            name: "evbus".into(),
            auth: NatsAuth::default(),
            tls: NatsTls::default(),
            max_reconnects: Some(10),
            reconnect_wait: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            ping_interval: Duration::from_secs(20),
            publish_timeout: Duration::from_secs(10),
            max_pending_acks: 4000,
            ack_wait: Duration::from_secs(30),
            fetch_batch: 500,
            fetch_max_wait: Duration::from_millis(100),
            max_ack_pending: 10_000,
            stream_prefix: "EVBUS_".into(),
            default_persistence: Persistence::Persistent,
            group_mode: GroupMode::Ordered,
            pinned_ttl: Duration::from_secs(35),
            partition_lease: Duration::from_secs(3),
            duplicate_window: Duration::from_secs(120),
        }
    }
}

impl NatsConfig {
    /// The defaults, connecting to `url`.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            servers: vec![url.into()],
            ..Self::default()
        }
    }

    /// Sets the connection name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Authenticates with a user and password.
    pub fn user_password(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        self.auth.user = Some(user.into());
        self.auth.password = Some(password.into());
        self
    }

    /// Authenticates with a token.
    pub fn token(mut self, token: impl Into<Secret>) -> Self {
        self.auth.token = Some(token.into());
        self
    }

    /// Authenticates with a credentials file (JWT and nkey seed).
    pub fn credentials_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.auth.credentials_file = Some(path.into());
        self
    }

    /// Sets the TLS settings.
    pub fn tls(mut self, tls: NatsTls) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the reconnect attempts; `None` retries forever.
    pub fn max_reconnects(mut self, max: impl Into<Option<usize>>) -> Self {
        self.max_reconnects = max.into();
        self
    }

    /// Sets the wait between reconnect attempts.
    pub fn reconnect_wait(mut self, wait: Duration) -> Self {
        self.reconnect_wait = wait;
        self
    }

    /// Sets the initial connection timeout.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how often the client pings a silent server.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.ping_interval = interval;
        self
    }

    /// Sets how long a publish waits for its ack.
    pub fn publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// Sets the most publishes awaiting their ack at once.
    pub fn max_pending_acks(mut self, max: usize) -> Self {
        self.max_pending_acks = max;
        self
    }

    /// Sets JetStream's ack wait for created consumers.
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets the most messages per pull request.
    pub fn fetch_batch(mut self, batch: usize) -> Self {
        self.fetch_batch = batch;
        self
    }

    /// Sets how long a pull request waits for messages.
    pub fn fetch_max_wait(mut self, max_wait: Duration) -> Self {
        self.fetch_max_wait = max_wait;
        self
    }

    /// Sets the most unsettled deliveries per group.
    pub fn max_ack_pending(mut self, max: usize) -> Self {
        self.max_ack_pending = max;
        self
    }

    /// Sets the prefix of created stream names.
    pub fn stream_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.stream_prefix = prefix.into();
        self
    }

    /// Sets the persistence of `Auto` topics.
    pub fn default_persistence(mut self, persistence: Persistence) -> Self {
        self.default_persistence = persistence;
        self
    }

    /// Sets how members of a group share a topic.
    pub fn group_mode(mut self, mode: GroupMode) -> Self {
        self.group_mode = mode;
        self
    }

    /// Sets how long an idle active member keeps an ordered group.
    pub fn pinned_ttl(mut self, ttl: Duration) -> Self {
        self.pinned_ttl = ttl;
        self
    }

    /// Sets how long a partitioned-mode member owns a partition without
    /// renewing it.
    pub fn partition_lease(mut self, lease: Duration) -> Self {
        self.partition_lease = lease;
        self
    }

    /// Sets the duplicate window of created streams.
    pub fn duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// Checks the values the client or the server would refuse or misread;
    /// the error names the setting.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(TransportError::new(ErrorKind::Config, NAME, message));
        if self.servers.is_empty() || self.servers.iter().any(|s| s.trim().is_empty()) {
            return invalid("servers must list at least one non-empty URL".into());
        }
        if self.auth.methods() > 1 {
            return invalid(
                "auth: set only one of user/password, token, credentials_file and nkey_seed".into(),
            );
        }
        if self.auth.user.is_some() != self.auth.password.is_some() {
            return invalid("auth: user and password must be set together".into());
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return invalid("tls: cert_file and key_file must be set together".into());
        }
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("ping_interval", self.ping_interval),
            ("publish_timeout", self.publish_timeout),
            ("ack_wait", self.ack_wait),
            ("fetch_max_wait", self.fetch_max_wait),
            ("pinned_ttl", self.pinned_ttl),
            ("partition_lease", self.partition_lease),
            ("duplicate_window", self.duplicate_window),
        ] {
            // JetStream reads durations as nanoseconds in an i64 and a zero
            // as "server default"; neither is what a user meant.
            if value.is_zero() || value.as_nanos() > i64::MAX as u128 {
                return invalid(format!("{name} must be positive and below 292 years"));
            }
        }
        if self.fetch_max_wait < Duration::from_millis(1) {
            return invalid("fetch_max_wait must be at least 1ms".into());
        }
        if self.partition_lease < Duration::from_secs(1) {
            return invalid("partition_lease must be at least 1s".into());
        }
        if self.ack_wait < Duration::from_millis(100) {
            return invalid("ack_wait must be at least 100ms".into());
        }
        for (name, value) in [
            ("max_pending_acks", self.max_pending_acks),
            ("fetch_batch", self.fetch_batch),
            ("max_ack_pending", self.max_ack_pending),
        ] {
            if value == 0 || value > i32::MAX as usize {
                return invalid(format!("{name} must be between 1 and {}", i32::MAX));
            }
        }
        if !self
            .stream_prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid(
                "stream_prefix may only contain ASCII letters, digits, '_' and '-'".into(),
            );
        }
        if self.stream_prefix.len() > 32 {
            return invalid("stream_prefix must be at most 32 characters".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_every_secret() {
        let config = NatsConfig::default().user_password("alice", "hunter2");
        let mut with_token = NatsConfig::default().token("s3cr3t-token");
        with_token.auth.nkey_seed = Some("SUAseed".into());
        let shown = format!("{config:?} {with_token:?}");
        assert!(shown.contains("alice"), "{shown}");
        for secret in ["hunter2", "s3cr3t-token", "SUAseed"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }

    #[test]
    fn an_empty_map_gives_the_documented_defaults() {
        let config: NatsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, NatsConfig::default());
        assert_eq!(config.publish_timeout, Duration::from_secs(10));
        assert_eq!(config.ping_interval, Duration::from_secs(20));
        assert_eq!(config.ack_wait, Duration::from_secs(30));
        assert_eq!(config.fetch_max_wait, Duration::from_millis(100));
        assert_eq!(config.default_persistence, Persistence::Persistent);
        assert_eq!(config.group_mode, GroupMode::Ordered);
        config.validate().unwrap();
    }

    #[test]
    fn serde_reads_secrets_durations_and_unlimited_reconnects() {
        let config: NatsConfig = serde_json::from_str(
            r#"{"auth": {"token": "t0k"}, "max_reconnects": null, "reconnect_wait": "250ms"}"#,
        )
        .unwrap();
        assert_eq!(config.auth.token.as_ref().map(Secret::expose), Some("t0k"));
        assert_eq!(config.max_reconnects, None);
        assert_eq!(config.reconnect_wait, Duration::from_millis(250));
        assert!(serde_json::from_str::<NatsConfig>(r#"{"ackwait": "1s"}"#).is_err());
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let cases = [
            (NatsConfig::default().fetch_batch(0), "fetch_batch"),
            (NatsConfig::default().ack_wait(Duration::ZERO), "ack_wait"),
            (
                NatsConfig::default().ping_interval(Duration::ZERO),
                "ping_interval",
            ),
            (NatsConfig::default().stream_prefix("a.b"), "stream_prefix"),
            (
                NatsConfig::default().token("t").user_password("u", "p"),
                "only one",
            ),
        ];
        for (config, setting) in cases {
            let err = config.validate().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config);
            assert!(err.to_string().contains(setting), "{err}");
        }
    }
}
