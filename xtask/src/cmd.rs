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

/// How many lines of a failed command's output its error repeats: enough
/// for the failing tests or chaos rows, short enough to stay in the last
/// screen of a CI log.
const NOTED_LINES: usize = 24;

/// Runs `command` like [`run`], echoing its standard output line by line
/// and keeping the lines `note` picks: when the command fails, its error
/// repeats them, so the end of a long log says what failed, not only that
/// something did.
pub fn run_noting(command: &mut Command, mut note: impl FnMut(&str) -> bool) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader, Write};

    let line = format!("{command:?}");
    eprintln!("$ {line}");
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {line}"))?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let mut noted = Vec::new();
    let mut out = std::io::stdout().lock();
    for output in BufReader::new(stdout).lines() {
        let output = output.with_context(|| format!("reading the output of {line}"))?;
        // An echo that fails (a closed terminal) must not stop the command.
        let _ = writeln!(out, "{output}");
        if note(&output) && noted.len() < NOTED_LINES {
            noted.push(output);
        }
    }
    drop(out);
    let status = child
        .wait()
        .with_context(|| format!("waiting for {line}"))?;
    if !status.success() {
        bail!("{line} failed with {status}\n{}", noted.join("\n"));
    }
    Ok(())
}

/// A `note` for [`run_noting`] over `cargo test` output: each failing test,
/// and the first lines of what it printed (its panic message).
pub fn failing_tests() -> impl FnMut(&str) -> bool {
    let mut after_header = 0;
    move |line: &str| {
        if line.starts_with("---- ") {
            after_header = 4;
            return true;
        }
        if after_header > 0 {
            after_header -= 1;
            return !line.trim().is_empty();
        }
        line.starts_with("test ") && line.ends_with("FAILED")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_tests_keeps_the_failures_and_their_messages_only() {
        let output = "\
test a ... ok
thread 'tokio-rt-worker' panicked at tests/x.rs:1:1:
handler bug on purpose
test b ... FAILED

failures:

---- b stdout ----
thread 'b' panicked at tests/x.rs:9:5:
assertion failed: lost == 0
note: run with `RUST_BACKTRACE=1`

failures:
    b

test result: FAILED. 1 passed; 1 failed";
        let mut note = failing_tests();
        let kept: Vec<&str> = output.lines().filter(|l| note(l)).collect();
        assert_eq!(
            kept,
            [
                "test b ... FAILED",
                "---- b stdout ----",
                "thread 'b' panicked at tests/x.rs:9:5:",
                "assertion failed: lost == 0",
                "note: run with `RUST_BACKTRACE=1`",
            ]
        );
    }
}
