//! `cargo xtask`: project automation. Each subcommand lives in its own
//! module with a `run` function.

mod benchtools;
mod brokers;
mod chaos;
mod cmd;
mod demo;
mod interop;
mod perf;
mod test;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "evbus project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Everything CI checks: fmt, clippy, docs, broker installs, every test
    /// (conformance suites against real brokers), the fuzz target's build and
    /// the demo.
    Test(test::Args),
    /// Installs the brokers the tests need (when missing) and prints where
    /// they are.
    Brokers,
    /// Runs the demo on the in-memory transport (release build).
    Demo(demo::Args),
    /// Performance suites side by side with the raw clients (release build).
    Perf(perf::Args),
    /// Rewrites `crates/envelope/tests/vectors` with the Go tool
    /// (`interop/go`).
    GoVectors,
    /// Fault scenarios on real 3-node clusters: nothing lost or reordered
    /// (release build).
    Chaos(chaos::Args),
}

/// Prints a failure as its chain of causes and nothing more: with
/// `RUST_BACKTRACE` set (as CI sets it) `anyhow` would end the log with a
/// backtrace of xtask itself and push the reason out of the last screen.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("\nerror: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Test(args) => test::run(args),
        Command::Brokers => {
            let brokers = brokers::ensure()?;
            println!("nats-server: {}", brokers.nats_server.display());
            println!("kafka jars:  {}", brokers.kafka_libs.display());
            Ok(())
        }
        Command::Demo(args) => demo::run(args),
        Command::Perf(args) => perf::run(args),
        Command::GoVectors => interop::rewrite_vectors(),
        Command::Chaos(args) => chaos::run(args),
    }
}
