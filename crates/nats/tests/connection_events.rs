//! The backend-neutral connection events across a server stop and restart:
//! disconnected, reconnected with the count, closed.

mod common;

use std::time::Duration;

use evbus_transport::{ConnectionChange, ConnectionState, Transport};

use common::connect;

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reports_disconnected_then_reconnected_with_the_count() {
    let server = common::server();
    let transport = connect(common::config(&server)).await;
    let mut events = transport.connection_events();
    let first = events.borrow_and_update().clone();
    assert_eq!(first.change, ConnectionChange::Connected);
    assert_eq!(first.reconnects, 0);

    server.stop();
    let lost = tokio::time::timeout(
        WITHIN,
        events.wait_for(|e| e.change == ConnectionChange::Disconnected),
    )
    .await
    .expect("the transport reports the outage")
    .unwrap()
    .clone();
    assert_eq!(lost.state, ConnectionState::Reconnecting);
    assert_eq!(lost.reconnects, 0);

    server.restart().await.unwrap();
    let back = tokio::time::timeout(
        WITHIN,
        events.wait_for(|e| e.change == ConnectionChange::Reconnected),
    )
    .await
    .expect("the transport reports the reconnect")
    .unwrap()
    .clone();
    assert_eq!(back.state, ConnectionState::Connected);
    assert_eq!(back.reconnects, 1);

    transport.close().await.unwrap();
    let closed = tokio::time::timeout(
        WITHIN,
        events.wait_for(|e| e.change == ConnectionChange::Closed),
    )
    .await
    .expect("the transport reports the close")
    .unwrap()
    .clone();
    assert_eq!(closed.state, ConnectionState::Closed);
    assert_eq!(closed.reconnects, 1, "the count survives the close");
}
