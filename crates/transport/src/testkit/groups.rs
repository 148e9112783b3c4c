//! Consumer groups: replay for new groups, independence of groups, work
//! shared within a group.

use std::collections::HashSet;

use anyhow::{Result, bail, ensure};

use super::support::{
    Ctx, Tally, first_deliveries_by_member, ids, join_all, message, publish_batches, publish_each,
    receive_all, subscribe, unique,
};

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
