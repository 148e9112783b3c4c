//! ruststream on Apache Kafka (`ruststream-rdkafka`): each topic read by a
//! `KafkaTopic` in a fresh group from the earliest offset, with tracked
//! commits (`Commit::Tracked`: an ack stores the offset just below the
//! lowest unsettled delivery, librdkafka's auto commit flushes it), keyed
//! lanes by the record key (`LaneKey::RecordKey`, the aggregate id, set
//! through the `kafka-partition-key` header the crate turns into the key);
//! publishes through `KafkaPublish`, each awaiting its delivery report,
//! from a producer with evbus-kafka's producer settings.

use std::{ops::Range, sync::Arc};

use anyhow::Context as _;
use evbus::{kafka::KafkaConfig, transport::Transport};
use ruststream::runtime::Bindable;
use ruststream_rdkafka::{
    KafkaPublisher, PARTITION_KEY_HEADER,
    prelude::{
        AppInfo, Assignment, Commit, HeaderMap, KafkaBroker, KafkaTopic, LaneKey, Publish,
        PublishExt, RunningApp, RustStream, StartOffset, SubscriberSettings, subscriber,
    },
};

use super::{Check, Event, Events, lanes, publish_windowed, warmup_event};
use crate::perf::{
    setup::{create_topics, fresh_group},
    side::{Run, Side, WARMUP_TIMEOUT},
    workload::{Schedule, Sink, Work},
};

/// evbus-kafka's producer properties the crate's producer takes as they
/// are: all but the servers (the broker's own setting) and the local queue
/// size, which evbus sizes to its window; at that size a send the window
/// let through can find the queue full for a moment (see the raw baseline),
/// and rdkafka's `FutureProducer::send` then retries after a pause while
/// later sends go ahead, which would reorder an aggregate. librdkafka's
/// default queue (100,000) never fills behind the window.
const NOT_COPIED: [&str; 2] = ["bootstrap.servers", "queue.buffering.max.messages"];

/// What the report says about this peer on Kafka.
pub fn settings(config: &KafkaConfig) -> String {
    format!(
        "{}: one app, one subscriber per topic, handler over the JSON-decoded envelope \
         (the crate's default JSON codec, serde struct of the envelope's fields), \
         workers_by_key({}) with LaneKey::RecordKey (record key = aggregate id); KafkaTopic in a \
         fresh group, StartOffset::Earliest, Commit::Tracked (librdkafka auto commit of the \
         tracked position), cooperative-sticky, session {:?}, heartbeat {:?} (evbus-kafka's); \
         publish: KafkaPublish, JSON codec, key from the kafka-partition-key header, each \
         publish awaiting its delivery report, {} in flight (evbus-kafka max_in_flight) but \
         never more than K, one version per aggregate, \
         producer with evbus-kafka's settings (enable.idempotence=true, acks=all, ...) but \
         librdkafka's default queue size",
        super::VERSIONS,
        lanes(),
        config.session_timeout,
        config.heartbeat_interval,
        config.max_in_flight,
    )
}

/// ruststream against one Kafka broker, publishing `events`.
pub struct RuststreamKafka {
    pub config: KafkaConfig,
    pub admin: Arc<dyn Transport>,
    pub events: Events,
}

/// An open run: the started app and a publisher of its broker.
pub struct KafkaRun {
    app: RunningApp,
    publisher: KafkaPublisher,
    events: Events,
    window: usize,
}

impl RuststreamKafka {
    /// The crate's broker with evbus-kafka's producer settings.
    fn broker(&self) -> KafkaBroker {
        let mut broker = KafkaBroker::new(self.config.bootstrap_servers.clone());
        for (key, value) in self.config.producer_client_config().config_map() {
            if !NOT_COPIED.contains(&key) {
                broker = broker.producer_config(key, value);
            }
        }
        broker
    }

    /// A subscription of `topic` in `group`, as the crate's ordering guide
    /// writes one, with evbus-kafka's session and heartbeat.
    fn source(&self, topic: &str, group: &str) -> KafkaTopic {
        KafkaTopic::new(topic)
            .group(group)
            .start(StartOffset::Earliest)
            .commit(Commit::Tracked)
            .lane_key(LaneKey::RecordKey)
            .assignment(Assignment::CooperativeSticky)
            .config(
                "session.timeout.ms",
                self.config.session_timeout.as_millis().to_string(),
            )
            .config(
                "heartbeat.interval.ms",
                self.config.heartbeat_interval.as_millis().to_string(),
            )
    }
}

impl Side for RuststreamKafka {
    type Run = KafkaRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<KafkaRun> {
        create_topics(&self.admin, topics).await?;
        let broker = Bindable::new(self.broker());
        let egress = broker.bind(Publish::default());
        let group = fresh_group();
        let app =
            RustStream::new(AppInfo::new("perf-ruststream", "0.1.0")).with_broker(broker, |b| {
                for topic in topics.iter().filter(|_| sink.is_some()) {
                    let source = self.source(topic, &group);
                    let check = Check::new(sink.clone().expect("filtered on a sink"));
                    b.include(
                        subscriber(topic.clone(), check)
                            .workers_by_key(lanes())
                            .map_source(move |_| source)
                            .build(),
                    );
                }
            });
        let app = app.start().await.context("starting the ruststream app")?;
        let publisher = app.publisher(egress).await?;
        let run = KafkaRun {
            app,
            publisher,
            events: self.events.clone(),
            window: self.config.max_in_flight,
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

impl KafkaRun {
    /// Publishes `event` to `topic`, keyed by its aggregate id, and waits
    /// for its delivery report.
    async fn send(&self, topic: &str, event: &Event) -> anyhow::Result<()> {
        let mut headers = HeaderMap::with_capacity(1);
        headers.insert(PARTITION_KEY_HEADER, event.aggregate_id().to_owned());
        self.publisher
            .message(event)
            .to(topic)
            .with_headers(headers)
            .publish()
            .await?;
        Ok(())
    }
}

impl Run for KafkaRun {
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
            self.window.min(work.aggregates as usize),
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
        // No batch publish outside transactions: the range through the window.
        publish_windowed(
            self.events.of_work(work, range.clone())?,
            &work.topics[range],
            self.window.min(work.aggregates as usize),
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
