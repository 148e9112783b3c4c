//! Settlements: nack redelivers, reject does not, a dropped handle or a
//! departed member redelivers.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use anyhow::{Result, ensure};
use tokio::time::Instant;

use super::support::{
    Ctx, WITHIN, expect_quiet, id_of, ids, message, missing, next, publish_each, receive_all,
    subscribe,
};

const NACK_DELAY: Duration = Duration::from_millis(200);
/// Timers may fire a little early on some brokers; a redelivery this much
/// before the delay still counts as "after the delay".
const TIMER_SLACK: Duration = Duration::from_millis(50);

/// Of 100 messages the first two received are nacked with a delay: all 100
/// are acked in the end; the nacked two come back after the delay with a
/// higher delivery count; no acked message comes back.
pub(super) async fn nack_redelivers(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx.topic_and_subscription(&*transport, "nack").await?;
    let expected: HashSet<String> = ids("m", 100).into_iter().collect();
    publish_each(&*transport, &topic, expected.iter().map(|id| message(id))).await?;

    let deadline = Instant::now() + WITHIN;
    let mut nacked: HashMap<String, Instant> = HashMap::new();
    let mut acked = HashSet::new();
    while acked.len() < expected.len() {
        let batch = next(&mut *sub, 32, deadline)
            .await
            .map_err(|e| e.context(missing(&expected, &acked)))?;
        for delivery in batch {
            let id = id_of(&delivery);
            ensure!(expected.contains(&id), "unexpected message `{id}`");
            ensure!(
                !acked.contains(&id),
                "`{id}` was delivered again after its ack"
            );
            if let Some(nacked_at) = nacked.get(&id) {
                ensure!(
                    delivery.delivery_count >= 2,
                    "a redelivery of `{id}` has delivery_count {}",
                    delivery.delivery_count
                );
                let after = nacked_at.elapsed();
                ensure!(
                    after + TIMER_SLACK >= NACK_DELAY,
                    "`{id}` came back {after:?} after a nack of {NACK_DELAY:?}"
                );
            } else if nacked.len() < 2 {
                ensure!(
                    delivery.delivery_count == 1,
                    "first delivery of `{id}` has delivery_count {}",
                    delivery.delivery_count
                );
                delivery.nack(NACK_DELAY).await?;
                nacked.insert(id, Instant::now());
                continue;
            }
            delivery.ack().await?;
            acked.insert(id);
        }
    }
    Ok(())
}

/// Rejected messages never come back, while the others are acked and
/// later messages still flow.
pub(super) async fn reject_not_redelivered(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx.topic_and_subscription(&*transport, "reject").await?;
    let all = ids("m", 20);
    let rejected: HashSet<String> = all.iter().step_by(4).cloned().collect();
    publish_each(&*transport, &topic, all.iter().map(|id| message(id))).await?;

    let expected: HashSet<String> = all.iter().cloned().collect();
    let deadline = Instant::now() + WITHIN;
    let mut settled = HashSet::new();
    while settled.len() < expected.len() {
        for delivery in next(&mut *sub, 32, deadline).await? {
            let id = id_of(&delivery);
            ensure!(expected.contains(&id), "unexpected message `{id}`");
            ensure!(
                settled.insert(id.clone()),
                "`{id}` was delivered again after it was settled"
            );
            if rejected.contains(&id) {
                delivery.reject().await?;
            } else {
                delivery.ack().await?;
            }
        }
    }
    transport.publish(&topic, message("end")).await?;
    let end = ["end".to_owned()].into_iter().collect();
    receive_all(&mut *sub, &end, |_| Ok(())).await?;
    expect_quiet(&mut *sub, Duration::from_millis(300)).await
}

