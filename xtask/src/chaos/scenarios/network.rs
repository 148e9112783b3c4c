//! Network faults between the bus and the brokers: every client
//! connection (publisher and consumer) goes through a [`Proxy`] in front of
//! each node, which injects 200 ms of latency, then cuts every connection
//! and refuses new ones, then black-holes them (accepts, never answers),
//! then throttles them to 32 KiB/s, each for a few seconds with clean
//! periods between.
//!
//! NATS only: the nodes run with `--no_advertise`, so clients know only
//! the proxies. Kafka clients learn the brokers' own addresses from the
//! metadata they fetch and would go around a proxy; that needs the
//! testkit's brokers to advertise proxy ports, which it cannot do yet.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::FutureExt;

use crate::chaos::{
    clusters::{Broker, Cluster, Target},
    proxy::{Fault, Proxy},
    workload::{FaultCtx, Faults},
};

/// The faults in order, each held this long, with this long clean before.
const SCHEDULE: [(Fault, &str, u64); 4] = [
    (
        Fault::Latency(Duration::from_millis(200)),
        "200 ms latency",
        5,
    ),
    (Fault::Cut, "connections cut, new ones refused", 4),
    (Fault::BlackHole, "black hole (accepts, never answers)", 5),
    (Fault::Slow(32 * 1024), "slow link, 32 KiB/s", 5),
];
/// The clean period before each fault.
const CLEAN: Duration = Duration::from_secs(3);

/// A proxy per node, and the target that reaches the nodes through them;
/// `None` for a broker whose clients cannot be proxied.
pub async fn proxies(cluster: &Cluster) -> anyhow::Result<Option<(Arc<Vec<Proxy>>, Target)>> {
    let Cluster::Nats(nats) = cluster else {
        return Ok(None);
    };
    let mut proxies = Vec::new();
    for id in nats.node_ids() {
        let upstream = SocketAddr::from((Ipv4Addr::LOCALHOST, nats.client_port(id)));
        proxies.push(Proxy::start(upstream).await?);
    }
    let servers = proxies
        .iter()
        .map(|p| format!("nats://127.0.0.1:{}", p.port()))
        .collect();
    let target = Target {
        broker: Broker::Nats,
        servers,
    };
    Ok(Some((Arc::new(proxies), target)))
}

/// Runs [`SCHEDULE`] on every proxy at once.
pub fn faults(proxies: Arc<Vec<Proxy>>) -> Faults {
    Box::new(move |ctx: FaultCtx| {
        async move {
            for (fault, what, secs) in SCHEDULE {
                tokio::time::sleep(CLEAN).await;
                ctx.mark(format!("{what} for {secs} s"));
                proxies.iter().for_each(|p| p.set(fault));
                tokio::time::sleep(Duration::from_secs(secs)).await;
                proxies.iter().for_each(|p| p.set(Fault::None));
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
