//! The in-process baseline: a bounded tokio channel per topic into one task
//! that plays broker and consumer (checks order from the `X-*` headers, or
//! keeps the message when nothing consumes). Window = evbus's
//! `publish.queue_capacity` (10,000); batches of 500; a sync publish waits
//! for the task's answer.

use std::{ops::Range, sync::Arc};

use evbus::OutgoingMessage;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::perf::{
    side::{Run, Side, WARMUP_TIMEOUT, pace},
    workload::{Schedule, Sink, Work, identity_from_headers, warmup},
};

/// What the report says about this baseline.
pub const SETTINGS: &str = "tokio mpsc channel per topic, capacity 10,000 (evbus \
    publish.queue_capacity), into one task that checks order from the X-* headers; sync = \
    wait for that task's answer, batch = 500 messages per send";

/// The channel window.
const WINDOW: usize = 10_000;

enum Command {
    One(OutgoingMessage, Option<oneshot::Sender<()>>),
    Many(Vec<OutgoingMessage>, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// A raw tokio channel.
pub struct RawChannel;

/// An open channel run.
pub struct ChannelRun {
    topics: Vec<(String, mpsc::Sender<Command>)>,
    tasks: Vec<JoinHandle<()>>,
}

async fn broker(mut commands: mpsc::Receiver<Command>, sink: Option<Arc<Sink>>) {
    let mut stored = Vec::new();
    let mut take = |message: OutgoingMessage| match &sink {
        Some(sink) => {
            let identity = identity_from_headers(
                message
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_bytes())),
            );
            if let Some((aggregate, version)) = identity {
                sink.record(&aggregate, version);
            }
        }
        None => stored.push(message),
    };
    while let Some(command) = commands.recv().await {
        match command {
            Command::One(message, done) => {
                take(message);
                if let Some(done) = done {
                    let _ = done.send(());
                }
            }
            Command::Many(messages, done) => {
                messages.into_iter().for_each(&mut take);
                let _ = done.send(());
            }
            Command::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

impl Side for RawChannel {
    type Run = ChannelRun;

    async fn open(&self, topics: &[String], sink: Option<Arc<Sink>>) -> anyhow::Result<ChannelRun> {
        let mut run = ChannelRun {
            topics: Vec::new(),
            tasks: Vec::new(),
        };
        for topic in topics {
            let (sender, commands) = mpsc::channel(WINDOW);
            run.tasks.push(tokio::spawn(broker(commands, sink.clone())));
            run.topics.push((topic.clone(), sender));
        }
        if let Some(sink) = sink {
            for (_, sender) in &run.topics {
                let (done, answered) = oneshot::channel();
                sender.send(Command::One(warmup()?.1, Some(done))).await?;
                answered.await?;
            }
            sink.wait_warm(WARMUP_TIMEOUT).await?;
        }
        Ok(run)
    }
}

impl ChannelRun {
    fn sender(&self, topic: &str) -> &mpsc::Sender<Command> {
        &self
            .topics
            .iter()
            .find(|(t, _)| t == topic)
            .expect("topics are opened before use")
            .1
    }
}

impl Run for ChannelRun {
    async fn send_sync(&self, topic: &str, work: &Work, index: usize) -> anyhow::Result<()> {
        let (done, answered) = oneshot::channel();
        self.sender(topic)
            .send(Command::One(work.wires[index].clone(), Some(done)))
            .await?;
        answered.await?;
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
            self.sender(&topics[topic])
                .send(Command::One(work.wires[index].clone(), None))
                .await?;
        }
        for (_, sender) in &self.topics {
            let (done, answered) = oneshot::channel();
            sender.send(Command::Flush(done)).await?;
            answered.await?;
        }
        Ok(())
    }

    async fn send_batch(
        &self,
        topic: &str,
        work: &Work,
        range: Range<usize>,
    ) -> anyhow::Result<()> {
        let (done, answered) = oneshot::channel();
        self.sender(topic)
            .send(Command::Many(work.wires[range].to_vec(), done))
            .await?;
        answered.await?;
        Ok(())
    }

    async fn close(self) -> anyhow::Result<()> {
        drop(self.topics);
        for task in self.tasks {
            task.await?;
        }
        Ok(())
    }
}
