//! Behaviour of the protobuf and CloudEvents codecs, codec detection and
//! aggregate id lookup.

use bytes::Bytes;
use evbus_envelope::{
    CODEC_HEADER, CodecConfig, CodecKind, Envelope, EnvelopeError, EnvelopeErrorKind, TenantId,
    aggregate_id_of, codec, decode_any, detect,
};
use time::macros::datetime;

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn sample() -> Envelope {
    Envelope::builder("order-42", "order.created", 3, r#"{"total":10}"#)
        .event_id("e-1")
        .timestamp(datetime!(2024-07-01 12:34:56.5 UTC))
        .trace_id("t-1")
        .correlation_id("c-1")
        .tenant_id("acme")
        .header("origin", "web")
        .header("Retry-Count", "0")
        .content_type("application/json")
        .build()
        .unwrap()
}

#[test]
fn protobuf_golden_bytes_pin_the_schema() {
    let envelope = Envelope::builder("a", "t", 1, "x")
        .event_id("e")
        .timestamp(datetime!(1970-01-01 00:00:01 UTC))
        .tenant_id(7)
        .header("h", "v")
        .content_type("c")
        .build()
        .unwrap();
    let encoded = codec(CodecKind::Protobuf, &CodecConfig::default())
        .encode(&envelope)
        .unwrap();
    let expected: &[u8] = &[
        0x0a, 0x01, b'e', // 1: event_id
        0x12, 0x01, b'a', // 2: aggregate_id
        0x1a, 0x01, b't', // 3: event_type
        0x20, 0x01, // 4: event_version
        0x2a, 0x02, 0x08, 0x01, // 5: timestamp { seconds: 1 }
        0x40, 0x07, // 8: tenant_number
        0x52, 0x06, 0x0a, 0x01, b'h', 0x12, 0x01, b'v', // 10: headers
        0x5a, 0x01, b'c', // 11: content_type
        0x62, 0x01, b'x', // 12: payload
    ];
    assert_eq!(encoded.body.as_ref(), expected);
    assert_eq!(
        encoded.headers,
        pairs(&[
            (CODEC_HEADER, "protobuf"),
            ("X-Event-ID", "e"),
            ("X-Aggregate-ID", "a"),
            ("X-Event-Version", "1"),
            ("X-Event-Type", "t"),
            ("X-Tenant-ID", "7"),
        ])
    );
}

#[test]
fn protobuf_round_trips_identically_and_shares_the_payload() {
    let envelope = sample();
    let codec = codec(CodecKind::Protobuf, &CodecConfig::default());
    let encoded = codec.encode(&envelope).unwrap();
    let body = encoded.body.clone();
    let decoded = codec.decode(&[], encoded.body).unwrap();
    assert_eq!(decoded, envelope);
    assert!(
        decoded.headers().iter().eq(envelope.headers().iter()),
        "header order kept"
    );
    let range = body.as_ptr() as usize..body.as_ptr() as usize + body.len();
    assert!(
        range.contains(&(decoded.payload().as_ptr() as usize)),
        "payload not copied"
    );
}

#[test]
fn protobuf_rejects_a_flood_of_headers_before_decoding_them() {
    // 10,000 empty header entries: 20 kB on the wire.
    let body: Vec<u8> = std::iter::repeat_n([0x52u8, 0x00], 10_000)
        .flatten()
        .collect();
    let err = codec(CodecKind::Protobuf, &CodecConfig::default())
        .decode(&[], body.into())
        .unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::InvalidField {
                field: "headers",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn cloud_events_kafka_headers_follow_the_binding() {
    let config = CodecConfig::new("orders-service");
    let encoded = codec(CodecKind::CloudEventsKafka, &config)
        .encode(&sample())
        .unwrap();
    assert_eq!(encoded.body.as_ref(), br#"{"total":10}"#);
    assert_eq!(encoded.key, "order-42");
    assert_eq!(
        encoded.headers,
        pairs(&[
            (CODEC_HEADER, "cloud_events_kafka"),
            ("X-Event-ID", "e-1"),
            ("X-Aggregate-ID", "order-42"),
            ("X-Event-Version", "3"),
            ("X-Event-Type", "order.created"),
            ("X-Trace-ID", "t-1"),
            ("X-Correlation-ID", "c-1"),
            ("X-Tenant-ID", "acme"),
            ("ce_specversion", "1.0"),
            ("ce_id", "e-1"),
            ("ce_source", "orders-service"),
            ("ce_type", "order.created"),
            ("ce_time", "2024-07-01T12:34:56.5Z"),
            ("ce_partitionkey", "order-42"),
            ("ce_eventversion", "3"),
            ("ce_traceid", "t-1"),
            ("ce_correlationid", "c-1"),
            ("ce_tenantid", "acme"),
            ("content-type", "application/json"),
            ("origin", "web"),
            ("Retry-Count", "0"),
        ])
    );
}

#[test]
fn cloud_events_nats_percent_encodes_attribute_values() {
    let envelope = Envelope::builder("a", "Euro € 😀 \"100%\"", 1, "x")
        .build()
        .unwrap();
    let nats = codec(CodecKind::CloudEventsNats, &CodecConfig::new("svc one"));
    let encoded = nats.encode(&envelope).unwrap();
    let get = |name: &str| {
        encoded
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(
        get("ce-type"),
        Some("Euro%20%E2%82%AC%20%F0%9F%98%80%20%22100%25%22")
    );
    assert_eq!(get("ce-source"), Some("svc%20one"));
    assert_eq!(get("ce-specversion"), Some("1.0"));
    let attributes = encoded.headers.iter().filter(|(n, _)| n.starts_with("ce-"));
    assert!(attributes.clone().count() >= 7);
    assert!(
        attributes
            .into_iter()
            .all(|(_, v)| v.bytes().all(|b| (0x21..0x7f).contains(&b)))
    );
    assert_eq!(
        nats.decode(&encoded.headers, encoded.body).unwrap(),
        envelope
    );
}

#[test]
fn cloud_events_round_trip_through_both_bindings() {
    for kind in [CodecKind::CloudEventsKafka, CodecKind::CloudEventsNats] {
        let codec = codec(kind, &CodecConfig::default());
        let encoded = codec.encode(&sample()).unwrap();
        assert_eq!(
            codec.decode(&encoded.headers, encoded.body).unwrap(),
            sample(),
            "{kind}"
        );
    }
}

#[test]
fn a_foreign_nats_cloud_event_with_quoted_lowercase_escapes_decodes() {
    let headers = pairs(&[
        ("ce-specversion", "1.0"),
        ("ce-id", "\"id-1\""),
        ("ce-source", "/x"),
        ("ce-type", "caf%c3%a9"),
        ("ce-time", "2018-04-05T03:56:24Z"),
        ("ce-partitionkey", "agg-1"),
        ("ce-eventversion", "2"),
        ("ce-tenantid", "42"),
        ("ce-datacontenttype", "text/plain"),
        ("Nats-Msg-Id", "m-1"),
    ]);
    let envelope =
        decode_any(&headers, Bytes::from_static(b"hi"), &CodecConfig::default()).unwrap();
    assert_eq!(envelope.event_id(), "id-1");
    assert_eq!(envelope.event_type(), "café");
    assert_eq!(envelope.tenant_id(), Some(&TenantId::Number(42)));
    assert_eq!(envelope.content_type(), Some("text/plain"));
    assert_eq!(
        envelope.headers().get("Nats-Msg-Id").map(String::as_str),
        Some("m-1")
    );
}

#[test]
fn cloud_events_missing_or_bad_attributes_are_typed_errors() {
    let good = pairs(&[
        ("ce_specversion", "1.0"),
        ("ce_id", "e"),
        ("ce_source", "s"),
        ("ce_type", "t"),
        ("ce_time", "2018-04-05T03:56:24Z"),
        ("ce_partitionkey", "a"),
        ("ce_eventversion", "1"),
    ]);
    let kafka = codec(CodecKind::CloudEventsKafka, &CodecConfig::default());
    assert!(kafka.decode(&good, "x".into()).is_ok());
    for missing in [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_partitionkey",
        "ce_eventversion",
    ] {
        let headers: Vec<_> = good.iter().filter(|(n, _)| n != missing).cloned().collect();
        let err = kafka.decode(&headers, "x".into()).unwrap_err();
        assert_eq!(err.kind(), EnvelopeErrorKind::Malformed, "{missing}: {err}");
    }
    let mut wrong_version = good.clone();
    wrong_version[0].1 = "0.3".into();
    assert_eq!(
        kafka.decode(&wrong_version, "x".into()).unwrap_err().kind(),
        EnvelopeErrorKind::Malformed
    );
    let mut bad_time = good.clone();
    bad_time[4].1 = "yesterday".into();
    let err = kafka.decode(&bad_time, "x".into()).unwrap_err();
    assert!(
        matches!(
            err,
            EnvelopeError::InvalidField {
                field: "timestamp",
                ..
            }
        ),
        "{err:?}"
    );
    let nats_bad_utf8 = pairs(&[("ce-specversion", "1.0"), ("ce-id", "%C0%A0")]);
    let err = codec(CodecKind::CloudEventsNats, &CodecConfig::default())
        .decode(&nats_bad_utf8, "x".into())
        .unwrap_err();
    assert_eq!(err.kind(), EnvelopeErrorKind::Malformed);
}

#[test]
fn decode_any_reads_a_topic_with_every_codec_mixed() {
    let config = CodecConfig::default();
    for kind in CodecKind::ALL {
        let encoded = codec(kind, &config).encode(&sample()).unwrap();
        assert_eq!(detect(&encoded.headers, &encoded.body).unwrap(), kind);
        assert_eq!(
            decode_any(&encoded.headers, encoded.body.clone(), &config).unwrap(),
            sample()
        );
        // Without the marker (as a Go or foreign producer sends it) sniffing finds it.
        let unmarked: Vec<_> = encoded
            .headers
            .iter()
            .filter(|(n, _)| n != CODEC_HEADER)
            .cloned()
            .collect();
        assert_eq!(
            detect(&unmarked, &encoded.body).unwrap(),
            kind,
            "sniffing {kind}"
        );
    }
}

#[test]
fn an_unknown_codec_marker_is_reported() {
    let headers = pairs(&[(CODEC_HEADER, "avro")]);
    let err = decode_any(&headers, "x".into(), &CodecConfig::default()).unwrap_err();
    assert_eq!(err.kind(), EnvelopeErrorKind::UnknownCodec);
    assert!(err.to_string().contains("avro"));
}

#[test]
fn codec_kind_serde_names_match_markers() {
    for kind in CodecKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.marker()));
        assert_eq!(serde_json::from_str::<CodecKind>(&json).unwrap(), kind);
    }
    assert_eq!(CodecKind::default(), CodecKind::Protobuf);
    let config: CodecConfig = serde_json::from_str(r#"{"source":"svc"}"#).unwrap();
    assert_eq!(config.max_encoded_size, 1_000_000);
    assert_eq!(config.source, "svc");
}

#[test]
fn aggregate_id_lookup_follows_the_go_sdk_priority() {
    let envelope = sample();
    let all = pairs(&[
        ("aggregate-id", "h4"),
        ("Aggregate-ID", "h3"),
        ("x-aggregate-id", "h2"),
        ("X-Aggregate-ID", "h1"),
    ]);
    let find = |e, h: &[(String, String)], k, s| aggregate_id_of(e, h, k, s);
    assert_eq!(
        find(Some(&envelope), &all, Some("k"), Some("s")).as_deref(),
        Some("order-42")
    );
    for (skip, expected) in [(0, "h1"), (1, "h2"), (2, "h3"), (3, "h4")] {
        let headers: Vec<_> = all
            .iter()
            .filter(|(_, v)| v.as_str() >= expected)
            .cloned()
            .collect();
        assert_eq!(
            find(None, &headers, Some("k"), None).as_deref(),
            Some(expected),
            "skip {skip}"
        );
    }
    let blank = pairs(&[("X-Aggregate-ID", " "), ("aggregate-id", "h4")]);
    assert_eq!(find(None, &blank, None, None).as_deref(), Some("h4"));
    assert_eq!(
        find(None, &[], Some("key-1"), Some("a.b")).as_deref(),
        Some("key-1")
    );
    assert_eq!(
        find(None, &[], Some(""), Some("events.order.o-9")).as_deref(),
        Some("o-9")
    );
    assert_eq!(
        find(None, &[], None, Some("events.o:7.*.>")).as_deref(),
        Some("o:7")
    );
    assert_eq!(find(None, &[], None, Some("*.>")), None);
}

#[test]
fn transport_headers_are_the_full_set_a_go_consumer_sees() {
    let headers = sample().transport_headers();
    assert_eq!(
        headers,
        pairs(&[
            ("X-Event-ID", "e-1"),
            ("X-Aggregate-ID", "order-42"),
            ("X-Event-Version", "3"),
            ("X-Event-Type", "order.created"),
            ("X-Trace-ID", "t-1"),
            ("X-Correlation-ID", "c-1"),
            ("X-Tenant-ID", "acme"),
            ("origin", "web"),
            ("Retry-Count", "0"),
            ("evbus-content-type", "application/json"),
        ])
    );
}
