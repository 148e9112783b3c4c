//! The scenarios: which faults each injects, on what load.

mod broker;
mod consumer;
mod disk;
pub mod network;
pub mod partition;
mod soak;
mod wire;

use std::{sync::Arc, time::Duration};

use super::{
    cli::ScenarioName,
    clusters::Cluster,
    report::Row,
    workload::{self, Plan, Setup},
};

/// The load of the fault scenarios: 100 aggregates at 1,000 events/s.
pub fn fault_plan(quick: bool) -> Plan {
    Plan {
        aggregates: 100,
        rate: 1_000,
        publish_for: Duration::from_secs(if quick { 20 } else { 60 }),
        drain_within: Duration::from_secs(if quick { 60 } else { 120 }),
        sample_every: Duration::from_secs(2),
    }
}

/// The fault proxies a run starts before its cluster, when it includes the
/// scenarios that need them.
#[derive(Default)]
pub struct Proxies {
    /// In front of the clients' connections: the network scenario's, which
    /// takes it.
    pub network: Option<network::Prepared>,
    /// In front of the NATS routes: the partition scenario's, kept while
    /// the cluster runs since its routes go through it.
    pub routes: Option<Arc<partition::RouteProxies>>,
}

/// Runs `scenario` on `cluster`; `None` when it does not apply there.
pub async fn run(
    scenario: ScenarioName,
    cluster: &Arc<Cluster>,
    proxies: &mut Proxies,
    quick: bool,
    soak_secs: Option<u64>,
    seed: u64,
) -> Option<Row> {
    if scenario == ScenarioName::Soak {
        let secs = soak_secs.unwrap_or(if quick { 60 } else { 600 });
        let mut row = workload::run(Setup {
            name: scenario.to_string(),
            cluster: cluster.clone(),
            target: cluster.target(),
            plan: soak::plan(Duration::from_secs(secs)),
            seed,
            faults: soak::random_faults(),
        })
        .await;
        soak::judge_growth(&mut row);
        row.passed = row.failures.is_empty();
        return Some(row);
    }
    if scenario == ScenarioName::Network {
        let proxied = proxies
            .network
            .take()
            .ok_or_else(|| anyhow::anyhow!("toxiproxy was not started before the cluster"))
            .and_then(|prepared| prepared.proxy(cluster));
        let (toxiproxy, target) = match proxied {
            Ok(proxied) => proxied,
            Err(error) => {
                let mut row = Row::new("network", cluster.broker(), seed);
                row.notes
                    .push(format!("error: starting the proxies: {error:#}"));
                row.judge();
                return Some(row);
            }
        };
        let mut plan = fault_plan(quick);
        plan.publish_for = network::publish_for();
        let mut row = workload::run(Setup {
            name: scenario.to_string(),
            cluster: cluster.clone(),
            target,
            plan,
            seed,
            faults: network::faults(toxiproxy.clone()),
        })
        .await;
        // Only now: the proxies must outlive the fault task, through the
        // publishing after the last fault and the drain.
        drop(toxiproxy);
        row.samples.clear();
        return Some(row);
    }
    let mut plan = fault_plan(quick);
    let faults = match scenario {
        ScenarioName::LeaderKill => broker::leader_kill(),
        ScenarioName::FollowerKill => broker::follower_kill(),
        ScenarioName::RollingRestart => broker::rolling_restart(),
        ScenarioName::ConsumerKill => consumer::kill_repeatedly(if quick { 3 } else { 6 }),
        ScenarioName::BadInput => return Some(wire::run(cluster, seed).await),
        ScenarioName::Disk => {
            plan.publish_for = disk::PUBLISH_FOR;
            disk::faults()
        }
        // Only on a cluster routed through the proxies (NATS).
        ScenarioName::Partition => {
            plan.publish_for = partition::publish_for();
            partition::faults(proxies.routes.clone()?)
        }
        _ => return None,
    };
    let mut row = workload::run(Setup {
        name: scenario.to_string(),
        cluster: cluster.clone(),
        target: cluster.target(),
        plan,
        seed,
        faults,
    })
    .await;
    // Samples matter for the soak only; they would bloat the JSON here.
    row.samples.clear();
    Some(row)
}
