//! The connection callback on the in-memory transport: `Connected` when the
//! bus starts, `Disconnected` and `Reconnected` across a broker restart,
//! `Closed` when it closes.

use evbus::{ConnectionChange, ConnectionEvent, ConnectionState, EventBus};

#[tokio::test]
async fn the_callback_sees_connected_at_start_and_closed_at_close() -> anyhow::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ConnectionEvent>();
    let bus = EventBus::builder()
        .on_connection(move |event| {
            let _ = tx.send(event.clone());
        })
        .build()
        .await?;
    let first = rx.recv().await.expect("the current state at start");
    assert_eq!(first.change, ConnectionChange::Connected);
    assert_eq!(first.state, ConnectionState::Connected);
    assert_eq!((first.reconnects, first.last_error), (0, None));

    bus.close().await?;
    let closed = rx.recv().await.expect("the close");
    assert_eq!(closed.change, ConnectionChange::Closed);
    assert_eq!(closed.state, ConnectionState::Closed);
    assert!(
        rx.recv().await.is_none(),
        "the callback task ends after Closed and reports nothing more"
    );
    Ok(())
}

/// A broker restart is reported as it happens: `Disconnected` (state
/// `Reconnecting`, with the reason) while the broker is down, then
/// `Reconnected` with the reconnect counted. The outage lasts until the
/// test has seen `Disconnected` (dropping `restart` ends it), so no event
/// can be coalesced away.
#[tokio::test]
async fn a_broker_restart_reports_disconnected_then_reconnected() -> anyhow::Result<()> {
    use std::{sync::Arc, time::Duration};

    use evbus::transport::memory::{MemoryBroker, MemoryConfig};

    let broker = MemoryBroker::new(MemoryConfig::default())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<ConnectionEvent>();
    let bus = EventBus::builder()
        .transport(Arc::new(broker.connect()))
        .on_connection(move |event| {
            let _ = tx.send(event.clone());
        })
        .build()
        .await?;
    let first = rx.recv().await.expect("the current state at start");
    assert_eq!(first.change, ConnectionChange::Connected);

    // Boxed, not `tokio::pin!`ed: dropping the box drops the future itself,
    // which ends the outage; dropping a pinned reference would not.
    let mut restart = Box::pin(broker.restart(Duration::from_secs(3600)));
    let down = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::select! {
            () = &mut restart => panic!("the outage outlasted the test"),
            event = rx.recv() => event.expect("the disconnect"),
        }
    })
    .await
    .expect("Disconnected reported within 10 s of the restart");
    assert_eq!(down.change, ConnectionChange::Disconnected);
    assert_eq!(down.state, ConnectionState::Reconnecting);
    assert_eq!(down.reconnects, 0);
    assert!(
        down.last_error.is_some(),
        "the reason is reported: {down:?}"
    );
    drop(restart);

    let up = rx.recv().await.expect("the reconnect");
    assert_eq!(up.change, ConnectionChange::Reconnected);
    assert_eq!(up.state, ConnectionState::Connected);
    assert_eq!(up.reconnects, 1);
    bus.close().await?;
    let closed = rx.recv().await.expect("the close");
    assert_eq!(closed.change, ConnectionChange::Closed);
    Ok(())
}
