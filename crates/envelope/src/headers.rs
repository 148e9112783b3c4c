//! Transport header names, the Go SDK's `X-*` mirrors and aggregate id lookup.

use crate::Envelope;
use crate::validate::is_valid_aggregate_id;

/// Transport headers: ordered `(name, value)` string pairs, as every evbus
/// transport sends and receives them.
pub type HeaderPairs = Vec<(String, String)>;

/// The codec marker header: its value names the codec that produced the body
/// (see [`CodecKind::marker`](crate::CodecKind::marker)). It is distinct from any
/// content type, which describes the payload.
pub const CODEC_HEADER: &str = "evbus-codec";
/// Carries the payload's content type for codecs whose body has no room for it
/// (the Go-JSON codec).
pub const CONTENT_TYPE_HEADER: &str = "evbus-content-type";
/// Go SDK mirror of `event_id`, always sent.
pub const X_EVENT_ID: &str = "X-Event-ID";
/// Go SDK mirror of `aggregate_id`, always sent.
pub const X_AGGREGATE_ID: &str = "X-Aggregate-ID";
/// Go SDK mirror of `event_version`, always sent.
pub const X_EVENT_VERSION: &str = "X-Event-Version";
/// Go SDK mirror of `event_type`, always sent.
pub const X_EVENT_TYPE: &str = "X-Event-Type";
/// Go SDK mirror of `trace_id`, sent when present.
pub const X_TRACE_ID: &str = "X-Trace-ID";
/// Go SDK mirror of `correlation_id`, sent when present.
pub const X_CORRELATION_ID: &str = "X-Correlation-ID";
/// Go SDK mirror of `tenant_id`, sent when present.
pub const X_TENANT_ID: &str = "X-Tenant-ID";

/// Headers the Go SDK reads an aggregate id from, highest priority first.
pub const AGGREGATE_ID_HEADERS: [&str; 4] = [
    "X-Aggregate-ID",
    "x-aggregate-id",
    "Aggregate-ID",
    "aggregate-id",
];

/// Names evbus itself writes; an extension header may not use them (compared
/// ASCII case-insensitively, since some transports and proxies fold case).
const RESERVED_NAMES: [&str; 11] = [
    CODEC_HEADER,
    CONTENT_TYPE_HEADER,
    X_EVENT_ID,
    X_AGGREGATE_ID,
    X_EVENT_VERSION,
    X_EVENT_TYPE,
    X_TRACE_ID,
    X_CORRELATION_ID,
    X_TENANT_ID,
    "Aggregate-ID",
    "content-type",
];

/// Whether `name` belongs to evbus, the Go SDK or CloudEvents (`ce_` / `ce-`
/// prefixed) and so cannot be an extension header name.
pub fn is_reserved_header(name: &str) -> bool {
    let lower_prefix = name.get(..3).map(str::to_ascii_lowercase);
    matches!(lower_prefix.as_deref(), Some("ce_" | "ce-"))
        || RESERVED_NAMES.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// The first value of header `name`, matched ASCII case-insensitively.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Appends the Go SDK's `X-*` mirror headers of `envelope` to `out`:
/// `X-Event-ID`, `X-Aggregate-ID`, `X-Event-Version`, `X-Event-Type` always,
/// `X-Trace-ID`, `X-Correlation-ID`, `X-Tenant-ID` when present.
pub fn push_mirror_headers(envelope: &Envelope, out: &mut HeaderPairs) {
    out.push((X_EVENT_ID.to_owned(), envelope.event_id().to_owned()));
    out.push((
        X_AGGREGATE_ID.to_owned(),
        envelope.aggregate_id().to_owned(),
    ));
    out.push((
        X_EVENT_VERSION.to_owned(),
        envelope.event_version().to_string(),
    ));
    out.push((X_EVENT_TYPE.to_owned(), envelope.event_type().to_owned()));
    if let Some(trace) = envelope.trace_id() {
        out.push((X_TRACE_ID.to_owned(), trace.to_owned()));
    }
    if let Some(correlation) = envelope.correlation_id() {
        out.push((X_CORRELATION_ID.to_owned(), correlation.to_owned()));
    }
    if let Some(tenant) = envelope.tenant_id() {
        out.push((X_TENANT_ID.to_owned(), tenant.to_string()));
    }
}

/// The aggregate id of a message, looked up with the Go SDK's priority:
///
/// 1. the decoded envelope's `aggregate_id`;
/// 2. the first non-blank header among `X-Aggregate-ID`, `x-aggregate-id`,
///    `Aggregate-ID`, `aggregate-id` (in that order, names matched exactly);
/// 3. the message key (Kafka), when non-blank;
/// 4. the last segment of the subject (NATS) that is a valid aggregate id,
///    scanning the `.`-separated segments from the end (so wildcards and
///    empty segments are skipped).
///
/// ```
/// use evbus_envelope::aggregate_id_of;
///
/// let headers = vec![("aggregate-id".to_owned(), "order-7".to_owned())];
/// assert_eq!(aggregate_id_of(None, &headers, Some("key-1"), None).as_deref(), Some("order-7"));
/// assert_eq!(aggregate_id_of(None, &[], Some("key-1"), None).as_deref(), Some("key-1"));
/// assert_eq!(aggregate_id_of(None, &[], None, Some("orders.order-9.*")).as_deref(), Some("order-9"));
/// assert_eq!(aggregate_id_of(None, &[], None, None), None);
/// ```
pub fn aggregate_id_of(
    envelope: Option<&Envelope>,
    headers: &[(String, String)],
    key: Option<&str>,
    subject: Option<&str>,
) -> Option<String> {
    if let Some(envelope) = envelope {
        return Some(envelope.aggregate_id().to_owned());
    }
    let from_headers = AGGREGATE_ID_HEADERS.iter().find_map(|wanted| {
        headers
            .iter()
            .find(|(name, value)| name == wanted && !value.trim().is_empty())
            .map(|(_, value)| value.as_str())
    });
    if let Some(id) = from_headers {
        return Some(id.to_owned());
    }
    if let Some(key) = key.filter(|k| !k.trim().is_empty()) {
        return Some(key.to_owned());
    }
    subject?
        .rsplit('.')
        .find(|segment| is_valid_aggregate_id(segment))
        .map(str::to_owned)
}
