//! The protobuf codec (`evbus.envelope.v1.Envelope`, see `proto/`).

use bytes::{Buf, Bytes};
use indexmap::IndexMap;
use prost::Message;
use prost::encoding::{DecodeContext, WireType, decode_key, skip_field};
use time::OffsetDateTime;

use super::{Codec, CodecConfig, CodecKind, Encoded, base_headers, check_size};
use crate::envelope::non_empty;
use crate::validate::MAX_EXTENSION_HEADERS;
use crate::wire;
use crate::{Envelope, EnvelopeError, TenantId};

const KIND: CodecKind = CodecKind::Protobuf;
/// Field number of `Envelope.headers` in the .proto.
const HEADERS_FIELD: u32 = 10;

pub(super) struct ProtobufCodec {
    max_encoded_size: usize,
}

impl ProtobufCodec {
    pub(super) fn new(config: &CodecConfig) -> Self {
        Self {
            max_encoded_size: config.max_encoded_size,
        }
    }
}

impl Codec for ProtobufCodec {
    fn kind(&self) -> CodecKind {
        KIND
    }

    fn encode(&self, envelope: &Envelope) -> Result<Encoded, EnvelopeError> {
        envelope.validate()?;
        let body = Bytes::from(to_wire(envelope).encode_to_vec());
        // Extension headers and the content type travel inside the body.
        let headers = base_headers(KIND, envelope, 0);
        check_size(&headers, &body, self.max_encoded_size)?;
        Ok(Encoded {
            key: envelope.aggregate_id.clone(),
            headers,
            body,
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
    check_header_count(&body)?;
    // Decoding from `Bytes` makes the `bytes` payload field a slice of `body`.
    let wire = wire::Envelope::decode(body).map_err(|e| EnvelopeError::malformed(KIND, e))?;
    let envelope = from_wire(wire)?;
    envelope.validate()?;
    Ok(envelope)
}

/// Rejects a body with too many extension headers before prost allocates a
/// struct for each: a header costs 2 bytes on the wire but ~50 bytes decoded.
fn check_header_count(body: &Bytes) -> Result<(), EnvelopeError> {
    let mut buf = body.clone();
    let mut count = 0usize;
    while buf.has_remaining() {
        let Ok((tag, wire_type)) = decode_key(&mut buf) else {
            break; // the real decode reports the error
        };
        if tag == HEADERS_FIELD && wire_type == WireType::LengthDelimited {
            count += 1;
            if count > MAX_EXTENSION_HEADERS {
                return Err(EnvelopeError::invalid(
                    "headers",
                    format!("at most {MAX_EXTENSION_HEADERS} extension headers are allowed"),
                ));
            }
        }
        if skip_field(wire_type, tag, &mut buf, DecodeContext::default()).is_err() {
            break;
        }
    }
    Ok(())
}

fn to_wire(envelope: &Envelope) -> wire::Envelope {
    let nanos = envelope.timestamp.unix_timestamp_nanos();
    let tenant_id = envelope.tenant_id.as_ref().map(|t| match t {
        TenantId::Number(n) => wire::envelope::TenantId::TenantNumber(*n),
        TenantId::Text(s) => wire::envelope::TenantId::TenantText(s.clone()),
    });
    wire::Envelope {
        event_id: envelope.event_id.clone(),
        aggregate_id: envelope.aggregate_id.clone(),
        event_type: envelope.event_type.clone(),
        event_version: envelope.event_version,
        // Valid envelopes have years 0..=9999, well inside i64 seconds.
        timestamp: Some(prost_types::Timestamp {
            seconds: nanos.div_euclid(1_000_000_000) as i64,
            nanos: nanos.rem_euclid(1_000_000_000) as i32,
        }),
        trace_id: envelope.trace_id.clone().unwrap_or_default(),
        correlation_id: envelope.correlation_id.clone().unwrap_or_default(),
        tenant_id,
        headers: envelope
            .headers
            .iter()
            .map(|(name, value)| wire::Header {
                name: name.clone(),
                value: value.clone(),
            })
            .collect(),
        content_type: envelope.content_type.clone().unwrap_or_default(),
        payload: envelope.payload.clone(),
    }
}

fn from_wire(wire: wire::Envelope) -> Result<Envelope, EnvelopeError> {
    let timestamp = wire
        .timestamp
        .ok_or_else(|| EnvelopeError::invalid("timestamp", "must be set"))?;
    let timestamp = timestamp_from_wire(timestamp)?;
    let tenant_id = wire
        .tenant_id
        .map(|t| match t {
            wire::envelope::TenantId::TenantNumber(n) => TenantId::Number(n),
            wire::envelope::TenantId::TenantText(s) => TenantId::Text(s),
        })
        .filter(|t| !t.is_empty());
    let headers: IndexMap<String, String> = wire
        .headers
        .into_iter()
        .map(|h| (h.name, h.value))
        .collect();
    Ok(Envelope {
        event_id: wire.event_id,
        aggregate_id: wire.aggregate_id,
        event_type: wire.event_type,
        event_version: wire.event_version,
        timestamp,
        trace_id: non_empty(wire.trace_id),
        correlation_id: non_empty(wire.correlation_id),
        tenant_id,
        headers,
        content_type: non_empty(wire.content_type),
        payload: wire.payload,
    })
}

fn timestamp_from_wire(ts: prost_types::Timestamp) -> Result<OffsetDateTime, EnvelopeError> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(EnvelopeError::invalid(
            "timestamp",
            format!("nanos must be in 0..1000000000, is {}", ts.nanos),
        ));
    }
    let total = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    OffsetDateTime::from_unix_timestamp_nanos(total).map_err(|_| {
        EnvelopeError::invalid(
            "timestamp",
            format!(
                "{} seconds since the Unix epoch is out of range",
                ts.seconds
            ),
        )
    })
}
