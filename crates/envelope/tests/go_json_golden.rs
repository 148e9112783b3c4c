//! Golden vectors for the Go-JSON codec, written by hand from the Go SDK's
//! struct and `encoding/json` rules:
//!
//! ```go
//! type Envelope struct {
//!     EventID       string          `json:"event_id"`
//!     AggregateID   string          `json:"aggregate_id"`
//!     EventType     string          `json:"event_type"`
//!     EventVersion  int64           `json:"event_version"`
//!     Timestamp     time.Time       `json:"timestamp"`
//!     TraceID       string          `json:"trace_id,omitempty"`
//!     CorrelationID string          `json:"correlation_id,omitempty"`
//!     TenantID      int             `json:"tenant_id,omitempty"` // string before
//!     Payload       json.RawMessage `json:"payload"`
//! }
//! ```
//!
//! `json.Marshal` keeps declaration order, escapes `<`, `>`, `&`, U+2028 and
//! U+2029 as `\u003c`-style escapes, compacts the raw payload (escaping it the
//! same way) and writes `time.Time` as RFC 3339 with trailing zeros of the
//! nanoseconds trimmed. `json.Unmarshal` keeps a `RawMessage` byte-for-byte.

use evbus_envelope::{
    CODEC_HEADER, CodecConfig, CodecKind, Envelope, EnvelopeErrorKind, TenantId, codec, decode_any,
};
use time::macros::datetime;

fn go_json() -> std::sync::Arc<dyn evbus_envelope::Codec> {
    codec(CodecKind::GoJson, &CodecConfig::default())
}

fn decode(body: &str) -> Envelope {
    go_json()
        .decode(&[], bytes::Bytes::copy_from_slice(body.as_bytes()))
        .unwrap_or_else(|e| panic!("decoding {body}: {e}"))
}

fn encode(envelope: &Envelope) -> String {
    let encoded = go_json().encode(envelope).expect("encode");
    String::from_utf8(encoded.body.to_vec()).expect("utf-8")
}

/// Asserts `envelope` encodes to exactly `go` and `go` decodes to `envelope`.
fn both_directions(envelope: &Envelope, go: &str) {
    assert_eq!(encode(envelope), go, "Rust -> Go bytes");
    assert_eq!(&decode(go), envelope, "Go bytes -> Rust");
}

#[test]
fn full_envelope_with_numeric_tenant() {
    let envelope = Envelope::builder(
        "order-42",
        "order.created",
        3,
        r#"{"total":10,"items":["a","b"]}"#,
    )
    .event_id("0190c3a4-7b2e-7cc1-9f3a-2b5d8e1f4a6c")
    .timestamp(datetime!(2024-07-01 12:34:56.123456789 UTC))
    .trace_id("trace-1")
    .correlation_id("corr-1")
    .tenant_id(42)
    .build()
    .unwrap();
    both_directions(
        &envelope,
        r#"{"event_id":"0190c3a4-7b2e-7cc1-9f3a-2b5d8e1f4a6c","aggregate_id":"order-42","event_type":"order.created","event_version":3,"timestamp":"2024-07-01T12:34:56.123456789Z","trace_id":"trace-1","correlation_id":"corr-1","tenant_id":42,"payload":{"total":10,"items":["a","b"]}}"#,
    );
}

#[test]
fn empty_optional_fields_are_omitted_and_nanoseconds_trimmed() {
    let envelope = Envelope::builder("cart:7/x_y.z-1", "cart.cleared", 1, "[1,2,3]")
        .event_id("e-2")
        .timestamp(datetime!(2024-07-01 12:34:56.1 UTC))
        .trace_id("")
        .tenant_id(0)
        .build()
        .unwrap();
    both_directions(
        &envelope,
        r#"{"event_id":"e-2","aggregate_id":"cart:7/x_y.z-1","event_type":"cart.cleared","event_version":1,"timestamp":"2024-07-01T12:34:56.1Z","payload":[1,2,3]}"#,
    );
}

