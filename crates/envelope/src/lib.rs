#![doc = include_str!("../README.md")]

mod builder;
mod codec;
mod envelope;
mod error;
mod headers;
mod tenant;
mod validate;

/// Types generated from `proto/evbus/envelope/v1/envelope.proto` by `build.rs`.
mod wire {
    #![allow(missing_docs, clippy::all, clippy::pedantic)]
    include!(concat!(env!("OUT_DIR"), "/evbus.envelope.v1.rs"));
}

pub use builder::EnvelopeBuilder;
pub use bytes::Bytes;
pub use codec::{Codec, CodecConfig, CodecKind, Encoded, codec, decode_any, detect};
pub use envelope::Envelope;
pub use error::{EnvelopeError, EnvelopeErrorKind};
pub use headers::{
    AGGREGATE_ID_HEADERS, CODEC_HEADER, CONTENT_TYPE_HEADER, HeaderPairs, X_AGGREGATE_ID,
    X_CORRELATION_ID, X_EVENT_ID, X_EVENT_TYPE, X_EVENT_VERSION, X_TENANT_ID, X_TRACE_ID,
    aggregate_id_of, is_reserved_header, push_mirror_headers,
};
pub use indexmap::IndexMap;
pub use tenant::TenantId;
pub use time::OffsetDateTime;
pub use validate::{MAX_AGGREGATE_ID_LEN, MAX_EXTENSION_HEADERS, is_valid_aggregate_id};
