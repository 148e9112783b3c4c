//! The raw rdkafka baseline: a `FutureProducer` with evbus-kafka's producer
//! settings and in-flight window, and a `StreamConsumer` with its consumer
//! settings that stores each handled offset and commits every
//! `commit_interval`, as evbus-kafka does; and the raw side of the Kafka
//! tools' ceiling (`publish_then_drain`).

use std::{ops::Range, sync::Arc, time::Duration};

use anyhow::Context;
use evbus::{OutgoingMessage, kafka::KafkaConfig, transport::Transport};
use rdkafka::{
    Message,
    consumer::{CommitMode, Consumer, StreamConsumer},
    error::KafkaError,
    message::{Header, Headers, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
    util::Timeout,
};
use tokio::{
    sync::{OwnedSemaphorePermit, Semaphore, oneshot},
    task::JoinHandle,
};

use crate::perf::{
    baselines::pipeline,
    setup::{create_topics, fresh_group, fresh_topics},
    side::{Run, Side, WARMUP_TIMEOUT},
    stats::{Sample, Stopwatch},
    workload::{Schedule, Sink, Work, identity_from_headers, warmup},
};

/// What the report says about this baseline.
pub fn settings(config: &KafkaConfig) -> String {
    format!(
        "rdkafka FutureProducer: enable.idempotence=true, acks=all, partitioner=fnv1a_random, \
         message.timeout.ms={}, queue.buffering.max.messages={}, in-flight window {} \
         (evbus-kafka max_in_flight); record key = aggregate id, the same headers; \
         StreamConsumer: cooperative-sticky, session {:?}, heartbeat {:?}, no auto commit, \
         offset stored per handled message, async commit every {:?} (evbus-kafka \
         commit_interval); topics of {} partitions",
        config.publish_timeout.as_millis(),
        config.max_in_flight,
        config.max_in_flight,
        config.session_timeout,
        config.heartbeat_interval,
        config.commit_interval,
        config
            .default_partitions
            .map_or("the broker's default".to_owned(), |p| p.to_string()),
    )
}

/// Raw rdkafka against one broker, with evbus-kafka's configuration.
pub struct RawKafka {
    pub config: KafkaConfig,
    pub admin: Arc<dyn Transport>,
}

/// An open raw Kafka run.
pub struct KafkaRun {
    producer: FutureProducer,
    window: Arc<Semaphore>,
    publish_timeout: Duration,
    consumers: Vec<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
}

fn record<'a>(topic: &'a str, message: &'a OutgoingMessage) -> FutureRecord<'a, str, [u8]> {
    let mut headers = OwnedHeaders::new_with_capacity(message.headers.len());
    for (name, value) in &message.headers {
        headers = headers.insert(Header {
            key: name,
            value: Some(value.as_bytes()),
        });
    }
    let mut record = FutureRecord::to(topic)
        .payload(&message.payload[..])
        .headers(headers);
    if let Some(key) = &message.key {
        record = record.key(key.as_str());
    }
    record
}

async fn consume(
    consumer: StreamConsumer,
    sink: Arc<Sink>,
    commit_every: Duration,
    mut stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let mut commit = tokio::time::interval(commit_every);
    let mut stored = false;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = commit.tick() => {
                if stored {
                    // Nothing stored yet fails with NoOffset: not an error.
                    consumer.commit_consumer_state(CommitMode::Async)?;
                    stored = false;
                }
            }
            message = consumer.recv() => {
                let message = message.context("consuming")?;
                if let Some(headers) = message.headers() {
                    let identity = identity_from_headers(
                        headers
                            .iter()
                            .map(|h| (h.key, h.value.unwrap_or_default())),
                    );
                    if let Some((aggregate, version)) = identity {
                        sink.record(&aggregate, version);
                    }
                }
                consumer.store_offset_from_message(&message)?;
                stored = true;
            }
        }
    }
    if stored {
        consumer.commit_consumer_state(CommitMode::Sync)?;
    }
    // Leaving the group blocks: not on a runtime worker.
    tokio::task::spawn_blocking(move || drop(consumer)).await?;
    Ok(())
}

impl Side for RawKafka {
    type Run = KafkaRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<KafkaRun> {
        create_topics(&self.admin, topics).await?;
        let producer: FutureProducer = self
            .config
            .producer_client_config()
            .create()
            .context("creating the producer")?;
        let mut run = KafkaRun {
            producer,
            window: Arc::new(Semaphore::new(self.config.max_in_flight)),
            publish_timeout: self.config.publish_timeout,
            consumers: Vec::new(),
        };
        if let Some(sink) = sink {
            let group = fresh_group();
            for topic in topics {
                let consumer: StreamConsumer = self
                    .config
                    .consumer_client_config(&group)
                    .create()
                    .context("creating the consumer")?;
                consumer.subscribe(&[topic.as_str()])?;
                let (stop, stopped) = oneshot::channel();
                let task = tokio::spawn(consume(
                    consumer,
                    sink.clone(),
                    self.config.commit_interval,
                    stopped,
                ));
                run.consumers.push((stop, task));
            }
            for topic in topics {
                let (_, wire) = warmup()?;
                run.producer
                    .send(record(topic, &wire), Timeout::After(run.publish_timeout))
                    .await
                    .map_err(|(e, _)| e)?;
            }
            sink.wait_warm(WARMUP_TIMEOUT).await?;
        }
        Ok(run)
    }
}

