//! The protobuf codec (`evbus.envelope.v1.Envelope`, see `proto/`).

use bytes::{Buf, Bytes};
use indexmap::IndexMap;
use prost::Message;
use prost::encoding::{self, DecodeContext, WireType, decode_key, skip_field};
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
        let body = Bytes::from(encode_body(envelope));
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

/// The protobuf body of `envelope`, byte for byte what prost writes for
/// its [`wire::Envelope`] (fields in tag order, proto3 defaults left out,
/// a set oneof always written), from the envelope's own fields: building
/// the wire struct first would copy every string.
fn encode_body(envelope: &Envelope) -> Vec<u8> {
    let timestamp = wire_timestamp(envelope);
    let len = body_len(envelope, &timestamp);
    let mut buf = Vec::with_capacity(len);
    let buf_ref = &mut buf;
    string_field(1, &envelope.event_id, buf_ref);
    string_field(2, &envelope.aggregate_id, buf_ref);
    string_field(3, &envelope.event_type, buf_ref);
    if envelope.event_version != 0 {
        encoding::int64::encode(4, &envelope.event_version, buf_ref);
    }
    encoding::message::encode(5, &timestamp, buf_ref);
    optional_string_field(6, envelope.trace_id.as_ref(), buf_ref);
    optional_string_field(7, envelope.correlation_id.as_ref(), buf_ref);
    match &envelope.tenant_id {
        Some(TenantId::Number(n)) => encoding::int64::encode(8, n, buf_ref),
        Some(TenantId::Text(text)) => encoding::string::encode(9, text, buf_ref),
        None => {}
    }
    for (name, value) in &envelope.headers {
        encoding::encode_key(HEADERS_FIELD, WireType::LengthDelimited, buf_ref);
        encoding::encode_varint(header_len(name, value) as u64, buf_ref);
        string_field(1, name, buf_ref);
        string_field(2, value, buf_ref);
    }
    optional_string_field(11, envelope.content_type.as_ref(), buf_ref);
    if !envelope.payload.is_empty() {
        encoding::bytes::encode(12, &envelope.payload, buf_ref);
    }
    debug_assert_eq!(buf.len(), len);
    buf
}

/// The length [`encode_body`] writes.
fn body_len(envelope: &Envelope, timestamp: &prost_types::Timestamp) -> usize {
    let string_len = |tag, value: &String| {
        if value.is_empty() {
            0
        } else {
            encoding::string::encoded_len(tag, value)
        }
    };
    let optional_len = |tag, value: Option<&String>| value.map_or(0, |v| string_len(tag, v));
    let tenant_len = match &envelope.tenant_id {
        Some(TenantId::Number(n)) => encoding::int64::encoded_len(8, n),
        Some(TenantId::Text(text)) => encoding::string::encoded_len(9, text),
        None => 0,
    };
    let headers_len: usize = envelope
        .headers
        .iter()
        .map(|(name, value)| {
            let len = header_len(name, value);
            encoding::key_len(HEADERS_FIELD) + encoding::encoded_len_varint(len as u64) + len
        })
        .sum();
    let version_len = if envelope.event_version == 0 {
        0
    } else {
        encoding::int64::encoded_len(4, &envelope.event_version)
    };
    let payload_len = if envelope.payload.is_empty() {
        0
    } else {
        encoding::bytes::encoded_len(12, &envelope.payload)
    };
    string_len(1, &envelope.event_id)
        + string_len(2, &envelope.aggregate_id)
        + string_len(3, &envelope.event_type)
        + version_len
        + encoding::message::encoded_len(5, timestamp)
        + optional_len(6, envelope.trace_id.as_ref())
        + optional_len(7, envelope.correlation_id.as_ref())
        + tenant_len
        + headers_len
        + optional_len(11, envelope.content_type.as_ref())
        + payload_len
}

/// The length of one `Header` message's own fields.
fn header_len(name: &String, value: &String) -> usize {
    let field = |tag, s: &String| {
        if s.is_empty() {
            0
        } else {
            encoding::string::encoded_len(tag, s)
        }
    };
    field(1, name) + field(2, value)
}

/// A proto3 string field: left out when empty.
fn string_field(tag: u32, value: &String, buf: &mut Vec<u8>) {
    if !value.is_empty() {
        encoding::string::encode(tag, value, buf);
    }
}

/// An optional envelope field sent as a proto3 string: absent and empty
/// are both left out.
fn optional_string_field(tag: u32, value: Option<&String>, buf: &mut Vec<u8>) {
    if let Some(value) = value {
        string_field(tag, value, buf);
    }
}

fn wire_timestamp(envelope: &Envelope) -> prost_types::Timestamp {
    let nanos = envelope.timestamp.unix_timestamp_nanos();
    // Valid envelopes have years 0..=9999, well inside i64 seconds.
    prost_types::Timestamp {
        seconds: nanos.div_euclid(1_000_000_000) as i64,
        nanos: nanos.rem_euclid(1_000_000_000) as i32,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope as prost's generated struct: what `encode_body` must
    /// write byte for byte.
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

    #[test]
    fn the_body_is_what_prost_writes_for_the_wire_struct() {
        let minimal = Envelope::builder("agg-1", "Created", 1, Bytes::from_static(b"{}"))
            .build()
            .unwrap();
        let full = Envelope::builder("agg-2", "Updated", 300, Bytes::from(vec![7u8; 300]))
            .trace_id("trace")
            .correlation_id("corr")
            .tenant_id(42)
            .header("a", "1")
            .header("b-long-name", "x".repeat(200))
            .content_type("application/json")
            .build()
            .unwrap();
        let text_tenant = Envelope::builder("agg-3", "Moved", i64::MAX, Bytes::from_static(b"p"))
            .tenant_id("tenant-a")
            .build()
            .unwrap();
        for envelope in [minimal, full, text_tenant] {
            assert_eq!(
                encode_body(&envelope),
                to_wire(&envelope).encode_to_vec(),
                "{envelope:?}"
            );
        }
    }
}
