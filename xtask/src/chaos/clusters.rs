//! The clusters scenarios run on, behind one interface: start, the bus
//! configuration that reaches them, leaders, and node stops and starts.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use evbus::{
    Backend, BusConfig, PoolConfig, RetryPolicy,
    kafka::{
        KafkaConfig,
        testkit::{BrokerOptions, KafkaCluster, Stop},
    },
    nats::{
        NatsConfig,
        mapping::stream_name,
        testkit::{ClusterOptions, NatsCluster, NodeStop},
    },
};
use serde::{Deserialize, Serialize};

/// Which broker a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Broker {
    /// nats-server with clustered JetStream.
    Nats,
    /// Apache Kafka (KRaft).
    Kafka,
}

impl Broker {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nats => "nats",
            Self::Kafka => "kafka",
        }
    }
}

/// Where a bus connects: the broker and its addresses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// The broker.
    pub broker: Broker,
    /// NATS URLs or Kafka `host:port`s.
    pub servers: Vec<String>,
}

impl Target {
    /// The bus configuration every scenario uses, for `service`.
    ///
    /// Handlers fail transiently at 10%, so the pool retries in place many
    /// times with a short backoff: an event is dead-lettered only if 30
    /// attempts in a row fail (10^-30), so a missing event is a loss, not
    /// the retry policy. NATS leases are short (5 s ack wait, kept alive
    /// every second) and the ordered group hands over 6 s after a member
    /// stops pulling, so a killed consumer's successor takes over in
    /// seconds rather than the default 35 s; reconnects never give up.
    /// Kafka sessions expire after 6 s (the broker's minimum) for the same
    /// reason.
    pub fn bus_config(&self, service: &str) -> BusConfig {
        let mut config = BusConfig::default();
        config.service_name = service.into();
        let mut pool = PoolConfig::default();
        pool.retry = RetryPolicy::attempts(30)
            .with_backoff(Duration::from_millis(5), Duration::from_millis(100));
        pool.keepalive_interval = Some(Duration::from_secs(1));
        config.pool = pool;
        match self.broker {
            Broker::Nats => {
                config.backend = Backend::Nats;
                let mut nats = NatsConfig::default();
                nats.servers = self.servers.clone();
                nats.name = service.into();
                nats.max_reconnects = None;
                nats.reconnect_wait = Duration::from_millis(250);
                nats.ack_wait = Duration::from_secs(5);
                nats.pinned_ttl = Duration::from_secs(6);
                config.nats = nats;
            }
            Broker::Kafka => {
                config.backend = Backend::Kafka;
                let mut kafka = KafkaConfig::new(&self.servers.join(","));
                kafka.client_id = service.into();
                kafka.heartbeat_interval = Duration::from_millis(500);
                kafka.session_timeout = Duration::from_secs(6);
                config.kafka = kafka;
            }
        }
        config
    }
}

/// A three-node cluster of either broker.
#[derive(Debug)]
pub enum Cluster {
    /// Three routed nats-server nodes.
    Nats(NatsCluster),
    /// Three Kafka brokers.
    Kafka(KafkaCluster),
}

impl Cluster {
    /// Starts a cluster of `broker` (blocking: JVM start-ups take a while).
    /// A Kafka cluster advertises `kafka_proxy_ports` (one per node, or
    /// none) to clients that come through proxies on those ports; a NATS
    /// cluster routes its nodes as `nats_routes` says.
    pub fn start(
        broker: Broker,
        kafka_proxy_ports: Vec<u16>,
        nats_routes: &ClusterOptions,
    ) -> anyhow::Result<Self> {
        Ok(match broker {
            Broker::Nats => Self::Nats(NatsCluster::start_with(nats_routes)?),
            Broker::Kafka => {
                let mut options = BrokerOptions::default();
                options.proxy_ports = kafka_proxy_ports;
                Self::Kafka(KafkaCluster::start_with(&options)?)
            }
        })
    }

    /// The broker it runs.
    pub fn broker(&self) -> Broker {
        match self {
            Self::Nats(_) => Broker::Nats,
            Self::Kafka(_) => Broker::Kafka,
        }
    }

