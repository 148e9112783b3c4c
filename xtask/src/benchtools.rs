//! Go tools the suites run, installed pinned into the cache outside the
//! repository like the brokers (`brokers.rs`), each with `go install` from
//! the Go module proxy, and each replaceable by a binary of your own named
//! in an environment variable.
//!
//! - natscli 0.5.0 (`nats bench`): `cargo xtask perf` runs it on the same
//!   server as its raw clients, to show how far below the server's ceiling
//!   those are. In `~/.cache/evbus/natscli-0.5.0/bin`; `EVBUS_NATS_CLI`.
//! - toxiproxy 2.5.0 (`toxiproxy-server`, installed as `server`, its
//!   package's name): the TCP fault proxy of `cargo xtask chaos`'s
//!   `network` scenario. In `~/.cache/evbus/toxiproxy-2.5.0/bin`;
//!   `EVBUS_TOXIPROXY`.
//! - Apache Kafka's `ProducerPerformance` / `ConsumerPerformance` need no
//!   install: they are in the `kafka-tools` jar `brokers::ensure` fetches.

use std::{path::PathBuf, process::Command};

use anyhow::{Context, bail};

use crate::{brokers::cache_dir, cmd::run, interop::go_command};

/// The natscli release `nats bench` comes from.
const NATSCLI_VERSION: &str = "0.5.0";
/// The toxiproxy release the chaos scenarios run.
const TOXIPROXY_VERSION: &str = "2.5.0";
/// Where `cargo xtask chaos` finds toxiproxy-server.
pub const TOXIPROXY_ENV: &str = "EVBUS_TOXIPROXY";

/// The `nats` binary: `EVBUS_NATS_CLI`, else the cached build (installed
/// when missing).
pub fn ensure_natscli() -> anyhow::Result<PathBuf> {
    ensure(GoTool {
        env: "EVBUS_NATS_CLI",
        name: "natscli",
        version: NATSCLI_VERSION,
        package: "github.com/nats-io/natscli/nats",
        binary: "nats",
    })
}

/// The toxiproxy-server binary: `EVBUS_TOXIPROXY`, else the cached build
/// (installed when missing).
pub fn ensure_toxiproxy() -> anyhow::Result<PathBuf> {
    ensure(GoTool {
        env: TOXIPROXY_ENV,
        name: "toxiproxy",
        version: TOXIPROXY_VERSION,
        package: "github.com/Shopify/toxiproxy/v2/cmd/server",
        binary: "server",
    })
}

/// A pinned Go command and where it may come from instead.
struct GoTool {
    /// The variable naming a binary of your own.
    env: &'static str,
    /// Its name in the cache directory and in messages.
    name: &'static str,
    /// The release, without the `v`.
    version: &'static str,
    /// The package `go install` builds.
    package: &'static str,
    /// The binary it installs (the package's last path element).
    binary: &'static str,
}

fn ensure(tool: GoTool) -> anyhow::Result<PathBuf> {
    let GoTool {
        env,
        name,
        version,
        package,
        binary,
    } = tool;
    if let Some(path) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{env}={} does not name a file", path.display());
        }
        return Ok(path);
    }
    let bin = cache_dir().join(format!("{name}-{version}")).join("bin");
    let installed = bin.join(binary);
    if !installed.is_file() {
        eprintln!(
            "installing {name} {version} with go install into {}",
            bin.display()
        );
        std::fs::create_dir_all(&bin)?;
        run(Command::new(go_command()?)
            .args(["install"])
            .arg(format!("{package}@v{version}"))
            .env("GOBIN", &bin)
            // Outside the workspace: go install of a versioned path ignores
            // any go.mod, but a work directory without one says so plainly.
            .current_dir(cache_dir()))
        .with_context(|| format!("go install of {name} failed"))?;
        if !installed.is_file() {
            bail!(
                "go install succeeded but {} is missing",
                installed.display()
            );
        }
    }
    Ok(installed)
}
