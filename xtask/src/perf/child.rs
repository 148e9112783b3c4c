//! The measuring child processes (resources, backlog): this binary re-run
//! with a hidden `perf` flag and a JSON spec, read back from its last line
//! of stdout. A child gets its own process so its readings (RSS, live heap,
//! threads) are its own.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// Starts this binary as `perf <flag> <spec>`, its stdout piped.
pub fn spawn(flag: &str, spec: &impl serde::Serialize) -> anyhow::Result<Child> {
    Command::new(std::env::current_exe()?)
        .args(["perf", flag, &serde_json::to_string(spec)?])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting a perf child ({flag})"))
}

/// Waits for `child` until `timeout` after `started` (killing it then) and
/// parses its last line of stdout; `what` names it in errors.
pub fn report<T: serde::de::DeserializeOwned>(
    mut child: Child,
    started: Instant,
    timeout: Duration,
    what: &str,
) -> anyhow::Result<T> {
    while child.try_wait()?.is_none() {
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{what} did not finish within {timeout:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("{what} failed with {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("reading the report of {what}: {line}"))
}
