//! Throw-away Apache Kafka brokers for tests: [`KafkaBroker`] (one KRaft
//! node) and [`KafkaCluster`] (three, replicated), on free loopback ports
//! with temporary data directories.
//!
//! ```no_run
//! use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // One broker for the whole test binary; unique topic and group names
//! // keep the tests independent.
//! let broker = KafkaBroker::shared()?;
//! let transport = KafkaTransport::connect(broker.config()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! The brokers run from the Apache Kafka jars that `cargo xtask brokers`
//! fetches with Maven into `~/.cache/evbus/kafka-<version>/libs` (or
//! `EVBUS_KAFKA_LIBS`), on the `java` of `JAVA_HOME` or `PATH`. With
//! `EVBUS_KAFKA_BOOTSTRAP=host:port` [`KafkaBroker::start`] uses a broker
//! you run instead (it cannot be restarted then).
//!
//! Every broker process is killed and its data deleted when its handle is
//! dropped, and also, by a small watchdog process, when the test process
//! ends without dropping it (a `shared` broker, a crash).

mod install;
mod node;
mod security;

use std::{
    io::{self, ErrorKind},
    path::PathBuf,
    process::{Command, Stdio},
    sync::OnceLock,
    thread,
    time::{Duration, Instant},
};

pub use install::{KAFKA_BOOTSTRAP_ENV, KAFKA_LIBS_ENV, KAFKA_VERSION};
pub use node::JvmProfile;
use node::{Node, NodeSpec, Ports};
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer as _},
};
pub use security::{BrokerSecurity, ScramUser, ServerTls};
use tempfile::TempDir;

use crate::KafkaConfig;

/// How long brokers may take to start and become ready: JVM start, log
/// recovery and KRaft election on a busy two-core machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// How a broker is stopped by a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGKILL, like a crash or a power cut.
    Kill,
    /// SIGTERM: a controlled shutdown, as in a rolling restart.
    Graceful,
}

/// Options of a broker or cluster.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BrokerOptions {
    /// TLS and SCRAM on the client listener. Default: plaintext.
    pub security: BrokerSecurity,
    /// JVM tuning. Default: [`JvmProfile::QuickStart`].
    pub jvm: JvmProfile,
    /// For clients that reach the nodes through a TCP proxy (a fault
    /// proxy such as toxiproxy): node `i + 1` gets a second plaintext
    /// client listener that advertises `127.0.0.1:proxy_ports[i]`, so the
    /// metadata a client fetches through the proxy sends it back through
    /// the proxy. Point each proxy at
    /// [`KafkaCluster::proxied_address`]. The first listener stays as it
    /// is, for clients that connect directly. Plaintext only. Default:
    /// none.
    pub proxy_ports: Vec<u16>,
}

/// Kafka nodes in one temporary directory, killed and deleted together.
#[derive(Debug)]
struct Nodes {
    nodes: Vec<Node>,
    // Dropped after `nodes` (field order), so processes stop first.
    dir: TempDir,
}

