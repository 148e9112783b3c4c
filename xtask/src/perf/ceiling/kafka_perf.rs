//! Apache Kafka's own perf tools (`kafka-producer-perf-test` and
//! `kafka-consumer-perf-test`: `ProducerPerformance` / `ConsumerPerformance`
//! in the `kafka-tools` jar) on the perf run's broker, run with `java -cp`
//! on the cached jars (`EVBUS_KAFKA_LIBS`).

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};

use crate::perf::stats::Sample;

/// The jars and the broker the tools run against.
pub struct KafkaPerf {
    pub libs: PathBuf,
    pub bootstrap: String,
}

impl KafkaPerf {
    /// The jars of `EVBUS_KAFKA_LIBS` (set by `cargo xtask perf`).
    pub fn from_env(bootstrap: String) -> anyhow::Result<Self> {
        let libs = std::env::var_os("EVBUS_KAFKA_LIBS")
            .filter(|l| !l.is_empty())
            .context("EVBUS_KAFKA_LIBS is not set (cargo xtask perf sets it)")?;
        Ok(Self {
            libs: libs.into(),
            bootstrap,
        })
    }

    /// Produces `messages` records of `size` bytes (no key, no headers:
    /// the tool writes neither) to `topic` with evbus-kafka's durability
    /// (idempotent, acks=all), then reads them back in a fresh group; each
    /// tool's own timing (its JVM start and the group join excluded).
    /// Returns both samples and the two command lines.
    pub fn produce_then_consume(
        &self,
        topic: &str,
        group: &str,
        messages: u64,
        size: usize,
    ) -> anyhow::Result<(Sample, Sample, [String; 2])> {
        let mut produce = self.tool("org.apache.kafka.tools.ProducerPerformance");
        produce
            .args(["--bootstrap-server", &self.bootstrap, "--topic", topic])
            .args(["--num-records", &messages.to_string()])
            .args(["--record-size", &size.to_string(), "--throughput", "-1"])
            .args(["--command-property", "acks=all", "enable.idempotence=true"]);
        let (out, produce_line) = output(&mut produce)?;
        let produced = parse_producer(&out)?;
        let mut consume = self.tool("org.apache.kafka.tools.ConsumerPerformance");
        consume
            .args(["--bootstrap-server", &self.bootstrap, "--topic", topic])
            .args(["--num-records", &messages.to_string(), "--group", group])
            .args(["--timeout", "60000", "--hide-header"]);
        let (out, consume_line) = output(&mut consume)?;
        let consumed = parse_consumer(&out)?;
        Ok((produced, consumed, [produce_line, consume_line]))
    }

    fn tool(&self, class: &str) -> Command {
        let mut command = Command::new(java());
        command.arg("-cp").arg(self.libs.join("*")).arg(class);
        command
    }
}

/// `$JAVA_HOME/bin/java`, else `java` on `PATH`.
fn java() -> PathBuf {
    std::env::var_os("JAVA_HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join("bin").join("java"))
        .unwrap_or_else(|| "java".into())
}

fn output(command: &mut Command) -> anyhow::Result<(String, String)> {
    let line = format!("{command:?}");
    let output = command
        .output()
        .with_context(|| format!("cannot start {line}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!(
            "{line} failed with {}:\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok((stdout, line))
}

/// The summary line of `ProducerPerformance`: `N records sent, R
/// records/sec (...)`.
fn parse_producer(out: &str) -> anyhow::Result<Sample> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains(" records sent, "))
        .with_context(|| format!("no summary line in:\n{out}"))?;
    let mut words = line.split_whitespace();
    let messages: u64 = words.next().context("empty line")?.parse()?;
    let rate: f64 = line
        .split(", ")
        .nth(1)
        .and_then(|part| part.split_whitespace().next())
        .with_context(|| format!("no rate in {line:?}"))?
        .parse()?;
    Ok(Sample {
        messages,
        seconds: messages as f64 / rate,
        cpu_seconds: f64::NAN,
        tally: None,
        latency: None,
    })
}

/// The CSV line of `ConsumerPerformance --hide-header`: `start.time,
/// end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
/// nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec,
/// fetch.nMsg.sec`; the fetch time excludes joining the group.
fn parse_consumer(out: &str) -> anyhow::Result<Sample> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.split(',').count() >= 10)
        .with_context(|| format!("no result line in:\n{out}"))?;
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let messages: u64 = fields[4].parse()?;
    let fetch_ms: f64 = fields[7].parse()?;
    Ok(Sample {
        messages,
        seconds: fetch_ms / 1000.0,
        cpu_seconds: f64::NAN,
        tally: None,
        latency: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_count_and_rate_from_the_producer_summary() {
        let out = "5000 records sent, 1000.0 records/sec (0.25 MB/sec), 3.0 ms avg latency\n\
                   10000 records sent, 40000.0 records/sec (9.77 MB/sec), 120.5 ms avg \
                   latency, 300.0 ms max latency, 100 ms 50th, 200 ms 95th, 250 ms 99th, \
                   290 ms 99.9th.\n";
        let sample = parse_producer(out).unwrap();
        assert_eq!(sample.messages, 10_000);
        assert!((sample.seconds - 0.25).abs() < 1e-9);
    }

    #[test]
    fn reads_count_and_fetch_time_from_the_consumer_line() {
        let out = "2026-12-02 01:00:00:000, 2026-12-02 01:00:03:500, 2.8, 0.8, 10000, \
                   2857.1, 3000, 500, 5.6, 20000.0\n";
        let sample = parse_consumer(out).unwrap();
        assert_eq!(sample.messages, 10_000);
        assert!((sample.seconds - 0.5).abs() < 1e-9);
    }

    #[test]
    fn output_without_a_result_is_an_error() {
        assert!(parse_producer("WARN something\n").is_err());
        assert!(parse_consumer("WARN something\n").is_err());
    }
}
