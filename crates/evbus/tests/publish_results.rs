//! Publish results on the in-memory transport: what a slow reader causes,
//! and how streams are opened and closed. Routing and failures on every
//! backend are in the bus suite
//! (`publish_results_once_per_publish_routed_by_tenant`).

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use evbus::{BusConfig, BusErrorKind, Envelope, EventBus, PublishResult};

fn results_config(capacity: usize) -> BusConfig {
    let mut config = BusConfig::default();
    config.publish.results = true;
    config.publish.results_capacity = capacity;
    config.publish.queue_capacity = 2;
    config.publish.batch_max = 1;
    config
}

fn event(version: i64, tenant: Option<i64>) -> Envelope {
    let builder = Envelope::builder("order-1", "OrderPlaced", version, "{}");
    match tenant {
        Some(t) => builder.tenant_id(t).build(),
        None => builder.build(),
    }
    .expect("valid envelope")
}

#[tokio::test]
async fn results_are_off_by_default() -> anyhow::Result<()> {
    let bus = EventBus::builder().build().await?;
    let error = bus.publish_results().expect_err("results are opt-in");
    assert_eq!(error.kind(), BusErrorKind::Config);
    assert!(error.to_string().contains("publish.results"), "{error}");
    assert_eq!(
        bus.register_tenant(1).expect_err("opt-in").kind(),
        BusErrorKind::Config
    );
    bus.close().await?;
    Ok(())
}

/// A reader that does not keep up holds detached publishing back (bounded
/// by the result capacity plus the queue) instead of losing results; once
/// it reads, every result arrives, once, in publish order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_holds_back_publish_detached_and_loses_nothing() -> anyhow::Result<()> {
    let bus = EventBus::builder()
        .config(results_config(2))
        .build()
        .await?;
    let mut results = bus.publish_results()?;
    let total = 50;
    let events: Vec<Envelope> = (1..=total).map(|v| event(v, None)).collect();
    let queued = Arc::new(AtomicUsize::new(0));
    let mut publisher = {
        let (bus, events, queued) = (bus.clone(), events.clone(), queued.clone());
        tokio::spawn(async move {
            for event in &events {
                bus.publish_detached("orders", event).await?;
                queued.fetch_add(1, Ordering::SeqCst);
            }
            anyhow::Ok(())
        })
    };
    // Nothing is read: publishing must stall well before the end. (A
    // stall can only be observed as the absence of progress over a while.)
    let stalled = tokio::time::timeout(Duration::from_millis(500), &mut publisher).await;
    assert!(
        stalled.is_err(),
        "a full result stream must hold back publish_detached"
    );
    let stalled_at = queued.load(Ordering::SeqCst);
    // Result capacity 2, one result waiting for room, queue 2, one taken
    // by the sender, one in the caller's hand.
    assert!(
        stalled_at <= 2 + 1 + 2 + 1,
        "publish_detached went on while results were unread: {stalled_at} queued"
    );

    let mut seen: Vec<PublishResult> = Vec::new();
    while seen.len() < total as usize {
        seen.push(results.recv().await.expect("a result per publish"));
    }
    publisher.await??;
    let expected: Vec<&str> = events.iter().map(Envelope::event_id).collect();
    let got: Vec<&str> = seen.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(got, expected, "every result, once, in publish order");
    assert!(seen.iter().all(PublishResult::is_ok));
    bus.close().await?;
    assert!(
        results.recv().await.is_none(),
        "no result beyond one per publish"
    );
    Ok(())
}

#[tokio::test]
async fn the_default_stream_is_taken_once_and_a_tenant_registered_once() -> anyhow::Result<()> {
    let bus = EventBus::builder()
        .config(results_config(16))
        .build()
        .await?;
    let _default = bus.publish_results()?;
    assert_eq!(
        bus.publish_results().expect_err("taken").kind(),
        BusErrorKind::Config
    );
    let _acme = bus.register_tenant("acme")?;
    assert_eq!(
        bus.register_tenant("acme").expect_err("registered").kind(),
        BusErrorKind::Config
    );
    // `42` and `"42"` are one tenant, as in the `X-Tenant-ID` header.
    let _numeric = bus.register_tenant(42)?;
    assert!(bus.register_tenant("42").is_err());
    assert_eq!(
        bus.registered_tenants(),
        vec![evbus::TenantId::from(42), evbus::TenantId::from("acme")]
    );
    assert!(!bus.unregister_tenant("nobody"));
    bus.close().await?;
    Ok(())
}

/// Dropping a tenant's stream without unregistering is the same as
/// unregistering: its results reach the default stream, not nowhere.
#[tokio::test]
async fn a_dropped_tenant_stream_sends_its_results_to_the_default() -> anyhow::Result<()> {
    let bus = EventBus::builder()
        .config(results_config(16))
        .build()
        .await?;
    let mut default = bus.publish_results()?;
    drop(bus.register_tenant(9)?);
    assert!(bus.registered_tenants().is_empty());
    let event = event(1, Some(9));
    bus.publish_detached("orders", &event).await?;
    bus.flush().await?;
    let result = default.try_recv().expect("the result reached the default");
    assert_eq!(result.event_id, event.event_id());
    assert_eq!(result.tenant_id, Some(9.into()));
    bus.close().await?;
    Ok(())
}
