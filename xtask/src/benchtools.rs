//! The brokers' own benchmark tools, installed pinned into the cache
//! outside the repository like the brokers (`brokers.rs`): `cargo xtask
//! perf` runs them on the same server as its raw clients, to show how far
//! below the server's ceiling those are.
//!
//! - natscli 0.5.0 (`nats bench`), built with `go install` from the Go
//!   module proxy into `~/.cache/evbus/natscli-0.5.0/bin`.
//!   `EVBUS_NATS_CLI` names a `nats` binary of your own instead.
//! - Apache Kafka's `ProducerPerformance` / `ConsumerPerformance` need no
//!   install: they are in the `kafka-tools` jar `brokers::ensure` fetches.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};

use crate::{brokers::cache_dir, cmd::run, interop::go_command};

/// The natscli release `nats bench` comes from.
const NATSCLI_VERSION: &str = "0.5.0";

/// The `nats` binary: `EVBUS_NATS_CLI`, else the cached build (installed
/// when missing).
pub fn ensure_natscli() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("EVBUS_NATS_CLI").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("EVBUS_NATS_CLI={} does not name a file", path.display());
        }
        return Ok(path);
    }
    let bin = cache_dir()
        .join(format!("natscli-{NATSCLI_VERSION}"))
        .join("bin");
    let binary = bin.join("nats");
    if !binary.is_file() {
        eprintln!(
            "installing natscli {NATSCLI_VERSION} with go install into {}",
            bin.display()
        );
        std::fs::create_dir_all(&bin)?;
        run(Command::new(go_command()?)
            .args(["install"])
            .arg(format!(
                "github.com/nats-io/natscli/nats@v{NATSCLI_VERSION}"
            ))
            .env("GOBIN", &bin)
            // Outside the workspace: go install of a versioned path ignores
            // any go.mod, but a work directory without one says so plainly.
            .current_dir(cache_dir()))
        .context("go install of natscli failed")?;
        if !binary.is_file() {
            bail!("go install succeeded but {} is missing", binary.display());
        }
    }
    Ok(binary)
}
