//! Running commands and timing phases.

use std::{
    path::PathBuf,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the workspace")
        .to_path_buf()
}

/// A `cargo` command run from the workspace root, using the same cargo that
/// runs xtask.
pub fn cargo<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(args).current_dir(root());
    command
}

/// `cargo xtask <subcommand>` again, as a release build with `feature`:
/// the measuring subcommands (perf, chaos) re-run themselves this way.
pub fn release_xtask(feature: &str, subcommand: &str) -> Command {
    cargo([
        "run",
        "--release",
        "--quiet",
        "-p",
        "xtask",
        "--features",
        feature,
        "--",
        subcommand,
    ])
}

/// Runs `future` to its end on a multi-threaded runtime, then gives the
/// runtime's blocking threads 10 s: a failed run may leave a client's
/// blocking thread behind, and the process must not wait for it forever.
#[cfg(feature = "perf")]
pub fn block_on<F: std::future::Future>(future: F) -> anyhow::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(future);
    runtime.shutdown_timeout(std::time::Duration::from_secs(10));
    Ok(output)
}

/// Runs `command`, failing with its command line when it fails.
pub fn run(command: &mut Command) -> anyhow::Result<()> {
    let line = format!("{command:?}");
    eprintln!("$ {line}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {line}"))?;
    if !status.success() {
        bail!("{line} failed with {status}");
    }
    Ok(())
}

/// Phases and how long each took.
#[derive(Default)]
pub struct Phases {
    done: Vec<(String, Duration, bool)>,
}

impl Phases {
    /// Runs one phase, recording its duration and outcome.
    pub fn run<T>(
        &mut self,
        name: &str,
        phase: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        eprintln!("\n==> {name}");
        let started = Instant::now();
        let result = phase();
        self.done
            .push((name.to_owned(), started.elapsed(), result.is_ok()));
        result.with_context(|| format!("phase `{name}` failed"))
    }

    /// Prints the phase table.
    pub fn print(&self) {
        eprintln!("\nphase timings:");
        let mut total = Duration::ZERO;
        for (name, took, ok) in &self.done {
            total += *took;
            let mark = if *ok { "ok" } else { "FAILED" };
            eprintln!("  {name:<28} {:>8.1} s  {mark}", took.as_secs_f64());
        }
        eprintln!("  {:<28} {:>8.1} s", "total", total.as_secs_f64());
    }
}
