//! The bus's shared pool cannot be taken over: a subscription whose
//! handlers hang holds at most its share of the workers, and a handler that
//! never returns is timed out (30 s by default) and dead-lettered.

use std::time::Duration;

use evbus::{BusConfig, Envelope, EventBus, Message, TopicOptions};
use tokio::sync::mpsc;

fn envelope(aggregate: &str, version: i64) -> Envelope {
    Envelope::builder(aggregate, "TestEvent", version, "{}")
        .build()
        .expect("valid")
}

async fn bus(config: BusConfig, topics: &[&str]) -> EventBus {
    let bus = EventBus::from_config(config).await.expect("bus");
    bus.configure_topics(
        topics
            .iter()
            .map(|t| ((*t).to_owned(), TopicOptions::default())),
    )
    .await
    .expect("topics");
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_subscription_does_not_stop_another_on_the_same_bus() {
    // No handler timeout: the share alone must keep the other subscription
    // going.
    let config: BusConfig = serde_json::from_str(
        r#"{ "pool": { "workers": 4 }, "subscribe": { "handler_timeout": null } }"#,
    )
    .expect("config");
    let bus = bus(config, &["hung", "healthy"]).await;
    let (started, mut hung_started) = mpsc::unbounded_channel();
    bus.subscribe_envelope("hung", move |_, _| {
        let started = started.clone();
        async move {
            let _ = started.send(());
            std::future::pending::<()>().await;
            Ok(())
        }
    })
    .await
    .expect("subscribe hung");
    let (handled, mut healthy_handled) = mpsc::unbounded_channel();
    bus.subscribe_envelope("healthy", move |event: Envelope, _| {
        let handled = handled.clone();
        async move {
            let _ = handled.send(event.aggregate_id().to_owned());
            Ok(())
        }
    })
    .await
    .expect("subscribe healthy");
    // More hung aggregates than the pool has workers.
    for a in 0..8 {
        bus.publish_envelope("hung", &envelope(&format!("hung-{a}"), 1))
            .await
            .expect("publish");
    }
    hung_started.recv().await.expect("a hung handler started");
    bus.publish_envelope("healthy", &envelope("fine", 1))
        .await
        .expect("publish");
    let handled = tokio::time::timeout(Duration::from_secs(5), healthy_handled.recv()).await;
    assert_eq!(
        handled.ok().flatten().as_deref(),
        Some("fine"),
        "the healthy subscription was starved by the hung one"
    );
    let mut running = 1;
    while hung_started.try_recv().is_ok() {
        running += 1;
    }
    assert!(
        running <= 2,
        "the hung subscription holds {running} of 4 workers, more than its half"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_returns_is_timed_out_and_dead_lettered_by_default() {
    let bus = bus(BusConfig::default(), &["forever"]).await;
    bus.subscribe_envelope("forever", |event: Envelope, _| async move {
        if event.event_version() == 1 {
            std::future::pending::<()>().await;
        }
        Ok(())
    })
    .await
    .expect("subscribe");
    let (letters, mut dead) = mpsc::unbounded_channel();
    bus.subscribe_with("forever.dlq", "dlq-reader", move |message: Message| {
        let letters = letters.clone();
        async move {
            let _ = letters.send(message);
            Ok(())
        }
    })
    .await
    .expect("subscribe dlq");
    let stuck = envelope("stuck", 1);
    bus.publish_envelope("forever", &stuck)
        .await
        .expect("publish");
    // The documented default is 30 s; a little slack for a busy machine.
    let letter = tokio::time::timeout(Duration::from_secs(45), dead.recv())
        .await
        .ok()
        .flatten()
        .expect("the hung event was dead-lettered after the default handler timeout");
    let id = letter
        .headers
        .iter()
        .find(|(name, _)| name == "X-Event-ID")
        .map(|(_, value)| value.as_str());
    assert_eq!(id, Some(stuck.event_id()));
    let reason = letter
        .headers
        .iter()
        .find(|(name, _)| name == "evbus-dlq-error")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    assert!(reason.contains("timed out"), "dead-letter error: {reason}");
}
