//! The one NATS connection of a transport: connecting, and the connection
//! state and events the client reports.

use std::sync::Arc;

use async_nats::{
    Client, ClientError, ConnectErrorKind, ConnectOptions, Event,
    jetstream::{self, context::ContextBuilder},
};
use evbus_transport::{
    ConnectionChange, ConnectionEvent, ConnectionState, ErrorKind, Result, TransportError,
};
use tokio::sync::{broadcast, watch};

use crate::{NAME, config::NatsConfig};

/// Something that happened to the connection, as published by
/// [`NatsTransport::events`](crate::NatsTransport::events).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NatsEvent {
    /// The connection is up: after a loss (the client resubscribed every
    /// subscription), or the initial connect.
    Connected,
    /// The connection was lost; the client is reconnecting. Subscriptions
    /// stay open and resume after the reconnect.
    Disconnected,
    /// The server is shutting down gracefully (lame duck mode); the client
    /// will move to another server of the cluster.
    LameDuckMode,
    /// The client fell behind a subscription and the server dropped
    /// messages for it (only core NATS topics lose them: JetStream
    /// redelivers).
    SlowConsumer,
    /// The server reported an error.
    ServerError(String),
    /// Every reconnect attempt allowed by
    /// [`max_reconnects`](crate::NatsConfig::max_reconnects) failed: the
    /// transport is closed for good.
    ReconnectsExhausted,
    /// The connection was closed by [`close`](evbus_transport::Transport::close).
    Closed,
}

/// Capacity of the event channel: a subscriber that lags further loses the
/// oldest events (and is told so by `broadcast`).
const EVENT_CAPACITY: usize = 64;

/// The client, its JetStream context and what the event callback reports.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) state: watch::Receiver<ConnectionState>,
    pub(crate) events: broadcast::Sender<NatsEvent>,
    pub(crate) connection: Arc<watch::Sender<ConnectionEvent>>,
}

/// Where the client's events go: the state, the NATS events and the
/// backend-neutral connection events.
struct Sinks {
    state: watch::Sender<ConnectionState>,
    events: broadcast::Sender<NatsEvent>,
    connection: Arc<watch::Sender<ConnectionEvent>>,
}

/// Connects with `config` (already validated).
pub(crate) async fn connect(config: &NatsConfig) -> Result<Connection> {
    let (state_tx, state) = watch::channel(ConnectionState::Connected);
    let (events, _) = broadcast::channel(EVENT_CAPACITY);
    let connection = Arc::new(watch::Sender::new(ConnectionEvent::from_state(
        ConnectionState::Connected,
    )));
    let sinks = Arc::new(Sinks {
        state: state_tx,
        events: events.clone(),
        connection: connection.clone(),
    });
    let options = options(config, sinks).await?;
    let client = options
        .connect(config.servers.as_slice())
        .await
        .map_err(|error| {
            let (kind, what) = match error.kind() {
                ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => {
                    (ErrorKind::Rejected, "the server refused the credentials")
                }
                ConnectErrorKind::Tls => (ErrorKind::Config, "the TLS handshake failed"),
                ConnectErrorKind::ServerParse => (ErrorKind::Config, "a server URL is invalid"),
                ConnectErrorKind::TimedOut => (
                    ErrorKind::Timeout,
                    "no server answered within connect_timeout",
                ),
                _ => (ErrorKind::Disconnected, "no server could be reached"),
            };
            TransportError::new(
                kind,
                NAME,
                format!(
                    "connecting to {}: {what}",
                    crate::redact::urls(&config.servers)
                ),
            )
            .with_source(error)
        })?;
    let jetstream = ContextBuilder::new()
        .timeout(config.publish_timeout)
        .max_ack_inflight(config.max_pending_acks)
        .backpressure_on_inflight(true)
        .build(client.clone());
    Ok(Connection {
        client,
        jetstream,
        state,
        events,
        connection,
    })
}

