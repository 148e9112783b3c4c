//! Command-line options of `cargo xtask chaos`.

use std::fmt;

/// The brokers the scenarios run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TransportChoice {
    /// Three `nats-server` nodes, routes, R3 JetStream streams.
    Nats,
    /// Three Apache Kafka brokers, replication 3, `min.insync.replicas` 2.
    Kafka,
    /// Both.
    All,
}

/// The fault scenarios; each runs on every chosen broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum ScenarioName {
    /// SIGKILL the stream / partition leader mid-stream, restart it later.
    #[value(name = "leader-kill")]
    LeaderKill,
    /// SIGKILL a node that is not the leader, restart it later.
    #[value(name = "follower-kill")]
    FollowerKill,
    /// SIGTERM and restart every node in turn.
    #[value(name = "rolling-restart")]
    RollingRestart,
    /// SIGKILL the consuming process every few seconds, several times.
    #[value(name = "consumer-kill")]
    ConsumerKill,
    /// Garbage, empty, huge and oddly-headed messages written with the raw
    /// client between good ones.
    #[value(name = "bad-input")]
    BadInput,
    /// Latency, a cut connection, a black hole and a slow link between the
    /// bus and the brokers (toxiproxy in front of each node).
    Network,
    /// One NATS node cut off from the other nodes (its routes run through
    /// toxiproxy), the stream leader and then a follower, while its
    /// clients stay connected to it. NATS only (see
    /// `scenarios/partition.rs` for why not Kafka).
    Partition,
    /// The leader's data directory full, then freed (a small tmpfs mounted
    /// over it; needs the right to mount, as root has).
    Disk,
    /// A fixed rate for a while with random broker faults, sampling the
    /// consumer's memory, tasks and threads.
    Soak,
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

/// `cargo xtask chaos` options.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Shorter scenarios (a few minutes in all, as `cargo xtask test` runs
    /// it); the soak lasts 1 minute unless `--soak-secs` says otherwise.
    #[arg(long)]
    pub quick: bool,
    /// Run only this scenario (repeatable); default: all of them.
    #[arg(long, value_enum)]
    pub scenario: Vec<ScenarioName>,
    /// The brokers to run against.
    #[arg(long, value_enum, default_value_t = TransportChoice::All)]
    pub transport: TransportChoice,
    /// Seed of every random choice (handler failures, fault targets and
    /// times); default: drawn from the clock and printed, so any run can
    /// be repeated.
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long the soak publishes, in seconds (default 600, or 60 with
    /// --quick).
    #[arg(long)]
    pub soak_secs: Option<u64>,
    /// Internal: run a consumer with this JSON spec in this (child) process.
    #[arg(long, hide = true)]
    pub child: Option<String>,
}

impl Args {
    /// The arguments that reproduce these options on a command line.
    pub fn to_command_line(&self) -> Vec<String> {
        let mut line = vec!["--transport".to_owned(), self.transport.to_string()];
        for scenario in &self.scenario {
            line.extend(["--scenario".to_owned(), scenario.to_string()]);
        }
        if self.quick {
            line.push("--quick".into());
        }
        if let Some(seed) = self.seed {
            line.extend(["--seed".to_owned(), seed.to_string()]);
        }
        if let Some(secs) = self.soak_secs {
            line.extend(["--soak-secs".to_owned(), secs.to_string()]);
        }
        if let Some(child) = &self.child {
            line.extend(["--child".to_owned(), child.clone()]);
        }
        line
    }
}