#[test]
fn whole_seconds_have_no_fraction_and_microseconds_keep_their_digits() {
    let whole = Envelope::builder("a", "t", 9_007_199_254_740_993, "true")
        .event_id("e")
        .timestamp(datetime!(1999-12-31 23:59:59 UTC))
        .build()
        .unwrap();
    both_directions(
        &whole,
        r#"{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":9007199254740993,"timestamp":"1999-12-31T23:59:59Z","payload":true}"#,
    );
    let micros = whole
        .to_builder()
        .timestamp(datetime!(2000-01-01 00:00:00.000120 UTC))
        .build()
        .unwrap();
    assert!(encode(&micros).contains(r#""timestamp":"2000-01-01T00:00:00.00012Z""#));
}

#[test]
fn string_tenant_of_earlier_sdk_versions() {
    let envelope = Envelope::builder("a-1", "user.renamed", 2, r#""new name""#)
        .event_id("e-3")
        .timestamp(datetime!(2023-01-02 03:04:05.5 UTC))
        .tenant_id("acme")
        .build()
        .unwrap();
    both_directions(
        &envelope,
        r#"{"event_id":"e-3","aggregate_id":"a-1","event_type":"user.renamed","event_version":2,"timestamp":"2023-01-02T03:04:05.5Z","tenant_id":"acme","payload":"new name"}"#,
    );
    assert_eq!(envelope.tenant_id(), Some(&TenantId::Text("acme".into())));
}

#[test]
fn go_local_time_offset_decodes_to_the_same_instant_in_utc() {
    // Go marshals a local time with its offset; evbus keeps UTC and writes `Z`,
    // which Go parses to the same instant.
    let go = r#"{"event_id":"e-4","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T20:34:56.5+08:00","payload":1}"#;
    let envelope = decode(go);
    assert_eq!(envelope.timestamp(), datetime!(2024-07-01 12:34:56.5 UTC));
    assert_eq!(
        encode(&envelope),
        r#"{"event_id":"e-4","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T12:34:56.5Z","payload":1}"#
    );
    let negative = decode(&go.replace("+08:00", "-03:30"));
    assert_eq!(negative.timestamp(), datetime!(2024-07-02 00:04:56.5 UTC));
}

#[test]
fn html_characters_and_line_separators_are_escaped_like_go() {
    let envelope = Envelope::builder("a", "a<b>&c", 1, "\"<tag>&\u{2028}\"")
        .event_id("e-5")
        .timestamp(datetime!(2024-07-01 00:00:00 UTC))
        .trace_id("line\u{2028}sep\u{2029}")
        .correlation_id("tab\there\nquote\"back\\slash\u{1}")
        .build()
        .unwrap();
    let go = r#"{"event_id":"e-5","aggregate_id":"a","event_type":"a\u003cb\u003e\u0026c","event_version":1,"timestamp":"2024-07-01T00:00:00Z","trace_id":"line\u2028sep\u2029","correlation_id":"tab\there\nquote\"back\\slash\u0001","payload":"\u003ctag\u003e\u0026\u2028"}"#;
    assert_eq!(encode(&envelope), go);
    let decoded = decode(go);
    assert_eq!(decoded.event_type(), "a<b>&c");
    assert_eq!(decoded.trace_id(), Some("line\u{2028}sep\u{2029}"));
    assert_eq!(decoded.correlation_id(), envelope.correlation_id());
    // RawMessage keeps the bytes Go wrote: the same JSON value, escaped.
    assert_eq!(
        decoded.payload().as_ref(),
        br#""\u003ctag\u003e\u0026\u2028""#
    );
    assert_eq!(encode(&decoded), go, "re-encoding is stable");
}

#[test]
fn payload_kinds_and_non_ascii_text() {
    let cases: [(&str, &str); 6] = [
        (
            r#"{"name":"Zoë","city":"北京"}"#,
            r#"{"name":"Zoë","city":"北京"}"#,
        ),
        ("[]", "[]"),
        (r#""héllo ✓ 😀""#, r#""héllo ✓ 😀""#),
        ("12.50", "12.50"),
        ("-1e-7", "-1e-7"),
        ("null", "null"),
    ];
    for (payload, written) in cases {
        let envelope = Envelope::builder("a", "订单.已创建", 1, payload)
            .event_id("e-6")
            .timestamp(datetime!(2024-07-01 00:00:00 UTC))
            .build()
            .unwrap();
        both_directions(
            &envelope,
            &format!(
                r#"{{"event_id":"e-6","aggregate_id":"a","event_type":"订单.已创建","event_version":1,"timestamp":"2024-07-01T00:00:00Z","payload":{written}}}"#
            ),
        );
    }
}

#[test]
fn payload_whitespace_is_compacted_like_go() {
    let envelope = Envelope::builder("a", "t", 1, " {\n  \"a\" : [ 1 , \"x y\" ],\t\"b\":{} } ")
        .event_id("e")
        .timestamp(datetime!(2024-07-01 00:00:00 UTC))
        .build()
        .unwrap();
    assert!(encode(&envelope).ends_with(r#""payload":{"a":[1,"x y"],"b":{}}}"#));
}

#[test]
fn go_zero_values_and_unknown_fields_decode_as_absent() {
    let go = r#"{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T00:00:00Z","trace_id":"","correlation_id":null,"tenant_id":0,"added_later":{"x":1},"payload":{}}"#;
    let envelope = decode(go);
    assert_eq!(envelope.trace_id(), None);
    assert_eq!(envelope.correlation_id(), None);
    assert_eq!(envelope.tenant_id(), None);
    assert_eq!(envelope.payload().as_ref(), b"{}");
}

#[test]
fn decoding_shares_the_payload_with_the_input() {
    let body = bytes::Bytes::from_static(
        br#"{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T00:00:00Z","payload":{"k":"v"}}"#,
    );
    let envelope = go_json().decode(&[], body.clone()).unwrap();
    let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
    assert!(range.contains(&(envelope.payload().as_ptr() as usize)));
}

#[test]
fn go_sdk_headers_are_mirrored_and_extension_headers_travel_as_headers() {
    let envelope = Envelope::builder("order-42", "order.created", 3, "{}")
        .event_id("e-1")
        .trace_id("t-1")
        .correlation_id("c-1")
        .tenant_id(42)
        .header("origin", "web")
        .content_type("application/json")
        .build()
        .unwrap();
    let encoded = go_json().encode(&envelope).unwrap();
    let expected: Vec<(String, String)> = [
        (CODEC_HEADER, "go_json"),
        ("X-Event-ID", "e-1"),
        ("X-Aggregate-ID", "order-42"),
        ("X-Event-Version", "3"),
        ("X-Event-Type", "order.created"),
        ("X-Trace-ID", "t-1"),
        ("X-Correlation-ID", "c-1"),
        ("X-Tenant-ID", "42"),
        ("origin", "web"),
        ("evbus-content-type", "application/json"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(encoded.headers, expected);
    assert_eq!(encoded.key, "order-42");
    let decoded = go_json().decode(&encoded.headers, encoded.body).unwrap();
    assert_eq!(decoded, envelope);
}

#[test]
fn non_json_payload_cannot_use_the_go_codec() {
    let envelope = Envelope::builder("a", "t", 1, vec![0x0a, 0x01, 0xff])
        .build()
        .unwrap();
    let err = go_json().encode(&envelope).unwrap_err();
    assert_eq!(err.kind(), EnvelopeErrorKind::InvalidField);
    assert!(err.to_string().contains("payload"), "{err}");
}

#[test]
fn unmarked_go_message_is_detected_by_decode_any() {
    let go = r#"  {"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T00:00:00Z","payload":{}}"#;
    let headers = vec![("X-Event-ID".to_owned(), "e".to_owned())];
    let envelope = decode_any(&headers, go.into(), &CodecConfig::default()).unwrap();
    assert_eq!(envelope.event_id(), "e");
}
