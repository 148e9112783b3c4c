//! The [`Codec`] trait, codec selection and codec detection.

mod cloud_events;
mod go_json;
mod protobuf;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::headers::{CODEC_HEADER, HeaderPairs, find_header};
use crate::{Envelope, EnvelopeError};

use cloud_events::{CloudEventsCodec, Flavor};
use go_json::GoJsonCodec;
use protobuf::ProtobufCodec;

/// Which wire format a [`Codec`] reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodecKind {
    /// Protobuf (`evbus.envelope.v1.Envelope`), the default: smallest and fastest.
    #[default]
    Protobuf,
    /// The Go SDK's JSON envelope, byte-compatible with its `encoding/json` output;
    /// choose it while Go services still consume the topic.
    GoJson,
    /// CloudEvents 1.0 binary mode for Kafka: `ce_` headers, payload as the body.
    CloudEventsKafka,
    /// CloudEvents 1.0 binary mode for NATS: `ce-` headers with percent-encoded
    /// values, payload as the body.
    CloudEventsNats,
}

impl CodecKind {
    /// Every codec kind.
    pub const ALL: [CodecKind; 4] = [
        Self::Protobuf,
        Self::GoJson,
        Self::CloudEventsKafka,
        Self::CloudEventsNats,
    ];

    /// The value of the [`CODEC_HEADER`](crate::CODEC_HEADER) marker this codec
    /// writes; the same string as its serde name.
    pub fn marker(self) -> &'static str {
        match self {
            Self::Protobuf => "protobuf",
            Self::GoJson => "go_json",
            Self::CloudEventsKafka => "cloud_events_kafka",
            Self::CloudEventsNats => "cloud_events_nats",
        }
    }

    /// The codec kind a marker value names, if any.
    pub fn from_marker(marker: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.marker() == marker)
    }
}

impl fmt::Display for CodecKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.marker())
    }
}

/// Settings shared by all codecs.
///
/// ```
/// use evbus_envelope::CodecConfig;
///
/// let config = CodecConfig::new("billing-service").with_max_encoded_size(512 * 1024);
/// assert_eq!(config.source, "billing-service");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CodecConfig {
    /// Largest accepted encoded message, in bytes: the body plus the names and
    /// values of the headers the codec writes (or, when decoding, receives).
    /// Default: 1,000,000, the Kafka default `message.max.bytes`. Each transport
    /// also checks the whole message against its own limit.
    pub max_encoded_size: usize,
    /// The CloudEvents `source` attribute: the publishing service's name.
    /// Default: `"evbus"`.
    pub source: String,
}

impl CodecConfig {
    /// Default `max_encoded_size`.
    pub const DEFAULT_MAX_ENCODED_SIZE: usize = 1_000_000;

    /// The defaults with `source` set to the publishing service's name.
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            ..Self::default()
        }
    }

    /// Sets [`CodecConfig::max_encoded_size`].
    #[must_use]
    pub fn with_max_encoded_size(mut self, max_encoded_size: usize) -> Self {
        self.max_encoded_size = max_encoded_size;
        self
    }
}

impl Default for CodecConfig {
    fn default() -> Self {
        Self {
            max_encoded_size: Self::DEFAULT_MAX_ENCODED_SIZE,
            source: "evbus".to_owned(),
        }
    }
}

/// An encoded envelope: everything a transport sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The record key: the aggregate id.
    pub key: String,
    /// The headers to send: the codec marker, the Go SDK's `X-*` mirrors, and
    /// whatever the codec keeps out of the body (extension headers, content
    /// type, CloudEvents attributes).
    pub headers: HeaderPairs,
    /// The message body.
    pub body: Bytes,
}

/// Turns envelopes into transport messages and back.
///
/// # Behavior
/// - `encode` validates the envelope first and fails with
///   [`EnvelopeError::InvalidField`] on a broken rule, then with
///   [`EnvelopeError::TooLarge`] when the result exceeds
///   [`CodecConfig::max_encoded_size`].
/// - `encode` always writes the [`CODEC_HEADER`](crate::CODEC_HEADER) marker and
///   the Go SDK's `X-*` mirror headers; `key` is the aggregate id.
/// - `decode` returns `Ok` or a typed error for any input, never panics, and
///   allocates no more than the input justifies; oversized input is rejected
///   with [`EnvelopeError::TooLarge`] before it is parsed.
/// - `decode` validates the envelope it produced; the payload shares memory
///   with `body` where the format allows (protobuf, Go JSON, CloudEvents).
pub trait Codec: Send + Sync + 'static {
    /// Which codec this is.
    fn kind(&self) -> CodecKind;
    /// Encodes a (valid) envelope.
    fn encode(&self, envelope: &Envelope) -> Result<Encoded, EnvelopeError>;
    /// Decodes a message received with `headers` and `body`.
    fn decode(&self, headers: &[(String, String)], body: Bytes) -> Result<Envelope, EnvelopeError>;
}

