//! Samples of single runs and their summaries (median, min, max), and the
//! interleaved A B A B ... order of evbus and baseline runs.

use std::{future::Future, time::Duration};

use serde::Serialize;

use crate::perf::{probe, workload::Tally};

/// Latency percentiles of one run, microseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
}

impl Percentiles {
    pub fn of(histogram: &hdrhistogram::Histogram<u64>) -> Self {
        let at = |q: f64| histogram.value_at_quantile(q) as f64;
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
        }
    }

    pub const NAMES: [&'static str; 4] = ["p50", "p90", "p99", "p99.9"];

    pub fn values(&self) -> [f64; 4] {
        [self.p50, self.p90, self.p99, self.p999]
    }
}

/// One timed run of one side.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// Messages published (and, where consumed, handled) in the timed part.
    pub messages: u64,
    /// Wall time of the timed part, seconds.
    pub seconds: f64,
    /// CPU time (user + system, all threads) of this process in the timed
    /// part, seconds.
    pub cpu_seconds: f64,
    /// What the consumer saw, where there was one.
    pub tally: Option<Tally>,
    /// Latency percentiles, for latency figures.
    pub latency: Option<Percentiles>,
}

impl Sample {
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.seconds
    }

    pub fn cpu_us_per_message(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.messages as f64
    }
}

/// Times a future's wall and CPU time.
pub struct Stopwatch {
    wall: std::time::Instant,
    cpu: Duration,
}

impl Stopwatch {
    pub fn start() -> Self {
        Self {
            cpu: probe::cpu_time(),
            wall: std::time::Instant::now(),
        }
    }

    /// (wall, cpu) seconds since start.
    pub fn stop(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = (probe::cpu_time().saturating_sub(self.cpu)).as_secs_f64();
        (wall, cpu)
    }
}

/// Median, min and max of one quantity over the runs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
        if values.is_empty() {
            return Self {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Self {
            median,
            min: values[0],
            max: values[n - 1],
        }
    }
}

/// Runs `a` and `b` alternately, `runs` times each (A B A B ...), calling
/// `tick` after each run; returns both sample lists.
pub async fn interleave<A, B, FA, FB>(
    runs: usize,
    mut a: A,
    mut b: B,
    mut tick: impl FnMut(),
) -> anyhow::Result<(Vec<Sample>, Vec<Sample>)>
where
    A: FnMut() -> FA,
    B: FnMut() -> FB,
    FA: Future<Output = anyhow::Result<Sample>>,
    FB: Future<Output = anyhow::Result<Sample>>,
{
    let mut first = Vec::with_capacity(runs);
    let mut second = Vec::with_capacity(runs);
    for _ in 0..runs {
        first.push(a().await?);
        tick();
        second.push(b().await?);
        tick();
    }
    Ok((first, second))
}
