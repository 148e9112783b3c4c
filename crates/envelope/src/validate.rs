//! The validation rules every envelope satisfies.

use crate::headers::is_reserved_header;
use crate::{Envelope, EnvelopeError};

/// Longest accepted aggregate id, in characters (the Go SDK's limit).
pub const MAX_AGGREGATE_ID_LEN: usize = 256;

/// Most extension headers an envelope may carry. Transports add per-header
/// overhead and decoding allocates per header, so the count is bounded to keep
/// decoding memory proportional to the input.
pub const MAX_EXTENSION_HEADERS: usize = 64;

/// Whether `id` is a valid aggregate id: 1 to 256 characters of
/// `[A-Za-z0-9:_\-./]`.
pub fn is_valid_aggregate_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_AGGREGATE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.' | b'/'))
}

pub(crate) fn validate(envelope: &Envelope) -> Result<(), EnvelopeError> {
    not_blank("event_id", &envelope.event_id)?;
    not_blank("aggregate_id", &envelope.aggregate_id)?;
    let aggregate_chars = envelope.aggregate_id.chars().count();
    if aggregate_chars > MAX_AGGREGATE_ID_LEN {
        return Err(EnvelopeError::invalid(
            "aggregate_id",
            format!("must be at most {MAX_AGGREGATE_ID_LEN} characters, is {aggregate_chars}"),
        ));
    }
    if !is_valid_aggregate_id(&envelope.aggregate_id) {
        return Err(EnvelopeError::invalid(
            "aggregate_id",
            "may only contain the characters A-Z a-z 0-9 : _ - . /",
        ));
    }
    not_blank("event_type", &envelope.event_type)?;
    if envelope.event_version <= 0 {
        return Err(EnvelopeError::invalid(
            "event_version",
            format!("must be greater than 0, is {}", envelope.event_version),
        ));
    }
    let year = envelope.timestamp.year();
    if !(0..=9999).contains(&year) {
        // RFC 3339 (and Go's JSON encoder) cannot write other years.
        return Err(EnvelopeError::invalid(
            "timestamp",
            format!("year must be between 0 and 9999, is {year}"),
        ));
    }
    if envelope.payload.is_empty() {
        return Err(EnvelopeError::invalid("payload", "must not be empty"));
    }
    validate_headers(envelope)
}

fn validate_headers(envelope: &Envelope) -> Result<(), EnvelopeError> {
    let count = envelope.headers.len();
    if count > MAX_EXTENSION_HEADERS {
        return Err(EnvelopeError::invalid(
            "headers",
            format!("at most {MAX_EXTENSION_HEADERS} extension headers are allowed, got {count}"),
        ));
    }
    for name in envelope.headers.keys() {
        if name.is_empty() {
            return Err(EnvelopeError::invalid(
                "headers",
                "a header name must not be empty",
            ));
        }
        if is_reserved_header(name) {
            return Err(EnvelopeError::invalid(
                "headers",
                format!(
                    "`{name}` is reserved for evbus, the Go SDK or CloudEvents and cannot be \
                     an extension header"
                ),
            ));
        }
    }
    Ok(())
}

fn not_blank(field: &'static str, value: &str) -> Result<(), EnvelopeError> {
    if value.trim().is_empty() {
        return Err(EnvelopeError::invalid(field, "must not be blank"));
    }
    Ok(())
}
