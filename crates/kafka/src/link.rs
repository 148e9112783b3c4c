//! The producer's view of its broker connection, as connection events.
//!
//! librdkafka has no connection callback: it reconnects on its own and
//! reports a lost broker through its error callback
//! (`BrokerTransportFailure`, `AllBrokersDown`, `Resolve`). The link is
//! marked lost on such an error and up again on the next successful
//! delivery, so a reconnect is seen with the next publish that succeeds.

use evbus_transport::{ConnectionChange, ConnectionEvent, ConnectionState};
use tokio::sync::watch;

/// The connection events of one transport, shared by its producer clients.
pub(crate) struct Link {
    events: watch::Sender<ConnectionEvent>,
}

impl Default for Link {
    fn default() -> Self {
        Self {
            events: watch::Sender::new(ConnectionEvent::from_state(ConnectionState::Connected)),
        }
    }
}

impl Link {
    /// A receiver of the events.
    pub fn subscribe(&self) -> watch::Receiver<ConnectionEvent> {
        self.events.subscribe()
    }

    /// Whether the last thing heard from the brokers was good.
    pub fn is_connected(&self) -> bool {
        self.events.borrow().state == ConnectionState::Connected
    }

    /// A connection error: the brokers cannot be reached.
    pub fn lost(&self, error: String) {
        self.events.send_if_modified(|event| {
            if event.state == ConnectionState::Closed {
                return false;
            }
            let change = event.state == ConnectionState::Connected;
            if change {
                *event = event.next(ConnectionChange::Disconnected, Some(error));
            } else {
                // Still down: only the error is newer, nobody is woken.
                event.last_error = Some(error);
            }
            change
        });
    }

    /// A delivery succeeded: the brokers answer.
    pub fn up(&self) {
        self.change(ConnectionState::Reconnecting, ConnectionChange::Reconnected);
    }

    /// The transport was closed.
    pub fn closed(&self) {
        self.events.send_if_modified(|event| {
            let open = event.state != ConnectionState::Closed;
            if open {
                *event = event.next(ConnectionChange::Closed, None);
            }
            open
        });
    }

    fn change(&self, from: ConnectionState, change: ConnectionChange) {
        self.events.send_if_modified(|event| {
            let applies = event.state == from;
            if applies {
                *event = event.next(change, None);
            }
            applies
        });
    }
}
