//! A trace started before `publish` on one bus continues in the handler's
//! span on another bus, across a real broker, checked with the
//! OpenTelemetry SDK's in-memory span exporter. Each backend's test file
//! calls [`trace_crosses_the_broker`] with its configs.

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use evbus::{BusConfig, Envelope, EventBus, TopicOptions};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tokio::sync::mpsc;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.to_string())
}

/// `config(service)` is a bus config of the backend under test, whose
/// transport is named `system`.
pub async fn trace_crosses_the_broker(
    system: &str,
    config: impl Fn(&str) -> BusConfig,
) -> Result<()> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("evbus-test"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;

    let topic = format!("traced-{}", std::process::id());
    let publisher = EventBus::from_config(config("tracing-publisher")).await?;
    publisher
        .configure_topics([(topic.as_str(), TopicOptions::new().partitions(1))])
        .await?;
    let consumer = EventBus::from_config(config("tracing-consumer")).await?;
    let (tx, mut handled) = mpsc::unbounded_channel();
    consumer
        .subscribe_envelope(&topic, move |event: Envelope, _meta| {
            let tx = tx.clone();
            async move {
                // Inside the handler: the span it runs in is current.
                tracing::info_span!("handler-work").in_scope(|| {});
                let _ = tx.send(event.trace_id().map(str::to_owned));
                Ok(())
            }
        })
        .await?;

    let event = Envelope::builder("order-1", "OrderPlaced", 1, "{}").build()?;
    let request = tracing::info_span!("request");
    publisher
        .publish_envelope(&topic, &event)
        .instrument(request)
        .await?;
    let envelope_trace = tokio::time::timeout(Duration::from_secs(60), handled.recv())
        .await
        .context("the event was not handled")?
        .context("channel closed")?;
    publisher.close().await?;
    consumer.close().await?;
    provider.force_flush()?;

    let spans = exporter.get_finished_spans()?;
    let find = |name: &str| {
        spans
            .iter()
            .find(|s| s.name == name)
            .with_context(|| format!("no `{name}` span in {:?}", names(&spans)))
    };
    let request = find("request")?;
    let publish = find(&format!("publish {topic}"))?;
    let process = find(&format!("process {topic}"))?;
    let work = find("handler-work")?;
    let trace = request.span_context.trace_id();
    for span in [publish, process, work] {
        ensure!(
            span.span_context.trace_id() == trace,
            "{} left the trace",
            span.name
        );
    }
    ensure!(publish.parent_span_id == request.span_context.span_id());
    ensure!(
        process.parent_span_id == publish.span_context.span_id(),
        "process is not the publish's child"
    );
    ensure!(
        work.parent_span_id == process.span_context.span_id(),
        "the handler did not run in the process span"
    );
    ensure!(publish.span_kind == SpanKind::Producer && process.span_kind == SpanKind::Consumer);
    ensure!(attribute(process, "messaging.system").as_deref() == Some(system));
    ensure!(attribute(process, "messaging.destination.name").as_deref() == Some(topic.as_str()));
    ensure!(attribute(process, "messaging.message.id").as_deref() == Some(event.event_id()));
    ensure!(attribute(process, "messaging.message.delivery_count").as_deref() == Some("1"));
    ensure!(attribute(process, "messaging.message.sequence").is_some());
    // The envelope names the same trace.
    ensure!(
        envelope_trace.as_deref() == Some(trace.to_string().as_str()),
        "envelope trace_id {envelope_trace:?}, trace {trace}"
    );
    Ok(())
}

fn names(spans: &[SpanData]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_ref()).collect()
}
