//! `cargo xtask demo`: the README's demo.

use crate::cmd::{cargo, run as run_command};

/// Demo options.
#[derive(clap::Args)]
pub struct Args {
    /// Events to publish.
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Aggregates they are spread over.
    #[arg(long, default_value_t = 1_000)]
    aggregates: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    run_command(&mut cargo([
        "run",
        "--release",
        "--example",
        "quickstart",
        "--",
        "--events",
        &args.events.to_string(),
        "--aggregates",
        &args.aggregates.to_string(),
    ]))
}
