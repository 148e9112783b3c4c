//! The Go SDK's JSON envelope, written byte-for-byte as Go's `encoding/json`
//! writes it.

mod go_format;

use bytes::Bytes;
use indexmap::IndexMap;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::{Codec, CodecConfig, CodecKind, Encoded, base_headers, check_size, excerpt, share};
use crate::envelope::non_empty;
use crate::headers::{CONTENT_TYPE_HEADER, find_header, is_reserved_header};
use crate::validate::MAX_EXTENSION_HEADERS;
use crate::{Envelope, EnvelopeError, TenantId};

use go_format::GoFormatter;

const KIND: CodecKind = CodecKind::GoJson;

pub(super) struct GoJsonCodec {
    max_encoded_size: usize,
}

impl GoJsonCodec {
    pub(super) fn new(config: &CodecConfig) -> Self {
        Self {
            max_encoded_size: config.max_encoded_size,
        }
    }
}

/// The Go struct's fields in its declaration order, which `encoding/json` keeps.
#[derive(Serialize)]
struct GoEnvelopeOut<'a> {
    event_id: &'a str,
    aggregate_id: &'a str,
    event_type: &'a str,
    event_version: i64,
    timestamp: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant_id: Option<&'a TenantId>,
    payload: &'a RawValue,
}

/// The envelope's fields as raw JSON borrowed from the input. Like Go's
/// `json.Unmarshal`, unknown fields are ignored. Each field is converted on
/// its own (see [`string_field`]) so that error messages never quote the
/// input: serde's would, and a quoted multi-megabyte value would allocate
/// more than the input justifies.
#[derive(Deserialize)]
struct GoEnvelopeIn<'a> {
    #[serde(borrow, default)]
    event_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    aggregate_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_type: Option<&'a RawValue>,
    #[serde(borrow, default)]
    event_version: Option<&'a RawValue>,
    #[serde(borrow, default)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow, default)]
    trace_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    correlation_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    tenant_id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "raw_including_null")]
    payload: Option<&'a RawValue>,
}

/// Go's `json.RawMessage` receives a literal `null` as the 4 bytes `null`,
/// where `Option` would turn it into `None`.
fn raw_including_null<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Which JSON type a raw value has, from its first byte (raw values are
/// already validated JSON without leading whitespace).
fn json_type(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "string",
        Some(b'n') => "null",
        Some(b't' | b'f') => "boolean",
        Some(b'{') => "object",
        Some(b'[') => "array",
        _ => "number",
    }
}

fn wrong_type(field: &'static str, expected: &str, raw: &RawValue) -> EnvelopeError {
    EnvelopeError::invalid(
        field,
        format!("must be a JSON {expected}, is a {}", json_type(raw)),
    )
}

/// A Go `string` field: absent or `null` is Go's zero value, `""`.
fn string_field(field: &'static str, raw: Option<&RawValue>) -> Result<String, EnvelopeError> {
    match raw.map(|r| (json_type(r), r)) {
        None | Some(("null", _)) => Ok(String::new()),
        Some(("string", r)) => serde_json::from_str(r.get())
            .map_err(|e| EnvelopeError::invalid(field, format!("bad JSON string: {e}"))),
        Some((_, r)) => Err(wrong_type(field, "string", r)),
    }
}

fn version_field(raw: Option<&RawValue>) -> Result<i64, EnvelopeError> {
    const FIELD: &str = "event_version";
    match raw.map(|r| (json_type(r), r)) {
        None | Some(("null", _)) => Ok(0),
        Some(("number", r)) => serde_json::from_str(r.get())
            .map_err(|_| EnvelopeError::invalid(FIELD, "must be an integer that fits in 64 bits")),
        Some((_, r)) => Err(wrong_type(FIELD, "number", r)),
    }
}

fn tenant_field(raw: Option<&RawValue>) -> Result<Option<TenantId>, EnvelopeError> {
    const FIELD: &str = "tenant_id";
    match raw.map(|r| (json_type(r), r)) {
        None | Some(("null", _)) => Ok(None),
        Some(("number" | "string", r)) => serde_json::from_str::<TenantId>(r.get())
            .map(|t| Some(t).filter(|t| !t.is_empty()))
            .map_err(|_| EnvelopeError::invalid(FIELD, "must be a 64-bit integer or a string")),
        Some((_, r)) => Err(wrong_type(FIELD, "number or string", r)),
    }
}

impl Codec for GoJsonCodec {
    fn kind(&self) -> CodecKind {
        KIND
    }

