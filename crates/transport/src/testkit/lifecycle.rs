//! Subscriptions and publishers coming and going: nothing is lost.

use std::{collections::HashSet, sync::Arc, time::Duration};

use anyhow::{Context as _, Result, bail, ensure};
use futures::FutureExt as _;
use parking_lot::Mutex;
use tokio::{sync::watch, time::Instant};

use super::support::{
    Ctx, WITHIN, id_of, ids, join_all, message, missing, next, publish_batches, publish_each,
    receive_all, subscribe,
};
use crate::{Delivery, ErrorKind};

/// 500 messages; rounds of subscribe, take a batch, ack its first two
/// thirds, close with the rest unsettled: the group ends up acking every
/// message, and no acked message is delivered again.
pub(super) async fn continue_after_subscription_close(ctx: Ctx) -> Result<()> {
    const BATCH: usize = 100;
    let transport = ctx.transport().await?;
    let (topic, group, mut sub) = ctx.topic_and_subscription(&*transport, "resume").await?;
    let all = ids("m", 500);
    let messages = all
        .iter()
        .enumerate()
        .map(|(i, id)| message(id).with_key(format!("k{}", i % 10)))
        .collect();
    publish_batches(&*transport, &topic, messages, 100).await?;

    let expected: HashSet<String> = all.into_iter().collect();
    let deadline = Instant::now() + WITHIN;
    let mut acked = HashSet::new();
    while acked.len() < expected.len() {
        let mut taken = next(&mut *sub, BATCH, deadline)
            .await
            .map_err(|e| e.context(missing(&expected, &acked)))?;
        // Gather a fuller batch where the broker hands out small ones.
        while taken.len() < BATCH {
            match tokio::time::timeout(
                Duration::from_millis(200),
                sub.next_batch(BATCH - taken.len()),
            )
            .await
            {
                Ok(batch) if !batch.as_ref().is_ok_and(Vec::is_empty) => taken.extend(batch?),
                _ => break,
            }
        }
        // Acking a prefix in delivery order keeps every partition's acked
        // messages contiguous, which offset-committing brokers can store.
        let to_ack = taken.len().div_ceil(3) * 2;
        let mut held = Vec::new();
        for (i, delivery) in taken.into_iter().enumerate() {
            let id = id_of(&delivery);
            ensure!(expected.contains(&id), "unexpected message `{id}`");
            ensure!(
                !acked.contains(&id),
                "`{id}` was delivered again after its ack"
            );
            if i < to_ack {
                delivery.ack().await?;
                acked.insert(id);
            } else {
                held.push(delivery);
            }
        }
        sub.close().await.context("closing a subscription")?;
        drop(held);
        sub = subscribe(&*transport, &topic, &group).await?;
    }
    Ok(())
}

/// Ten tasks subscribe and close at once, twice over: a later subscription
/// of the group still receives all 50 messages.
pub(super) async fn concurrent_close(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let topic = ctx.topic(&*transport, "concurrent_close").await?;
    let group = super::support::unique("concurrent-close");
    for round in 0..2 {
        let tasks = (0..10)
            .map(|_| {
                let (transport, topic, group) = (transport.clone(), topic.clone(), group.clone());
                tokio::spawn(async move {
                    let mut sub = subscribe(&*transport, &topic, &group).await?;
                    if round == 1 {
                        // Close while a next_batch was pending and dropped.
                        let _ = tokio::time::timeout(Duration::from_millis(5), sub.next_batch(10))
                            .await;
                    }
                    sub.close().await.context("closing a subscription")
                })
            })
            .collect();
        join_all(tasks).await?;
    }
    let mut sub = subscribe(&*transport, &topic, &group).await?;
    let expected: HashSet<String> = ids("m", 50).into_iter().collect();
    publish_each(&*transport, &topic, expected.iter().map(|id| message(id))).await?;
    receive_all(&mut *sub, &expected, |_| Ok(())).await?;
    Ok(())
}

