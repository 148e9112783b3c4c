//! [`NatsCluster`]: three `nats-server` nodes joined by routes, with
//! clustered JetStream, for fault tests (leader kills, rolling restarts).

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use super::{NatsServerError, PORT_ATTEMPTS, find_binary, free_port};

/// How long a started cluster, or a restarted node, may take until
/// JetStream reports healthy (meta leader elected, streams caught up): a
/// Raft election and catch-up on a busy two-core machine.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often health is checked.
const HEALTH_POLL: Duration = Duration::from_millis(100);
/// The nodes of a cluster: three, so that a JetStream R3 stream keeps a
/// quorum with any one of them down.
const NODES: u32 = 3;

/// Why one attempt at starting a cluster did not start it.
enum Failed {
    /// A node lost a port to another process: start again on fresh ports.
    LostPort,
    /// Anything else, or a lost port on the last attempt.
    Error(NatsServerError),
}

/// How a node is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeStop {
    /// SIGKILL, like a crash or a power cut.
    Kill,
    /// SIGTERM: a controlled shutdown, as in a rolling restart.
    Graceful,
}

/// One node: its ports and store survive restarts.
#[derive(Debug)]
struct ClusterNode {
    id: u32,
    client_port: u16,
    route_port: u16,
    monitor_port: u16,
    store: PathBuf,
    child: Mutex<Option<Child>>,
}

/// How a [`NatsCluster`]'s nodes reach each other. The default: free
/// route ports, every node routed straight to the others.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Each node's route (cluster) port, in id order; empty: free ports.
    /// Given when something in front of the routes, such as a fault proxy,
    /// must know them before the cluster starts.
    pub route_ports: Vec<u16>,
    /// `(from, to)` → a loopback port: node `from` solicits its route to
    /// node `to` there (a proxy in front of `to`'s route port) instead of
    /// at `to`'s route port. Pairs not listed are routed directly.
    ///
    /// When any pair is listed, every node advertises an unreachable
    /// cluster address, so that no node learns another's real route port
    /// by gossip and routes around the proxies; the configured routes are
    /// then the only ones, and nodes retry them for ever.
    pub route_via: BTreeMap<(u32, u32), u16>,
}

/// Three JetStream-enabled `nats-server` nodes on free loopback ports,
/// routed to each other as one cluster, each with its own temporary store;
/// every node is killable and restartable on its own. Node ids are 1, 2, 3
/// and server names `evbus-n1`..`evbus-n3`. Stopped and deleted on drop.
///
/// Nodes do not advertise their client URLs to clients (`--no_advertise`):
/// a client reaches exactly the URLs it was given, so a fault proxy put in
/// front of them sees all of its traffic.
#[derive(Debug)]
pub struct NatsCluster {
    binary: PathBuf,
    nodes: Vec<ClusterNode>,
    route_via: BTreeMap<(u32, u32), u16>,
    // Dropped after `nodes` (field order), so processes stop first.
    dir: tempfile::TempDir,
}

impl NatsCluster {
    /// Starts three nodes and waits until every one reports JetStream
    /// healthy. Blocks the thread for that time (a few seconds).
    ///
    /// # Errors
    /// [`NatsServerError::NotFound`] says how to install the binary;
    /// [`NatsServerError::NotReady`] names the log of a node that did not
    /// become healthy; the cluster's directory is kept for it. A node that
    /// lost a port to another process is not an error: the cluster starts
    /// again on fresh ports.
    pub fn start() -> Result<Self, NatsServerError> {
        Self::start_with(&ClusterOptions::default())
    }

