//! The envelope type and its read-only accessors.

use bytes::Bytes;
use indexmap::IndexMap;
use time::OffsetDateTime;

use crate::builder::EnvelopeBuilder;
use crate::headers::{HeaderPairs, push_mirror_headers};
use crate::{EnvelopeError, TenantId};

/// One domain event with its metadata: what crosses the bus.
///
/// Built with [`Envelope::builder`] (which validates) or produced by a codec's
/// `decode` (which validates too), so every `Envelope` satisfies
/// [`Envelope::validate`]. It is immutable; to change a field, go through
/// [`Envelope::to_builder`].
///
/// Optional text fields are never `Some("")`: as in the Go SDK, whose JSON
/// omits empty values, an empty string means "absent".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub(crate) event_id: String,
    pub(crate) aggregate_id: String,
    pub(crate) event_type: String,
    pub(crate) event_version: i64,
    pub(crate) timestamp: OffsetDateTime,
    pub(crate) trace_id: Option<String>,
    pub(crate) correlation_id: Option<String>,
    pub(crate) tenant_id: Option<TenantId>,
    pub(crate) headers: IndexMap<String, String>,
    pub(crate) content_type: Option<String>,
    pub(crate) payload: Bytes,
}

impl Envelope {
    /// Starts an envelope with its required fields. `event_id` defaults to a
    /// new UUIDv7 and `timestamp` to the current time when the builder builds.
    ///
    /// ```
    /// use evbus_envelope::Envelope;
    ///
    /// let envelope = Envelope::builder("order-42", "order.created", 1, r#"{"total":10}"#)
    ///     .trace_id("trace-1")
    ///     .tenant_id(7)
    ///     .header("origin", "web")
    ///     .build()?;
    /// assert_eq!(envelope.aggregate_id(), "order-42");
    /// assert_eq!(envelope.headers().get("origin").map(String::as_str), Some("web"));
    /// # Ok::<(), evbus_envelope::EnvelopeError>(())
    /// ```
    pub fn builder(
        aggregate_id: impl Into<String>,
        event_type: impl Into<String>,
        event_version: i64,
        payload: impl Into<Bytes>,
    ) -> EnvelopeBuilder {
        EnvelopeBuilder::new(
            aggregate_id.into(),
            event_type.into(),
            event_version,
            payload.into(),
        )
    }

    /// A builder holding a copy of every field of this envelope, to derive a
    /// changed envelope (the payload is shared, not copied).
    pub fn to_builder(&self) -> EnvelopeBuilder {
        EnvelopeBuilder::from_envelope(self.clone())
    }

    /// Unique id of the event; a UUIDv7 when evbus generated it.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// Id of the aggregate the event belongs to: the ordering key and the
    /// record key.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// The event type, e.g. `order.created`.
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// Version of the aggregate after this event; always greater than zero.
    pub fn event_version(&self) -> i64 {
        self.event_version
    }

    /// When the event happened, in UTC with nanosecond precision.
    pub fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }

    /// Trace id, when present.
    pub fn trace_id(&self) -> Option<&str> {
        self.trace_id.as_deref()
    }

    /// Correlation id, when present.
    pub fn correlation_id(&self) -> Option<&str> {
        self.correlation_id.as_deref()
    }

    /// Tenant id, when present, in the form (number or text) it was given.
    pub fn tenant_id(&self) -> Option<&TenantId> {
        self.tenant_id.as_ref()
    }

    /// Extension headers, in insertion order, names unique.
    pub fn headers(&self) -> &IndexMap<String, String> {
        &self.headers
    }

    /// Media type of the payload (not of the encoded envelope), when known.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The event itself. Decoding shares it with the input buffer.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// Checks every validation rule (see the crate docs for the list); codecs
    /// call it on every encode and decode, [`EnvelopeBuilder::build`] on build.
    pub fn validate(&self) -> Result<(), EnvelopeError> {
        crate::validate::validate(self)
    }

    /// The envelope's full header set for a transport whose body does not
    /// carry them: the Go SDK's `X-*` mirrors, then the extension headers,
    /// then [`CONTENT_TYPE_HEADER`](crate::CONTENT_TYPE_HEADER) when a content
    /// type is set. The codec marker is not included; [`Codec::encode`](crate::Codec::encode)
    /// adds it.
    pub fn transport_headers(&self) -> HeaderPairs {
        let mut out = HeaderPairs::with_capacity(8 + self.headers.len());
        push_mirror_headers(self, &mut out);
        out.extend(self.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        if let Some(content_type) = &self.content_type {
            out.push((crate::CONTENT_TYPE_HEADER.to_owned(), content_type.clone()));
        }
        out
    }
}

/// `None` for the empty string, the Go SDK's "absent".
pub(crate) fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}
