//! A partition leader SIGKILLed mid-stream on a three-broker Apache Kafka
//! cluster (replication 3, `min.insync.replicas` 2), then brought back,
//! while an `EventBus` publishes and another consumes 20,000 envelopes over
//! 500 aggregates: no acknowledged publish is lost, each aggregate's first
//! deliveries keep their order, and the duplicates are counted.
//!
//! `harness = false`, so the counts it prints show in `cargo xtask test`.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Result, ensure};
use evbus::{
    Backend, BusConfig, Envelope, EventBus, TopicOptions,
    kafka::testkit::{KafkaCluster, Stop},
};
use parking_lot::Mutex;

const AGGREGATES: usize = 500;
const VERSIONS: i64 = 40;
const KILL_AFTER_ROUND: i64 = 10;
const RESTART_AFTER_ROUND: i64 = 25;
const WITHIN: Duration = Duration::from_secs(180);

fn bus_config(cluster: &KafkaCluster, service: &str) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.service_name = service.into();
    config.kafka = cluster.config();
    config
}

fn main() -> std::process::ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(a_killed_partition_leader_loses_no_acknowledged_event()) {
        Ok(()) => {
            println!("kafka_cluster: a_killed_partition_leader_loses_no_acknowledged_event ... ok");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "kafka_cluster: a_killed_partition_leader_loses_no_acknowledged_event FAILED: {e:#}"
            );
            std::process::ExitCode::FAILURE
        }
    }
}

async fn a_killed_partition_leader_loses_no_acknowledged_event() -> Result<()> {
    let cluster = Arc::new(tokio::task::spawn_blocking(KafkaCluster::start).await??);
    println!("against {}", cluster.describe());
    let topic = format!("leader-kill-{}", std::process::id());

    let publisher = EventBus::from_config(bus_config(&cluster, "cluster-publisher")).await?;
    publisher
        .configure_topics([(
            topic.as_str(),
            TopicOptions::new().partitions(6).replicas(3),
        )])
        .await?;
    let consumer = EventBus::from_config(bus_config(&cluster, "cluster-consumer")).await?;
    // (aggregate, version, delivery count) in handling order.
    let handled: Arc<Mutex<Vec<(String, i64, u32)>>> = Arc::default();
    let log = handled.clone();
    consumer
        .subscribe_envelope(&topic, move |event: Envelope, meta| {
            let log = log.clone();
            async move {
                log.lock().push((
                    event.aggregate_id().to_owned(),
                    event.event_version(),
                    meta.delivery_count,
                ));
                Ok(())
            }
        })
        .await?;

    // Round r publishes version r of every aggregate and waits until each is
    // acknowledged (a failed publish is sent again with the same event id),
    // so the broker holds every aggregate's versions in order.
    let mut retried_publishes = 0;
    let mut killed = None;
    let mut recovered = None;
    for version in 1..=VERSIONS {
        let mut pending: Vec<Envelope> = (0..AGGREGATES)
            .map(|a| {
                Envelope::builder(format!("agg-{a}"), "Tested", version, "{}")
                    .build()
                    .expect("valid envelope")
            })
            .collect();
        let deadline = Instant::now() + WITHIN;
        while !pending.is_empty() {
            ensure!(
                Instant::now() < deadline,
                "round {version} never acknowledged"
            );
            let results = publisher.publish_batch(&topic, &pending).await?;
            let before = pending.len();
            pending = pending
                .into_iter()
                .zip(results)
                .filter(|(_, r)| r.is_err())
                .map(|(e, _)| e)
                .collect();
            if !pending.is_empty() {
                retried_publishes += pending.len();
                println!(
                    "round {version}: {} of {before} publishes failed, retrying",
                    pending.len()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        if version == KILL_AFTER_ROUND {
            let leader = cluster.leader_of(&topic, 0)?;
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.stop(leader, Stop::Kill)).await??;
            println!("round {version}: SIGKILLed node {leader}, the leader of partition 0");
            killed = Some((leader, Instant::now()));
        }
        if version == RESTART_AFTER_ROUND
            && let Some((leader, at)) = killed
        {
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.start_node(leader)).await??;
            recovered = Some(at.elapsed());
            println!(
                "round {version}: node {leader} is back after {:?}",
                at.elapsed()
            );
        }
    }
    ensure!(recovered.is_some(), "the leader was never restarted");

    let total = AGGREGATES * VERSIONS as usize;
    let deadline = Instant::now() + WITHIN;
    loop {
        let distinct: HashSet<(String, i64)> = handled
            .lock()
            .iter()
            .map(|(a, v, _)| (a.clone(), *v))
            .collect();
        if distinct.len() == total {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "{} of {total} acknowledged events were never handled",
            total - distinct.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consumer.close().await?;
    publisher.close().await?;

    let handled = handled.lock().clone();
    let mut next: HashMap<&str, i64> = HashMap::new();
    let mut reorders = 0;
    for (aggregate, version, _) in &handled {
        let expected = next.entry(aggregate).or_insert(1);
        if *version == *expected {
            *expected += 1;
        } else if *version > *expected {
            reorders += 1;
        }
    }
    let redelivered = handled.iter().filter(|(_, _, count)| *count > 1).count();
    let duplicates = handled.len() - total;
    println!(
        "leader kill: {total} events published and acknowledged ({retried_publishes} publishes \
         retried), {} handled, 0 lost, {reorders} reordered, {duplicates} duplicates \
         ({redelivered} redeliveries)",
        handled.len()
    );
    ensure!(reorders == 0, "{reorders} first deliveries out of order");
    ensure!(
        next.values().all(|&n| n == VERSIONS + 1),
        "an aggregate is missing versions"
    );
    Ok(())
}