    /// As [`start`](Self::start), with the routes `options` describe.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_with(options: &ClusterOptions) -> Result<Self, NatsServerError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::start_once(options, attempts < PORT_ATTEMPTS) {
                Ok(cluster) => return Ok(cluster),
                Err(Failed::LostPort) => {}
                Err(Failed::Error(error)) => return Err(error),
            }
        }
    }

    /// Starts three nodes on newly chosen free ports (where `options` does
    /// not fix them). On failure the nodes are stopped; the directory is
    /// deleted when a node lost a port race and `retry`, and kept
    /// otherwise, so the log the error names can be read.
    fn start_once(options: &ClusterOptions, retry: bool) -> Result<Self, Failed> {
        let binary = find_binary().ok_or(Failed::Error(NatsServerError::NotFound))?;
        let io = |source| {
            Failed::Error(NatsServerError::Io {
                binary: binary.clone(),
                source,
            })
        };
        let dir = tempfile::Builder::new()
            .prefix("evbus-nats-cluster-")
            .tempdir()
            .map_err(io)?;
        let mut nodes = Vec::new();
        for id in 1..=NODES {
            let store = dir.path().join(format!("n{id}"));
            std::fs::create_dir_all(&store).map_err(io)?;
            nodes.push(ClusterNode {
                id,
                client_port: free_port().map_err(io)?,
                route_port: match options.route_ports.get(id as usize - 1) {
                    Some(&port) => port,
                    None => free_port().map_err(io)?,
                },
                monitor_port: free_port().map_err(io)?,
                store,
                child: Mutex::new(None),
            });
        }
        let mut cluster = Self {
            binary,
            nodes,
            route_via: options.route_via.clone(),
            dir,
        };
        let started = cluster
            .nodes
            .iter()
            .try_for_each(|node| cluster.spawn(node))
            .and_then(|()| {
                cluster
                    .nodes
                    .iter()
                    .try_for_each(|node| cluster.wait_healthy(node))
            });
        match started {
            Ok(()) => Ok(cluster),
            // Read before the drop below deletes the log.
            Err(error) if retry && error.lost_port_race() => Err(Failed::LostPort),
            Err(error) => {
                if matches!(error, NatsServerError::NotReady { .. }) {
                    cluster.dir.disable_cleanup(true);
                }
                Err(Failed::Error(error))
            }
        }
    }

    /// The node ids: 1, 2, 3.
    pub fn node_ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// Every node's client URL, `nats://127.0.0.1:<port>`.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| client_url(n.client_port))
            .collect()
    }

    /// Node `id`'s client port (the same after a restart).
    ///
    /// # Panics
    /// There is no node `id`.
    pub fn client_port(&self, id: u32) -> u16 {
        self.node(id).client_port
    }

    /// Node `id`'s route (cluster) port, where the other nodes connect.
    ///
    /// # Panics
    /// There is no node `id`.
    pub fn route_port(&self, id: u32) -> u16 {
        self.node(id).route_port
    }

    /// How many route connections node `id` has now (several per peer: the
    /// server pools them), from its `/routez`; `None` when it does not
    /// answer.
    pub fn route_count(&self, id: u32) -> Option<u64> {
        let body = http_get(self.node(id).monitor_port, "/routez").ok()?;
        serde_json::from_str::<serde_json::Value>(&body)
            .ok()?
            .get("num_routes")?
            .as_u64()
    }

    /// Waits up to `within` until node `id`'s route count satisfies `want`;
    /// the count then, or `None` if it did not come to that in time.
    pub fn wait_route_count(
        &self,
        id: u32,
        within: Duration,
        want: impl Fn(u64) -> bool,
    ) -> Option<u64> {
        poll(within, || self.route_count(id).filter(|count| want(*count)))
    }

    /// Waits up to `within` until a running node reports a JetStream meta
    /// leader other than node `not`, as after `not`, the leader, was
    /// stopped; that leader's id, or `None` if none was elected in time.
    /// Until then the JetStream API does not answer.
    pub fn wait_meta_leader(&self, not: u32, within: Duration) -> Option<u32> {
        poll(within, || {
            self.nodes
                .iter()
                .filter(|n| n.id != not && self.is_running(n.id))
                .filter_map(|n| http_get(n.monitor_port, "/jsz").ok())
                .filter_map(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                .filter_map(|jsz| {
                    let name = jsz.pointer("/meta_cluster/leader")?.as_str()?;
                    self.node_named(name)
                })
                .find(|leader| *leader != not)
        })
    }

    /// The directory holding every node's store and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Node `id`'s store directory (JetStream data and its log); the same
    /// after a restart.
    ///
    /// # Panics
    /// There is no node `id`.
    pub fn store_dir(&self, id: u32) -> &Path {
        &self.node(id).store
    }

    /// The server name of node `id`, as JetStream reports its leaders.
    pub fn server_name(id: u32) -> String {
        format!("evbus-n{id}")
    }

    /// The node whose server name is `name`, if any.
    pub fn node_named(&self, name: &str) -> Option<u32> {
        self.node_ids()
            .into_iter()
            .find(|id| Self::server_name(*id) == name)
    }

    /// Whether node `id`'s process runs.
    pub fn is_running(&self, id: u32) -> bool {
        !exited(&self.node(id).child)
    }

    /// Stops node `id` as `how` says and waits for its process to end; its
    /// store stays. Does nothing when it is not running.
    ///
    /// # Errors
    /// The signal could not be sent.
    pub fn stop(&self, id: u32, how: NodeStop) -> Result<(), NatsServerError> {
        let Some(mut child) = self.node(id).child.lock().take() else {
            return Ok(());
        };
        let io = |source| NatsServerError::Io {
            binary: self.binary.clone(),
            source,
        };
        match how {
            // Already exited is fine; reaping it is all that is left.
            NodeStop::Kill => {
                let _ = child.kill();
            }
            NodeStop::Graceful => {
                // std sends only SIGKILL; `kill` sends SIGTERM without
                // unsafe code.
                Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status()
                    .map_err(io)?;
            }
        }
        child.wait().map_err(io)?;
        Ok(())
    }

    /// Starts node `id` again on its ports with its store and waits until
    /// it reports JetStream healthy (caught up with the others).
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn start_node(&self, id: u32) -> Result<(), NatsServerError> {
        let node = self.node(id);
        self.spawn(node)?;
        self.wait_healthy(node)
    }

    /// Stops node `id` as `how` says and starts it again.
    ///
    /// # Errors
    /// As [`stop`](Self::stop) and [`start_node`](Self::start_node).
    pub fn restart(&self, id: u32, how: NodeStop) -> Result<(), NatsServerError> {
        self.stop(id, how)?;
        self.start_node(id)
    }

    /// The node leading JetStream stream `stream`, asked of the running
    /// nodes' monitoring endpoints; `None` while it has no leader.
    pub fn stream_leader(&self, stream: &str) -> Option<u32> {
        let path = "/jsz?streams=true&accounts=true";
        self.nodes
            .iter()
            .filter(|n| self.is_running(n.id))
            .filter_map(|n| http_get(n.monitor_port, path).ok())
            .filter_map(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
            .find_map(|jsz| {
                let accounts = jsz.get("account_details")?.as_array()?;
                accounts
                    .iter()
                    .filter_map(|a| a.get("stream_detail")?.as_array())
                    .flatten()
                    .find(|s| s.get("name").and_then(|n| n.as_str()) == Some(stream))?
                    .pointer("/cluster/leader")?
                    .as_str()
                    .and_then(|name| self.node_named(name))
            })
    }

    /// What this cluster is, for logs.
    pub fn describe(&self) -> String {
        format!(
            "nats-server ({} nodes, routes, clustered JetStream) at {}",
            self.nodes.len(),
            self.urls().join(",")
        )
    }

    fn node(&self, id: u32) -> &ClusterNode {
        self.nodes
            .iter()
            .find(|n| n.id == id)
            .unwrap_or_else(|| panic!("there is no NATS node {id}"))
    }

    fn spawn(&self, node: &ClusterNode) -> Result<(), NatsServerError> {
        let routes = self
            .nodes
            .iter()
            .filter(|other| other.id != node.id)
            .map(|other| {
                let port = self
                    .route_via
                    .get(&(node.id, other.id))
                    .copied()
                    .unwrap_or(other.route_port);
                format!("nats://127.0.0.1:{port}")
            })
            .collect::<Vec<_>>()
            .join(",");
        let mut command = Command::new(&self.binary);
        if !self.route_via.is_empty() {
            // Port 1 on loopback refuses connections: a route learned by
            // gossip fails once and is not retried (no `connect_retries`).
            command.args(["--cluster_advertise", "127.0.0.1:1"]);
        }
        let child = command
            .args(["--addr", "127.0.0.1", "--port"])
            .arg(node.client_port.to_string())
            .args(["--http_port", &node.monitor_port.to_string()])
            .args(["--server_name", &Self::server_name(node.id)])
            .args(["--cluster_name", "evbus-chaos", "--cluster"])
            .arg(format!("nats://127.0.0.1:{}", node.route_port))
            .args(["--routes", &routes, "--no_advertise"])
            .args(["--jetstream", "--store_dir"])
            .arg(&node.store)
            .arg("--log")
            .arg(node.store.join("nats-server.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| NatsServerError::Io {
                binary: self.binary.clone(),
                source,
            })?;
        *node.child.lock() = Some(child);
        Ok(())
    }

    fn wait_healthy(&self, node: &ClusterNode) -> Result<(), NatsServerError> {
        // `/healthz` answers 200 only once JetStream has a meta leader and
        // this node's streams and consumers are current.
        let ready = poll(HEALTHY_TIMEOUT, || {
            let healthy =
                http_get(node.monitor_port, "/healthz").is_ok_and(|body| body.contains("\"ok\""));
            (healthy || exited(&node.child)).then_some(())
        });
        let gone = exited(&node.child);
        if ready.is_some() && !gone {
            return Ok(());
        }
        Err(NatsServerError::NotReady {
            port: node.client_port,
            waited: HEALTHY_TIMEOUT,
            exited: gone,
            log: node.store.join("nats-server.log"),
        })
    }
}

/// Asks `check` every [`HEALTH_POLL`] until it answers or `within` passed.
/// The servers announce none of what the tests wait for (health, routes,
/// a meta leader), so their monitoring endpoints are asked.
fn poll<T>(within: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(answer) = check() {
            return Some(answer);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(HEALTH_POLL);
    }
}

impl Drop for NatsCluster {
    fn drop(&mut self) {
        for node in &self.nodes {
            if let Some(mut child) = node.child.lock().take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

fn client_url(port: u16) -> String {
    format!("nats://127.0.0.1:{port}")
}

fn exited(child: &Mutex<Option<Child>>) -> bool {
    match child.lock().as_mut() {
        Some(child) => !matches!(child.try_wait(), Ok(None)),
        None => true,
    }
}

/// The body of `GET path` on the monitoring port, or an error for any other
/// status than 200. Plain HTTP/1.0 over loopback: no client library needed.
fn http_get(port: u16, path: &str) -> std::io::Result<String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no HTTP header"))?;
    if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(
            head.lines().next().unwrap_or("").to_owned(),
        ));
    }
    Ok(body.to_owned())
}
