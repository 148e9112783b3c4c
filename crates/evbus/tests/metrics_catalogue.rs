//! docs/operations.md and `evbus::telemetry::CATALOGUE` name the same
//! metrics, with the same types and labels.

use std::collections::BTreeMap;

use evbus::telemetry::{CATALOGUE, MetricKind};

fn documented() -> BTreeMap<String, (String, String)> {
    let doc = include_str!("../../../docs/operations.md");
    doc.lines()
        .filter(|line| line.starts_with("| `evbus_"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            (name, (cells[2].to_owned(), cells[3].to_owned()))
        })
        .collect()
}

fn in_code() -> BTreeMap<String, (String, String)> {
    CATALOGUE
        .iter()
        .map(|m| {
            let kind = match m.kind {
                MetricKind::Counter => "counter",
                MetricKind::Gauge => "gauge",
                MetricKind::Histogram => "histogram",
            };
            let labels = if m.labels.is_empty() {
                "—".to_owned()
            } else {
                m.labels.join(", ")
            };
            (m.name.to_owned(), (kind.to_owned(), labels))
        })
        .collect()
}

#[test]
fn the_doc_and_the_code_name_the_same_metrics() {
    let (doc, code) = (documented(), in_code());
    assert_eq!(CATALOGUE.len(), code.len(), "a metric is listed twice");
    let only_doc: Vec<_> = doc.keys().filter(|k| !code.contains_key(*k)).collect();
    let only_code: Vec<_> = code.keys().filter(|k| !doc.contains_key(*k)).collect();
    assert!(
        only_doc.is_empty(),
        "documented, not in the code: {only_doc:?}"
    );
    assert!(
        only_code.is_empty(),
        "in the code, not documented: {only_code:?}"
    );
    assert_eq!(doc, code, "types or labels differ");
}

#[test]
fn no_metric_is_labelled_by_aggregate_or_event() {
    for metric in CATALOGUE {
        for label in metric.labels {
            assert!(
                [
                    "mode", "outcome", "reason", "kind", "topic", "group", "pool", "source",
                    "change"
                ]
                .contains(label),
                "{} has an unbounded label {label}",
                metric.name
            );
        }
    }
}
