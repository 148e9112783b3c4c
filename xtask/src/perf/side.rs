//! The two sides of every figure: evbus and the raw client it wraps. A
//! side opens a run (connect, create topics, subscribe, warm up: not
//! timed), publishes in one of the ways a figure measures, and closes.

use std::{
    ops::Range,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::{Context, bail};
use evbus::{BusConfig, EventBus, TopicOptions};

use crate::perf::{
    setup::fresh_group,
    workload::{BATCH, Schedule, Sink, Work, warmup},
};

/// How the timed part publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PublishMode {
    /// One message at a time, each awaited until the broker acknowledged it.
    Sync,
    /// Pipelined within the client's bounded window, acks collected in the
    /// background; ends with a flush.
    Async,
    /// Batches of 500, each awaited.
    Batch,
}

impl PublishMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sync => "sync",
            Self::Async => "async",
            Self::Batch => "batch",
        }
    }
}

/// A side of a figure: evbus, or the raw client it is compared with.
pub trait Side {
    type Run: Run;

    /// Connects, creates `topics`, subscribes `sink` to each (when given)
    /// and waits until a warm-up message per topic came through.
    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<Self::Run>;
}

/// One open run of a side.
pub trait Run {
    /// Publishes message `index` of `work` and waits for the broker's ack.
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()>;
    /// Publishes every message of `work` the async way: each sent within
    /// the client's bounded window without waiting for its ack (at its due
    /// time, when a schedule is given), the acks collected meanwhile;
    /// returns once every message is acknowledged, failing if any failed.
    async fn send_async_all(
        &self,
        topics: &[String],
        work: &Work,
        schedule: Option<&Schedule>,
    ) -> anyhow::Result<()>;
    /// Publishes the messages in `range` (all of one topic) as one batch
    /// and waits for every ack.
    async fn send_batch(&self, topic: &str, work: &Work, range: Range<usize>)
    -> anyhow::Result<()>;
    /// Releases everything the run holds.
    async fn close(self) -> anyhow::Result<()>;
}

/// Publishes all of `work` the given way (the timed part of a figure).
pub async fn publish_all<R: Run>(
    run: &R,
    topics: &[String],
    work: &Work,
    mode: PublishMode,
) -> anyhow::Result<()> {
    match mode {
        PublishMode::Sync => {
            for (index, &topic) in work.topics.iter().enumerate() {
                run.send_sync(&topics[topic], work, index).await?;
            }
        }
        PublishMode::Async => run.send_async_all(topics, work, None).await?,
        PublishMode::Batch => {
            // Runs of consecutive messages of one topic, at most BATCH long.
            let mut start = 0;
            while start < work.topics.len() {
                let topic = work.topics[start];
                let mut end = start + 1;
                while end < work.topics.len() && end - start < BATCH && work.topics[end] == topic {
                    end += 1;
                }
                run.send_batch(&topics[topic], work, start..end).await?;
                start = end;
            }
        }
    }
    Ok(())
}

/// Waits until message `index` of a paced run is due.
pub async fn pace(schedule: Option<&Schedule>, index: usize) {
    if let Some(schedule) = schedule {
        let due = schedule.due(index as u64);
        if due > std::time::Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
    }
}

/// How long a warm-up message may take (a Kafka group join included).
pub const WARMUP_TIMEOUT: Duration = Duration::from_secs(60);

/// evbus on one of its backends.
pub struct Evbus {
    pub config: BusConfig,
}

/// An open evbus run.
pub struct EvbusRun {
    bus: EventBus,
    /// Failed detached publishes, as reported to the error callback.
    failures: Arc<AtomicU64>,
}

impl Side for Evbus {
    type Run = EvbusRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<EvbusRun> {
        let failures = Arc::new(AtomicU64::new(0));
        let counter = failures.clone();
        // A fresh group per run, as the baselines use.
        let mut config = self.config.clone();
        config.subscribe.group = Some(fresh_group());
        let bus = EventBus::builder()
            .config(config)
            .on_error(move |error| {
                eprintln!("evbus: {error}");
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .await
            .context("starting the bus")?;
        bus.configure_topics(topics.iter().map(|t| (t.clone(), TopicOptions::default())))
            .await
            .context("configuring the topics")?;
        if let Some(sink) = sink {
            for topic in topics {
                let sink = sink.clone();
                bus.subscribe_envelope(topic, move |envelope: evbus::Envelope, _meta| {
                    let sink = sink.clone();
                    async move {
                        sink.handler_work().await;
                        sink.record(envelope.aggregate_id(), envelope.event_version());
                        Ok(())
                    }
                })
                .await
                .context("subscribing")?;
            }
            for topic in topics {
                bus.publish_envelope(topic, &warmup()?.0).await?;
            }
            sink.wait_warm(WARMUP_TIMEOUT).await?;
        }
        Ok(EvbusRun { bus, failures })
    }
}

impl Run for EvbusRun {
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()> {
        self.bus
            .publish_envelope(topic, &work.envelopes[index])
            .await?;
        Ok(())
    }

    async fn send_async_all(
        &self,
        topics: &[String],
        work: &Work,
        schedule: Option<&Schedule>,
    ) -> anyhow::Result<()> {
        for (index, &topic) in work.topics.iter().enumerate() {
            pace(schedule, index).await;
            self.bus
                .publish_detached(&topics[topic], &work.envelopes[index])
                .await?;
        }
        self.bus.flush().await?;
        let failed = self.failures.load(Ordering::Relaxed);
        if failed > 0 {
            bail!("{failed} detached publishes failed");
        }
        Ok(())
    }

    async fn send_batch(
        &self,
        topic: &str,
        work: &Work,
        range: Range<usize>,
    ) -> anyhow::Result<()> {
        for result in self
            .bus
            .publish_batch(topic, &work.envelopes[range])
            .await?
        {
            result?;
        }
        Ok(())
    }

    async fn close(self) -> anyhow::Result<()> {
        self.bus.close().await?;
        Ok(())
    }
}
