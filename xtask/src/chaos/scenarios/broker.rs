//! Broker node faults: the leader SIGKILLed, a follower SIGKILLed, every
//! node restarted in turn. Each starts once the load is flowing and brings
//! every node back before the publisher stops, so the events published
//! after the last fault show the recovery.

use std::time::Instant;

use futures::FutureExt;
use rand::seq::IndexedRandom;

use crate::chaos::workload::{FaultCtx, Faults};

/// SIGKILLs the topic's leader at 30% of the run, starts it again at 60%.
pub fn leader_kill() -> Faults {
    Box::new(|ctx: FaultCtx| {
        async move {
            tokio::time::sleep(ctx.publish_for.mul_f64(0.3)).await;
            let leader = ctx.cluster.leader_of(&ctx.topic).await?;
            ctx.mark(format!("SIGKILL node {leader}, the leader"));
            ctx.cluster.stop(leader, true).await?;
            tokio::time::sleep(ctx.publish_for.mul_f64(0.3)).await;
            ctx.mark(format!("start node {leader} again"));
            ctx.cluster.start_node(leader).await
        }
        .boxed()
    })
}

/// SIGKILLs a node that does not lead the topic (chosen by the seed) at
/// 30% of the run, starts it again at 60%.
pub fn follower_kill() -> Faults {
    Box::new(|mut ctx: FaultCtx| {
        async move {
            tokio::time::sleep(ctx.publish_for.mul_f64(0.3)).await;
            let leader = ctx.cluster.leader_of(&ctx.topic).await?;
            let followers: Vec<u32> = ctx
                .cluster
                .node_ids()
                .into_iter()
                .filter(|id| *id != leader)
                .collect();
            let follower = *followers.choose(&mut ctx.rng).expect("three nodes");
            ctx.mark(format!("SIGKILL node {follower}, a follower"));
            ctx.cluster.stop(follower, true).await?;
            tokio::time::sleep(ctx.publish_for.mul_f64(0.3)).await;
            ctx.mark(format!("start node {follower} again"));
            ctx.cluster.start_node(follower).await
        }
        .boxed()
    })
}

/// SIGTERMs every node in turn, each started again (and ready) before the
/// next stops, spread over the first 80% of the run.
pub fn rolling_restart() -> Faults {
    Box::new(|ctx: FaultCtx| {
        async move {
            let nodes = ctx.cluster.node_ids();
            let spacing = ctx.publish_for.mul_f64(0.8) / nodes.len() as u32;
            let began = Instant::now();
            for (turn, id) in (0u32..).zip(nodes) {
                tokio::time::sleep_until((began + spacing * turn + spacing / 4).into()).await;
                ctx.mark(format!("SIGTERM node {id} and start it again"));
                ctx.cluster.stop(id, false).await?;
                ctx.cluster.start_node(id).await?;
            }
            Ok(())
        }
        .boxed()
    })
}
