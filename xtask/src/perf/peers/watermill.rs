//! Watermill (Go), the library Go services pick for the same job: its
//! program lives in `interop/go/peers/watermill` (pinned by its `go.mod`),
//! built into the cache like the interop tool, and runs as a child process
//! per timed run on the topic this side creates (the same stream or topic
//! settings evbus gets). It subscribes, warms up, then times its own
//! publishes of the very envelopes evbus publishes (evbus's JSON wire
//! form, one per line of an input file written outside the timing) and its
//! subscriber handling them with the same order check as [`Sink`], and
//! prints its wall time, its own CPU time and its tally as one JSON line.
//!
//! [`Sink`]: crate::perf::workload::Sink

use std::{
    io::Write as _,
    path::PathBuf,
    process::{Command, Stdio},
    sync::Arc,
};

use anyhow::{Context as _, bail};
use evbus::{
    CodecKind,
    envelope::{CodecConfig, codec},
    transport::Transport,
};
use serde::Deserialize;

use crate::perf::{
    scenarios::e2e_ordered,
    setup::{create_topics, fresh_group, fresh_topics},
    stats::Sample,
    workload::{SERVICE, Tally, Work},
};

/// The module versions measured (the pins of its `go.mod`).
pub const VERSIONS: &str =
    "watermill v1.5.1, watermill-nats/v2 v2.1.3, watermill-kafka/v3 v3.0.6 (Sarama)";

/// The peer's name in the report.
pub const NAME: &str = "Watermill 1.5 (Go)";

/// Which broker the program talks to.
#[derive(Debug, Clone, Copy)]
pub enum Broker {
    Nats,
    Kafka,
}

impl Broker {
    fn flag(self) -> &'static str {
        match self {
            Self::Nats => "nats",
            Self::Kafka => "kafka",
        }
    }
}

/// The program, ready to run on one broker with one work's envelopes.
pub struct Watermill {
    binary: PathBuf,
    broker: Broker,
    servers: String,
    admin: Arc<dyn Transport>,
    window: usize,
    input: Input,
}

/// The envelopes, one JSON line each, in a file removed on drop.
struct Input(PathBuf);

impl Drop for Input {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the program prints.
#[derive(Deserialize)]
struct Report {
    seconds: f64,
    cpu_seconds: f64,
    handled: u64,
    distinct: u64,
    duplicates: u64,
    violations: u64,
    lost: u64,
    timed_out: bool,
}

impl Watermill {
    /// Builds the program (when its sources changed) and writes `work`'s
    /// envelopes for it; it publishes with `window` publishes in flight
    /// (never more than K), as the ruststream peer does.
    pub fn prepare(
        broker: Broker,
        servers: String,
        admin: Arc<dyn Transport>,
        window: usize,
        work: &Work,
    ) -> anyhow::Result<Self> {
        let module = crate::interop::go_dir().join("peers").join("watermill");
        let binary =
            crate::interop::build_cached(&module, "watermill-peer", "watermill-peer", false)
                .context("building the Watermill peer (interop/go/peers/watermill)")?;
        let path = std::env::temp_dir().join(format!(
            "evbus-watermill-{}-{}.jsonl",
            std::process::id(),
            broker.flag()
        ));
        let input = Input(path);
        let json = codec(CodecKind::GoJson, &CodecConfig::new(SERVICE));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&input.0)?);
        for envelope in &work.envelopes {
            // JSON escapes control characters, so a line is one envelope.
            file.write_all(&json.encode(envelope)?.body)?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
        Ok(Self {
            binary,
            broker,
            servers,
            admin,
            window: window.min(work.aggregates as usize),
            input,
        })
    }

    /// One timed run on a fresh topic and group: the program's own figures.
    pub async fn once(&self, work: &Work) -> anyhow::Result<Sample> {
        let topics = fresh_topics(1);
        create_topics(&self.admin, &topics).await?;
        let mut command = Command::new(&self.binary);
        command
            .args(["-broker", self.broker.flag(), "-servers", &self.servers])
            .args(["-topic", &topics[0], "-group", &fresh_group()])
            .arg("-input")
            .arg(&self.input.0)
            .args(["-window", &self.window.to_string()])
            .args([
                "-timeout",
                &e2e_ordered::DELIVERY_TIMEOUT.as_secs().to_string(),
            ])
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .context("running the Watermill peer")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
            bail!(
                "the Watermill peer failed ({}): {}",
                output.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let report: Report = serde_json::from_slice(&output.stdout)
            .with_context(|| format!("reading the Watermill peer's report; its log: {stderr}"))?;
        if report.timed_out {
            eprintln!(
                "Watermill peer: not every message handled within {:?}",
                e2e_ordered::DELIVERY_TIMEOUT
            );
        }
        Ok(Sample {
            messages: work.len(),
            seconds: report.seconds,
            cpu_seconds: report.cpu_seconds,
            tally: Some(Tally {
                handled: report.handled,
                distinct: report.distinct,
                duplicates: report.duplicates,
                violations: report.violations,
                lost: report.lost,
            }),
            latency: None,
        })
    }
}

/// What the report says about this peer on `broker`.
pub fn settings(broker: Broker) -> String {
    let how = match broker {
        Broker::Nats => NATS_SETTINGS,
        Broker::Kafka => KAFKA_SETTINGS,
    };
    format!(
        "{VERSIONS}, Go program interop/go/peers/watermill as a child process, timed and \
         CPU-measured by itself: {how}; the order check is the Rust side's, in Go (first \
         deliveries per aggregate must come in version order)"
    )
}

/// The NATS subscriber and publisher as the program sets them up.
const NATS_SETTINGS: &str = "watermill-nats pkg/nats (its production package) on evbus's \
    stream, AutoProvision off; subscriber: SubscribersCount 1 (one subscription, each message \
    waits for the previous one's Ack: the only way Watermill keeps an aggregate's order on \
    NATS, which its docs do not promise), durable push consumer with deliver group, \
    DeliverAll, AckExplicit, AckWaitTimeout 30 s, AckSync per message; publisher: synchronous \
    JetStream publish, TrackMsgId (Nats-Msg-Id = event id), NATSMarshaler (payload = envelope \
    bytes); publishes from min(evbus-nats max_pending_acks, K) goroutines, each aggregate on \
    one goroutine in version order";
/// The Kafka subscriber and publisher as the program sets them up.
const KAFKA_SETTINGS: &str = "watermill-kafka v3 (Sarama) on evbus's topic; publisher: \
    DefaultSaramaSyncPublisherConfig (sync producer, leader acks), partitioning marshaler \
    keyed by the aggregate id (Sarama's hash partitioner); subscriber: consumer group, \
    DefaultSaramaSubscriberConfig with the oldest offset for a new group, each partition's \
    messages one at a time (the next after the previous Ack), offsets marked on Ack and \
    committed every second; publishes from min(evbus-kafka max_in_flight, K) goroutines, \
    each aggregate on one goroutine in version order";
