//! `cargo xtask chaos`: fault scenarios through the `EventBus` on real
//! three-node clusters on loopback, each checked for loss, per-aggregate
//! reorders and duplicates (see `docs/reliability.md`).
//!
//! As with `cargo xtask perf`, the plain xtask build only re-runs itself as
//! a release build with the `chaos` feature: the feature keeps librdkafka
//! out of the build `cargo xtask test` needs before it installs the system
//! packages, and a debug build would turn timing faults into CPU starvation.
//! The consuming side runs in child processes of that build, so a scenario
//! can SIGKILL it.

mod cli;

#[cfg(feature = "chaos")]
mod child;
#[cfg(feature = "chaos")]
mod clusters;
#[cfg(feature = "chaos")]
mod consumers;
#[cfg(feature = "chaos")]
mod ledger;
#[cfg(feature = "chaos")]
mod report;
#[cfg(feature = "chaos")]
mod run;
#[cfg(feature = "chaos")]
mod scenarios;
#[cfg(feature = "chaos")]
mod toxiproxy;
#[cfg(feature = "chaos")]
mod workload;

pub use cli::Args;
use cli::{ScenarioName, TransportChoice};

/// What `cargo xtask test` runs, per broker: the quick form of every
/// scenario that passed on it in the last runs (see `docs/reliability.md`).
/// Left out: NATS `network`, which showed 70 reorders in one of three runs
/// before finding 5's fix and has passed since, but not yet often enough
/// (see `docs/reliability.md`); `disk`, which needs the right to mount; the
/// soak, whose quick minute is too short to judge growth. NATS `partition`
/// runs on a second cluster of its own (routed through toxiproxy).
const QUICK: [(TransportChoice, &[ScenarioName]); 2] = [
    (
        TransportChoice::Nats,
        &[
            ScenarioName::LeaderKill,
            ScenarioName::FollowerKill,
            ScenarioName::RollingRestart,
            ScenarioName::ConsumerKill,
            ScenarioName::BadInput,
            ScenarioName::Partition,
        ],
    ),
    (
        TransportChoice::Kafka,
        &[
            ScenarioName::LeaderKill,
            ScenarioName::FollowerKill,
            ScenarioName::RollingRestart,
            ScenarioName::ConsumerKill,
            ScenarioName::BadInput,
            ScenarioName::Network,
        ],
    ),
];

/// The quick run of `cargo xtask test`: [`QUICK`], one cluster per broker.
pub fn quick() -> anyhow::Result<()> {
    for (transport, scenarios) in QUICK {
        relaunch(Args {
            quick: true,
            scenario: scenarios.to_vec(),
            transport,
            seed: None,
            soak_secs: None,
            child: None,
        })?;
    }
    Ok(())
}

/// Runs the scenarios (a consumer child process always runs here).
pub fn run(args: Args) -> anyhow::Result<()> {
    #[cfg(feature = "chaos")]
    if !cfg!(debug_assertions) || args.child.is_some() {
        return run::main(args);
    }
    relaunch(args)
}

/// Installs the brokers (as `cargo xtask test` does) and, when the
/// `network` or `partition` scenario runs, toxiproxy, then re-runs `cargo xtask chaos` as
/// a release build with the `chaos` feature, telling it where they are.
fn relaunch(args: Args) -> anyhow::Result<()> {
    let mut command = crate::cmd::release_xtask("chaos", "chaos");
    command.args(args.to_command_line());
    crate::brokers::ensure()?.export(&mut command);
    let proxied = [ScenarioName::Network, ScenarioName::Partition];
    if args.scenario.is_empty() || args.scenario.iter().any(|s| proxied.contains(s)) {
        command.env(
            crate::benchtools::TOXIPROXY_ENV,
            crate::benchtools::ensure_toxiproxy()?,
        );
    }
    crate::cmd::run_noting(&mut command, failing_rows())
}

/// A `note` for [`crate::cmd::run_noting`] over a chaos run: the command
/// line with its seed (to run it again), each failing row and its notes.
fn failing_rows() -> impl FnMut(&str) -> bool {
    let mut in_failing_row = false;
    move |line: &str| {
        if line.starts_with("cargo xtask chaos ") {
            return true;
        }
        if line.trim_start().starts_with("published ") {
            in_failing_row = line.ends_with("FAIL");
            return in_failing_row;
        }
        if !line.starts_with("    ") {
            in_failing_row = false;
        }
        in_failing_row
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn failing_rows_keeps_the_seed_and_the_failing_rows_with_their_notes() {
        let output = "\
cargo xtask chaos --transport nats --quick --seed 7
==> leader-kill on nats
    handled so far: 5000
    published 20000 acked 20000 handled 20000 lost 0 reorders 0 duplicates 0 recoveries [] ms: pass
==> follower-kill on nats
    fault: SIGKILL node 2, a follower
    published 20000 acked 20000 handled 20000 lost 0 reorders 3 duplicates 0 recoveries [] ms: FAIL
    first reorders: agg-1 v4 after v5
==> rolling-restart on nats
    published 20000 acked 20000 handled 20000 lost 0 reorders 0 duplicates 0 recoveries [] ms: pass";
        let mut note = super::failing_rows();
        let kept: Vec<&str> = output.lines().filter(|l| note(l)).collect();
        assert_eq!(
            kept,
            [
                "cargo xtask chaos --transport nats --quick --seed 7",
                "    published 20000 acked 20000 handled 20000 lost 0 reorders 3 duplicates 0 recoveries [] ms: FAIL",
                "    first reorders: agg-1 v4 after v5",
            ]
        );
    }
}
