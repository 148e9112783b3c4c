//! The orchestration of a chaos run: clusters per broker, the scenarios on
//! each, the report, and the exit status.

use std::{
    sync::Arc,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use anyhow::bail;

use super::{
    Args, child,
    cli::{ScenarioName, TransportChoice},
    clusters::{Broker, Cluster},
    report::{Report, Row},
    scenarios::{self, Proxies, network::Prepared, partition::RouteProxies},
};
use crate::perf::probe;

/// Entry point of the release build.
pub fn main(args: Args) -> anyhow::Result<()> {
    if let Some(spec) = &args.child {
        return child::main(spec);
    }
    crate::cmd::block_on(run(args))?
}

async fn run(mut args: Args) -> anyhow::Result<()> {
    let began = Instant::now();
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    });
    args.seed = Some(seed);
    let command = format!("cargo xtask chaos {}", args.to_command_line().join(" "));
    println!("{command}");
    let scenarios = if args.scenario.is_empty() {
        <ScenarioName as clap::ValueEnum>::value_variants().to_vec()
    } else {
        args.scenario.clone()
    };
    let brokers = match args.transport {
        TransportChoice::Nats => vec![Broker::Nats],
        TransportChoice::Kafka => vec![Broker::Kafka],
        TransportChoice::All => vec![Broker::Nats, Broker::Kafka],
    };

    let mut rows = Vec::new();
    let mut clusters = Vec::new();
    for (broker, scenarios) in cluster_groups(&brokers, &scenarios) {
        // toxiproxy first: a Kafka cluster advertises the proxies' ports,
        // a NATS cluster's routes go through them.
        let network = if scenarios.contains(&ScenarioName::Network) {
            Some(
                tokio::task::spawn_blocking(move || Prepared::start(broker == Broker::Kafka, 3))
                    .await??,
            )
        } else {
            None
        };
        let routes = if broker == Broker::Nats && scenarios.contains(&ScenarioName::Partition) {
            Some(Arc::new(
                tokio::task::spawn_blocking(RouteProxies::start).await??,
            ))
        } else {
            None
        };
        let proxy_ports = network
            .as_ref()
            .map(Prepared::kafka_proxy_ports)
            .unwrap_or_default();
        let nats_routes = routes
            .as_ref()
            .map(|r| r.cluster_options())
            .unwrap_or_default();
        let mut proxies = Proxies { network, routes };
        println!("\n==> starting a {} cluster", broker.name());
        let cluster = Arc::new(
            tokio::task::spawn_blocking(move || Cluster::start(broker, proxy_ports, &nats_routes))
                .await??,
        );
        println!("    {}", cluster.describe());
        clusters.push(cluster.describe());
        for &scenario in &scenarios {
            println!("==> {scenario} on {}", broker.name());
            let Some(row) = scenarios::run(
                scenario,
                &cluster,
                &mut proxies,
                args.quick,
                args.soak_secs,
                seed,
            )
            .await
            else {
                println!("    does not apply to {}", broker.name());
                continue;
            };
            print_row(&row);
            rows.push(row);
        }
        // The cluster is stopped (and its data deleted) before the next
        // one starts: two clusters do not fit on a small machine.
        drop(cluster);
        drop(proxies);
    }

    let report = Report {
        command,
        seed,
        machine: probe::machine(),
        clusters,
        seconds: began.elapsed().as_secs_f64(),
        rows,
    };
    println!("\n{}", report.table());
    let dir = report.write()?;
    println!("report: {}", dir.display());
    let failed: Vec<String> = report
        .rows
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("{} on {}", r.scenario, r.broker))
        .collect();
    if !failed.is_empty() {
        bail!("failed (seed {seed}): {}", failed.join(", "));
    }
    Ok(())
}

/// The clusters a run starts, one after the other, and the scenarios each
/// runs: one per broker, and on NATS a second one, routed through proxies,
/// for the partition scenario alone, so that the other scenarios do not
/// run with toxiproxy carrying their replication.
fn cluster_groups(
    brokers: &[Broker],
    scenarios: &[ScenarioName],
) -> Vec<(Broker, Vec<ScenarioName>)> {
    let mut groups = Vec::new();
    for &broker in brokers {
        let (partition, rest): (Vec<ScenarioName>, Vec<ScenarioName>) = scenarios
            .iter()
            .partition(|s| broker == Broker::Nats && **s == ScenarioName::Partition);
        for group in [rest, partition] {
            if !group.is_empty() {
                groups.push((broker, group));
            }
        }
    }
    groups
}

fn print_row(row: &Row) {
    println!(
        "    published {} acked {} handled {} lost {} reorders {} duplicates {} \
         recoveries {:?} ms: {}",
        row.published,
        row.acknowledged,
        row.handled,
        row.lost,
        row.reorders,
        row.duplicates,
        row.recoveries_ms,
        if row.passed { "pass" } else { "FAIL" }
    );
    for note in &row.notes {
        println!("    {note}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_partition_scenario_gets_a_nats_cluster_of_its_own() {
        use ScenarioName::{LeaderKill, Partition};
        let groups = cluster_groups(&[Broker::Nats, Broker::Kafka], &[LeaderKill, Partition]);
        assert_eq!(
            groups,
            vec![
                (Broker::Nats, vec![LeaderKill]),
                (Broker::Nats, vec![Partition]),
                // Kafka keeps it, to say that it does not apply there.
                (Broker::Kafka, vec![LeaderKill, Partition]),
            ]
        );
        assert_eq!(
            cluster_groups(&[Broker::Nats], &[Partition]),
            vec![(Broker::Nats, vec![Partition])]
        );
    }
}
