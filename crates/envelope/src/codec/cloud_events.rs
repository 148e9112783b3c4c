//! CloudEvents 1.0 binary content mode: attributes in headers, the payload as
//! the body. Kafka binding 1.0 (`ce_` prefix, `content-type` header, plain
//! UTF-8 values) and the NATS binding as drafted in version 1.0.3 (`ce-`
//! prefix, `ce-datacontenttype`, percent-encoded values).

use std::borrow::Cow;

use bytes::Bytes;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use super::go_json::{extension_headers, format_timestamp, parse_timestamp};
use super::{Codec, CodecConfig, CodecKind, Encoded, base_headers, check_size, excerpt};
use crate::envelope::non_empty;
use crate::headers::{HeaderPairs, find_header};
use crate::{Envelope, EnvelopeError, TenantId};

/// CloudEvents `specversion` written and accepted.
const SPEC_VERSION: &str = "1.0";

/// What the NATS binding requires to be percent-encoded: controls, space,
/// `"` and `%` (non-ASCII is always encoded by `percent-encoding`).
const NATS_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// The protocol binding a [`CloudEventsCodec`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flavor {
    Kafka,
    Nats,
}

impl Flavor {
    fn kind(self) -> CodecKind {
        match self {
            Self::Kafka => CodecKind::CloudEventsKafka,
            Self::Nats => CodecKind::CloudEventsNats,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Kafka => "ce_",
            Self::Nats => "ce-",
        }
    }

    /// The header carrying `datacontenttype`.
    fn content_type_header(self) -> &'static str {
        match self {
            Self::Kafka => "content-type",
            Self::Nats => "ce-datacontenttype",
        }
    }

    fn encode_value(self, value: &str) -> String {
        match self {
            Self::Kafka => value.to_owned(),
            Self::Nats => utf8_percent_encode(value, NATS_ENCODE).to_string(),
        }
    }

    fn decode_value(self, value: &str) -> Result<String, EnvelopeError> {
        match self {
            Self::Kafka => Ok(value.to_owned()),
            Self::Nats => {
                // Older binding versions allowed RFC 7230 quoted strings.
                let unquoted = unquote(value);
                percent_decode_str(&unquoted)
                    .decode_utf8()
                    .map(Cow::into_owned)
                    .map_err(|_| {
                        EnvelopeError::malformed(
                            self.kind(),
                            format!(
                                "header value `{}` percent-decodes to invalid UTF-8",
                                excerpt(value)
                            ),
                        )
                    })
            }
        }
    }
}

/// Removes RFC 7230 double quotes and backslash escapes, if the value is quoted.
fn unquote(value: &str) -> Cow<'_, str> {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                out.push(if c == '\\' {
                    chars.next().unwrap_or(c)
                } else {
                    c
                });
            }
            Cow::Owned(out)
        }
        None => Cow::Borrowed(value),
    }
}

pub(super) struct CloudEventsCodec {
    flavor: Flavor,
    source: String,
    max_encoded_size: usize,
}

impl CloudEventsCodec {
    pub(super) fn new(flavor: Flavor, config: &CodecConfig) -> Self {
        Self {
            flavor,
            source: config.source.clone(),
            max_encoded_size: config.max_encoded_size,
        }
    }

    fn attribute(&self, headers: &mut HeaderPairs, name: &str, value: &str) {
        let flavor = self.flavor;
        headers.push((
            format!("{}{name}", flavor.prefix()),
            flavor.encode_value(value),
        ));
    }
}

impl Codec for CloudEventsCodec {
    fn kind(&self) -> CodecKind {
        self.flavor.kind()
    }

