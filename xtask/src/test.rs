//! `cargo xtask test`: every check CI runs, in order, with timings.

use std::process::Command;

use crate::{
    benchtools, brokers,
    cmd::{self, Phases, cargo, root},
    interop,
};

/// Test options.
#[derive(clap::Args)]
pub struct Args {
    /// Extra arguments for `cargo test` (e.g. a test name filter).
    #[arg(last = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut phases = Phases::default();
    let result = all(&mut phases, &args);
    phases.print();
    result
}

fn all(phases: &mut Phases, args: &Args) -> anyhow::Result<()> {
    phases.run("fmt", || {
        cmd::run(&mut cargo(["fmt", "--all", "--", "--check"]))
    })?;
    phases.run("system packages", brokers::ensure_debian_packages)?;
    let brokers = phases.run("broker installs", brokers::ensure)?;
    // The TCP fault proxy of the chaos `network` scenario (issue 17).
    phases.run("toxiproxy install", benchtools::ensure_toxiproxy)?;
    // Go interop (issue 13): the Go SDK's wire form, built like the brokers.
    let go_tools = phases.run("go interop build", interop::ensure_go_tools)?;
    phases.run("go golden vectors", || interop::check_vectors(&go_tools))?;
    phases.run("clippy", || {
        cmd::run(&mut cargo([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    phases.run("docs", || {
        cmd::run(
            cargo(["doc", "--workspace", "--all-features", "--no-deps"])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )
    })?;
    phases.run("tests (all crates, real brokers)", || {
        // No fail-fast: one run names every failing test binary.
        let mut command = cargo(["test", "--workspace", "--all-features", "--no-fail-fast"]);
        command.args(&args.cargo_test_args);
        brokers.export(&mut command);
        interop::export(&go_tools, &mut command);
        cmd::run_noting(&mut command, cmd::failing_tests())
    })?;
    phases.run("chaos (quick)", crate::chaos::quick)?;
    phases.run("fuzz target builds", || {
        cmd::run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["check", "--quiet"])
                .current_dir(root().join("fuzz"))
                .env("RUSTC_BOOTSTRAP", "1"),
        )
    })?;
    phases.run("demo (10,000 events)", || {
        cmd::run(&mut cargo([
            "run",
            "--example",
            "quickstart",
            "--",
            "--events",
            "10000",
            "--aggregates",
            "100",
        ]))
    })?;
    // Go interop (issue 13): publishing for Go consumers, on memory.
    phases.run("go_json example", || {
        cmd::run(&mut cargo(["run", "--example", "go_json"]))
    })?;
    // Outbox (issue 14): relay killed and restarted, each event handled once.
    phases.run("outbox example", || {
        cmd::run(&mut cargo(["run", "--example", "outbox"]))
    })?;
    Ok(())
}