    fn encode(&self, envelope: &Envelope) -> Result<Encoded, EnvelopeError> {
        envelope.validate()?;
        let payload: &RawValue = serde_json::from_slice(&envelope.payload).map_err(|e| {
            EnvelopeError::invalid(
                "payload",
                format!("the Go JSON codec needs a payload that is one JSON value: {e}"),
            )
        })?;
        let timestamp = format_timestamp(envelope.timestamp)?;
        let out = GoEnvelopeOut {
            event_id: &envelope.event_id,
            aggregate_id: &envelope.aggregate_id,
            event_type: &envelope.event_type,
            event_version: envelope.event_version,
            timestamp: &timestamp,
            trace_id: envelope.trace_id.as_deref(),
            correlation_id: envelope.correlation_id.as_deref(),
            tenant_id: envelope.tenant_id.as_ref(),
            payload,
        };
        let mut body = Vec::with_capacity(envelope.payload.len() + 192);
        let mut serializer = serde_json::Serializer::with_formatter(&mut body, GoFormatter);
        out.serialize(&mut serializer)
            .map_err(|e| EnvelopeError::malformed(KIND, e))?;
        // The JSON has no room for them, so extension headers and the content
        // type travel as transport headers.
        let mut headers = base_headers(KIND, envelope, envelope.headers.len() + 1);
        headers.extend(
            envelope
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        if let Some(content_type) = &envelope.content_type {
            headers.push((CONTENT_TYPE_HEADER.to_owned(), content_type.clone()));
        }
        check_size(&headers, &body, self.max_encoded_size)?;
        Ok(Encoded {
            key: envelope.aggregate_id.clone(),
            headers,
            body: Bytes::from(body),
        })
    }

    fn decode(&self, headers: &[(String, String)], body: Bytes) -> Result<Envelope, EnvelopeError> {
        decode(headers, body, self.max_encoded_size)
    }
}

pub(super) fn decode(
    headers: &[(String, String)],
    body: Bytes,
    max_encoded_size: usize,
) -> Result<Envelope, EnvelopeError> {
    check_size(headers, &body, max_encoded_size)?;
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(EnvelopeError::malformed(
            KIND,
            "the body is not a JSON object",
        ));
    }
    let wire: GoEnvelopeIn<'_> =
        serde_json::from_slice(&body).map_err(|e| EnvelopeError::malformed(KIND, e))?;
    let timestamp = match wire.timestamp.map(|r| (json_type(r), r)) {
        None | Some(("null", _)) => return Err(EnvelopeError::invalid("timestamp", "must be set")),
        Some(("string", r)) => parse_timestamp(&string_field("timestamp", Some(r))?)?,
        Some((_, r)) => return Err(wrong_type("timestamp", "string", r)),
    };
    // Go's `json.RawMessage` keeps the value's bytes as written, `null` included.
    let payload = wire
        .payload
        .map_or_else(Bytes::new, |raw| share(&body, raw.get().as_bytes()));
    let envelope = Envelope {
        event_id: string_field("event_id", wire.event_id)?,
        aggregate_id: string_field("aggregate_id", wire.aggregate_id)?,
        event_type: string_field("event_type", wire.event_type)?,
        event_version: version_field(wire.event_version)?,
        timestamp,
        trace_id: non_empty(string_field("trace_id", wire.trace_id)?),
        correlation_id: non_empty(string_field("correlation_id", wire.correlation_id)?),
        tenant_id: tenant_field(wire.tenant_id)?,
        headers: extension_headers(headers)?,
        content_type: find_header(headers, CONTENT_TYPE_HEADER)
            .map(str::to_owned)
            .and_then(non_empty),
        payload,
    };
    envelope.validate()?;
    Ok(envelope)
}

/// Every transport header that evbus, the Go SDK or CloudEvents does not own.
pub(super) fn extension_headers(
    headers: &[(String, String)],
) -> Result<IndexMap<String, String>, EnvelopeError> {
    let is_extension = |name: &str| !is_reserved_header(name);
    // Count first so a flood of headers is rejected before it is copied.
    let count = headers
        .iter()
        .filter(|(name, _)| is_extension(name))
        .count();
    if count > MAX_EXTENSION_HEADERS {
        return Err(EnvelopeError::invalid(
            "headers",
            format!("at most {MAX_EXTENSION_HEADERS} extension headers are allowed, got {count}"),
        ));
    }
    Ok(headers
        .iter()
        .filter(|(name, _)| is_extension(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect())
}

/// Go's `time.Time.MarshalJSON`: RFC 3339 with nanoseconds, trailing zeros
/// trimmed, `Z` for UTC.
pub(crate) fn format_timestamp(timestamp: OffsetDateTime) -> Result<String, EnvelopeError> {
    timestamp.format(&Rfc3339).map_err(|e| {
        EnvelopeError::invalid("timestamp", format!("cannot be written as RFC 3339: {e}"))
    })
}

/// Parses an RFC 3339 timestamp with any offset (Go writes local time) into UTC.
pub(crate) fn parse_timestamp(text: &str) -> Result<OffsetDateTime, EnvelopeError> {
    let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| {
        let text = excerpt(text);
        EnvelopeError::invalid("timestamp", format!("`{text}` is not RFC 3339: {e}"))
    })?;
    parsed.checked_to_offset(UtcOffset::UTC).ok_or_else(|| {
        let text = excerpt(text);
        EnvelopeError::invalid("timestamp", format!("`{text}` is out of range"))
    })
}
