//! Connection events: what a transport reports about its broker connection,
//! the same on every backend.

use crate::transport::ConnectionState;

/// What changed about a transport's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionChange {
    /// The first connection is up.
    Connected,
    /// The connection was lost; the transport is reconnecting (the state is
    /// [`ConnectionState::Reconnecting`]). Disconnected and reconnecting are
    /// one event: every backend reconnects on its own right away.
    Disconnected,
    /// The connection is up again after a loss.
    Reconnected,
    /// Closed by [`close`](crate::Transport::close), or given up after the
    /// allowed reconnect attempts.
    Closed,
}

/// One connection event: the change, the state it left, how many times the
/// connection came back so far and the last error the backend reported.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionEvent {
    /// What changed.
    pub change: ConnectionChange,
    /// The state after the change.
    pub state: ConnectionState,
    /// Reconnections since the transport was created.
    pub reconnects: u64,
    /// The last connection error the backend reported, if any.
    pub last_error: Option<String>,
}

impl ConnectionEvent {
    /// The event that stands for `state` with no history (no reconnects, no
    /// error): what a transport without its own event source reports.
    pub fn from_state(state: ConnectionState) -> Self {
        let change = match state {
            ConnectionState::Connected => ConnectionChange::Connected,
            ConnectionState::Reconnecting => ConnectionChange::Disconnected,
            ConnectionState::Closed => ConnectionChange::Closed,
        };
        Self {
            change,
            state,
            reconnects: 0,
            last_error: None,
        }
    }

    /// The next event after `self` for `change`: counts a reconnect and
    /// keeps the last error unless `error` gives a newer one.
    #[must_use]
    pub fn next(&self, change: ConnectionChange, error: Option<String>) -> Self {
        let state = match change {
            ConnectionChange::Connected | ConnectionChange::Reconnected => {
                ConnectionState::Connected
            }
            ConnectionChange::Disconnected => ConnectionState::Reconnecting,
            ConnectionChange::Closed => ConnectionState::Closed,
        };
        Self {
            change,
            state,
            reconnects: self.reconnects + u64::from(change == ConnectionChange::Reconnected),
            last_error: error.or_else(|| self.last_error.clone()),
        }
    }
}
