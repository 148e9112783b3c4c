//! `nats bench` (natscli) on the perf run's nats-server: JetStream async
//! publish into a fresh file stream, then a durable consumer with explicit
//! acks reading it back.

use std::{
    path::PathBuf,
    process::Command,
    sync::atomic::{AtomicU64, Ordering},
};

use anyhow::{Context, bail};
use evbus::nats::NatsConfig;

use crate::perf::stats::Sample;

/// natscli's `nats` binary and the server it benchmarks.
pub struct NatsBench {
    pub binary: PathBuf,
    pub url: String,
}

/// What one bench run publishes.
pub struct BenchWork {
    pub messages: u64,
    /// Body bytes of each message.
    pub size: usize,
    /// Static headers on every message (`-H name:value`), empty for none.
    pub headers: Vec<(String, String)>,
    /// A distinct `Nats-Msg-Id` per message (`--dedup`), as evbus sets one.
    pub dedup: bool,
}

impl NatsBench {
    /// `nats bench js pub async` of `work` into a fresh stream, then `nats
    /// bench js consume` of it with explicit acks; each tool's own duration
    /// (its CPU is not measured: it runs in its own process). Returns both
    /// samples and the two command lines.
    pub fn publish_then_consume(
        &self,
        work: &BenchWork,
    ) -> anyhow::Result<(Sample, Sample, [String; 2])> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let stream = format!(
            "perf-bench-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let c = NatsConfig::default();
        // The stream's one subject is its name.
        let mut publish = self.bench(&stream, work.messages, &["pub", "async", &stream]);
        publish.args([
            "--create",
            "--storage=file",
            &format!("--size={}", work.size),
            // Publishes this many, then waits for all their acks: evbus's
            // in-flight window as the tool's batch.
            &format!("--batch={}", c.max_pending_acks),
        ]);
        for (name, value) in &work.headers {
            publish.arg(format!("--header={name}:{value}"));
        }
        if work.dedup {
            publish.arg("--dedup");
        }
        let published = run_sampled(&mut publish, &stream, work.messages)?;
        let mut consume = self.bench(&stream, work.messages, &["consume"]);
        consume.args([
            "--acks=explicit",
            // The pull size evbus-nats uses.
            &format!("--batch={}", c.fetch_batch),
        ]);
        let consumed = run_sampled(&mut consume, &stream, work.messages)?;
        Ok((published.0, consumed.0, [published.1, consumed.1]))
    }

    /// `nats bench js <what...>` on `stream`.
    fn bench(&self, stream: &str, messages: u64, what: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command
            .args(["--server", &self.url, "bench", "js"])
            .args(what)
            .args([
                &format!("--stream={stream}"),
                &format!("--msgs={messages}"),
                "--clients=1",
                "--no-progress",
            ]);
        command
    }
}

/// Runs a bench command with `--csv` and reads its one client's sample.
fn run_sampled(
    command: &mut Command,
    stream: &str,
    messages: u64,
) -> anyhow::Result<(Sample, String)> {
    let csv = std::env::temp_dir().join(format!("{stream}-{}.csv", command_kind(command)));
    command.arg(format!("--csv={}", csv.display()));
    let line = format!("{command:?}").replace(&csv.display().to_string(), "FILE.csv");
    let output = command
        .output()
        .with_context(|| format!("cannot start {line}"))?;
    if !output.status.success() {
        bail!(
            "{line} failed with {}:\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = std::fs::read_to_string(&csv).with_context(|| format!("reading {}", csv.display()));
    let _ = std::fs::remove_file(&csv);
    Ok((
        parse_csv(&text?, messages).with_context(|| format!("parsing the CSV of {line}"))?,
        line,
    ))
}

fn command_kind(command: &Command) -> &'static str {
    if command.get_args().any(|a| a == "consume") {
        "consume"
    } else {
        "pub"
    }
}

/// The sample of natscli's `--csv` output: a header, then one row per
/// client (`#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,
/// DurationSecs,...`); one client here. Its `MsgCount` is not the messages
/// published or consumed (0.5.0 counts a publish's acks too, and a
/// consumer's pull status messages), while `MsgsPerSec` is `messages /
/// DurationSecs`: the sample is the `messages` asked for over the duration.
fn parse_csv(text: &str, messages: u64) -> anyhow::Result<Sample> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("empty CSV")?.split(',').collect();
    let duration = header
        .iter()
        .position(|h| *h == "DurationSecs")
        .with_context(|| format!("no DurationSecs column in {header:?}"))?;
    let row: Vec<&str> = lines.next().context("no sample row")?.split(',').collect();
    Ok(Sample {
        messages,
        seconds: row.get(duration).copied().context("short row")?.parse()?,
        cpu_seconds: f64::NAN,
        tally: None,
        latency: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// natscli 0.5.0's CSV of a 10,000-message `js pub async` run.
    const PUB_CSV: &str = "#RunID,ClientID,MsgCount,MsgBytes,MsgsPerSec,BytesPerSec,\
        DurationSecs,MinLatencyMicroSecs,AvgLatencyMicroSecs,MaxLatencyMicroSecs,\
        P50LatencyMicroSecs,P90LatencyMicroSecs,P99LatencyMicroSecs,\
        P99.9LatencyMicroSecs,StdDevLatencyMicroSecs\n\
        9ipgG2XHz3WOF5B8puMhVa,P0,20000,3000000,12474,3742463.525193,0.801611,\
        190926.463000,266402.789667,319580.250000,288701.656000,319580.250000,\
        319580.250000,319580.250000,271727.490251\n";

    #[test]
    fn the_sample_is_the_messages_asked_for_over_the_tools_duration() {
        let sample = parse_csv(PUB_CSV, 10_000).unwrap();
        assert_eq!(sample.messages, 10_000);
        assert!((sample.seconds - 0.801611).abs() < 1e-9);
        // The tool's own MsgsPerSec column.
        assert_eq!(sample.rate().round(), 12_475.0);
    }

    #[test]
    fn a_csv_without_rows_is_an_error() {
        let header = PUB_CSV.lines().next().unwrap();
        assert!(parse_csv(header, 10_000).is_err());
    }
}
