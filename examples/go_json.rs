//! Publishing for Go consumers: `codec = "go_json"`, on the in-memory
//! transport (no broker needed).
//!
//! ```text
//! cargo run --example go_json
//! ```
//!
//! While a Go service on the old SDK still consumes a topic, evbus must
//! publish the Go SDK's JSON envelope: a Go consumer cannot read protobuf.
//! This example publishes one envelope with the `go_json` codec, shows the
//! bytes and headers a Go consumer receives (what its `FromBytes` parses),
//! and reads the same message back as an envelope, as evbus consumers do
//! whatever codec wrote it. It exits non-zero if the body is not the JSON
//! the Go SDK writes.

use std::time::Duration;

use anyhow::{Context, ensure};
use evbus::{BusConfig, CodecKind, Envelope, EventBus, TopicOptions};
use tokio::sync::mpsc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // In a config file: `codec = "go_json"`.
    let mut config = BusConfig::default();
    config.service_name = "billing".into();
    config.codec = CodecKind::GoJson;
    let bus = EventBus::builder().config(config).build().await?;
    bus.configure_topics([("orders", TopicOptions::default())])
        .await?;

    // A raw subscriber sees what goes over the wire.
    let (raw_tx, mut raw_rx) = mpsc::unbounded_channel();
    bus.subscribe_with("orders", "wire-view", move |message: evbus::Message| {
        let tx = raw_tx.clone();
        async move {
            let _ = tx.send((message.headers, message.payload));
            Ok(())
        }
    })
    .await?;
    let (env_tx, mut env_rx) = mpsc::unbounded_channel();
    bus.subscribe_envelope("orders", move |event: Envelope, _meta| {
        let tx = env_tx.clone();
        async move {
            let _ = tx.send(event);
            Ok(())
        }
    })
    .await?;

    let event = Envelope::builder("order-42", "OrderPlaced", 1, r#"{"total":99}"#)
        .event_id("0190c3a4-7b2e-7cc1-9f3a-2b5d8e1f4a6c")
        .timestamp(evbus::envelope::OffsetDateTime::from_unix_timestamp(
            1_751_373_296,
        )?)
        .tenant_id(7)
        .build()?;
    bus.publish_envelope("orders", &event).await?;

    let wait = Duration::from_secs(10);
    let (headers, body) = tokio::time::timeout(wait, raw_rx.recv())
        .await?
        .context("the raw subscriber stopped")?;
    let received = tokio::time::timeout(wait, env_rx.recv())
        .await?
        .context("the envelope subscriber stopped")?;
    bus.close().await?;

    let body = String::from_utf8(body.to_vec())?;
    println!("body (what a Go consumer's FromBytes parses):\n  {body}");
    println!("headers:");
    for (name, value) in &headers {
        println!("  {name}: {value}");
    }
    ensure!(
        body == r#"{"event_id":"0190c3a4-7b2e-7cc1-9f3a-2b5d8e1f4a6c","aggregate_id":"order-42","event_type":"OrderPlaced","event_version":1,"timestamp":"2025-07-01T12:34:56Z","tenant_id":7,"payload":{"total":99}}"#,
        "not the Go SDK's JSON: {body}"
    );
    ensure!(received == event, "the envelope did not survive the trip");
    println!("an evbus consumer decoded the same envelope: ok");
    Ok(())
}
