//! The suites. Each figure runs evbus and its baseline alternately
//! (A B A B ...), each on fresh topics and groups, and keeps every sample.

pub mod allocs;
pub mod backlog;
pub mod e2e_ordered;
pub mod go_parity;
pub mod latency;
pub mod partitioned;
pub mod publish;
pub mod resources;
pub mod sweep;

use indicatif::ProgressBar;
use serde::Serialize;

use crate::perf::{
    side::{Evbus, Side},
    stats::{Percentiles, Sample, Summary},
};

/// How a suite runs: repetitions, sizes and the progress bar.
pub struct Ctx {
    /// Runs per side and figure.
    pub runs: usize,
    pub bar: ProgressBar,
}

impl Ctx {
    /// One run finished: advances the bar, or logs a line where no bar is
    /// drawn (stderr is not a terminal).
    pub fn tick(&self) {
        self.bar.inc(1);
        if self.bar.is_hidden() {
            eprintln!(
                "[{}/{}] {}",
                self.bar.position(),
                self.bar.length().unwrap_or(0),
                self.bar.message()
            );
        }
    }
}

/// Message counts of one transport's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Sizes {
    /// Async and batch publish.
    pub publish: u64,
    /// Sync publish (one round trip per message).
    pub publish_sync: u64,
    /// End-to-end ordered, h = 0 (h = 1 ms uses a fifth).
    pub e2e: u64,
    /// End-to-end ordered variants: (aggregates K, handler wait h in ms).
    pub e2e_variants: Vec<(u64, u64)>,
    /// Offered rates of the latency suite, msg/s.
    pub latency_rates: Vec<u64>,
    /// Latency: seconds at each offered rate.
    pub latency_seconds: u64,
    /// Message counts of the Go SDK parity suite.
    pub parity_messages: Vec<u64>,
    /// Messages per run of the partitioned suite (NATS only).
    pub partitioned: u64,
}

/// One transport under test: evbus on it and the raw client it wraps.
pub struct Pair<'a, B: Side> {
    /// `memory`, `nats` or `kafka`.
    pub transport: &'static str,
    pub evbus: &'a Evbus,
    pub raw: &'a B,
    /// E.g. "raw async-nats".
    pub raw_name: &'static str,
    /// The raw client's settings, as the report states them.
    pub raw_settings: String,
    pub sizes: Sizes,
}

/// Whether higher or lower is better for a figure's headline number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// msg/s.
    Throughput,
    /// Latency percentiles, microseconds.
    Latency,
}

/// One figure: evbus and baseline samples of the same workload.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub suite: String,
    pub transport: &'static str,
    /// The variant, e.g. `async` or `K=1000 h=0`.
    pub name: String,
    pub kind: Kind,
    pub messages: u64,
    pub aggregates: u64,
    pub topics: usize,
    pub baseline: String,
    /// What the baseline does differently, when it differs (e.g. h).
    pub note: Option<String>,
    pub evbus: Vec<Sample>,
    pub raw: Vec<Sample>,
}

impl Figure {
    pub fn evbus_rate(&self) -> Summary {
        Summary::of(self.evbus.iter().map(Sample::rate))
    }

    pub fn raw_rate(&self) -> Summary {
        Summary::of(self.raw.iter().map(Sample::rate))
    }

    pub fn evbus_cpu(&self) -> Summary {
        Summary::of(self.evbus.iter().map(Sample::cpu_us_per_message))
    }

    pub fn raw_cpu(&self) -> Summary {
        Summary::of(self.raw.iter().map(Sample::cpu_us_per_message))
    }

    /// Latency percentile `i` (see [`Percentiles::NAMES`]) of each side.
    pub fn latency(&self, i: usize) -> (Summary, Summary) {
        let of = |samples: &[Sample]| {
            Summary::of(
                samples
                    .iter()
                    .filter_map(|s| s.latency.map(|l: Percentiles| l.values()[i])),
            )
        };
        (of(&self.evbus), of(&self.raw))
    }

    /// evbus's median over the baseline's median: throughput ratio (higher
    /// is better) or p99 latency ratio (lower is better).
    pub fn ratio(&self) -> f64 {
        match self.kind {
            Kind::Throughput => self.evbus_rate().median / self.raw_rate().median,
            Kind::Latency => {
                let (evbus, raw) = self.latency(2);
                evbus.median / raw.median
            }
        }
    }

    /// Order violations and losses summed over the evbus and raw runs.
    pub fn broken(&self) -> (u64, u64) {
        self.evbus
            .iter()
            .chain(&self.raw)
            .filter_map(|s| s.tally)
            .fold((0, 0), |(v, l), t| (v + t.violations, l + t.lost))
    }

    /// Duplicates over the evbus runs.
    pub fn duplicates(&self) -> u64 {
        self.evbus
            .iter()
            .filter_map(|s| s.tally)
            .map(|t| t.duplicates)
            .sum()
    }
}
