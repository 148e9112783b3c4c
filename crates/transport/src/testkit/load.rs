//! Many publishers and subscribers at once, per-key order, and a broker
//! restarting under load.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, bail, ensure};
use tokio::{sync::watch, time::Instant};

use super::support::{
    Ctx, Tally, WITHIN, id_of, ids, join_all, message, next, publish_each, subscribe, unique,
};
use crate::{OutgoingMessage, Transport};

/// 20 tasks publish 100 messages each while the members of one group
/// (four where the transport has consumer groups) consume: all 2,000
/// arrive.
pub(super) async fn concurrent_publish_subscribe(ctx: Ctx) -> Result<()> {
    const PUBLISHERS: usize = 20;
    const EACH: usize = 100;
    let publisher = ctx.transport().await?;
    let topic = ctx.topic(&*publisher, "concurrent").await?;
    let group = unique("concurrent");
    let members = if ctx.caps().consumer_groups { 4 } else { 1 };
    let tally = Tally::new();
    let mut consumers = Vec::new();
    for member in 0..members {
        let transport = ctx.transport().await?;
        let sub = subscribe(&*transport, &topic, &group).await?;
        consumers.push(tally.consume(member, sub));
    }
    let mut expected = HashSet::new();
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let all = ids(&format!("p{p}-m"), EACH);
        expected.extend(all.iter().cloned());
        let (publisher, topic) = (publisher.clone(), topic.clone());
        publishers.push(tokio::spawn(async move {
            let messages: Vec<_> = all
                .iter()
                .map(|id| message(id).with_key(format!("p{p}")))
                .collect();
            publish_each(&*publisher, &topic, messages).await
        }));
    }
    join_all(publishers).await?;
    tally.wait_for(&expected).await?;
    tally.stop();
    join_all(consumers).await?;
    let (_, got) = tally.snapshot();
    if let Some(id) = got.difference(&expected).next() {
        bail!("received `{id}`, which was never published");
    }
    Ok(())
}

/// 1,008 messages over 16 keys, published key by key from 16 tasks (each
/// publish awaited) and then in interleaved batches: each key's messages
/// are first-delivered in publish order, across batches of 37.
pub(super) async fn per_key_order(ctx: Ctx) -> Result<()> {
    const KEYS: usize = 16;
    const SINGLE: usize = 40;
    const BATCHED: usize = 23;
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx
        .topic_and_subscription(&*transport, "per_key_order")
        .await?;
    let keyed =
        |key: usize, seq: usize| message(&format!("k{key}-{seq}")).with_key(format!("k{key}"));

    let tasks = (0..KEYS)
        .map(|key| {
            let (transport, topic) = (transport.clone(), topic.clone());
            tokio::spawn(async move {
                publish_each(&*transport, &topic, (0..SINGLE).map(|seq| keyed(key, seq))).await
            })
        })
        .collect();
    join_all(tasks).await?;
    let interleaved: Vec<OutgoingMessage> = (SINGLE..SINGLE + BATCHED)
        .flat_map(|seq| (0..KEYS).map(move |key| keyed(key, seq)))
        .collect();
    super::support::publish_batches(&*transport, &topic, interleaved, 46).await?;

    let total = KEYS * (SINGLE + BATCHED);
    let deadline = Instant::now() + WITHIN;
    let mut next_seq: HashMap<String, usize> = HashMap::new();
    let mut received = 0;
    while received < total {
        let batch = next(&mut *sub, 37, deadline)
            .await
            .with_context(|| format!("{received} of {total} received"))?;
        for delivery in batch {
            let id = id_of(&delivery);
            let Some((key, seq)) = id.split_once('-') else {
                bail!("unexpected message `{id}`");
            };
            let seq: usize = seq
                .parse()
                .with_context(|| format!("unexpected message `{id}`"))?;
            ensure!(
                delivery.key.as_deref() == Some(key),
                "`{id}` arrived with key {:?}",
                delivery.key
            );
            let expected = next_seq.entry(key.to_owned()).or_default();
            if seq < *expected {
                ensure!(
                    delivery.delivery_count > 1,
                    "`{id}` was first-delivered twice"
                );
            } else {
                ensure!(
                    seq == *expected,
                    "key {key}: message {seq} arrived before {expected}"
                );
                *expected += 1;
                received += 1;
            }
            delivery.ack().await?;
        }
    }
    Ok(())
}

/// 20 tasks publish 100 messages each, retrying retryable errors with the
/// same dedup id, while the broker restarts twice: the publisher and the
/// subscription survive and every message arrives.
pub(super) async fn broker_restart(ctx: Ctx) -> Result<()> {
    const PUBLISHERS: usize = 20;
    const EACH: usize = 100;
    let publisher = ctx.transport().await?;
    let consumer = ctx.transport().await?;
    let topic = ctx.topic(&*publisher, "restart").await?;
    let tally = Tally::new();
    let consuming = tally.consume(0, subscribe(&*consumer, &topic, &unique("restart")).await?);

    let (progress, mut progress_rx) = watch::channel(0usize);
    let progress = Arc::new(progress);
    let mut expected = HashSet::new();
    let mut publishers = Vec::new();
    for p in 0..PUBLISHERS {
        let all = ids(&format!("p{p}-m"), EACH);
        expected.extend(all.iter().cloned());
        let (publisher, topic, progress) = (publisher.clone(), topic.clone(), progress.clone());
        publishers.push(tokio::spawn(async move {
            for id in all {
                let message = message(&id)
                    .with_key(format!("p{p}"))
                    .with_dedup_id(id.clone());
                publish_retrying(&*publisher, &topic, message).await?;
                progress.send_modify(|n| *n += 1);
            }
            anyhow::Ok(())
        }));
    }
    for threshold in [PUBLISHERS * EACH / 4, PUBLISHERS * EACH / 2] {
        tokio::time::timeout(WITHIN, progress_rx.wait_for(|&n| n >= threshold))
            .await
            .context("publishers made no progress")??;
        ctx.harness()
            .restart_broker()
            .await
            .context("restarting the broker")?;
    }
    join_all(publishers).await?;
    tally
        .wait_for(&expected)
        .await
        .context("after two broker restarts")?;
    tally.stop();
    join_all(vec![consuming]).await?;
    let (_, got) = tally.snapshot();
    if let Some(id) = got.difference(&expected).next() {
        bail!("received `{id}`, which was never published");
    }
    Ok(())
}

/// Publishes, retrying retryable errors (an outage) until it is stored.
async fn publish_retrying(
    transport: &dyn Transport,
    topic: &str,
    message: OutgoingMessage,
) -> Result<()> {
    let deadline = Instant::now() + WITHIN;
    loop {
        match transport.publish(topic, message.clone()).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => return Err(e).context("publish during a broker restart"),
        }
    }
}
