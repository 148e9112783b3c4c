//! Publishing and receiving intact, topics kept apart, bad input refused,
//! and a closed transport.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use anyhow::{Context as _, Result, ensure};

use super::support::{
    Ctx, WITHIN, expect_kind, id_of, ids, message, publish_each, receive_all, subscribe, unique,
};
use crate::{ErrorKind, OutgoingMessage, TopicUse};

/// 100 messages with keys and headers (a repeated name included) arrive with
/// payload, key, headers, topic and the receipt's position intact, each
/// once.
pub(super) async fn publish_subscribe(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx
        .topic_and_subscription(&*transport, "publish_subscribe")
        .await?;
    let mut sent = HashMap::new();
    for id in ids("m", 100) {
        let message = message(&id)
            .with_key(format!("key-{}", id.len() % 7))
            .with_header("x-id", id.clone())
            .with_header("x-repeated", "first")
            .with_header("content-type", "text/plain")
            .with_header("x-repeated", "second");
        let receipt = transport.publish(&topic, message.clone()).await?;
        ensure!(!receipt.duplicate, "a first publish was reported duplicate");
        sent.insert(id, (message, receipt.position));
    }
    let expected: HashSet<String> = sent.keys().cloned().collect();
    receive_all(&mut *sub, &expected, |d| {
        let (message, position) = &sent[&id_of(d)];
        ensure!(*d.topic == *topic, "topic {:?}", d.topic);
        ensure!(d.key == message.key, "key {:?} != {:?}", d.key, message.key);
        ensure!(
            d.headers == message.headers,
            "headers {:?} != {:?}",
            d.headers,
            message.headers
        );
        ensure!(
            d.position == *position,
            "position {} != receipt {position}",
            d.position
        );
        ensure!(d.delivery_count == 1, "delivery_count {}", d.delivery_count);
        Ok(())
    })
    .await?;
    Ok(())
}

/// Deliveries carry the broker's timestamp, within the window of their
/// publish calls (give or take a second for clock granularity and skew).
pub(super) async fn broker_timestamp(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx
        .topic_and_subscription(&*transport, "broker_timestamp")
        .await?;
    let slack = Duration::from_secs(1);
    let before = std::time::SystemTime::now() - slack;
    let sent = ids("t", 10);
    publish_each(&*transport, &topic, sent.iter().map(|id| message(id))).await?;
    let after = std::time::SystemTime::now() + slack;
    let expected: HashSet<String> = sent.iter().cloned().collect();
    receive_all(&mut *sub, &expected, |d| {
        let stamp = d
            .timestamp
            .context("a persistent delivery has a timestamp")?;
        ensure!(
            before <= stamp && stamp <= after,
            "timestamp {stamp:?} outside the publish window {before:?}..{after:?}"
        );
        Ok(())
    })
    .await?;
    Ok(())
}

/// 20 topics x 100 messages published concurrently: each subscription gets
/// exactly its topic's messages.
pub(super) async fn many_topics_no_crosstalk(ctx: Ctx) -> Result<()> {
    const TOPICS: usize = 20;
    let publisher = ctx.transport().await?;
    let consumer = ctx.transport().await?;
    let mut tasks = Vec::new();
    for t in 0..TOPICS {
        let (topic, _, mut sub) = ctx
            .topic_and_subscription(&*consumer, "many_topics")
            .await?;
        let expected: HashSet<String> = ids(&format!("t{t}-m"), 100).into_iter().collect();
        let messages: Vec<_> = expected.iter().map(|id| message(id)).collect();
        let publisher = publisher.clone();
        tasks.push(tokio::spawn(async move {
            let receiving = async {
                receive_all(&mut *sub, &expected, |_| Ok(()))
                    .await
                    .with_context(|| format!("topic {t}"))
            };
            let publishing = publish_each(&*publisher, &topic, messages);
            let (received, published) = tokio::join!(receiving, publishing);
            published?;
            received.map(drop)
        }));
    }
    super::support::join_all(tasks).await?;
    Ok(())
}

