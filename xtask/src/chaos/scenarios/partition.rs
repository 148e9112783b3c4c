//! Network partitions between cluster nodes (NATS): every route between
//! two nodes runs through a toxiproxy proxy, one per direction, so one node
//! can be cut off from the others while its clients stay connected to it.
//! The stream leader is cut off first, then a follower, each for
//! [`ISOLATED`] with clean periods between: the majority must elect a new
//! leader and go on, the publishes and pulls that reach the cut-off node
//! must fail or wait rather than be lost, and the node must catch up once
//! its routes return.
//!
//! Kafka is left out: each broker's inter-broker and controller listeners
//! advertise one address to all peers, so a proxy per listener sees every
//! peer's traffic to that broker but none of the broker's own connections
//! out; only a one-way partition could be cut that way.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use anyhow::bail;
use evbus::nats::testkit::ClusterOptions;
use futures::FutureExt;
use rand::seq::IndexedRandom;

use crate::chaos::{
    toxiproxy::{Toxiproxy, free_port},
    workload::{FaultCtx, Faults},
};

/// The nodes of a NATS chaos cluster (see `NatsCluster`).
const NODES: u32 = 3;
/// How long a node stays cut off: above the Raft election timeout, so the
/// majority elects a new leader while the old one is away.
const ISOLATED: Duration = Duration::from_secs(10);
/// The clean period before each partition.
const CLEAN: Duration = Duration::from_secs(5);
/// How soon, into a partition, the cut-off node must have no route left.
const PROOF_WITHIN: Duration = Duration::from_secs(3);
/// How long the routes may take to come back once healed.
const REJOIN_WITHIN: Duration = Duration::from_secs(30);

/// toxiproxy with a proxy for each ordered pair of nodes, made before the
/// cluster starts (the nodes' route ports are chosen here), and kept for
/// as long as the cluster runs: the routes go through it.
pub struct RouteProxies {
    toxiproxy: Toxiproxy,
    options: ClusterOptions,
}

impl RouteProxies {
    /// Starts toxiproxy and creates a proxy from a free port to each
    /// node's route port, for each other node.
    pub fn start() -> anyhow::Result<Self> {
        let mut toxiproxy = Toxiproxy::start()?;
        let route_ports = (0..NODES)
            .map(|_| free_port())
            .collect::<Result<Vec<_>, _>>()?;
        let mut route_via = BTreeMap::new();
        for (from, to) in pairs() {
            let upstream = format!("127.0.0.1:{}", route_ports[to as usize - 1]);
            let port = toxiproxy.create(&proxy_name(from, to), 0, &upstream)?;
            route_via.insert((from, to), port);
        }
        Ok(Self {
            toxiproxy,
            options: ClusterOptions {
                route_ports,
                route_via,
            },
        })
    }

    /// The cluster options that send every route through the proxies.
    pub fn cluster_options(&self) -> ClusterOptions {
        self.options.clone()
    }

    /// Disables the proxies to and from `node`.
    fn isolate(&self, node: u32) -> anyhow::Result<()> {
        let names: Vec<String> = pairs()
            .filter(|(from, to)| *from == node || *to == node)
            .map(|(from, to)| proxy_name(from, to))
            .collect();
        self.toxiproxy.disable(&names)
    }
}

/// Cuts off the stream leader, then a follower chosen by the seed, each for
/// [`ISOLATED`]; proves each partition took (the node has no route left)
/// and waits for the node's routes to return before going on.
pub fn faults(routes: Arc<RouteProxies>) -> Faults {
    Box::new(move |mut ctx: FaultCtx| {
        async move {
            for leader_first in [true, false] {
                tokio::time::sleep(CLEAN).await;
                let leader = ctx.cluster.leader_of(&ctx.topic).await?;
                let (node, role) = if leader_first {
                    (leader, "the stream leader")
                } else {
                    let followers: Vec<u32> = (1..=NODES).filter(|id| *id != leader).collect();
                    let follower = *followers.choose(&mut ctx.rng).expect("three nodes");
                    (follower, "a follower")
                };
                let secs = ISOLATED.as_secs();
                ctx.mark(format!(
                    "node {node}, {role}, cut off from the others for {secs} s"
                ));
                let cut = tokio::time::Instant::now();
                let proxies = routes.clone();
                tokio::task::spawn_blocking(move || proxies.isolate(node)).await??;
                let no_routes = |count| count == 0;
                if ctx
                    .cluster
                    .wait_route_count(node, PROOF_WITHIN, no_routes)
                    .await?
                    .is_none()
                {
                    bail!(
                        "the partition did not take: node {node} still had routes \
                         {PROOF_WITHIN:?} after its proxies were disabled"
                    );
                }
                tokio::time::sleep_until(cut + ISOLATED).await;
                let proxies = routes.clone();
                tokio::task::spawn_blocking(move || proxies.toxiproxy.heal()).await??;
                let some_routes = |count| count > 0;
                if ctx
                    .cluster
                    .wait_route_count(node, REJOIN_WITHIN, some_routes)
                    .await?
                    .is_none()
                {
                    bail!("node {node}'s routes did not return within {REJOIN_WITHIN:?}");
                }
            }
            Ok(())
        }
        .boxed()
    })
}

/// How long the publisher runs: the two partitions and their clean
/// periods, then as long again for the recovery to show.
pub fn publish_for() -> Duration {
    (CLEAN + ISOLATED) * 3
}

/// Every ordered pair of distinct nodes.
fn pairs() -> impl Iterator<Item = (u32, u32)> {
    (1..=NODES).flat_map(|from| {
        (1..=NODES)
            .filter(move |to| *to != from)
            .map(move |to| (from, to))
    })
}

/// The proxy carrying node `from`'s route to node `to`.
fn proxy_name(from: u32, to: u32) -> String {
    format!("route-{from}-{to}")
}