    /// What it is, for logs.
    pub fn describe(&self) -> String {
        match self {
            Self::Nats(c) => c.describe(),
            Self::Kafka(c) => c.describe(),
        }
    }

    /// Where a bus connects to reach every node directly.
    pub fn target(&self) -> Target {
        let servers = match self {
            Self::Nats(c) => c.urls(),
            Self::Kafka(c) => c.bootstrap().split(',').map(str::to_owned).collect(),
        };
        Target {
            broker: self.broker(),
            servers,
        }
    }

    /// The node ids.
    pub fn node_ids(&self) -> Vec<u32> {
        match self {
            Self::Nats(c) => c.node_ids(),
            Self::Kafka(c) => c.node_ids(),
        }
    }

    /// Node `id`'s data directory: its JetStream store, or its Kafka
    /// `log.dirs`.
    pub fn data_dir(&self, id: u32) -> anyhow::Result<std::path::PathBuf> {
        Ok(match self {
            Self::Nats(c) => c.store_dir(id).to_owned(),
            Self::Kafka(c) => c.data_dir(id)?,
        })
    }

    /// Whether node `id`'s process runs (a broker may stop itself, as Kafka
    /// does when its only log directory fails).
    pub fn is_running(&self, id: u32) -> bool {
        match self {
            Self::Nats(c) => c.is_running(id),
            Self::Kafka(c) => c.is_running(id),
        }
    }

    /// The node leading `topic` (its stream, or its partition 0), retried
    /// for a while: right after a failover there may be none.
    pub async fn leader_of(self: &Arc<Self>, topic: &str) -> anyhow::Result<u32> {
        for _ in 0..100 {
            let cluster = self.clone();
            let topic = topic.to_owned();
            let leader = tokio::task::spawn_blocking(move || match &*cluster {
                Self::Nats(c) => c.stream_leader(&stream_name("EVBUS_", &topic)),
                Self::Kafka(c) => c.leader_of(&topic, 0).ok(),
            })
            .await?;
            if let Some(leader) = leader {
                return Ok(leader);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        bail!("{topic} has had no leader for 20 s")
    }

    /// Waits up to `within` until NATS node `id`'s route count satisfies
    /// `want`; the count then, or `None` if it did not come to that. Routes
    /// are a NATS notion: an error on Kafka.
    pub async fn wait_route_count(
        self: &Arc<Self>,
        id: u32,
        within: Duration,
        want: fn(u64) -> bool,
    ) -> anyhow::Result<Option<u64>> {
        let cluster = self.clone();
        tokio::task::spawn_blocking(move || match &*cluster {
            Self::Nats(c) => Ok(c.wait_route_count(id, within, want)),
            Self::Kafka(_) => bail!("Kafka brokers have no NATS routes to count"),
        })
        .await?
    }

    /// Stops node `id`: SIGKILL when `kill`, else SIGTERM.
    pub async fn stop(self: &Arc<Self>, id: u32, kill: bool) -> anyhow::Result<()> {
        let cluster = self.clone();
        tokio::task::spawn_blocking(move || match &*cluster {
            Self::Nats(c) => {
                let how = if kill {
                    NodeStop::Kill
                } else {
                    NodeStop::Graceful
                };
                c.stop(id, how).map_err(anyhow::Error::from)
            }
            Self::Kafka(c) => {
                let how = if kill { Stop::Kill } else { Stop::Graceful };
                c.stop(id, how).map_err(anyhow::Error::from)
            }
        })
        .await?
        .with_context(|| format!("stopping node {id}"))
    }

    /// Starts node `id` again and waits until it is ready.
    pub async fn start_node(self: &Arc<Self>, id: u32) -> anyhow::Result<()> {
        let cluster = self.clone();
        tokio::task::spawn_blocking(move || match &*cluster {
            Self::Nats(c) => c.start_node(id).map_err(anyhow::Error::from),
            Self::Kafka(c) => c.start_node(id).map_err(anyhow::Error::from),
        })
        .await?
        .with_context(|| format!("starting node {id} again"))
    }
}
