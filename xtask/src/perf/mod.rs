//! `cargo xtask perf`: evbus's performance suites, each figure measured in
//! the same run as the raw client it wraps (see `docs/performance.md`).
//!
//! The plain xtask build only re-runs itself as a release build with the
//! `perf` feature (debug builds measure nothing worth printing, and the
//! feature keeps librdkafka out of the build `cargo xtask test` needs
//! before it installs the system packages).

mod cli;

#[cfg(feature = "perf")]
pub(crate) mod alloc;
#[cfg(feature = "perf")]
mod baselines;
#[cfg(feature = "perf")]
mod ceiling;
#[cfg(feature = "perf")]
mod child;
#[cfg(feature = "perf")]
mod peers;
#[cfg(feature = "perf")]
mod plots;
#[cfg(feature = "perf")]
pub(crate) mod probe;
#[cfg(feature = "perf")]
mod profile;
#[cfg(feature = "perf")]
mod report;
#[cfg(feature = "perf")]
mod scenarios;
#[cfg(feature = "perf")]
mod setup;
#[cfg(feature = "perf")]
mod side;
#[cfg(feature = "perf")]
mod stats;
#[cfg(feature = "perf")]
mod suite;
#[cfg(feature = "perf")]
mod workload;

pub use cli::Args;

/// Runs the suites (a measuring child process always runs here).
pub fn run(args: Args) -> anyhow::Result<()> {
    #[cfg(feature = "perf")]
    if !cfg!(debug_assertions) || args.child.is_some() || args.backlog_child.is_some() {
        return suite::main(args);
    }
    relaunch(args)
}

/// Installs the brokers the run needs (as `cargo xtask test` does), then
/// re-runs `cargo xtask perf` as a release build with the `perf` feature,
/// telling it where the brokers are.
fn relaunch(args: Args) -> anyhow::Result<()> {
    let mut command = crate::cmd::release_xtask("perf", "perf");
    command.args(args.to_command_line());
    if args.transport != cli::TransportChoice::Memory {
        crate::brokers::ensure()?.export(&mut command);
    }
    if args.wants_nats_ceiling() {
        command.env("EVBUS_NATS_CLI", crate::benchtools::ensure_natscli()?);
    }
    crate::cmd::run(&mut command)
}
