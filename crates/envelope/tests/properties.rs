//! Property tests: valid envelopes round-trip through every codec, and decoding
//! arbitrary (or corrupted) input returns `Ok` or a typed error, never panics.

use bytes::Bytes;
use evbus_envelope::{
    CODEC_HEADER, CodecConfig, CodecKind, Envelope, TenantId, codec, decode_any, is_reserved_header,
};
use proptest::prelude::*;
use time::OffsetDateTime;

/// Years 0000 to 9999, the RFC 3339 range.
const MIN_NANOS: i128 = -62_167_219_200 * 1_000_000_000;
const MAX_NANOS: i128 = 253_402_300_799 * 1_000_000_000 + 999_999_999;

fn tenant() -> impl Strategy<Value = Option<TenantId>> {
    prop_oneof![
        Just(None),
        any::<i64>().prop_map(|n| Some(TenantId::Number(n))),
        "\\PC{0,12}".prop_map(|s| Some(TenantId::Text(s))),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("[A-Za-z][A-Za-z0-9_-]{0,15}", "[ -~]{0,20}"), 0..6).prop_map(|hs| {
        hs.into_iter()
            .filter(|(n, _)| !is_reserved_header(n))
            .collect()
    })
}

/// A JSON payload as Go would write it: compact, without HTML characters.
fn json_payload() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[^<>&\u{2028}\u{2029}]{0,12}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
    .prop_map(|v| serde_json::to_vec(&v).unwrap())
}

prop_compose! {
    fn envelope_with(payload: BoxedStrategy<Vec<u8>>)(
        event_id in "[A-Za-z0-9-]{1,36}",
        aggregate_id in "[A-Za-z0-9:_./-]{1,64}",
        event_type in "\\PC{0,24}[a-z]",
        event_version in 1..=i64::MAX,
        nanos in MIN_NANOS..=MAX_NANOS,
        trace_id in "\\PC{0,16}",
        correlation_id in "\\PC{0,16}",
        tenant in tenant(),
        headers in headers(),
        content_type in "([a-z]+/[a-z+.-]+)?",
        payload in payload,
    ) -> Envelope {
        let mut builder = Envelope::builder(aggregate_id, event_type, event_version, payload)
            .event_id(event_id)
            .timestamp(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap())
            .trace_id(trace_id)
            .correlation_id(correlation_id)
            .content_type(content_type);
        if let Some(tenant) = tenant {
            builder = builder.tenant_id(tenant);
        }
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        builder.build().expect("the strategy only makes valid envelopes")
    }
}

fn any_envelope() -> impl Strategy<Value = Envelope> {
    envelope_with(proptest::collection::vec(any::<u8>(), 1..300).boxed())
}

fn json_envelope() -> impl Strategy<Value = Envelope> {
    envelope_with(json_payload().boxed())
}

/// Header values are text in CloudEvents, so a numeric-looking text tenant
/// comes back as a number.
fn tenant_as_cloud_events_reads_it(envelope: &Envelope) -> Envelope {
    match envelope.tenant_id() {
        Some(TenantId::Text(t)) if t.parse::<i64>().is_ok_and(|n| n.to_string() == *t) => envelope
            .to_builder()
            .tenant_id(t.parse::<i64>().unwrap())
            .build()
            .unwrap(),
        _ => envelope.clone(),
    }
}

fn header_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        Just(CODEC_HEADER.to_owned()),
        Just("ce_specversion".to_owned()),
        Just("ce-specversion".to_owned()),
        Just("ce_time".to_owned()),
        Just("ce-id".to_owned()),
        "[a-z_-]{1,12}",
    ];
    let value = prop_oneof![
        Just("1.0".to_owned()),
        Just("protobuf".to_owned()),
        Just("go_json".to_owned()),
        Just("cloud_events_nats".to_owned()),
        "\\PC{0,12}",
        "(%[0-9A-Fa-f]{2}){1,4}",
    ];
    proptest::collection::vec((name, value), 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn protobuf_round_trips_every_valid_envelope_identically(envelope in any_envelope()) {
        let codec = codec(CodecKind::Protobuf, &CodecConfig::default());
        let encoded = codec.encode(&envelope).unwrap();
        let decoded = codec.decode(&encoded.headers, encoded.body).unwrap();
        prop_assert!(decoded.headers().iter().eq(envelope.headers().iter()));
        prop_assert_eq!(decoded, envelope);
    }

    #[test]
    fn go_json_round_trips_every_field(envelope in json_envelope()) {
        let codec = codec(CodecKind::GoJson, &CodecConfig::default());
        let encoded = codec.encode(&envelope).unwrap();
        let decoded = codec.decode(&encoded.headers, encoded.body.clone()).unwrap();
        prop_assert!(decoded.headers().iter().eq(envelope.headers().iter()));
        prop_assert_eq!(&decoded, &envelope);
        // And writing it again gives the same bytes.
        prop_assert_eq!(codec.encode(&decoded).unwrap().body, encoded.body);
    }

    #[test]
    fn go_json_keeps_the_payload_value_whatever_it_contains(
        envelope in json_envelope(),
        text in "\\PC{0,20}",
    ) {
        let payload = serde_json::to_vec(&serde_json::json!({ "text": text })).unwrap();
        // HTML characters and line separators in a raw payload are rewritten
        // as escapes (as Go does), so compare the JSON values.
        let envelope = Envelope::builder(envelope.aggregate_id(), envelope.event_type(), 1, payload)
            .build()
            .unwrap();
        let codec = codec(CodecKind::GoJson, &CodecConfig::default());
        let encoded = codec.encode(&envelope).unwrap();
        let decoded = codec.decode(&encoded.headers, encoded.body).unwrap();
        let as_value = |b: &Bytes| serde_json::from_slice::<serde_json::Value>(b).unwrap();
        prop_assert_eq!(as_value(decoded.payload()), as_value(envelope.payload()));
    }

    #[test]
    fn cloud_events_round_trip_every_field(envelope in any_envelope()) {
        let expected = tenant_as_cloud_events_reads_it(&envelope);
        for kind in [CodecKind::CloudEventsKafka, CodecKind::CloudEventsNats] {
            let codec = codec(kind, &CodecConfig::default());
            let encoded = codec.encode(&envelope).unwrap();
            let decoded = decode_any(&encoded.headers, encoded.body, &CodecConfig::default()).unwrap();
            prop_assert!(decoded.headers().iter().eq(expected.headers().iter()));
            prop_assert_eq!(&decoded, &expected);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..512),
        headers in header_strategy(),
    ) {
        let config = CodecConfig::default();
        let body = Bytes::from(body);
        for kind in CodecKind::ALL {
            let _ = codec(kind, &config).decode(&headers, body.clone());
        }
        let _ = decode_any(&headers, body, &config);
    }

    #[test]
    fn corrupted_messages_never_panic(
        envelope in json_envelope(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let config = CodecConfig::default();
        for kind in CodecKind::ALL {
            let codec = codec(kind, &config);
            let encoded = codec.encode(&envelope).unwrap();
            let mut body = encoded.body.to_vec();
            for (at, byte) in &edits {
                let i = at.index(body.len());
                body[i] = *byte;
            }
            let _ = codec.decode(&encoded.headers, Bytes::from(body.clone()));
            body.truncate(cut.index(body.len() + 1));
            let _ = codec.decode(&encoded.headers, Bytes::from(body));
        }
    }
}
