//! Network faults between the bus and the brokers: every client
//! connection (publisher and consumer) goes through a toxiproxy proxy in
//! front of each node, which injects 200 ms of latency, then cuts every
//! connection and refuses new ones, then black-holes them (accepts, never
//! answers), then throttles them to 32 KiB/s, each for several seconds
//! with clean periods between.
//!
//! Clients must not learn a way around the proxies. NATS: the nodes run
//! with `--no_advertise`, so clients know only the proxies. Kafka: clients
//! fetch the brokers' addresses from metadata, so each node gets a second
//! client listener that advertises its proxy's port
//! (`BrokerOptions::proxy_ports`); those ports are chosen before the
//! cluster starts ([`Prepared`]), the proxies created on them afterwards.

use std::{sync::Arc, time::Duration};

use futures::FutureExt;

use crate::chaos::{
    clusters::{Cluster, Target},
    toxiproxy::{Fault, Toxiproxy, free_port},
    workload::{FaultCtx, Faults},
};

/// The faults in order, each held this long, with [`CLEAN`] before each.
/// The black hole outlasts the NATS client's dead-connection check (three
/// ping intervals, see `Target::bus_config`), so the client must notice it
/// rather than be rescued by the proxy closing the connection at the end.
const SCHEDULE: [(Fault, &str, u64); 4] = [
    (
        Fault::Latency(Duration::from_millis(200)),
        "200 ms latency",
        5,
    ),
    (Fault::Cut, "connections cut, new ones refused", 4),
    (Fault::BlackHole, "black hole (accepts, never answers)", 10),
    (Fault::Slow(32), "slow link, 32 KiB/s", 5),
];
/// The clean period before each fault.
const CLEAN: Duration = Duration::from_secs(3);

/// toxiproxy started before the cluster, and the proxy ports the cluster
/// must advertise (Kafka only).
pub struct Prepared {
    toxiproxy: Toxiproxy,
    kafka_proxy_ports: Vec<u16>,
}

impl Prepared {
    /// Starts toxiproxy and, for Kafka, picks a free port per node.
    pub fn start(kafka: bool, nodes: usize) -> anyhow::Result<Self> {
        let toxiproxy = Toxiproxy::start()?;
        let kafka_proxy_ports = if kafka {
            (0..nodes).map(|_| free_port()).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok(Self {
            toxiproxy,
            kafka_proxy_ports,
        })
    }

    /// The ports a Kafka cluster advertises to proxied clients.
    pub fn kafka_proxy_ports(&self) -> Vec<u16> {
        self.kafka_proxy_ports.clone()
    }

    /// A proxy per node of `cluster`, and the target that reaches the nodes
    /// only through them.
    pub fn proxy(mut self, cluster: &Cluster) -> anyhow::Result<(Arc<Toxiproxy>, Target)> {
        let mut servers = Vec::new();
        for (index, id) in cluster.node_ids().into_iter().enumerate() {
            let name = format!("node-{id}");
            match cluster {
                Cluster::Nats(nats) => {
                    let upstream = format!("127.0.0.1:{}", nats.client_port(id));
                    let port = self.toxiproxy.create(&name, 0, &upstream)?;
                    servers.push(format!("nats://127.0.0.1:{port}"));
                }
                Cluster::Kafka(kafka) => {
                    let (Some(upstream), Some(&port)) =
                        (kafka.proxied_address(id), self.kafka_proxy_ports.get(index))
                    else {
                        anyhow::bail!("the Kafka cluster was started without proxy ports");
                    };
                    self.toxiproxy.create(&name, port, &upstream)?;
                    servers.push(format!("127.0.0.1:{port}"));
                }
            }
        }
        let target = Target {
            broker: cluster.broker(),
            servers,
        };
        Ok((Arc::new(self.toxiproxy), target))
    }
}

/// Runs [`SCHEDULE`] on every proxy at once.
pub fn faults(toxiproxy: Arc<Toxiproxy>) -> Faults {
    Box::new(move |ctx: FaultCtx| {
        async move {
            for (fault, what, secs) in SCHEDULE {
                tokio::time::sleep(CLEAN).await;
                ctx.mark(format!("{what} for {secs} s"));
                let proxy = toxiproxy.clone();
                tokio::task::spawn_blocking(move || proxy.inject(fault)).await??;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let proxy = toxiproxy.clone();
                tokio::task::spawn_blocking(move || proxy.heal()).await??;
            }
            Ok(())
        }
        .boxed()
    })
}

/// How long the publisher runs: the schedule, then as long again for the
/// recovery to show.
pub fn publish_for() -> Duration {
    let schedule: u64 = SCHEDULE.iter().map(|(_, _, secs)| secs).sum();
    (CLEAN * SCHEDULE.len() as u32 + Duration::from_secs(schedule)) * 3 / 2
}
