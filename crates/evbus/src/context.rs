//! The full delivery context an envelope handler may ask for: the bytes as
//! received, key, ordered headers, broker position and timestamp, and a
//! payload hash computed only when asked for.

use std::{
    sync::{Arc, OnceLock},
    time::SystemTime,
};

use bytes::Bytes;
use evbus_transport::Headers;
use sha2::{Digest, Sha256};

use crate::handler::DeliveryMeta;

/// Everything known about one delivery, for
/// [`subscribe_envelope_with_context`](crate::EventBus::subscribe_envelope_with_context)
/// handlers. Cheap to clone: the payload is shared with the received
/// message, never copied unless [`payload_vec`](Self::payload_vec) is
/// called.
#[derive(Clone)]
pub struct DeliveryContext {
    meta: DeliveryMeta,
    key: Option<String>,
    headers: Headers,
    payload: Bytes,
    sha256: Arc<OnceLock<[u8; 32]>>,
}

impl DeliveryContext {
    pub(crate) fn new(
        meta: DeliveryMeta,
        key: Option<String>,
        headers: Headers,
        payload: Bytes,
    ) -> Self {
        Self {
            meta,
            key,
            headers,
            payload,
            sha256: Arc::default(),
        }
    }

    /// Topic, group, delivery count, position and broker timestamp.
    pub fn meta(&self) -> &DeliveryMeta {
        &self.meta
    }

    /// The topic it was consumed from.
    pub fn topic(&self) -> &str {
        &self.meta.topic
    }

    /// Its partition (0 where the broker has none, as with NATS).
    pub fn partition(&self) -> u32 {
        self.meta.position.partition
    }

    /// Its Kafka or memory offset, or its JetStream stream sequence.
    pub fn offset(&self) -> u64 {
        self.meta.position.offset
    }

    /// When the broker stored it, where the broker keeps a timestamp (see
    /// [`Delivery::timestamp`](evbus_transport::Delivery::timestamp)).
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.meta.timestamp
    }

    /// How often the broker has delivered it, this time included.
    pub fn delivery_count(&self) -> u32 {
        self.meta.delivery_count
    }

    /// The record key, as received.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The headers in the order they were sent, repeated names included.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The bytes as received (shared, not copied).
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// A copy of the bytes as received.
    pub fn payload_vec(&self) -> Vec<u8> {
        self.payload.to_vec()
    }

    /// The SHA-256 of the bytes as received; computed on the first call.
    pub fn payload_sha256(&self) -> [u8; 32] {
        *self
            .sha256
            .get_or_init(|| Sha256::digest(&self.payload).into())
    }
}

impl std::fmt::Debug for DeliveryContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryContext")
            .field("meta", &self.meta)
            .field("key", &self.key)
            .field("headers", &self.headers)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}
