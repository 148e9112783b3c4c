//! The one error type of this crate.

use crate::codec::CodecKind;

/// Why an envelope could not be built, encoded or decoded.
///
/// Every variant describes a property of the input, so retrying the same
/// operation on the same input fails the same way: [`EnvelopeError::is_retryable`]
/// is always `false`. A consumer should dead-letter a message whose decoding
/// failed instead of retrying it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// A field breaks a validation rule; `reason` states the rule.
    #[error("invalid envelope field `{field}`: {reason}")]
    InvalidField {
        /// Name of the offending field, as in the Go SDK's JSON (e.g. `aggregate_id`).
        field: &'static str,
        /// The rule that was broken, in words.
        reason: String,
    },
    /// The encoded envelope (or the input to decode) exceeds the configured limit.
    #[error("encoded envelope is {actual} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Size of the encoded form, in bytes.
        actual: usize,
        /// The configured [`CodecConfig::max_encoded_size`](crate::CodecConfig::max_encoded_size).
        limit: usize,
    },
    /// The bytes or headers are not a well-formed message of this codec.
    #[error("malformed {codec} message: {reason}")]
    Malformed {
        /// The codec that tried to decode the message.
        codec: CodecKind,
        /// What was wrong, in words.
        reason: String,
    },
    /// The codec marker header names a codec this version of evbus does not know.
    #[error("unknown codec marker `{marker}` in header `{header}`")]
    UnknownCodec {
        /// Name of the marker header.
        header: &'static str,
        /// The value found in it.
        marker: String,
    },
}

/// The kind of an [`EnvelopeError`], for matching without the details.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EnvelopeErrorKind {
    /// See [`EnvelopeError::InvalidField`].
    InvalidField,
    /// See [`EnvelopeError::TooLarge`].
    TooLarge,
    /// See [`EnvelopeError::Malformed`].
    Malformed,
    /// See [`EnvelopeError::UnknownCodec`].
    UnknownCodec,
}

impl EnvelopeError {
    /// The kind of this error.
    pub fn kind(&self) -> EnvelopeErrorKind {
        match self {
            Self::InvalidField { .. } => EnvelopeErrorKind::InvalidField,
            Self::TooLarge { .. } => EnvelopeErrorKind::TooLarge,
            Self::Malformed { .. } => EnvelopeErrorKind::Malformed,
            Self::UnknownCodec { .. } => EnvelopeErrorKind::UnknownCodec,
        }
    }

    /// Whether retrying the same operation could succeed: never, because every
    /// envelope error is a property of the input (see the type's docs).
    pub fn is_retryable(&self) -> bool {
        false
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidField {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn malformed(codec: CodecKind, reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            codec,
            reason: reason.to_string(),
        }
    }
}