    fn encode(&self, envelope: &Envelope) -> Result<Encoded, EnvelopeError> {
        envelope.validate()?;
        if self.source.trim().is_empty() {
            return Err(EnvelopeError::invalid(
                "source",
                "CloudEvents needs a non-blank source (CodecConfig::source)",
            ));
        }
        let mut headers = base_headers(self.kind(), envelope, 12 + envelope.headers.len());
        self.attribute(&mut headers, "specversion", SPEC_VERSION);
        self.attribute(&mut headers, "id", &envelope.event_id);
        self.attribute(&mut headers, "source", &self.source);
        self.attribute(&mut headers, "type", &envelope.event_type);
        self.attribute(&mut headers, "time", &format_timestamp(envelope.timestamp)?);
        self.attribute(&mut headers, "partitionkey", &envelope.aggregate_id);
        self.attribute(
            &mut headers,
            "eventversion",
            &envelope.event_version.to_string(),
        );
        if let Some(trace) = &envelope.trace_id {
            self.attribute(&mut headers, "traceid", trace);
        }
        if let Some(correlation) = &envelope.correlation_id {
            self.attribute(&mut headers, "correlationid", correlation);
        }
        if let Some(tenant) = &envelope.tenant_id {
            self.attribute(&mut headers, "tenantid", &tenant.to_string());
        }
        if let Some(content_type) = &envelope.content_type {
            let value = self.flavor.encode_value(content_type);
            headers.push((self.flavor.content_type_header().to_owned(), value));
        }
        headers.extend(
            envelope
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        let body = envelope.payload.clone();
        check_size(&headers, &body, self.max_encoded_size)?;
        Ok(Encoded {
            key: envelope.aggregate_id.clone(),
            headers,
            body,
        })
    }

    fn decode(&self, headers: &[(String, String)], body: Bytes) -> Result<Envelope, EnvelopeError> {
        decode(self.flavor, headers, body, self.max_encoded_size)
    }
}

pub(super) fn decode(
    flavor: Flavor,
    headers: &[(String, String)],
    body: Bytes,
    max_encoded_size: usize,
) -> Result<Envelope, EnvelopeError> {
    check_size(headers, &body, max_encoded_size)?;
    let kind = flavor.kind();
    let optional = |name: &str| -> Result<Option<String>, EnvelopeError> {
        let header = format!("{}{name}", flavor.prefix());
        find_header(headers, &header)
            .map(|v| flavor.decode_value(v))
            .transpose()
    };
    let required = |name: &str| -> Result<String, EnvelopeError> {
        optional(name)?.ok_or_else(|| {
            EnvelopeError::malformed(
                kind,
                format!(
                    "missing required attribute header `{}{name}`",
                    flavor.prefix()
                ),
            )
        })
    };
    let spec_version = required("specversion")?;
    if spec_version != SPEC_VERSION {
        return Err(EnvelopeError::malformed(
            kind,
            format!(
                "unsupported specversion `{}`, expected `{SPEC_VERSION}`",
                excerpt(&spec_version)
            ),
        ));
    }
    if required("source")?.is_empty() {
        return Err(EnvelopeError::malformed(
            kind,
            "the source attribute is empty",
        ));
    }
    let version_text = required("eventversion")?;
    let event_version = version_text.parse::<i64>().map_err(|_| {
        EnvelopeError::invalid(
            "event_version",
            format!("`{}` is not a 64-bit integer", excerpt(&version_text)),
        )
    })?;
    let timestamp = match optional("time")? {
        Some(text) => parse_timestamp(&text)?,
        None => return Err(EnvelopeError::invalid("timestamp", "must be set")),
    };
    let content_type = find_header(headers, flavor.content_type_header())
        .map(|v| flavor.decode_value(v))
        .transpose()?
        .and_then(non_empty);
    let envelope = Envelope {
        event_id: required("id")?,
        aggregate_id: required("partitionkey")?,
        event_type: required("type")?,
        event_version,
        timestamp,
        trace_id: optional("traceid")?.and_then(non_empty),
        correlation_id: optional("correlationid")?.and_then(non_empty),
        tenant_id: optional("tenantid")?
            .map(tenant_from_text)
            .filter(|t| !t.is_empty()),
        headers: extension_headers(headers)?,
        content_type,
        payload: body,
    };
    envelope.validate()?;
    Ok(envelope)
}

/// Header values are text, so a canonical integer is read back as the numeric
/// form (the Go SDK's latest); anything else stays text.
fn tenant_from_text(text: String) -> TenantId {
    match text.parse::<i64>() {
        Ok(n) if n.to_string() == text => TenantId::Number(n),
        _ => TenantId::Text(text),
    }
}
