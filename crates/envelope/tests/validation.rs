//! One test per validation rule, through the builder and through decoding.

use evbus_envelope::{
    CodecConfig, CodecKind, Envelope, EnvelopeBuilder, EnvelopeError, EnvelopeErrorKind,
    MAX_EXTENSION_HEADERS, codec,
};
use time::macros::datetime;

fn valid() -> EnvelopeBuilder {
    Envelope::builder("order-1", "order.created", 1, "{}")
}

/// Asserts the build fails on `field` with a reason containing `rule`.
fn rejects(builder: EnvelopeBuilder, field: &str, rule: &str) {
    match builder.build() {
        Err(EnvelopeError::InvalidField { field: f, reason }) => {
            assert_eq!(f, field, "field (reason: {reason})");
            assert!(
                reason.contains(rule),
                "reason `{reason}` should mention `{rule}`"
            );
        }
        other => panic!("expected InvalidField({field}), got {other:?}"),
    }
}

#[test]
fn a_valid_envelope_builds_with_generated_uuid_v7_and_current_time() {
    let before = time::OffsetDateTime::now_utc();
    let envelope = valid().build().unwrap();
    let id = uuid::Uuid::parse_str(envelope.event_id()).unwrap();
    assert_eq!(id.get_version_num(), 7);
    assert!(envelope.timestamp() >= before);
    assert_eq!(envelope.timestamp().offset(), time::UtcOffset::UTC);
}

#[test]
fn ids_and_type_must_not_be_blank() {
    rejects(valid().event_id(" \t"), "event_id", "blank");
    rejects(Envelope::builder("", "t", 1, "{}"), "aggregate_id", "blank");
    rejects(
        Envelope::builder("   ", "t", 1, "{}"),
        "aggregate_id",
        "blank",
    );
    rejects(Envelope::builder("a", " ", 1, "{}"), "event_type", "blank");
}

#[test]
fn aggregate_id_is_at_most_256_allowed_characters() {
    assert!(
        Envelope::builder("a".repeat(256), "t", 1, "{}")
            .build()
            .is_ok()
    );
    rejects(
        Envelope::builder("a".repeat(257), "t", 1, "{}"),
        "aggregate_id",
        "at most 256",
    );
    for bad in ["a b", "a#b", "ä", "a*", "a>", "a\n"] {
        rejects(
            Envelope::builder(bad, "t", 1, "{}"),
            "aggregate_id",
            "characters",
        );
    }
    assert!(Envelope::builder("Az09:_-./", "t", 1, "{}").build().is_ok());
}

#[test]
fn version_must_be_positive() {
    rejects(
        Envelope::builder("a", "t", 0, "{}"),
        "event_version",
        "greater than 0",
    );
    rejects(
        Envelope::builder("a", "t", -5, "{}"),
        "event_version",
        "greater than 0",
    );
}

#[test]
fn payload_must_not_be_empty() {
    rejects(Envelope::builder("a", "t", 1, ""), "payload", "empty");
}

#[test]
fn timestamp_must_be_writable_as_rfc3339() {
    rejects(
        valid().timestamp(datetime!(-0001-12-31 0:00 UTC)),
        "timestamp",
        "year",
    );
    rejects(
        valid().timestamp(datetime!(9999-12-31 23:00 -02:00)),
        "timestamp",
        "range",
    );
    assert!(
        valid()
            .timestamp(datetime!(0000-01-01 0:00 UTC))
            .build()
            .is_ok()
    );
    let shifted = valid()
        .timestamp(datetime!(2024-01-01 08:00 +08:00))
        .build()
        .unwrap();
    assert_eq!(shifted.timestamp(), datetime!(2024-01-01 00:00 UTC));
}

#[test]
fn extension_headers_are_bounded_named_and_not_reserved() {
    rejects(valid().header("", "v"), "headers", "empty");
    for reserved in [
        "X-Event-ID",
        "x-aggregate-id",
        "aggregate-id",
        "evbus-codec",
        "ce_id",
        "CE-time",
        "content-type",
    ] {
        rejects(valid().header(reserved, "v"), "headers", "reserved");
    }
    let mut many = valid();
    for i in 0..MAX_EXTENSION_HEADERS {
        many = many.header(format!("h{i}"), "v");
    }
    assert!(many.clone().build().is_ok());
    rejects(many.header("one-more", "v"), "headers", "at most");
}

