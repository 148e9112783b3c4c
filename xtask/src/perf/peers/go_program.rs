//! A Go peer's program: each Go peer is a module under `interop/go/peers`
//! (pinned by its `go.mod`) built on the shared harness
//! (`interop/go/peers/harness`), built into the cache like the interop tool,
//! and run as a child process per timed run on the topic this side creates
//! (the same stream or topic settings evbus gets). It subscribes, warms up,
//! then times its own publishes of the very envelopes evbus publishes
//! (evbus's JSON wire form, one per line of an input file written outside
//! the timing) and its subscriber handling them with the same order check
//! as [`Sink`], and prints its wall time, its own CPU time and its tally as
//! one JSON line. Its log goes to a file beside the input, read back when
//! it fails.
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

/// Where a Go peer's program lives and what it is called.
pub struct Program {
    /// Its folder under `interop/go/peers`, also its binary's name prefix.
    pub folder: &'static str,
    /// Its binary's name.
    pub binary: &'static str,
    /// The peer's name in the report and in messages.
    pub name: &'static str,
    /// What the report says of it on every broker.
    pub about: &'static str,
    /// What the report says of its NATS setup.
    pub nats: &'static str,
    /// What the report says of its Kafka setup.
    pub kafka: &'static str,
}

impl Program {
    /// What the report says about this peer on `broker`.
    pub fn settings(&self, broker: Broker) -> String {
        let how = match broker {
            Broker::Nats => self.nats,
            Broker::Kafka => self.kafka,
        };
        format!(
            "{}, Go program interop/go/peers/{} as a child process on the shared harness \
             (interop/go/peers/harness), timed and CPU-measured by itself, the order check \
             the Rust side's, in Go (first deliveries per aggregate must come in version \
             order): {how}",
            self.about, self.folder
        )
    }
}

/// The program, ready to run on one broker with one work's envelopes.
pub struct GoPeer {
    program: &'static Program,
    binary: PathBuf,
    broker: Broker,
    servers: String,
    admin: Arc<dyn Transport>,
    window: usize,
    input: Scratch,
    log: Scratch,
}

/// A file of this run's, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(program: &Program, broker: Broker, what: &str) -> Self {
        Self(std::env::temp_dir().join(format!(
            "evbus-{}-{}-{}.{what}",
            program.folder,
            std::process::id(),
            broker.flag()
        )))
    }
}

impl Drop for Scratch {
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

/// Lines of the program's log a failure shows.
const LOG_TAIL: usize = 10;

impl GoPeer {
    /// Builds `program` (when its sources changed) and writes `work`'s
    /// envelopes for it; it publishes from `window` goroutines (never more
    /// than K), as the ruststream peer keeps `window` publishes in flight.
    pub fn prepare(
        program: &'static Program,
        broker: Broker,
        servers: String,
        admin: Arc<dyn Transport>,
        window: usize,
        work: &Work,
    ) -> anyhow::Result<Self> {
        let module = crate::interop::go_dir().join("peers").join(program.folder);
        let binary = crate::interop::build_cached(&module, program.binary, program.binary, false)
            .with_context(|| {
            format!(
                "building the {} peer (interop/go/peers/{})",
                program.name, program.folder
            )
        })?;
        let input = Scratch::new(program, broker, "jsonl");
        let json = codec(CodecKind::GoJson, &CodecConfig::new(SERVICE));
        let mut file = std::io::BufWriter::new(std::fs::File::create(&input.0)?);
        for envelope in &work.envelopes {
            // JSON escapes control characters, so a line is one envelope.
            file.write_all(&json.encode(envelope)?.body)?;
            file.write_all(b"\n")?;
        }
        file.flush()?;
        Ok(Self {
            program,
            binary,
            broker,
            servers,
            admin,
            window: window.min(work.aggregates as usize),
            input,
            log: Scratch::new(program, broker, "log"),
        })
    }

    /// One timed run on a fresh topic and group: the program's own figures.
    pub async fn once(&self, work: &Work) -> anyhow::Result<Sample> {
        let topics = fresh_topics(1);
        create_topics(&self.admin, &topics).await?;
        let name = self.program.name;
        let log = std::fs::File::create(&self.log.0)
            .with_context(|| format!("creating {}", self.log.0.display()))?;
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
            .stdin(Stdio::null())
            .stderr(log);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .with_context(|| format!("running the {name} peer"))?;
        if !output.status.success() {
            bail!(
                "the {name} peer failed ({}); its log ends:\n{}",
                output.status,
                self.log_tail()
            );
        }
        let report: Report = serde_json::from_slice(&output.stdout).with_context(|| {
            format!(
                "reading the {name} peer's report; its log ends:\n{}",
                self.log_tail()
            )
        })?;
        if report.timed_out {
            eprintln!(
                "{name} peer: not every message handled within {:?}",
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

    /// The last [`LOG_TAIL`] lines of the program's log.
    fn log_tail(&self) -> String {
        let log = std::fs::read(&self.log.0).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let tail: Vec<&str> = log.lines().rev().take(LOG_TAIL).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}