impl Nodes {
    /// Formats and starts `count` combined nodes, replication `count`,
    /// `min.insync.replicas` `min_insync`; returns once every node is ready.
    fn start(count: u32, min_insync: u32, options: &BrokerOptions) -> io::Result<Self> {
        let proxied = &options.proxy_ports;
        if !proxied.is_empty() && proxied.len() != count as usize {
            return Err(io::Error::new(
                ErrorKind::InvalidInput,
                format!("{} proxy ports for {count} nodes", proxied.len()),
            ));
        }
        if !proxied.is_empty() && options.security.protocol() != "PLAINTEXT" {
            return Err(io::Error::new(
                ErrorKind::Unsupported,
                "proxied client listeners are plaintext only",
            ));
        }
        let libs = install::libs_dir()?;
        let java = install::java()?;
        let dir = tempfile::Builder::new().prefix("evbus-kafka-").tempdir()?;
        spawn_watchdog(dir.path());
        let ports = (0..count)
            .map(|_| Ports::free())
            .collect::<io::Result<Vec<_>>>()?;
        let voters = ports
            .iter()
            .zip(1..)
            .map(|(p, id)| format!("{id}@127.0.0.1:{}", p.controller))
            .collect::<Vec<_>>()
            .join(",");
        let specs = ports.into_iter().zip(1..).map(|(ports, id)| NodeSpec {
            id,
            ports,
            advertised_proxy: proxied.get(id as usize - 1).copied(),
            voters: voters.clone(),
            replication: count,
            min_insync,
            security: options.security.clone(),
            jvm: options.jvm,
        });
        // Formatting is a JVM start each: done in parallel.
        let nodes = thread::scope(|s| {
            let handles: Vec<_> = specs
                .map(|spec| {
                    let (dir, java, libs) = (
                        dir.path().join(format!("node-{}", spec.id)),
                        java.clone(),
                        libs.clone(),
                    );
                    s.spawn(move || Node::prepare(spec, dir, java, &libs))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(io::Error::other("panicked")))
                })
                .collect::<io::Result<Vec<_>>>()
        })?;
        let nodes = Self { nodes, dir };
        for node in &nodes.nodes {
            node.spawn()?;
        }
        let all: Vec<u32> = nodes.nodes.iter().map(Node::id).collect();
        nodes.wait_ready(&all)?;
        Ok(nodes)
    }

    fn node(&self, id: u32) -> io::Result<&Node> {
        self.nodes.iter().find(|n| n.id() == id).ok_or_else(|| {
            io::Error::new(
                ErrorKind::InvalidInput,
                format!("there is no Kafka node {id}"),
            )
        })
    }

    fn bootstrap(&self) -> String {
        self.nodes
            .iter()
            .map(Node::client_address)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until each of `ids` runs and lists itself as an available
    /// broker in the metadata it serves.
    fn wait_ready(&self, ids: &[u32]) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        for &id in ids {
            let node = self.node(id)?;
            let probe: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", node.internal_address())
                .set("log_level", "0")
                .create()
                .map_err(io::Error::other)?;
            loop {
                if let Some(status) = node.exited() {
                    return Err(self.failure(&format!("node {id} exited ({status})")));
                }
                let listed = probe
                    .fetch_metadata(None, Duration::from_secs(2))
                    .is_ok_and(|m| m.brokers().iter().any(|b| b.id() == id as i32));
                if listed {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(
                        self.failure(&format!("node {id} was not ready within {START_TIMEOUT:?}"))
                    );
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    fn failure(&self, what: &str) -> io::Error {
        let logs: Vec<String> = self.nodes.iter().map(Node::log_tail).collect();
        io::Error::other(format!(
            "Apache Kafka {KAFKA_VERSION}: {what}\n{}",
            logs.join("\n")
        ))
    }

    fn restart(&self, id: u32, how: Stop) -> io::Result<()> {
        self.stop(id, how)?;
        self.start_node(id)
    }

    fn stop(&self, id: u32, how: Stop) -> io::Result<()> {
        let node = self.node(id)?;
        match how {
            Stop::Kill => {
                node.kill();
                Ok(())
            }
            Stop::Graceful => node.terminate(),
        }
    }

    fn start_node(&self, id: u32) -> io::Result<()> {
        self.node(id)?.spawn()?;
        self.wait_ready(&[id])
    }
}

/// Kills the nodes under `dir` and deletes it once this process is gone,
/// however it ends; a normal drop has done both already.
fn spawn_watchdog(dir: &std::path::Path) {
    let script = r#"while kill -0 "$0" 2>/dev/null; do sleep 1; done
for pid in "$1"/*/broker.pid; do [ -f "$pid" ] && kill -9 "$(cat "$pid")" 2>/dev/null; done
rm -rf "$1""#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(std::process::id().to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// A test configuration for `bootstrap`: short heartbeats and session so
/// rebalances are quick, topics created with 4 partitions unless told
/// otherwise.
fn test_config(bootstrap: &str) -> KafkaConfig {
    let mut config = KafkaConfig::new(bootstrap);
    config.heartbeat_interval = Duration::from_millis(500);
    config.session_timeout = Duration::from_secs(10);
    config.default_partitions = Some(4);
    config
}

/// One Apache Kafka node (KRaft, broker and controller in one process) on
/// free loopback ports, or the broker named in `EVBUS_KAFKA_BOOTSTRAP`.
#[derive(Debug)]
pub struct KafkaBroker {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    Local(Nodes),
    External(String),
}

impl KafkaBroker {
    /// Starts a plaintext broker (or uses `EVBUS_KAFKA_BOOTSTRAP`); returns
    /// once it serves metadata.
    ///
    /// # Errors
    /// Java or the Kafka jars are missing (the message says how to get
    /// them), or the broker did not start (the message ends with its log).
    pub fn start() -> io::Result<Self> {
        if let Some(bootstrap) = install::external_bootstrap() {
            return Ok(Self {
                inner: Inner::External(bootstrap),
            });
        }
        Self::start_with(&BrokerOptions::default())
    }

    /// Starts a broker of our own with these options (never the external
    /// one: a test that asks for TLS or SCRAM needs a broker it configured).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with(options: &BrokerOptions) -> io::Result<Self> {
        Ok(Self {
            inner: Inner::Local(Nodes::start(1, 1, options)?),
        })
    }

    /// One plaintext broker for the whole test binary, started on first
    /// use, so JVM start-ups do not dominate the suite. Tests sharing it use
    /// unique topic and group names; a test that restarts its broker starts
    /// its own.
    ///
    /// # Errors
    /// As [`start`](Self::start), on every call once the start failed.
    pub fn shared() -> io::Result<&'static KafkaBroker> {
        static SHARED: OnceLock<Result<KafkaBroker, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| io::Error::other(e.clone()))
    }

    /// `host:port` to bootstrap from.
    pub fn bootstrap(&self) -> String {
        match &self.inner {
            Inner::Local(nodes) => nodes.bootstrap(),
            Inner::External(bootstrap) => bootstrap.clone(),
        }
    }

    /// What this broker is, for test logs: "Apache Kafka 4.4.0 (KRaft, 1
    /// node) at 127.0.0.1:port".
    pub fn describe(&self) -> String {
        match &self.inner {
            Inner::Local(nodes) => format!(
                "Apache Kafka {KAFKA_VERSION} (KRaft, 1 node, {}) at {}",
                nodes.nodes[0].protocol(),
                self.bootstrap()
            ),
            Inner::External(bootstrap) => {
                format!("the broker in {KAFKA_BOOTSTRAP_ENV} at {bootstrap}")
            }
        }
    }

    /// A transport configuration for this broker, tuned for tests (short
    /// heartbeats and session, 4 partitions per new topic). Plaintext: a
    /// test of a secured broker sets `tls` and `sasl` itself.
    pub fn config(&self) -> KafkaConfig {
        test_config(&self.bootstrap())
    }

    /// Whether [`restart`](Self::restart) works: not for a broker you run.
    pub fn can_restart(&self) -> bool {
        matches!(self.inner, Inner::Local(_))
    }

    /// Stops the broker as `how` says and starts it again on the same ports
    /// with the same data; returns once it serves metadata again.
    ///
    /// # Errors
    /// The broker is the external one, or did not start again.
    pub fn restart(&self, how: Stop) -> io::Result<()> {
        self.local()?.restart(1, how)
    }

    /// Where the broker keeps its data and its log (`node-1/broker.log`).
    pub fn data_dir(&self) -> Option<PathBuf> {
        match &self.inner {
            Inner::Local(nodes) => Some(nodes.dir.path().to_owned()),
            Inner::External(_) => None,
        }
    }

    fn local(&self) -> io::Result<&Nodes> {
        match &self.inner {
            Inner::Local(nodes) => Ok(nodes),
            Inner::External(bootstrap) => Err(io::Error::new(
                ErrorKind::Unsupported,
                format!("cannot restart the broker at {bootstrap} ({KAFKA_BOOTSTRAP_ENV})"),
            )),
        }
    }
}

/// Three Apache Kafka nodes on this machine forming one cluster
/// (replication factor 3 and `min.insync.replicas` 2 for new and internal
/// topics), each killable and restartable on its own. Node ids are 1, 2, 3.
#[derive(Debug)]
pub struct KafkaCluster {
    nodes: Nodes,
}

impl KafkaCluster {
    /// Starts three plaintext nodes; returns once all serve metadata.
    ///
    /// # Errors
    /// As [`KafkaBroker::start`].
    pub fn start() -> io::Result<Self> {
        Self::start_with(&BrokerOptions::default())
    }

    /// Starts three nodes with these options.
    ///
    /// # Errors
    /// As [`KafkaBroker::start`].
    pub fn start_with(options: &BrokerOptions) -> io::Result<Self> {
        Ok(Self {
            nodes: Nodes::start(3, 2, options)?,
        })
    }

    /// Every node's client `host:port`, comma-separated.
    pub fn bootstrap(&self) -> String {
        self.nodes.bootstrap()
    }

    /// A transport configuration for the cluster, tuned for tests as
    /// [`KafkaBroker::config`].
    pub fn config(&self) -> KafkaConfig {
        test_config(&self.bootstrap())
    }

    /// `host:port` of node `id`'s proxied client listener, the upstream of
    /// its proxy; `None` without [`BrokerOptions::proxy_ports`].
    pub fn proxied_address(&self, id: u32) -> Option<String> {
        self.nodes.node(id).ok().and_then(Node::proxied_address)
    }

    /// The node ids: 1, 2, 3.
    pub fn node_ids(&self) -> Vec<u32> {
        self.nodes.nodes.iter().map(Node::id).collect()
    }

    /// Whether node `id`'s process runs.
    pub fn is_running(&self, id: u32) -> bool {
        self.nodes.node(id).is_ok_and(Node::is_running)
    }

    /// Node `id`'s data directory (`log.dirs`, also its KRaft metadata
    /// log); its own log file is outside it. The same after a restart.
    ///
    /// # Errors
    /// No such node.
    pub fn data_dir(&self, id: u32) -> io::Result<PathBuf> {
        Ok(self.nodes.node(id)?.data_dir())
    }

    /// Stops node `id` as `how` says, and leaves it stopped.
    ///
    /// # Errors
    /// No such node, or a graceful stop that had to be forced.
    pub fn stop(&self, id: u32, how: Stop) -> io::Result<()> {
        self.nodes.stop(id, how)
    }

    /// Starts node `id` again with its data; returns once it serves
    /// metadata.
    ///
    /// # Errors
    /// No such node, or it did not start.
    pub fn start_node(&self, id: u32) -> io::Result<()> {
        self.nodes.start_node(id)
    }

    /// Stops node `id` as `how` says and starts it again.
    ///
    /// # Errors
    /// As [`stop`](Self::stop) and [`start_node`](Self::start_node).
    pub fn restart(&self, id: u32, how: Stop) -> io::Result<()> {
        self.nodes.restart(id, how)
    }

    /// The node leading `partition` of `topic`, asked of any running node.
    ///
    /// # Errors
    /// No running node answered, or the partition has no leader now.
    pub fn leader_of(&self, topic: &str, partition: i32) -> io::Result<u32> {
        let running: Vec<String> = self
            .nodes
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .map(Node::internal_address)
            .collect();
        let probe: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", running.join(","))
            .set("log_level", "0")
            .create()
            .map_err(io::Error::other)?;
        let metadata = probe
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(io::Error::other)?;
        metadata
            .topics()
            .iter()
            .flat_map(|t| t.partitions())
            .find(|p| p.id() == partition)
            .map(|p| p.leader())
            .and_then(|leader| u32::try_from(leader).ok())
            .ok_or_else(|| io::Error::other(format!("{topic}/{partition} has no leader right now")))
    }

    /// What this cluster is, for test logs.
    pub fn describe(&self) -> String {
        format!(
            "Apache Kafka {KAFKA_VERSION} (KRaft, 3 nodes, replication 3, min.insync.replicas 2) at {}",
            self.bootstrap()
        )
    }
}
