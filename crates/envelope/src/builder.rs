//! The envelope builder.

use bytes::Bytes;
use indexmap::IndexMap;
use time::{OffsetDateTime, UtcOffset};

use crate::envelope::non_empty;
use crate::{Envelope, EnvelopeError, TenantId};

/// Builds a validated [`Envelope`]; start with [`Envelope::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct EnvelopeBuilder {
    event_id: Option<String>,
    timestamp: Option<OffsetDateTime>,
    envelope: Envelope,
}

impl EnvelopeBuilder {
    pub(crate) fn new(
        aggregate_id: String,
        event_type: String,
        event_version: i64,
        payload: Bytes,
    ) -> Self {
        Self {
            event_id: None,
            timestamp: None,
            envelope: Envelope {
                event_id: String::new(),
                aggregate_id,
                event_type,
                event_version,
                timestamp: OffsetDateTime::UNIX_EPOCH,
                trace_id: None,
                correlation_id: None,
                tenant_id: None,
                headers: IndexMap::new(),
                content_type: None,
                payload,
            },
        }
    }

    pub(crate) fn from_envelope(envelope: Envelope) -> Self {
        Self {
            event_id: Some(envelope.event_id.clone()),
            timestamp: Some(envelope.timestamp),
            envelope,
        }
    }

    /// Sets the event id (default: a new UUIDv7 at build time).
    pub fn event_id(mut self, event_id: impl Into<String>) -> Self {
        self.event_id = Some(event_id.into());
        self
    }

    /// Sets when the event happened (default: now at build time). Any offset
    /// is accepted and converted to UTC; `SystemTime` converts too.
    pub fn timestamp(mut self, timestamp: impl Into<OffsetDateTime>) -> Self {
        self.timestamp = Some(timestamp.into());
        self
    }

    /// Sets the trace id; an empty string clears it.
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.envelope.trace_id = non_empty(trace_id.into());
        self
    }

    /// Sets the correlation id; an empty string clears it.
    pub fn correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.envelope.correlation_id = non_empty(correlation_id.into());
        self
    }

    /// Sets the tenant id: an integer for the Go SDK's latest (numeric) form,
    /// a string for the earlier (textual) one. `0` and `""` clear it, as the
    /// Go SDK omits them.
    pub fn tenant_id(mut self, tenant_id: impl Into<TenantId>) -> Self {
        self.envelope.tenant_id = Some(tenant_id.into()).filter(|t| !t.is_empty());
        self
    }

    /// Adds an extension header, or replaces the value of an existing one in
    /// place (keeping its position).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.envelope.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the media type of the payload, e.g. `application/json`; an empty
    /// string clears it.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.envelope.content_type = non_empty(content_type.into());
        self
    }

    /// Fills the defaults and validates the envelope.
    pub fn build(self) -> Result<Envelope, EnvelopeError> {
        let mut envelope = self.envelope;
        envelope.event_id = self
            .event_id
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        envelope.timestamp = match self.timestamp {
            Some(timestamp) => timestamp.checked_to_offset(UtcOffset::UTC).ok_or_else(|| {
                EnvelopeError::invalid("timestamp", "is out of range once converted to UTC")
            })?,
            None => OffsetDateTime::now_utc(),
        };
        envelope.validate()?;
        Ok(envelope)
    }
}