/// Every shared naming rule is refused with `InvalidTopic` naming it; a
/// message over the size limit is refused with `TooLarge`; a batch stores
/// the messages that succeeded; nothing refused is ever delivered.
pub(super) async fn invalid_input(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, _, mut sub) = ctx
        .topic_and_subscription(&*transport, "invalid_input")
        .await?;
    let long = "a".repeat(250);
    let bad_names = [
        ("", "empty"),
        ("has space", "whitespace"),
        ("bell\u{7}", "control"),
        (long.as_str(), "at most 249"),
        ("orders.*", "wildcard"),
        ("orders.>", "wildcard"),
    ];
    for (name, rule) in bad_names {
        let error = expect_kind(
            transport.validate_topic(name, TopicUse::Publish),
            ErrorKind::InvalidTopic,
            &format!("validate_topic({name:?})"),
        )?;
        ensure!(
            error.to_string().contains(rule),
            "the error for {name:?} should name the rule ({rule}): {error}"
        );
        expect_kind(
            transport.publish(name, message("never")).await,
            ErrorKind::InvalidTopic,
            &format!("publish to {name:?}"),
        )?;
    }
    let results = transport
        .publish_batch("has space", vec![message("never"), message("never")])
        .await;
    ensure!(
        results.len() == 2,
        "one result per message, got {}",
        results.len()
    );
    for result in results {
        expect_kind(result, ErrorKind::InvalidTopic, "batch to an invalid topic")?;
    }

    let too_large = OutgoingMessage::new(vec![b'x'; ctx.caps().max_message_bytes + 1]);
    expect_kind(
        transport.publish(&topic, too_large.clone()).await,
        ErrorKind::TooLarge,
        "publishing a message over max_message_bytes",
    )?;
    let results = transport
        .publish_batch(&topic, vec![message("b0"), too_large, message("b1")])
        .await;
    let Ok::<[_; 3], _>([first, second, third]) = results.try_into() else {
        anyhow::bail!("a batch of 3 should give 3 results");
    };
    first.context("batch message 0")?;
    expect_kind(second, ErrorKind::TooLarge, "batch message 1")?;
    third.context("batch message 2")?;
    transport.publish(&topic, message("end")).await?;
    // Anything refused above would show up here as an unexpected id.
    let expected = ["b0", "b1", "end"].map(String::from).into_iter().collect();
    receive_all(&mut *sub, &expected, |_| Ok(())).await?;
    Ok(())
}

/// After `close`: a waiting `next_batch` returns an empty batch, and keeps
/// doing so, on every open subscription; publish, batch, subscribe and
/// flush fail with `Closed`.
pub(super) async fn closed_transport(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let (topic, group, mut waiting) = ctx.topic_and_subscription(&*transport, "closed").await?;
    let mut idle = subscribe(&*transport, &topic, &unique("closed")).await?;
    let waiter = tokio::spawn(async move {
        let batch = waiting.next_batch(10).await;
        (waiting, batch)
    });
    tokio::task::yield_now().await;
    transport.close().await.context("close")?;

    let (mut waiting, batch) = tokio::time::timeout(WITHIN, waiter)
        .await
        .context("a waiting next_batch did not end after close")??;
    ensure!(
        batch?.is_empty(),
        "a waiting next_batch returned messages after close"
    );
    for sub in [&mut waiting, &mut idle] {
        for _ in 0..3 {
            let batch = tokio::time::timeout(Duration::from_secs(10), sub.next_batch(10))
                .await
                .context("next_batch after close should return at once")?;
            ensure!(
                batch?.is_empty(),
                "next_batch after close returned messages"
            );
        }
    }

    expect_kind(
        transport.publish(&topic, message("late")).await,
        ErrorKind::Closed,
        "publish after close",
    )?;
    let results = transport
        .publish_batch(&topic, vec![message("late"), message("late")])
        .await;
    ensure!(
        results.len() == 2,
        "one result per message, got {}",
        results.len()
    );
    for result in results {
        expect_kind(result, ErrorKind::Closed, "publish_batch after close")?;
    }
    expect_kind(
        transport
            .subscribe(&topic, &group, crate::SubscribeOptions::default())
            .await
            .map(|_| ()),
        ErrorKind::Closed,
        "subscribe after close",
    )?;
    expect_kind(
        transport.flush().await,
        ErrorKind::Closed,
        "flush after close",
    )?;
    Ok(())
}

/// The connection events report `Connected` once connected and `Closed`
/// after `close`, both to a receiver taken after close and (where the
/// transport keeps a live event source) to one taken before.
pub(super) async fn connection_events(ctx: Ctx) -> Result<()> {
    let transport = ctx.transport().await?;
    let mut before = transport.connection_events();
    let first = before.borrow_and_update().clone();
    ensure!(
        first.state == crate::ConnectionState::Connected,
        "a connected transport reported {first:?}"
    );
    transport.close().await.context("close")?;
    let after = transport.connection_events().borrow().clone();
    ensure!(
        after.state == crate::ConnectionState::Closed
            && after.change == crate::ConnectionChange::Closed,
        "a closed transport reported {after:?}"
    );
    // A live source tells its earlier receivers; the default one has none.
    if before.has_changed().is_ok() {
        let seen = tokio::time::timeout(
            WITHIN,
            before.wait_for(|e| e.state == crate::ConnectionState::Closed),
        )
        .await
        .context("a receiver taken before close never saw Closed")?;
        ensure!(
            seen.is_ok(),
            "the event source ended before reporting Closed"
        );
    }
    Ok(())
}
