//! Command-line options of `cargo xtask perf`.

use std::fmt;

/// Which broker(s) the suites run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    /// The embedded in-memory transport (baseline: a tokio channel).
    Memory,
    /// NATS JetStream (baseline: raw async-nats).
    Nats,
    /// Apache Kafka (baseline: raw rdkafka).
    Kafka,
    /// All three.
    All,
}

/// The suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ScenarioName {
    /// Sync, async (bounded window) and batch publish of 256-byte envelopes.
    Publish,
    /// N envelopes over K aggregates through the keyed pool, order checked.
    #[value(name = "e2e-ordered")]
    E2eOrdered,
    /// Publish-to-handler latency at fixed offered rates.
    Latency,
    /// The Go SDK's scenario: 500..10,000 envelopes over 5 topics.
    #[value(name = "go-sdk-parity")]
    GoSdkParity,
    /// NATS only: a partitioned consumer group of 1 and of 3 bus instances
    /// (K = 1,000, h = 1 ms, 12 partitions), and the failover time after
    /// one of the 3 is killed.
    Partitioned,
    /// The broker's own bench tool beside the raw client on the same work
    /// (`nats bench`, which needs Go to install natscli once; Apache Kafka's
    /// producer and consumer perf tools).
    Ceiling,
    /// Peak and post-close RSS, heap, threads and tasks (child process).
    Resources,
    /// evbus alone over K = 1..100,000 aggregates and handler times h = 0,
    /// 0.1, 1 and 10 ms: throughput and CPU per message (in the default set
    /// of a full run only: 72 runs per transport).
    Sweep,
    /// NATS and Kafka: evbus's memory while 1,000,000 messages wait in the
    /// broker for a slow consumer (a child process; full run's default set
    /// only: it publishes the million first).
    Backlog,
    /// evbus beside the peers (the Go SDK, ruststream's keyed lanes,
    /// Watermill) on the same broker:
    /// e2e ordered JSON envelopes, K = 1,000, h = 0 (NATS and Kafka).
    Peers,
    /// Heap allocations per message (calls and bytes) of evbus and the raw
    /// client, publish async and end to end, on a current-thread runtime
    /// (the function callgrind is pointed at for instructions per message).
    Allocs,
}

impl fmt::Display for ScenarioName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().expect("no skipped variants");
        f.write_str(value.get_name())
    }
}

impl fmt::Display for TransportChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use clap::ValueEnum;
        let value = self.to_possible_value().expect("no skipped variants");
        f.write_str(value.get_name())
    }
}

/// `cargo xtask perf` options.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// The broker to measure.
    #[arg(long, value_enum, default_value_t = TransportChoice::All)]
    pub transport: TransportChoice,
    /// Run only this suite (repeatable); default: all of them.
    #[arg(long, value_enum)]
    pub scenario: Vec<ScenarioName>,
    /// Small sizes and 3 runs per figure instead of 5: a run under 5 minutes.
    #[arg(long)]
    pub quick: bool,
    /// Runs per figure, for each of evbus and its baseline (default 5, or 3
    /// with --quick; at least 3).
    #[arg(long)]
    pub runs: Option<usize>,
    /// Internal: run one resources measurement in this (child) process.
    #[arg(long, hide = true)]
    pub child: Option<String>,
    /// Internal: run the backlog suite's slow consumer in this (child)
    /// process.
    #[arg(long, hide = true)]
    pub backlog_child: Option<String>,
}

impl Args {
    /// The suites to run: those asked for, else all of them (a quick run
    /// leaves out the long sweep and backlog suites); sorted.
    pub fn scenarios(&self) -> Vec<ScenarioName> {
        let mut scenarios = self.scenario.clone();
        if scenarios.is_empty() {
            scenarios = vec![
                ScenarioName::Publish,
                ScenarioName::E2eOrdered,
                ScenarioName::Latency,
                ScenarioName::GoSdkParity,
                ScenarioName::Partitioned,
                ScenarioName::Ceiling,
                ScenarioName::Resources,
                ScenarioName::Peers,
                ScenarioName::Allocs,
            ];
            if !self.quick {
                scenarios.extend([ScenarioName::Sweep, ScenarioName::Backlog]);
            }
        }
        scenarios.sort();
        scenarios.dedup();
        scenarios
    }

    /// Whether the run measures `nats bench` (and so needs natscli).
    pub fn wants_nats_ceiling(&self) -> bool {
        matches!(self.transport, TransportChoice::Nats | TransportChoice::All)
            && self.scenarios().contains(&ScenarioName::Ceiling)
    }

    /// The arguments that reproduce these options on a command line.
    pub fn to_command_line(&self) -> Vec<String> {
        let mut line = vec!["--transport".to_owned(), self.transport.to_string()];
        for scenario in &self.scenario {
            line.extend(["--scenario".to_owned(), scenario.to_string()]);
        }
        if self.quick {
            line.push("--quick".into());
        }
        if let Some(runs) = self.runs {
            line.extend(["--runs".to_owned(), runs.to_string()]);
        }
        if let Some(child) = &self.child {
            line.extend(["--child".to_owned(), child.clone()]);
        }
        if let Some(child) = &self.backlog_child {
            line.extend(["--backlog-child".to_owned(), child.clone()]);
        }
        line
    }
}