/// `next_batch` futures dropped before they resolve lose nothing; a
/// subscription dropped while it waits gives its share of the group to the
/// other member, which receives every later message.
pub(super) async fn subscription_cancel(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, group, mut first) = ctx.topic_and_subscription(&*transport, "cancel").await?;
    let expected: HashSet<String> = ids("m", 30).into_iter().collect();
    publish_each(&*transport, &topic, expected.iter().map(|id| message(id))).await?;

    let mut acked = HashSet::new();
    async fn ack_all(batch: Vec<Delivery>, acked: &mut HashSet<String>) -> Result<()> {
        for delivery in batch {
            let id = id_of(&delivery);
            ensure!(
                acked.insert(id.clone()),
                "`{id}` was delivered again after its ack"
            );
            delivery.ack().await?;
        }
        Ok(())
    }
    for _ in 0..20 {
        // Polled once, then dropped unless it was ready at once.
        if let Some(batch) = first.next_batch(2).now_or_never() {
            ack_all(batch?, &mut acked).await?;
        }
        // Dropped by the timeout when not ready within a millisecond.
        if let Ok(batch) = tokio::time::timeout(Duration::from_millis(1), first.next_batch(3)).await
        {
            ack_all(batch?, &mut acked).await?;
        }
    }
    let deadline = Instant::now() + WITHIN;
    while acked.len() < expected.len() {
        let batch = next(&mut *first, 16, deadline)
            .await
            .map_err(|e| e.context(missing(&expected, &acked)))?;
        ack_all(batch, &mut acked).await?;
    }
    ensure!(
        acked == expected,
        "received messages that were not published"
    );

    let other = ctx.transport().await?;
    let mut second = subscribe(&*other, &topic, &group).await?;
    let waiting = tokio::spawn(async move { first.next_batch(10).await.map(|b| b.len()) });
    tokio::task::yield_now().await;
    waiting.abort();
    match waiting.await {
        Err(e) if e.is_cancelled() => {}
        Err(e) => bail!("the waiting task failed: {e}"),
        Ok(result) => bail!("next_batch on an idle topic returned {result:?}"),
    }
    let later: HashSet<String> = ids("late", 20).into_iter().collect();
    publish_each(&*transport, &topic, later.iter().map(|id| message(id))).await?;
    receive_all(&mut *second, &later, |_| Ok(())).await?;
    Ok(())
}

/// 20 tasks publish 100 messages each while the publisher is flushed and
/// closed midway: every publish that resolved `Ok` is delivered, and
/// nothing that was never published.
pub(super) async fn publisher_close(ctx: Ctx) -> Result<()> {
    const TASKS: usize = 20;
    const EACH: usize = 100;
    let consumer = ctx.transport().await?;
    let (topic, _, mut sub) = ctx
        .topic_and_subscription(&*consumer, "publisher_close")
        .await?;
    let publisher = ctx.transport().await?;
    let stored = Arc::new(Mutex::new(HashSet::new()));
    let attempted = Arc::new(Mutex::new(HashSet::new()));
    let (progress, mut progress_rx) = watch::channel(0usize);
    let progress = Arc::new(progress);
    let tasks = (0..TASKS)
        .map(|task| {
            let (publisher, topic) = (publisher.clone(), topic.clone());
            let (stored, attempted, progress) =
                (stored.clone(), attempted.clone(), progress.clone());
            tokio::spawn(async move {
                for id in ids(&format!("p{task}-m"), EACH) {
                    attempted.lock().insert(id.clone());
                    match publisher
                        .publish(&topic, message(&id).with_key(format!("p{task}")))
                        .await
                    {
                        Ok(_) => {
                            stored.lock().insert(id);
                            progress.send_modify(|n| *n += 1);
                        }
                        // Closed (or lost in the close): it may or may not be stored.
                        Err(e) if e.kind() == ErrorKind::Closed || e.is_retryable() => break,
                        Err(e) => return Err(e).context("publish"),
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    tokio::time::timeout(WITHIN, progress_rx.wait_for(|&n| n >= TASKS * EACH / 2))
        .await
        .context("publishers made no progress")??;
    // No flush first: close itself must flush what is outstanding.
    publisher.close().await.context("close")?;
    join_all(tasks).await?;

    let stored = stored.lock().clone();
    let attempted = attempted.lock().clone();
    ensure!(!stored.is_empty(), "no publish succeeded");
    let deadline = Instant::now() + WITHIN;
    let mut got = HashSet::new();
    while !stored.is_subset(&got) {
        let batch = next(&mut *sub, 64, deadline)
            .await
            .map_err(|e| e.context(missing(&stored, &got)))?;
        for delivery in batch {
            let id = id_of(&delivery);
            ensure!(
                attempted.contains(&id),
                "received `{id}`, which was never published"
            );
            got.insert(id);
            delivery.ack().await?;
        }
    }
    Ok(())
}