/// The handles of three deliveries are dropped unsettled: those three come
/// back with a higher delivery count; acked ones do not.
pub(super) async fn dropped_handle_redelivers(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx.topic_and_subscription(&*transport, "dropped").await?;
    let expected: HashSet<String> = ids("m", 10).into_iter().collect();
    publish_each(&*transport, &topic, expected.iter().map(|id| message(id))).await?;

    let deadline = Instant::now() + WITHIN;
    let mut dropped = HashSet::new();
    let mut acked = HashSet::new();
    while acked.len() < expected.len() {
        let batch = next(&mut *sub, 4, deadline)
            .await
            .map_err(|e| e.context(missing(&expected, &acked)))?;
        for delivery in batch {
            let id = id_of(&delivery);
            ensure!(expected.contains(&id), "unexpected message `{id}`");
            ensure!(
                !acked.contains(&id),
                "`{id}` was delivered again after its ack"
            );
            if dropped.contains(&id) {
                ensure!(
                    delivery.delivery_count >= 2,
                    "a redelivery of `{id}` has delivery_count {}",
                    delivery.delivery_count
                );
            } else if dropped.len() < 3 {
                dropped.insert(id);
                drop(delivery);
                continue;
            }
            delivery.ack().await?;
            acked.insert(id);
        }
    }
    Ok(())
}

/// A member nacks everything twice, then goes away holding a batch
/// unsettled: another member of the group receives all 50 messages.
pub(super) async fn continue_after_errors(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, group, mut failing) = ctx.topic_and_subscription(&*transport, "errors").await?;
    let expected: HashSet<String> = ids("m", 50).into_iter().collect();
    publish_each(&*transport, &topic, expected.iter().map(|id| message(id))).await?;

    let deadline = Instant::now() + WITHIN;
    let mut failures: HashMap<String, u32> = HashMap::new();
    while failures.len() < expected.len() || failures.values().any(|&n| n < 2) {
        for delivery in next(&mut *failing, 32, deadline).await? {
            *failures.entry(id_of(&delivery)).or_default() += 1;
            // A short delay lets the failing member also take the messages
            // it has not seen yet (redeliveries come first).
            delivery.nack(Duration::from_millis(10)).await?;
        }
    }
    let held = next(&mut *failing, 32, deadline).await?;
    failing.close().await?;

    let other = ctx.transport().await?;
    let mut healthy = subscribe(&*other, &topic, &group).await?;
    receive_all(&mut *healthy, &expected, |_| Ok(())).await?;
    drop(held);
    Ok(())
}

/// A delivery whose lease is kept alive three times per reported lease
/// length is not redelivered past its lease, to this member or another one,
/// and its ack then counts. A transport without leases reports none.
pub(super) async fn lease_keep_alive(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, group, mut sub) = ctx.topic_and_subscription(&*transport, "lease").await?;
    let other = ctx.transport().await?;
    let mut rival = subscribe(&*other, &topic, &group).await?;
    publish_each(&*transport, &topic, [message("held")]).await?;
    let deadline = Instant::now() + WITHIN;
    let held = tokio::select! {
        batch = next(&mut *sub, 1, deadline) => batch?,
        batch = next(&mut *rival, 1, deadline) => batch?,
    }
    .into_iter()
    .next()
    .ok_or_else(|| anyhow::anyhow!("no delivery"))?;
    let lease = held.ack.lease();
    let Some(length) = lease.length() else {
        // No lease: ownership of the share decides, nothing runs out.
        return Ok(());
    };
    ensure!(
        length <= Duration::from_secs(40),
        "a lease of {length:?} is too long for this scenario's bound"
    );
    // Past the lease by a fifth, keeping it alive three times per lease.
    let until = Instant::now() + length + length / 5;
    let mut tick = tokio::time::interval(length / 3);
    while Instant::now() < until {
        tokio::select! {
            _ = tick.tick() => lease.keep_alive(),
            batch = sub.next_batch(4) => {
                let got: Vec<String> = batch?.iter().map(id_of).collect();
                anyhow::bail!("kept alive, yet the member received {got:?}");
            }
            batch = rival.next_batch(4) => {
                let got: Vec<String> = batch?.iter().map(id_of).collect();
                anyhow::bail!("kept alive, yet another member received {got:?}");
            }
        }
    }
    held.ack().await?;
    expect_quiet(&mut *sub, Duration::from_millis(500)).await?;
    expect_quiet(&mut *rival, Duration::from_millis(500)).await
}
