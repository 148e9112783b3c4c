//! The connection callback on the in-memory transport: `Connected` when the
//! bus starts, `Closed` when it closes, nothing else.

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