impl RawKafka {
    /// The raw client's half of the Kafka tools' ceiling: publishes every
    /// message of `work` (one topic) the async way into a fresh topic, with
    /// its key and evbus's headers or as the payload alone, then reads them
    /// all back in a fresh group, storing each offset and committing every
    /// `commit_interval`; the two halves timed apart, the consume half from
    /// its first message on (as `ConsumerPerformance`'s fetch time leaves
    /// out joining the group).
    pub async fn publish_then_drain(
        &self,
        work: &Work,
        headers: bool,
    ) -> anyhow::Result<(Sample, Sample)> {
        let topics = fresh_topics(1);
        let run = self.open(&topics, None).await?;
        let plain;
        let work = if headers {
            work
        } else {
            plain = Work {
                envelopes: work.envelopes.clone(),
                wires: work
                    .wires
                    .iter()
                    .map(|w| OutgoingMessage {
                        key: None,
                        headers: Vec::new(),
                        payload: w.payload.clone(),
                        dedup_id: None,
                    })
                    .collect(),
                topics: work.topics.clone(),
                aggregates: work.aggregates,
            };
            &plain
        };
        let watch = Stopwatch::start();
        run.send_async_all(&topics, work, None).await?;
        let published = watch.stop();
        run.close().await?;

        let consumer: StreamConsumer = self
            .config
            .consumer_client_config(&fresh_group())
            .create()
            .context("creating the consumer")?;
        consumer.subscribe(&[topics[0].as_str()])?;
        let mut commit = tokio::time::interval(self.config.commit_interval);
        let mut watch = None;
        let mut received = 0;
        // Offsets stored since the last commit (committing none fails with
        // NoOffset).
        let mut stored = false;
        while received < work.len() {
            tokio::select! {
                _ = commit.tick(), if stored => {
                    consumer.commit_consumer_state(CommitMode::Async)?;
                    stored = false;
                }
                message = consumer.recv() => {
                    let message = message.context("consuming")?;
                    watch.get_or_insert_with(Stopwatch::start);
                    consumer.store_offset_from_message(&message)?;
                    stored = true;
                    received += 1;
                }
            }
        }
        if stored {
            consumer.commit_consumer_state(CommitMode::Sync)?;
        }
        let consumed = watch.context("nothing to consume")?.stop();
        tokio::task::spawn_blocking(move || drop(consumer)).await?;
        let sample = |(seconds, cpu_seconds)| Sample {
            messages: work.len(),
            seconds,
            cpu_seconds,
            tally: None,
            latency: None,
        };
        Ok((sample(published), sample(consumed)))
    }
}

impl KafkaRun {
    /// Takes a window slot and hands the record to librdkafka.
    async fn enqueue(
        &self,
        topic: &str,
        message: &OutgoingMessage,
    ) -> anyhow::Result<(rdkafka::producer::DeliveryFuture, OwnedSemaphorePermit)> {
        let slot = self.window.clone().acquire_owned().await?;
        // librdkafka counts a message in its queue until its delivery
        // callback has returned, a moment after the window slot is freed:
        // a full queue is waited out, as evbus-kafka's producer does.
        loop {
            match self.producer.send_result(record(topic, message)) {
                Ok(delivery) => return Ok((delivery, slot)),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }
}

async fn delivered(
    delivery: rdkafka::producer::DeliveryFuture,
    slot: OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let result = delivery.await;
    drop(slot);
    result?.map_err(|(e, _)| e)?;
    Ok(())
}

impl Run for KafkaRun {
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()> {
        let (delivery, slot) = self.enqueue(topic, &work.wires[index]).await?;
        delivered(delivery, slot).await
    }

    async fn send_async_all(
        &self,
        topics: &[String],
        work: &Work,
        schedule: Option<&Schedule>,
    ) -> anyhow::Result<()> {
        pipeline(work, schedule, |index| async move {
            let topic = &topics[work.topics[index]];
            let (delivery, slot) = self.enqueue(topic, &work.wires[index]).await?;
            Ok(delivered(delivery, slot))
        })
        .await
    }

    async fn send_batch(
        &self,
        topic: &str,
        work: &Work,
        range: Range<usize>,
    ) -> anyhow::Result<()> {
        let mut sent = Vec::with_capacity(range.len());
        for message in &work.wires[range] {
            sent.push(self.enqueue(topic, message).await?);
        }
        for (delivery, slot) in sent {
            delivered(delivery, slot).await?;
        }
        Ok(())
    }

    async fn close(self) -> anyhow::Result<()> {
        for (stop, task) in self.consumers {
            let _ = stop.send(());
            task.await??;
        }
        let producer = self.producer;
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer as _;
            let _ = producer.flush(Timeout::After(Duration::from_secs(10)));
        })
        .await?;
        Ok(())
    }
}
