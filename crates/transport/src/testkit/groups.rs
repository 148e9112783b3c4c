//! Consumer groups: replay for new groups, independence of groups, work
//! shared within a group.

use std::collections::HashSet;

use anyhow::{Result, bail, ensure};
use evbus_topics::TopicOptions;
use tokio::time::Instant;

use super::support::{
    Ctx, Tally, WITHIN, first_deliveries_by_member, id_of, ids, join_all, message, missing, next,
    publish_batches, publish_each, receive_all, subscribe, unique,
};
use crate::{ErrorKind, TransportError, ownership::OwnershipChange};

/// 50 messages published before any group exists: two new groups, on two
/// transports, each receive all of them.
pub(super) async fn new_group_replays(ctx: Ctx) -> Result<()> {
    let publisher = ctx.transport().await?;
    let topic = ctx.topic(&*publisher, "replay").await?;
    let expected: HashSet<String> = ids("m", 50).into_iter().collect();
    publish_each(&*publisher, &topic, expected.iter().map(|id| message(id))).await?;
    for _ in 0..2 {
        let transport = ctx.transport().await?;
        let mut sub = subscribe(&*transport, &topic, &unique("replay")).await?;
        receive_all(&mut *sub, &expected, |_| Ok(())).await?;
    }
    Ok(())
}

/// Two groups, one with one member and one with two (each member on its
/// own transport): each group receives all 200 messages, and no message
/// is first-delivered to both members of a group.
pub(super) async fn consumer_groups(ctx: Ctx) -> Result<()> {
    let publisher = ctx.transport().await?;
    let topic = ctx.topic(&*publisher, "groups").await?;
    let (single, pair) = (Tally::new(), Tally::new());
    let mut consumers = Vec::new();
    for (tally, members) in [(&single, 1), (&pair, 2)] {
        let group = unique("groups");
        for member in 0..members {
            let transport = ctx.transport().await?;
            consumers.push(tally.consume(member, subscribe(&*transport, &topic, &group).await?));
        }
    }
    let all = ids("m", 200);
    let messages = all
        .iter()
        .enumerate()
        .map(|(i, id)| message(id).with_key(format!("k{}", i % 20)))
        .collect();
    publish_batches(&*publisher, &topic, messages, 50).await?;

    let expected: HashSet<String> = all.into_iter().collect();
    for (name, tally) in [
        ("the one-member group", &single),
        ("the two-member group", &pair),
    ] {
        if let Err(e) = tally.wait_for(&expected).await {
            bail!("{name}: {e}");
        }
    }
    single.stop();
    pair.stop();
    join_all(consumers).await?;
    for tally in [&single, &pair] {
        let (seen, got) = tally.snapshot();
        ensure!(
            got == expected,
            "a group received messages that were never published"
        );
        for (id, members) in first_deliveries_by_member(&seen) {
            ensure!(
                members.len() == 1,
                "`{id}` was first-delivered to members {members:?} of one group"
            );
        }
    }
    Ok(())
}

/// A transport that reports ownership announces a share before its first
/// delivery, and when a second member takes a share over, ends it (the
/// fences of what the first member holds from it go stale) no later than
/// it announces the revoke; the new owner then receives what the first held
/// unsettled. A transport that hands out no shares reports no events.
pub(super) async fn ownership_fences_a_moved_share(ctx: Ctx) -> Result<()> {
    let publisher = ctx.transport().await?;
    // Shares to split: Kafka partitions, NATS partition subjects (memory
    // ignores it). Every member registers the topic's options, as the bus
    // does for each configured topic, so each one knows its layout.
    let topic = unique("ownership");
    let options = TopicOptions::new().partitions(4);
    publisher.topic_admin().create(&topic, &options).await?;
    publisher.register_topic(&topic, &options);
    let group = unique("ownership");
    let first = ctx.transport().await?;
    first.register_topic(&topic, &options);
    let mut sub = match subscribe(&*first, &topic, &group).await {
        Ok(sub) => sub,
        // A group mode that refuses partitioned topics (NATS shared
        // groups) hands out no shares, so there is nothing to fence.
        Err(error) if is_unsupported(&error) => return Ok(()),
        Err(error) => return Err(error),
    };
    let Some(mut events) = sub.ownership_events() else {
        return Ok(());
    };
    let all = ids("m", 40);
    let messages = all
        .iter()
        .enumerate()
        .map(|(i, id)| message(id).with_key(format!("k{i}")))
        .collect();
    publish_batches(&*publisher, &topic, messages, 40).await?;

    // The first member holds everything unsettled; each delivery's share
    // was announced before it.
    let deadline = Instant::now() + WITHIN;
    let mut owned = HashSet::new();
    let mut held = Vec::new();
    while held.len() < all.len() {
        let batch = tokio::select! {
            biased;
            event = events.recv() => {
                let event = event?;
                if event.change == OwnershipChange::Assigned {
                    owned.insert(event.partition);
                }
                continue;
            }
            batch = next(&mut *sub, 64, deadline) => batch?,
        };
        for delivery in batch {
            while let Ok(event) = events.try_recv() {
                if event.change == OwnershipChange::Assigned {
                    owned.insert(event.partition);
                }
            }
            ensure!(
                owned.contains(&delivery.position.partition),
                "a delivery of partition {} before its Assigned event",
                delivery.position.partition
            );
            held.push(delivery);
        }
    }

    // A second member joins: some share moves to it.
    let second = ctx.transport().await?;
    second.register_topic(&topic, &options);
    let mut rival = subscribe(&*second, &topic, &group).await?;
    let moved = loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| anyhow::anyhow!("no share moved to the second member"))??;
        if event.change != OwnershipChange::Assigned {
            // Announced: the share's ownership has ended already.
            let stale = held
                .iter()
                .filter(|d| d.position.partition == event.partition)
                .filter(|d| d.ack.fence().is_current())
                .count();
            ensure!(
                stale == 0,
                "partition {} announced {:?} while {stale} held deliveries were still current",
                event.partition,
                event.change
            );
            break event.partition;
        }
    };
    let moved_ids: HashSet<String> = held
        .iter()
        .filter(|d| d.position.partition == moved)
        .map(id_of)
        .collect();
    // What the first member held of the moved share goes to the new owner.
    drop(held);
    let mut got = HashSet::new();
    while !moved_ids.is_subset(&got) {
        let batch = next(&mut *rival, 64, deadline)
            .await
            .map_err(|e| e.context(missing(&moved_ids, &got)))?;
        for delivery in batch {
            got.insert(id_of(&delivery));
            delivery.ack().await?;
        }
    }
    Ok(())
}

/// Whether `error` is a transport's [`ErrorKind::Unsupported`].
fn is_unsupported(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<TransportError>()
            .is_some_and(|error| error.kind() == ErrorKind::Unsupported)
    })
}
