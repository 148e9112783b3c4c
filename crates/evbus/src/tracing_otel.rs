//! OpenTelemetry tracing (cargo feature `otel`): publishing injects the W3C
//! `traceparent` and `tracestate` headers of a `publish` span made under
//! the caller's current span; consuming extracts them and runs the handler
//! in a `process` span whose parent they name, so a trace crosses the
//! broker. Spans follow the OpenTelemetry messaging semantic conventions:
//! `messaging.system`, `messaging.destination.name`,
//! `messaging.operation.type`, `messaging.message.id`,
//! `messaging.consumer.group.name`, `messaging.destination.partition.id`,
//! plus `messaging.message.sequence` (the offset or stream sequence) and
//! `messaging.message.delivery_count`. Spans are `tracing` spans; install
//! `tracing-opentelemetry`'s layer to export them.
//!
//! Without the feature these return disabled spans and touch no header.

use evbus_envelope::{Envelope, X_EVENT_ID};
use evbus_transport::{Headers, OutgoingMessage, header};
use tracing::Span;

use crate::handler::DeliveryMeta;

#[cfg(feature = "otel")]
mod w3c {
    use evbus_transport::Headers;
    use opentelemetry::{
        propagation::{Extractor, Injector, TextMapPropagator},
        trace::TraceContextExt,
    };
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct Writer<'a>(&'a mut Headers);

    impl Injector for Writer<'_> {
        fn set(&mut self, key: &str, value: String) {
            // A republished message keeps no stale context.
            self.0.retain(|(name, _)| !name.eq_ignore_ascii_case(key));
            self.0.push((key.to_owned(), value));
        }
    }

    struct Reader<'a>(&'a Headers);

    impl Extractor for Reader<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            evbus_transport::header(self.0, key)
        }

        fn keys(&self) -> Vec<&str> {
            self.0.iter().map(|(name, _)| name.as_str()).collect()
        }
    }

    /// Writes `span`'s context as `traceparent` / `tracestate`.
    pub(super) fn inject(span: &tracing::Span, headers: &mut Headers) {
        TraceContextPropagator::new().inject_context(&span.context(), &mut Writer(headers));
    }

    /// Makes the context the headers name `span`'s parent.
    pub(super) fn extract(span: &tracing::Span, headers: &Headers) {
        let parent = TraceContextPropagator::new().extract(&Reader(headers));
        if parent.span().span_context().is_valid() {
            // Fails only for a span that already started a trace of its own,
            // which this new span has not.
            let _ = span.set_parent(parent);
        }
    }

    /// The current trace's id, in W3C hex, when there is one.
    pub(super) fn current_trace_id() -> Option<String> {
        let context = tracing::Span::current().context();
        let span = context.span();
        let span_context = span.span_context();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }
}

/// The span a publish runs in; with the feature, its context is written
/// into every message's headers (a batch shares one span).
pub(crate) fn publish_span(
    system: &'static str,
    topic: &str,
    messages: &mut [OutgoingMessage],
) -> Span {
    if cfg!(not(feature = "otel")) {
        return Span::none();
    }
    let span = tracing::info_span!(
        "publish",
        "otel.name" = format!("publish {topic}"),
        "otel.kind" = "producer",
        "messaging.system" = system,
        "messaging.destination.name" = topic,
        "messaging.operation.type" = "send",
        "messaging.batch.message_count" = messages.len(),
        "messaging.message.id" = match messages {
            [one] => one.dedup_id.as_deref(),
            _ => None,
        },
    );
    #[cfg(feature = "otel")]
    for message in messages {
        w3c::inject(&span, &mut message.headers);
    }
    span
}

/// The span a handler runs in, child of the context the headers carry.
pub(crate) fn process_span(system: &'static str, meta: &DeliveryMeta, headers: &Headers) -> Span {
    if cfg!(not(feature = "otel")) {
        return Span::none();
    }
    let span = tracing::info_span!(
        "process",
        "otel.name" = format!("process {}", meta.topic),
        "otel.kind" = "consumer",
        "messaging.system" = system,
        "messaging.destination.name" = &*meta.topic,
        "messaging.consumer.group.name" = &*meta.group,
        "messaging.operation.type" = "process",
        "messaging.message.id" = header(headers, X_EVENT_ID),
        "messaging.destination.partition.id" = meta.position.partition,
        "messaging.message.sequence" = meta.position.offset,
        "messaging.message.delivery_count" = meta.delivery_count,
    );
    #[cfg(feature = "otel")]
    w3c::extract(&span, headers);
    span
}

/// `envelope` with the current trace's id as its `trace_id` when it has
/// none, so the envelope and the trace name the same trace; `None` when
/// nothing changes.
pub(crate) fn with_trace_id(envelope: &Envelope) -> Option<Envelope> {
    #[cfg(feature = "otel")]
    if envelope.trace_id().is_none() {
        let trace_id = w3c::current_trace_id()?;
        return envelope.to_builder().trace_id(trace_id).build().ok();
    }
    let _ = envelope;
    None
}