/// The codec of `kind` with `config`.
///
/// ```
/// use evbus_envelope::{codec, CodecConfig, CodecKind, Envelope};
///
/// let codec = codec(CodecKind::Protobuf, &CodecConfig::new("orders"));
/// let envelope = Envelope::builder("order-1", "order.created", 1, "{}").build()?;
/// let encoded = codec.encode(&envelope)?;
/// assert_eq!(encoded.key, "order-1");
/// assert_eq!(codec.decode(&encoded.headers, encoded.body)?, envelope);
/// # Ok::<(), evbus_envelope::EnvelopeError>(())
/// ```
pub fn codec(kind: CodecKind, config: &CodecConfig) -> Arc<dyn Codec> {
    match kind {
        CodecKind::Protobuf => Arc::new(ProtobufCodec::new(config)),
        CodecKind::GoJson => Arc::new(GoJsonCodec::new(config)),
        CodecKind::CloudEventsKafka => Arc::new(CloudEventsCodec::new(Flavor::Kafka, config)),
        CodecKind::CloudEventsNats => Arc::new(CloudEventsCodec::new(Flavor::Nats, config)),
    }
}

/// Decodes a message whatever codec produced it, so a topic carrying several
/// encodings (e.g. during a migration from Go) is read correctly.
///
/// The codec is the one named by the [`CODEC_HEADER`](crate::CODEC_HEADER)
/// marker. Without a marker (a Go service's message, or a foreign CloudEvent)
/// it is sniffed: a `ce_specversion` header means CloudEvents for Kafka,
/// `ce-specversion` CloudEvents for NATS, a body whose first non-whitespace
/// byte is `{` the Go JSON envelope, anything else protobuf.
///
/// ```
/// use evbus_envelope::{codec, decode_any, CodecConfig, CodecKind, Envelope};
///
/// let config = CodecConfig::default();
/// let envelope = Envelope::builder("order-1", "order.created", 1, "{}").build()?;
/// let go_json = codec(CodecKind::GoJson, &config).encode(&envelope)?;
/// // A Go service sends no marker: the body is sniffed.
/// assert_eq!(decode_any(&[], go_json.body, &config)?.event_id(), envelope.event_id());
/// # Ok::<(), evbus_envelope::EnvelopeError>(())
/// ```
pub fn decode_any(
    headers: &[(String, String)],
    body: Bytes,
    config: &CodecConfig,
) -> Result<Envelope, EnvelopeError> {
    let kind = detect(headers, &body)?;
    let max = config.max_encoded_size;
    match kind {
        CodecKind::Protobuf => protobuf::decode(headers, body, max),
        CodecKind::GoJson => go_json::decode(headers, body, max),
        CodecKind::CloudEventsKafka => cloud_events::decode(Flavor::Kafka, headers, body, max),
        CodecKind::CloudEventsNats => cloud_events::decode(Flavor::Nats, headers, body, max),
    }
}

/// The codec that produced a message, from its marker or by sniffing (see
/// [`decode_any`]).
pub fn detect(headers: &[(String, String)], body: &[u8]) -> Result<CodecKind, EnvelopeError> {
    if let Some(marker) = find_header(headers, CODEC_HEADER) {
        return CodecKind::from_marker(marker).ok_or_else(|| EnvelopeError::UnknownCodec {
            header: CODEC_HEADER,
            marker: marker.to_owned(),
        });
    }
    if find_header(headers, "ce_specversion").is_some() {
        return Ok(CodecKind::CloudEventsKafka);
    }
    if find_header(headers, "ce-specversion").is_some() {
        return Ok(CodecKind::CloudEventsNats);
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    Ok(if first == Some(&b'{') {
        CodecKind::GoJson
    } else {
        CodecKind::Protobuf
    })
}

/// Size of a message as [`CodecConfig::max_encoded_size`] counts it.
fn message_size(headers: &[(String, String)], body: &[u8]) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .fold(body.len(), usize::saturating_add)
}

fn check_size(
    headers: &[(String, String)],
    body: &[u8],
    limit: usize,
) -> Result<(), EnvelopeError> {
    let actual = message_size(headers, body);
    if actual > limit {
        return Err(EnvelopeError::TooLarge { actual, limit });
    }
    Ok(())
}

/// The marker header followed by the `X-*` mirrors, with room for `extra` more.
fn base_headers(kind: CodecKind, envelope: &Envelope, extra: usize) -> HeaderPairs {
    let mut headers = HeaderPairs::with_capacity(8 + extra);
    headers.push((CODEC_HEADER.to_owned(), kind.marker().to_owned()));
    crate::headers::push_mirror_headers(envelope, &mut headers);
    headers
}

/// `part` as a slice of `whole` when it lies inside it (no copy), else a copy.
fn share(whole: &Bytes, part: &[u8]) -> Bytes {
    let start = (part.as_ptr() as usize).wrapping_sub(whole.as_ptr() as usize);
    if start <= whole.len() && part.len() <= whole.len() - start {
        whole.slice(start..start + part.len())
    } else {
        Bytes::copy_from_slice(part)
    }
}

/// At most the first 64 characters of `text`, for quoting input in error
/// messages without copying an arbitrarily large value.
fn excerpt(text: &str) -> &str {
    match text.char_indices().nth(64) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}
