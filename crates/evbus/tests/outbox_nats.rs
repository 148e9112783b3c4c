//! examples/outbox.rs on a real nats-server (JetStream): the relay killed
//! between publishing a batch and marking it republishes those rows after
//! its restart with the same event ids; `Nats-Msg-Id` dedup keeps one
//! stored copy, so the consumer receives each event once.

#[allow(dead_code, reason = "the example's main is not called")]
#[path = "../../../examples/outbox.rs"]
mod example;

use evbus::nats::testkit::NatsServer;
use example::{Broker, Options};

#[test]
fn a_killed_relay_republishes_unmarked_rows_and_jetstream_dedup_keeps_one_copy()
-> anyhow::Result<()> {
    let server = NatsServer::start()?;
    let db = std::env::temp_dir().join(format!("evbus-outbox-nats-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let options = Options {
        broker: Broker::Nats(server.url()),
        orders: 120,
        crash_after: 50,
        db: db.clone(),
    };
    let report = example::run(&options);
    let _ = std::fs::remove_file(&db);
    let report = report?;
    assert_eq!((report.marked, report.unmarked), (120, 0), "{report:?}");
    assert_eq!(report.republished, 50, "{report:?}");
    assert_eq!(report.broker_duplicates, 50, "{report:?}");
    assert_eq!(report.delivered, 120, "{report:?}");
    assert_eq!((report.handled_once, report.duplicates_skipped), (120, 0));
    Ok(())
}