async fn options(config: &NatsConfig, sinks: Arc<Sinks>) -> Result<ConnectOptions> {
    let reconnect_wait = config.reconnect_wait;
    let mut options = ConnectOptions::new()
        .name(&config.name)
        .max_reconnects(config.max_reconnects)
        .reconnect_delay_callback(move |attempt| {
            // The first attempt is immediate: a restarted server is often
            // back before a fixed wait would end.
            if attempt <= 1 {
                std::time::Duration::ZERO
            } else {
                reconnect_wait
            }
        })
        .connection_timeout(config.connect_timeout)
        .ping_interval(config.ping_interval)
        .request_timeout(Some(config.publish_timeout))
        .require_tls(config.tls.required)
        .event_callback(move |event| {
            on_event(event, &sinks);
            std::future::ready(())
        });
    let auth = &config.auth;
    if let (Some(user), Some(password)) = (&auth.user, &auth.password) {
        options = options.user_and_password(user.clone(), password.expose().to_owned());
    }
    if let Some(token) = &auth.token {
        options = options.token(token.expose().to_owned());
    }
    if let Some(seed) = &auth.nkey_seed {
        options = options.nkey(seed.expose().to_owned());
    }
    if let Some(path) = &auth.credentials_file {
        options = options.credentials_file(path).await.map_err(|error| {
            TransportError::new(
                ErrorKind::Config,
                NAME,
                format!("auth.credentials_file {}: cannot read it", path.display()),
            )
            .with_source(error)
        })?;
    }
    if let Some(ca) = &config.tls.ca_file {
        options = options.add_root_certificates(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&config.tls.cert_file, &config.tls.key_file) {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    Ok(options)
}

fn on_event(event: Event, sinks: &Sinks) {
    let Sinks {
        state,
        events,
        connection,
    } = sinks;
    record(connection, &event);
    let (new_state, event) = match event {
        Event::Connected => (Some(ConnectionState::Connected), NatsEvent::Connected),
        Event::Disconnected => (Some(ConnectionState::Reconnecting), NatsEvent::Disconnected),
        Event::ClientError(ClientError::MaxReconnects) => {
            tracing::error!("NATS connection lost for good: max_reconnects attempts failed");
            (
                Some(ConnectionState::Closed),
                NatsEvent::ReconnectsExhausted,
            )
        }
        Event::Closed => (Some(ConnectionState::Closed), NatsEvent::Closed),
        Event::LameDuckMode => (None, NatsEvent::LameDuckMode),
        Event::SlowConsumer(_) => (None, NatsEvent::SlowConsumer),
        Event::ServerError(error) => (None, NatsEvent::ServerError(error.to_string())),
        Event::Draining | Event::ClientError(_) => return,
    };
    match &event {
        NatsEvent::Disconnected => tracing::warn!("NATS connection lost; reconnecting"),
        NatsEvent::Connected => tracing::info!("NATS connection up"),
        NatsEvent::ServerError(error) => tracing::warn!(%error, "NATS server error"),
        _ => tracing::debug!(?event, "NATS connection event"),
    }
    // The event goes out first: whoever waits for the state finds it sent.
    // No receiver is not an error: nobody asked for events.
    let _ = events.send(event);
    if let Some(new_state) = new_state {
        // A closed transport stays closed whatever the client says next.
        state.send_if_modified(|current| {
            let changed = *current != ConnectionState::Closed && *current != new_state;
            if changed {
                *current = new_state;
            }
            changed
        });
    }
}

/// Records `event` in the connection events: a change wakes the receivers;
/// an error only becomes the `last_error` the next change carries.
fn record(connection: &watch::Sender<ConnectionEvent>, event: &Event) {
    connection.send_if_modified(|current| {
        if current.state == ConnectionState::Closed {
            return false;
        }
        let change = match event {
            Event::Connected if current.state == ConnectionState::Reconnecting => {
                ConnectionChange::Reconnected
            }
            Event::Connected => return false,
            Event::Disconnected if current.state == ConnectionState::Connected => {
                ConnectionChange::Disconnected
            }
            Event::ClientError(ClientError::MaxReconnects) => {
                *current = current.next(
                    ConnectionChange::Closed,
                    Some("every reconnect attempt failed (max_reconnects)".to_owned()),
                );
                return true;
            }
            Event::Closed => ConnectionChange::Closed,
            Event::ServerError(error) => {
                current.last_error = Some(error.to_string());
                return false;
            }
            Event::ClientError(error) => {
                current.last_error = Some(error.to_string());
                return false;
            }
            _ => return false,
        };
        *current = current.next(change, None);
        true
    });
}