#[test]
fn a_repeated_header_name_replaces_the_value_in_place() {
    let envelope = valid()
        .header("a", "1")
        .header("b", "2")
        .header("a", "3")
        .build()
        .unwrap();
    let pairs: Vec<_> = envelope.headers().iter().collect();
    assert_eq!(
        pairs,
        [
            (&"a".to_owned(), &"3".to_owned()),
            (&"b".to_owned(), &"2".to_owned())
        ]
    );
}

#[test]
fn decoding_runs_the_same_validation() {
    let go = |version: &str| {
        format!(
            r#"{{"event_id":"e","aggregate_id":"a b","event_type":"t","event_version":{version},"timestamp":"2024-07-01T00:00:00Z","payload":{{}}}}"#
        )
    };
    let codec = codec(CodecKind::GoJson, &CodecConfig::default());
    let err = codec.decode(&[], go("1").into()).unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::InvalidField {
                field: "aggregate_id",
                ..
            }
        ),
        "{err:?}"
    );
    let missing_payload = r#"{"event_id":"e","aggregate_id":"a","event_type":"t","event_version":1,"timestamp":"2024-07-01T00:00:00Z"}"#;
    let err = codec.decode(&[], missing_payload.into()).unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::InvalidField {
                field: "payload",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn encoded_size_is_limited_on_encode_and_decode() {
    let envelope = Envelope::builder("a", "t", 1, vec![b'1'; 2000])
        .build()
        .unwrap();
    for kind in CodecKind::ALL {
        let small = CodecConfig::default().with_max_encoded_size(1000);
        let err = codec(kind, &small).encode(&envelope).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::TooLarge { actual, limit: 1000 } if actual > 2000),
            "{kind}: {err:?}"
        );
        let encoded = codec(kind, &CodecConfig::default())
            .encode(&envelope)
            .unwrap();
        let err = codec(kind, &small)
            .decode(&encoded.headers, encoded.body)
            .unwrap_err();
        assert_eq!(err.kind(), EnvelopeErrorKind::TooLarge, "{kind}");
    }
}

#[test]
fn envelope_errors_are_never_retryable() {
    let errors = [
        valid().event_id("").build().unwrap_err(),
        codec(CodecKind::Protobuf, &CodecConfig::default())
            .decode(&[], vec![0xff, 0xff].into())
            .unwrap_err(),
    ];
    assert_eq!(errors[1].kind(), EnvelopeErrorKind::Malformed);
    assert!(errors.iter().all(|e| !e.is_retryable()));
}

#[test]
fn go_json_fields_must_have_the_go_types() {
    let codec = codec(CodecKind::GoJson, &CodecConfig::default());
    let with = |field: &str, value: &str| {
        let mut fields = vec![
            ("event_id", r#""e""#),
            ("aggregate_id", r#""a""#),
            ("event_type", r#""t""#),
            ("event_version", "1"),
            ("timestamp", r#""2024-07-01T00:00:00Z""#),
            ("payload", "{}"),
        ];
        fields.retain(|(name, _)| *name != field);
        fields.push((field, value));
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!(r#""{k}":{v}"#))
            .collect();
        codec.decode(&[], format!("{{{}}}", body.join(",")).into())
    };
    let cases: [(&str, &str, &str); 7] = [
        ("event_version", r#""1""#, "must be a JSON number"),
        ("event_version", "1.5", "64 bits"),
        ("event_version", "9223372036854775808", "64 bits"),
        ("event_id", "7", "must be a JSON string"),
        ("tenant_id", "[1]", "number or string"),
        ("tenant_id", "1.5", "64-bit integer or a string"),
        ("timestamp", r#""2024-07-01 00:00:00""#, "RFC 3339"),
    ];
    for (field, value, rule) in cases {
        match with(field, value) {
            Err(EnvelopeError::InvalidField { field: f, reason }) => {
                assert_eq!(f, field, "{value}");
                assert!(
                    reason.contains(rule),
                    "{field}={value}: `{reason}` lacks `{rule}`"
                );
            }
            other => panic!("{field}={value}: expected InvalidField, got {other:?}"),
        }
    }
    assert!(with("tenant_id", "-3").is_ok());
    let not_object = codec.decode(&[], "[1]".into()).unwrap_err();
    assert_eq!(not_object.kind(), EnvelopeErrorKind::Malformed);
}

#[test]
fn cloud_events_need_a_source() {
    let envelope = valid().build().unwrap();
    let err = codec(CodecKind::CloudEventsKafka, &CodecConfig::new(" "))
        .encode(&envelope)
        .unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::InvalidField {
                field: "source",
                ..
            }
        ),
        "{err:?}"
    );
}
