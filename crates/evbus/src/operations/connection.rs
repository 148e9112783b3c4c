//! The connection callback: follows the transport's connection events and
//! calls the user's callback on each one, the same on every backend.

use std::sync::Arc;

use evbus_transport::{ConnectionEvent, ConnectionState};
use tokio::sync::watch;

/// A connection callback.
pub(crate) type ConnectionCallback = Arc<dyn Fn(&ConnectionEvent) + Send + Sync>;

/// Calls `callback` with the current event, then with every change, until
/// the transport reports `Closed` or drops its event source. It holds no
/// bus and no transport, so it also ends with a bus dropped without close;
/// it outlives the sampler on purpose, to report the close itself.
pub(crate) async fn follow(
    mut events: watch::Receiver<ConnectionEvent>,
    callback: ConnectionCallback,
) {
    loop {
        let event = events.borrow_and_update().clone();
        tracing::debug!(?event, "connection event");
        callback(&event);
        if event.state == ConnectionState::Closed || events.changed().await.is_err() {
            return;
        }
    }
}
