//! The raw async-nats baseline: JetStream publish with the same in-flight
//! window and back-pressure as evbus-nats, and a durable pull consumer with
//! explicit acks consumed through async-nats's own pull stream.

use std::{ops::Range, sync::Arc};

use anyhow::Context;
use async_nats::{
    HeaderMap,
    jetstream::{
        self,
        consumer::{AckPolicy, DeliverPolicy, pull},
        context::ContextBuilder,
        message::PublishMessage,
    },
};
use evbus::{
    OutgoingMessage,
    nats::{NatsConfig, mapping},
    transport::Transport,
};
use futures::StreamExt;
use tokio::{
    sync::{mpsc, oneshot},
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
pub fn settings() -> String {
    let c = NatsConfig::default();
    format!(
        "async-nats JetStream publish, in-flight window {} with back-pressure (evbus-nats \
         max_pending_acks), publish timeout {:?}; headers as evbus-nats writes them (X-*, \
         evbus-codec, Evbus-Key, Nats-Msg-Id, Evbus-Headers); durable pull consumer, explicit \
         ack, ack_wait {:?}, max_ack_pending {}, pulls of {} expiring after {:?}, one +ACK per \
         message, not awaited (as evbus-nats); plain pull consumer (evbus uses a pinned \
         priority group for its ordered mode)",
        c.max_pending_acks,
        c.publish_timeout,
        c.ack_wait,
        c.max_ack_pending,
        c.fetch_batch,
        c.fetch_max_wait
    )
}

/// Raw async-nats against one server.
pub struct RawNats {
    pub url: String,
    pub admin: Arc<dyn Transport>,
}

/// An open raw NATS run.
pub struct NatsRun {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    consumers: Vec<(oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>)>,
}

/// The headers evbus-nats writes for `message` (its `mapping::encode_headers`):
/// the message's headers in order, then key, dedup id and the order list.
fn headers(message: &OutgoingMessage) -> HeaderMap {
    let mut map = HeaderMap::new();
    let mut order = String::new();
    for (name, value) in &message.headers {
        map.append(name.as_str(), value.as_str());
        if !order.is_empty() {
            order.push(' ');
        }
        order.push_str(name);
    }
    if let Some(key) = &message.key {
        map.insert(mapping::KEY_HEADER, key.as_str());
    }
    if let Some(id) = &message.dedup_id {
        map.insert("Nats-Msg-Id", id.as_str());
    }
    map.insert(mapping::ORDER_HEADER, order.as_str());
    map
}

/// The headers evbus-nats writes for `message`, as (name, value) pairs,
/// its dedup id aside (`nats bench --dedup` writes its own).
pub fn header_pairs(message: &OutgoingMessage) -> Vec<(String, String)> {
    headers(message)
        .iter()
        .filter(|(name, _)| {
            let name: &str = name.as_ref();
            name != "Nats-Msg-Id"
        })
        .flat_map(|(name, values)| {
            let name: &str = name.as_ref();
            values
                .iter()
                .map(move |value| (name.to_owned(), value.as_str().to_owned()))
        })
        .collect()
}

fn publish_message(message: &OutgoingMessage) -> PublishMessage {
    PublishMessage::build()
        .payload(message.payload.clone())
        .headers(headers(message))
}

/// A durable pull consumer `group` of `topic` with explicit acks, evbus-nats's
/// ack wait, ack pending limit, pull size and pull expiry, read as a stream.
async fn pull_messages(
    jetstream: &jetstream::Context,
    topic: &str,
    group: &str,
) -> anyhow::Result<pull::Stream> {
    let c = NatsConfig::default();
    let stream = jetstream
        .get_stream(mapping::stream_name(&c.stream_prefix, topic))
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            group,
            pull::Config {
                durable_name: Some(group.to_owned()),
                filter_subject: topic.to_owned(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: c.ack_wait,
                max_deliver: -1,
                max_ack_pending: c.max_ack_pending as i64,
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            },
        )
        .await?;
    Ok(consumer
        .stream()
        .max_messages_per_batch(c.fetch_batch)
        .expires(c.fetch_max_wait)
        .messages()
        .await?)
}

async fn consume(
    jetstream: jetstream::Context,
    topic: String,
    group: String,
    sink: Arc<Sink>,
    mut stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let mut messages = pull_messages(&jetstream, &topic, &group).await?;
    loop {
        let message = tokio::select! {
            _ = &mut stop => return Ok(()),
            message = messages.next() => message,
        };
        let Some(message) = message else {
            return Ok(());
        };
        let message = message.map_err(|e| anyhow::anyhow!("pull: {e}"))?;
        if let Some(headers) = &message.headers {
            let identity = identity_from_headers(headers.iter().filter_map(|(name, values)| {
                let name: &str = name.as_ref();
                values.first().map(|v| (name, v.as_str().as_bytes()))
            }));
            if let Some((aggregate, version)) = identity {
                sink.record(&aggregate, version);
            }
        }
        message
            .ack()
            .await
            .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
}

impl RawNats {
    /// A client and JetStream context with evbus-nats's settings.
    async fn connect(&self) -> anyhow::Result<(async_nats::Client, jetstream::Context)> {
        let c = NatsConfig::default();
        let client = async_nats::ConnectOptions::new()
            .name("perf-raw")
            .connection_timeout(c.connect_timeout)
            .request_timeout(Some(c.publish_timeout))
            .connect(&self.url)
            .await
            .context("connecting to nats-server")?;
        let jetstream = ContextBuilder::new()
            .timeout(c.publish_timeout)
            .max_ack_inflight(c.max_pending_acks)
            .backpressure_on_inflight(true)
            .build(client.clone());
        Ok((client, jetstream))
    }

    /// The raw client's half of the `nats bench` ceiling: publishes every
    /// message of `work` (one topic) the async way into a fresh stream,
    /// with evbus's headers or as the payload alone, then reads them all
    /// back through a fresh durable pull consumer acking each; the two
    /// halves timed apart, as `nats bench js pub async` and `nats bench js
    /// consume` time them (the latter from its first message on).
    pub async fn publish_then_drain(
        &self,
        work: &Work,
        headers: bool,
    ) -> anyhow::Result<(Sample, Sample)> {
        let topics = fresh_topics(1);
        let topic = &topics[0];
        create_topics(&self.admin, &topics).await?;
        let (client, jetstream) = self.connect().await?;
        let message = |index: usize| {
            let wire = &work.wires[index];
            if headers {
                publish_message(wire)
            } else {
                PublishMessage::build().payload(wire.payload.clone())
            }
        };
        let watch = Stopwatch::start();
        pipeline(work, None, |index| {
            let jetstream = &jetstream;
            async move {
                let ack = jetstream
                    .send_publish(topic.clone(), message(index))
                    .await?;
                Ok(async move {
                    ack.await?;
                    anyhow::Ok(())
                })
            }
        })
        .await?;
        let published = sample(work.len(), watch.stop());

        let mut messages = pull_messages(&jetstream, topic, &fresh_group()).await?;
        // Timed from the first message on, as `nats bench js consume` is.
        let mut watch = None;
        for _ in 0..work.len() {
            let message = messages
                .next()
                .await
                .context("the pull stream ended early")?
                .map_err(|e| anyhow::anyhow!("pull: {e}"))?;
            watch.get_or_insert_with(Stopwatch::start);
            message
                .ack()
                .await
                .map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
        client.flush().await?;
        let watch = watch.context("nothing to consume")?;
        let consumed = sample(work.len(), watch.stop());
        drop(messages);
        client.drain().await?;
        Ok((published, consumed))
    }
}

fn sample(messages: u64, (seconds, cpu_seconds): (f64, f64)) -> Sample {
    Sample {
        messages,
        seconds,
        cpu_seconds,
        tally: None,
        latency: None,
    }
}

impl Side for RawNats {
    type Run = NatsRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<NatsRun> {
        create_topics(&self.admin, topics).await?;
        let (client, jetstream) = self.connect().await?;
        let mut run = NatsRun {
            client,
            jetstream,
            consumers: Vec::new(),
        };
        if let Some(sink) = sink {
            let group = fresh_group();
            for topic in topics {
                let (stop, stopped) = oneshot::channel();
                let task = tokio::spawn(consume(
                    run.jetstream.clone(),
                    topic.clone(),
                    group.clone(),
                    sink.clone(),
                    stopped,
                ));
                run.consumers.push((stop, task));
            }
            for topic in topics {
                run.jetstream
                    .send_publish(topic.clone(), publish_message(&warmup()?.1))
                    .await?
                    .await?;
            }
            sink.wait_warm(WARMUP_TIMEOUT).await?;
        }
        Ok(run)
    }
}

impl Run for NatsRun {
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()> {
        self.jetstream
            .send_publish(topic.to_owned(), publish_message(&work.wires[index]))
            .await?
            .await?;
        Ok(())
    }

    async fn send_async_all(
        &self,
        topics: &[String],
        work: &Work,
        schedule: Option<&Schedule>,
    ) -> anyhow::Result<()> {
        pipeline(work, schedule, |index| async move {
            let topic = &topics[work.topics[index]];
            let ack = self
                .jetstream
                .send_publish(topic.clone(), publish_message(&work.wires[index]))
                .await?;
            Ok(async move {
                ack.await?;
                anyhow::Ok(())
            })
        })
        .await
    }

    async fn send_batch(
        &self,
        topic: &str,
        work: &Work,
        range: Range<usize>,
    ) -> anyhow::Result<()> {
        // Sent in order while the acks are awaited in order, like
        // evbus-nats's publish_batch, so a batch larger than the window
        // flows through it.
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
        let send_all = async move {
            for message in &work.wires[range] {
                let sent = self
                    .jetstream
                    .send_publish(topic.to_owned(), publish_message(message))
                    .await;
                if sent_tx.send(sent).is_err() {
                    break;
                }
            }
        };
        let await_acks = async {
            while let Some(sent) = sent_rx.recv().await {
                sent?.await?;
            }
            anyhow::Ok(())
        };
        let ((), acked) = tokio::join!(send_all, await_acks);
        acked
    }

    async fn close(self) -> anyhow::Result<()> {
        for (stop, task) in self.consumers {
            let _ = stop.send(());
            task.await??;
        }
        self.client.drain().await?;
        Ok(())
    }
}
