//! examples/outbox.rs on the in-memory broker: after the relay is killed
//! between publishing a batch and marking it, the restarted relay
//! republishes exactly the unmarked rows with their event ids, and every
//! event is handled once.

#[allow(dead_code, reason = "the example's main is not called")]
#[path = "../../../examples/outbox.rs"]
mod example;

use std::time::Duration;

use evbus::transport::memory::{MemoryBroker, MemoryConfig};
use example::{Broker, Options, Report};

fn run(config: MemoryConfig, name: &str) -> anyhow::Result<Report> {
    let db = std::env::temp_dir().join(format!(
        "evbus-outbox-test-{name}-{}.db",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&db);
    let options = Options {
        broker: Broker::Memory(MemoryBroker::new(config)?),
        orders: 120,
        crash_after: 50,
        db: db.clone(),
    };
    let report = example::run(&options);
    let _ = std::fs::remove_file(&db);
    report
}

/// Broker dedup (the memory window, like JetStream's `Nats-Msg-Id`) drops
/// the republished copies: the consumer receives each event once.
#[test]
fn a_killed_relay_republishes_unmarked_rows_and_dedup_keeps_one_copy() -> anyhow::Result<()> {
    let report = run(MemoryConfig::default(), "dedup")?;
    assert_eq!(report.written, 120);
    assert_eq!((report.marked, report.unmarked), (120, 0));
    // 50 marked, the next batch of 50 published and not marked: those 50
    // are published again.
    assert_eq!(report.republished, 50, "{report:?}");
    assert_eq!(report.published, 120 + 50, "{report:?}");
    assert_eq!(
        report.broker_duplicates, 50,
        "every republish has its original event id: {report:?}"
    );
    assert_eq!(report.delivered, 120, "{report:?}");
    assert_eq!((report.handled_once, report.duplicates_skipped), (120, 0));
    Ok(())
}

/// With no broker dedup the republished copies are delivered, and the
/// idempotent consumer skips them by event id: still handled once each.
#[test]
fn without_broker_dedup_the_idempotent_consumer_handles_once() -> anyhow::Result<()> {
    let report = run(
        MemoryConfig::default().dedup_window(Duration::ZERO),
        "nodedup",
    )?;
    assert_eq!((report.marked, report.unmarked), (120, 0));
    assert_eq!(report.republished, 50, "{report:?}");
    assert_eq!(report.broker_duplicates, 0, "{report:?}");
    assert_eq!(report.delivered, 170, "{report:?}");
    assert_eq!((report.handled_once, report.duplicates_skipped), (120, 50));
    Ok(())
}
