//! A flat CPU profile of one extra evbus run, for the figures whose target
//! was missed: `perf record` sampling this process while the run executes,
//! then `perf report`'s top symbols. Nothing here is part of a figure.

use std::{
    future::Future,
    process::{Command, Stdio},
    time::Duration,
};

use serde::Serialize;

use crate::perf::{scenarios::Figure, stats::Sample};

/// The top of a profile.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub transport: String,
    pub figure: String,
    /// `perf report` lines: overhead, shared object, symbol.
    pub top: Vec<String>,
}

/// Lines of the report kept.
const TOP: usize = 15;
/// The profiled run publishes this many times the figure's messages, so the
/// profile has enough samples.
pub const SCALE: u64 = 5;
/// How long `perf record` gets to attach before the run starts.
const ATTACH: Duration = Duration::from_millis(300);

/// The NATS and Kafka figures of `figures` whose throughput ratio target
/// (issue 18, [`crate::perf::report::ratio_bar`]) was missed. A miss of
/// the CPU or facade-cost bars alone gets no profile: those figures'
/// throughput ratios have bars too, and the CPU-gap figures come from the
/// allocs suite and callgrind instead.
pub fn missed(figures: &[Figure]) -> Vec<&Figure> {
    figures
        .iter()
        .filter(|f| matches!(f.transport, "nats" | "kafka"))
        .filter(|f| crate::perf::report::ratio_bar(f).is_some_and(|bar| f.ratio() < bar))
        .collect()
}

/// Runs `run` once under `perf record` and returns the flat profile's top
/// symbols (or why there is none).
pub async fn profile<F, Fut>(figure: &Figure, run: F) -> anyhow::Result<Profile>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = anyhow::Result<Sample>>,
{
    let dir = crate::cmd::root().join("target").join("perf");
    std::fs::create_dir_all(&dir)?;
    let data = dir.join(format!(
        "{}-{}-{}.perf.data",
        figure.transport,
        figure.suite,
        figure.name.replace([' ', '='], "_")
    ));
    let label = format!("{} {}", figure.suite, figure.name);
    let recorder = Command::new("perf")
        .args(["record", "-F", "999", "-g", "-p"])
        .arg(std::process::id().to_string())
        .arg("-o")
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut recorder) = recorder else {
        run().await?;
        return Ok(Profile {
            transport: figure.transport.into(),
            figure: label,
            top: vec!["`perf` is not installed: no profile".into()],
        });
    };
    tokio::time::sleep(ATTACH).await;
    let result = run().await;
    let _ = Command::new("kill")
        .args(["-INT", &recorder.id().to_string()])
        .status();
    let _ = recorder.wait();
    result?;
    let report = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "--no-children",
            "-g",
            "none",
            "--sort",
            "dso,symbol",
            "-i",
        ])
        .arg(&data)
        .stderr(Stdio::null())
        .output()?;
    let top = String::from_utf8_lossy(&report.stdout)
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .take(TOP)
        .map(|l| {
            // Drop the empty IPC columns ("- -") perf appends.
            let words: Vec<&str> = l.split_whitespace().filter(|w| *w != "-").collect();
            words.join(" ")
        })
        .collect();
    Ok(Profile {
        transport: figure.transport.into(),
        figure: label,
        top,
    })
}
