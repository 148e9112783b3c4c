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
    child: Child,
    started: Instant,
    timeout: Duration,
    what: &str,
) -> anyhow::Result<T> {
    let pid = child.id();
    // The child is waited for on a thread of its own, so the deadline is a
    // channel timeout rather than a polling loop.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match finished.recv_timeout(timeout.saturating_sub(started.elapsed())) {
        Ok(output) => output?,
        Err(_) => {
            if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            bail!("{what} did not finish within {timeout:?} (killed)");
        }
    };
    if !output.status.success() {
        bail!("{what} failed with {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).with_context(|| format!("reading the report of {what}: {line}"))
}
