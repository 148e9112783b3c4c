//! Golden vectors written by Go itself (`interop/go`, `evbus-interop vectors`;
//! `cargo xtask test` regenerates them and fails on any difference).
//!
//! Each case of `vectors/manifest.json` holds the fields Go put in the
//! envelope and names the files Go wrote: `file` (encoding/json), `canonical`
//! (encoding/json with the time in UTC, which evbus keeps) and, where the
//! SDK's own marshaller (jsoniter) writes other bytes, `sdk`. Every file must
//! decode to the stated fields, and re-encoding any of them with the
//! `go_json` codec must give the canonical bytes exactly.

use std::{fs, path::PathBuf};

use evbus_envelope::{Bytes, CodecConfig, CodecKind, Envelope, TenantId, codec, decode_any};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    name: String,
    file: String,
    canonical: String,
    #[serde(default)]
    sdk: Option<String>,
    #[serde(default)]
    sdk_payload: Option<String>,
    fields: Fields,
}

#[derive(Deserialize)]
struct Fields {
    event_id: String,
    aggregate_id: String,
    event_type: String,
    event_version: i64,
    timestamp_unix_nanos: i128,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
    #[serde(default)]
    tenant_number: Option<i64>,
    #[serde(default)]
    tenant_string: Option<String>,
    payload: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn read(name: &str) -> Bytes {
    let path = dir().join(name);
    Bytes::from(fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

fn cases() -> Vec<Case> {
    let manifest = read("manifest.json");
    serde_json::from_slice(&manifest).expect("manifest.json")
}

/// Asserts `envelope` carries `fields`, with `payload` as the payload bytes.
fn assert_fields(case: &str, envelope: &Envelope, fields: &Fields, payload: &str) {
    assert_eq!(envelope.event_id(), fields.event_id, "{case}");
    assert_eq!(envelope.aggregate_id(), fields.aggregate_id, "{case}");
    assert_eq!(envelope.event_type(), fields.event_type, "{case}");
    assert_eq!(envelope.event_version(), fields.event_version, "{case}");
    assert_eq!(
        envelope.timestamp().unix_timestamp_nanos(),
        fields.timestamp_unix_nanos,
        "{case}: the same instant"
    );
    assert_eq!(envelope.trace_id(), fields.trace_id.as_deref(), "{case}");
    assert_eq!(
        envelope.correlation_id(),
        fields.correlation_id.as_deref(),
        "{case}"
    );
    let tenant = match (&fields.tenant_number, &fields.tenant_string) {
        (Some(n), None) => Some(TenantId::Number(*n)),
        (None, Some(s)) => Some(TenantId::Text(s.clone())),
        (None, None) => None,
        (Some(_), Some(_)) => panic!("{case}: manifest states two tenant forms"),
    };
    assert_eq!(envelope.tenant_id(), tenant.as_ref(), "{case}");
    assert_eq!(
        std::str::from_utf8(envelope.payload()).expect("utf-8 payload"),
        payload,
        "{case}: payload bytes as Go wrote them"
    );
}

#[test]
fn every_go_vector_decodes_to_its_fields_and_re_encodes_byte_for_byte() {
    let go_json = codec(CodecKind::GoJson, &CodecConfig::default());
    let cases = cases();
    assert!(
        cases.len() >= 15,
        "the manifest lists {} cases",
        cases.len()
    );
    let mut files = 0;
    for case in &cases {
        let canonical = read(&case.canonical);
        let mut variants = vec![(&case.file, &case.fields.payload)];
        if case.canonical != case.file {
            variants.push((&case.canonical, &case.fields.payload));
        }
        if let (Some(sdk), Some(payload)) = (&case.sdk, &case.sdk_payload) {
            variants.push((sdk, payload));
        }
        for (file, payload) in variants {
            let what = format!("{} ({file})", case.name);
            let body = read(file);
            let envelope = go_json
                .decode(&[], body.clone())
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_fields(&what, &envelope, &case.fields, payload);
            // A Go message carries no codec marker: detection must find it.
            let detected = decode_any(&[], body, &CodecConfig::default())
                .unwrap_or_else(|e| panic!("{what}: decode_any: {e}"));
            assert_eq!(detected, envelope, "{what}");
            let encoded = go_json.encode(&envelope).expect("encode");
            assert_eq!(
                String::from_utf8_lossy(&encoded.body),
                String::from_utf8_lossy(&canonical),
                "{what}: re-encoding gives Go's canonical bytes"
            );
            files += 1;
        }
    }
    assert!(files > cases.len(), "{files} files checked");
}

#[test]
fn every_vector_file_is_listed_in_the_manifest() {
    let cases = cases();
    let listed: std::collections::BTreeSet<String> = cases
        .iter()
        .flat_map(|c| {
            [
                Some(c.file.clone()),
                Some(c.canonical.clone()),
                c.sdk.clone(),
            ]
        })
        .flatten()
        .chain(["manifest.json".to_owned()])
        .collect();
    let present: std::collections::BTreeSet<String> = fs::read_dir(dir())
        .expect("vectors directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(present, listed, "files in tests/vectors");
}
