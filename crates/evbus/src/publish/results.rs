//! The outcome of every detached publish, as a bounded stream: the default
//! stream, or the stream of the event's tenant when one is registered.
//!
//! Full streams push back: the detached sender waits for room before it
//! sends more, its queue fills, and `publish_detached` waits. A result is
//! never dropped to make room, because an outbox relay that misses a result
//! leaves its row unmarked and republishes it; back-pressure turns a slow
//! reader into slower publishing, which the queue depth gauge
//! (`evbus_detached_queue_depth`) shows.

use std::{
    collections::HashMap,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use evbus_envelope::{Envelope, TenantId};
use evbus_transport::Receipt;
use parking_lot::Mutex;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::{
    bus::EventBus,
    error::{BusError, Result},
};

/// The outcome of one detached publish.
#[derive(Debug)]
#[non_exhaustive]
pub struct PublishResult {
    /// The envelope's event id (the broker dedup id it was sent with).
    pub event_id: String,
    /// The topic it was published to.
    pub topic: String,
    /// The envelope's aggregate id.
    pub aggregate_id: String,
    /// The envelope's event type.
    pub event_type: String,
    /// The envelope's tenant, when it has one.
    pub tenant_id: Option<TenantId>,
    /// The broker's receipt, or why the publish failed.
    pub outcome: Result<Receipt>,
    /// When the outcome was known.
    pub timestamp: OffsetDateTime,
}

impl PublishResult {
    /// Whether the broker stored the event (or had it already).
    pub fn is_ok(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// What a detached publish carries for its result.
pub(crate) struct Origin {
    event_id: String,
    aggregate_id: String,
    event_type: String,
    tenant_id: Option<TenantId>,
}

impl Origin {
    pub(crate) fn of(envelope: &Envelope) -> Self {
        Self {
            event_id: envelope.event_id().to_owned(),
            aggregate_id: envelope.aggregate_id().to_owned(),
            event_type: envelope.event_type().to_owned(),
            tenant_id: envelope.tenant_id().filter(|t| !t.is_empty()).cloned(),
        }
    }

    pub(crate) fn result(self, topic: &str, outcome: Result<Receipt>) -> PublishResult {
        PublishResult {
            event_id: self.event_id,
            topic: topic.to_owned(),
            aggregate_id: self.aggregate_id,
            event_type: self.event_type,
            tenant_id: self.tenant_id,
            outcome,
            timestamp: OffsetDateTime::now_utc(),
        }
    }
}

/// A stream of [`PublishResult`]s: [`recv`](Self::recv) them, or use it as a
/// [`futures::Stream`]. It ends when the bus is closed (after the results
/// of everything sent before) or its tenant is unregistered.
#[derive(Debug)]
pub struct PublishResults {
    receiver: mpsc::Receiver<PublishResult>,
}

impl PublishResults {
    /// The next result; `None` once the stream ended.
    pub async fn recv(&mut self) -> Option<PublishResult> {
        self.receiver.recv().await
    }

    /// The next result if one is ready.
    pub fn try_recv(&mut self) -> Option<PublishResult> {
        self.receiver.try_recv().ok()
    }
}

impl futures::Stream for PublishResults {
    type Item = PublishResult;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PublishResult>> {
        self.receiver.poll_recv(cx)
    }
}

/// Routes results to the default stream or a registered tenant's.
pub(crate) struct ResultHub {
    capacity: usize,
    default: Mutex<Option<mpsc::Sender<PublishResult>>>,
    default_reader: Mutex<Option<mpsc::Receiver<PublishResult>>>,
    /// Keyed by the tenant id as written in `X-Tenant-ID`, so `42` and
    /// `"42"` are one tenant.
    tenants: Mutex<HashMap<String, (TenantId, mpsc::Sender<PublishResult>)>>,
}

impl ResultHub {
    pub(crate) fn new(capacity: usize) -> Self {
        let (sender, reader) = mpsc::channel(capacity.max(1));
        Self {
            capacity: capacity.max(1),
            default: Mutex::new(Some(sender)),
            default_reader: Mutex::new(Some(reader)),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Hands `result` to its stream, waiting while that stream is full.
    pub(crate) async fn deliver(&self, result: PublishResult) {
        let sender = self.sender_for(result.tenant_id.as_ref());
        let Some(sender) = sender else {
            return;
        };
        if let Err(mpsc::error::SendError(result)) = sender.send(result).await {
            // The default stream was dropped by its reader: results are off
            // from then on; failures still reach the error callback.
            tracing::warn!(
                event_id = %result.event_id,
                "publish result not delivered: the default result stream was dropped"
            );
        }
    }

    fn sender_for(&self, tenant: Option<&TenantId>) -> Option<mpsc::Sender<PublishResult>> {
        if let Some(tenant) = tenant {
            let mut tenants = self.tenants.lock();
            let key = tenant.to_string();
            match tenants.get(&key) {
                // A stream dropped without unregistering counts as
                // unregistered: its results go to the default stream.
                Some((_, sender)) if sender.is_closed() => {
                    tenants.remove(&key);
                }
                Some((_, sender)) => return Some(sender.clone()),
                None => {}
            }
        }
        self.default.lock().clone()
    }

    fn take_default(&self) -> Option<PublishResults> {
        let receiver = self.default_reader.lock().take()?;
        Some(PublishResults { receiver })
    }

    fn register(&self, tenant: TenantId) -> Result<PublishResults> {
        if self.default.lock().is_none() {
            return Err(BusError::closed());
        }
        let mut tenants = self.tenants.lock();
        let key = tenant.to_string();
        if tenants.get(&key).is_some_and(|(_, s)| !s.is_closed()) {
            return Err(BusError::config(format!(
                "tenant `{key}` already has a publish result stream; unregister it first"
            )));
        }
        let (sender, receiver) = mpsc::channel(self.capacity);
        tenants.insert(key, (tenant, sender));
        Ok(PublishResults { receiver })
    }

    fn unregister(&self, tenant: &TenantId) -> bool {
        self.tenants.lock().remove(&tenant.to_string()).is_some()
    }

    fn tenants(&self) -> Vec<TenantId> {
        let tenants = self.tenants.lock();
        let mut list: Vec<TenantId> = tenants
            .values()
            .filter(|(_, sender)| !sender.is_closed())
            .map(|(tenant, _)| tenant.clone())
            .collect();
        list.sort_by_key(ToString::to_string);
        list
    }

    /// Ends every stream once the detached sender delivered its last
    /// result.
    pub(crate) fn close(&self) {
        self.default.lock().take();
        self.tenants.lock().clear();
    }
}

fn not_enabled() -> BusError {
    BusError::config(
        "publish results are off: set `publish.results = true` in the bus configuration",
    )
}

impl EventBus {
    fn result_hub(&self) -> Result<&Arc<ResultHub>> {
        self.inner.detached.results().ok_or_else(not_enabled)
    }

    /// The default stream of [`PublishResult`]s: one per
    /// [`publish_detached`](Self::publish_detached) whose envelope has no
    /// registered tenant. Needs [`PublishConfig::results`](crate::PublishConfig::results).
    ///
    /// There is one default stream per bus: the first call takes it, later
    /// calls fail. Read it: when it is full, detached publishing waits (see
    /// [`PublishConfig::results_capacity`](crate::PublishConfig::results_capacity)).
    /// Dropping it turns the default results off (failures still reach the
    /// error callback).
    pub fn publish_results(&self) -> Result<PublishResults> {
        self.result_hub()?
            .take_default()
            .ok_or_else(|| BusError::config("the default publish result stream was already taken"))
    }

    /// Opens a result stream for `tenant`: from now on the results of
    /// detached publishes of its envelopes go there, not to the default
    /// stream. Fails when the tenant already has an open stream. Dropping
    /// the stream is the same as [`unregister_tenant`](Self::unregister_tenant).
    pub fn register_tenant(&self, tenant: impl Into<TenantId>) -> Result<PublishResults> {
        self.result_hub()?.register(tenant.into())
    }

    /// Closes `tenant`'s result stream (it ends after the results it holds);
    /// its later results go to the default stream. `false` when it had
    /// none.
    pub fn unregister_tenant(&self, tenant: impl Into<TenantId>) -> bool {
        self.result_hub()
            .is_ok_and(|hub| hub.unregister(&tenant.into()))
    }

    /// The tenants with an open result stream.
    pub fn registered_tenants(&self) -> Vec<TenantId> {
        self.result_hub()
            .map(|hub| hub.tenants())
            .unwrap_or_default()
    }
}
