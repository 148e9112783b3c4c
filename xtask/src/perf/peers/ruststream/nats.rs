//! ruststream on NATS JetStream (`ruststream-nats`): each topic read
//! through a durable pull consumer (`JetStreamSubject::durable`) on the
//! stream evbus creates for it, acked per message by the runtime after the
//! handler returned, with evbus-nats's ack wait and ack-pending limit; the
//! lane key travels in the `nats-partition-key` header the crate reads
//! (NATS has no key of its own); publishes go through `JetStreamPublish`,
//! each awaiting the stream's ack, with the event id as `Nats-Msg-Id`.

use std::{ops::Range, sync::Arc};

use anyhow::Context as _;
use evbus::{
    nats::{NatsConfig, mapping},
    transport::Transport,
};
use ruststream::runtime::Bindable;
use ruststream_nats::{
    JetStreamPublisher, PARTITION_KEY_HEADER,
    prelude::{
        AppInfo, HeaderMap, JetStreamPublish, JetStreamPublishSteps, JetStreamSubject, NatsBroker,
        NonZeroDuration, PublishExt, RunningApp, RustStream, SubscriberSettings, subscriber,
    },
};

use super::{Check, Event, Events, lanes, publish_windowed, warmup_event};
use crate::perf::{
    setup::{create_topics, fresh_group},
    side::{Run, Side, WARMUP_TIMEOUT},
    workload::{Schedule, Sink, Work},
};

/// Publishes in flight at once: evbus-nats's `max_pending_acks` default.
fn window() -> usize {
    NatsConfig::default().max_pending_acks
}

/// What the report says about this peer on NATS.
pub fn settings() -> String {
    let c = NatsConfig::default();
    format!(
        "{}: one app, one subscriber per topic, handler over the JSON-decoded envelope \
         (the crate's default JSON codec, serde struct of the envelope's fields), \
         workers_by_key({}) keyed by the nats-partition-key header = aggregate id; \
         JetStreamSubject on evbus's stream, durable pull consumer (async-nats's default pull \
         size; the crate has no setting for it), ack_wait {:?} and max_ack_pending {} (evbus-nats's), \
         one ack per message after the handler; publish: JetStreamPublish, JSON codec, \
         Nats-Msg-Id = event id, each publish awaiting its ack, {} in flight (evbus-nats \
         max_pending_acks) but never more than K, one version per aggregate",
        super::VERSIONS,
        lanes(),
        c.ack_wait,
        c.max_ack_pending,
        window(),
    )
}

/// ruststream against one nats-server, publishing `events`.
pub struct RuststreamNats {
    pub url: String,
    pub admin: Arc<dyn Transport>,
    pub events: Events,
}

/// An open run: the started app and a publisher of its broker.
pub struct NatsRun {
    app: RunningApp,
    publisher: JetStreamPublisher,
    events: Events,
}

impl Side for RuststreamNats {
    type Run = NatsRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<NatsRun> {
        create_topics(&self.admin, topics).await?;
        let c = NatsConfig::default();
        let ack_wait = NonZeroDuration::new(c.ack_wait).context("evbus-nats's ack wait is zero")?;
        let broker = Bindable::new(NatsBroker::new(self.url.clone()));
        let egress = broker.bind(JetStreamPublish::default());
        let group = fresh_group();
        let app =
            RustStream::new(AppInfo::new("perf-ruststream", "0.1.0")).with_broker(broker, |b| {
                for topic in topics.iter().filter(|_| sink.is_some()) {
                    let source = JetStreamSubject::new(
                        topic.clone(),
                        mapping::stream_name(&c.stream_prefix, topic),
                    )
                    .durable(group.clone())
                    .ack_wait(ack_wait)
                    .max_ack_pending(c.max_ack_pending as i64);
                    let check = Check::new(sink.clone().expect("filtered on a sink"));
                    b.include(subscriber(source, check).workers_by_key(lanes()).build());
                }
            });
        let app = app.start().await.context("starting the ruststream app")?;
        let publisher = app.publisher(egress).await?;
        let run = NatsRun {
            app,
            publisher,
            events: self.events.clone(),
        };
        if let Some(sink) = sink {
            for topic in topics {
                run.send(topic, &warmup_event()?).await?;
            }
            sink.wait_warm(WARMUP_TIMEOUT).await?;
        }
        Ok(run)
    }
}

impl NatsRun {
    /// Publishes `event` to `topic` and waits for the stream's ack.
    async fn send(&self, topic: &str, event: &Event) -> anyhow::Result<()> {
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(PARTITION_KEY_HEADER, event.aggregate_id().to_owned());
        self.publisher
            .message(event)
            .to(topic)
            .with_headers(headers)
            .message_id(event.event_id())
            .publish()
            .await?;
        Ok(())
    }
}

impl Run for NatsRun {
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()> {
        let events = self.events.of_work(work, index..index + 1)?;
        self.send(topic, &events[0]).await
    }

    async fn send_async_all(
        &self,
        topics: &[String],
        work: &Work,
        schedule: Option<&Schedule>,
    ) -> anyhow::Result<()> {
        publish_windowed(
            self.events.of_work(work, 0..work.envelopes.len())?,
            &work.topics,
            window().min(work.aggregates as usize),
            schedule,
            |event, topic| self.send(&topics[topic], event),
        )
        .await
    }

    async fn send_batch(
        &self,
        topic: &str,
        work: &Work,
        range: Range<usize>,
    ) -> anyhow::Result<()> {
        // No batch publish in the crate: the range through the same window.
        publish_windowed(
            self.events.of_work(work, range.clone())?,
            &work.topics[range],
            window().min(work.aggregates as usize),
            None,
            |event, _| self.send(topic, event),
        )
        .await
    }

    async fn close(self) -> anyhow::Result<()> {
        self.app
            .shutdown()
            .await
            .context("shutting the ruststream app down")
    }
}
