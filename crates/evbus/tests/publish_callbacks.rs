//! The opt-in publish success callback on the in-memory transport: called
//! once per confirmed publish, awaited, batched or detached, with the event
//! id; never for a failure.

use std::sync::Arc;

use evbus::{BusConfig, Envelope, EventBus, Published, transport::memory::MemoryConfig};
use parking_lot::Mutex;

#[tokio::test]
async fn every_confirmed_publish_and_no_failure_reaches_the_success_callback() -> anyhow::Result<()>
{
    let seen = Arc::new(Mutex::new(Vec::<(String, Option<String>, bool)>::new()));
    let s = seen.clone();
    let mut config = BusConfig::default();
    // The memory broker refuses what the bus lets through.
    config.max_envelope_bytes = 4 << 20;
    config.memory = MemoryConfig::default();
    let bus = EventBus::builder()
        .config(config)
        .on_published(move |p: &Published<'_>| {
            s.lock().push((
                p.topic.to_owned(),
                p.event_id.map(str::to_owned),
                p.detached,
            ));
        })
        .build()
        .await?;
    let event = |v: i64| Envelope::builder("order-1", "OrderPlaced", v, "{}").build();
    let (awaited, batched_1, batched_2, detached) = (event(1)?, event(2)?, event(3)?, event(4)?);
    let too_big = Envelope::builder("order-2", "Huge", 1, vec![b'x'; 2 << 20]).build()?;
    let invalid = Envelope::builder("order-3", "Bad", 1, vec![b'x'; 5 << 20]).build()?;

    bus.publish_envelope("orders", &awaited).await?;
    assert!(bus.publish_envelope("orders", &too_big).await.is_err());
    let results = bus
        .publish_batch(
            "orders",
            &[
                batched_1.clone(),
                invalid,
                too_big.clone(),
                batched_2.clone(),
            ],
        )
        .await?;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 2);
    bus.publish_detached("orders", &detached).await?;
    bus.flush().await?;

    let id = |e: &Envelope| Some(e.event_id().to_owned());
    assert_eq!(
        *seen.lock(),
        vec![
            ("orders".to_owned(), id(&awaited), false),
            ("orders".to_owned(), id(&batched_1), false),
            ("orders".to_owned(), id(&batched_2), false),
            ("orders".to_owned(), id(&detached), true),
        ]
    );
    bus.close().await?;
    Ok(())
}
