//! Runs the scenarios as libtest-mimic trials and prints the summary.

use std::{
    process::ExitCode,
    sync::{
        Arc, RwLock,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use futures::future::LocalBoxFuture;
use libtest_mimic::{Arguments, Failed, Trial};

use super::{Harness, Strictness, basic, groups, lifecycle, load, redelivery, support::Ctx};
use crate::{Capabilities, DeliveryGuarantee};

/// The bound on one scenario, setup and teardown excluded.
const SCENARIO_LIMIT: Duration = Duration::from_secs(60);

/// A capability a scenario needs.
#[derive(Debug, Clone, Copy)]
pub(super) enum Need {
    AtLeastOnce,
    Persistent,
    Redelivery,
    PerKeyOrder,
    ConsumerGroups,
    Headers,
    RestartHook,
}

impl Need {
    fn name(self) -> &'static str {
        match self {
            Need::AtLeastOnce => "at-least-once delivery (Capabilities::delivery)",
            Need::Persistent => "persistence (Capabilities::persistent)",
            Need::Redelivery => "redelivery (Capabilities::redelivery)",
            Need::PerKeyOrder => "per-key order (Capabilities::per_key_order)",
            Need::ConsumerGroups => "consumer groups (Capabilities::consumer_groups)",
            Need::Headers => "headers (Capabilities::headers)",
            Need::RestartHook => "a broker restart hook (Harness::can_restart)",
        }
    }

    fn met(self, caps: &Capabilities, harness: &dyn Harness) -> bool {
        match self {
            Need::AtLeastOnce => caps.delivery == DeliveryGuarantee::AtLeastOnce,
            Need::Persistent => caps.persistent,
            Need::Redelivery => caps.redelivery,
            Need::PerKeyOrder => caps.per_key_order,
            Need::ConsumerGroups => caps.consumer_groups,
            Need::Headers => caps.headers,
            Need::RestartHook => harness.can_restart(),
        }
    }
}

type Body = fn(Ctx) -> LocalBoxFuture<'static, anyhow::Result<()>>;

/// One scenario of the suite.
pub(super) struct Scenario {
    pub name: &'static str,
    pub needs: &'static [Need],
    /// Runs alone: it disturbs the broker other scenarios use.
    pub exclusive: bool,
    pub body: Body,
}

macro_rules! scenario {
    ($module:ident :: $name:ident, [$($need:ident),*]) => {
        scenario!($module::$name, [$($need),*], false)
    };
    ($module:ident :: $name:ident, [$($need:ident),*], $exclusive:expr) => {
        Scenario {
            name: stringify!($name),
            needs: &[$(Need::$need),*],
            exclusive: $exclusive,
            body: |ctx| Box::pin($module::$name(ctx)),
        }
    };
}

/// Every scenario, in report order.
fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!(basic::publish_subscribe, [AtLeastOnce, Headers]),
        scenario!(basic::broker_timestamp, [AtLeastOnce]),
        scenario!(load::concurrent_publish_subscribe, [AtLeastOnce]),
        scenario!(basic::many_topics_no_crosstalk, [AtLeastOnce]),
        scenario!(redelivery::nack_redelivers, [Redelivery]),
        scenario!(redelivery::reject_not_redelivered, [Redelivery]),
        scenario!(redelivery::dropped_handle_redelivers, [Redelivery]),
        scenario!(lifecycle::continue_after_subscription_close, [Redelivery]),
        scenario!(lifecycle::concurrent_close, [AtLeastOnce]),
        scenario!(redelivery::continue_after_errors, [Redelivery]),
        scenario!(load::per_key_order, [PerKeyOrder, AtLeastOnce]),
        scenario!(lifecycle::publisher_close, [AtLeastOnce]),
        scenario!(lifecycle::subscription_cancel, [Redelivery]),
        scenario!(groups::new_group_replays, [Persistent]),
        scenario!(groups::consumer_groups, [ConsumerGroups, AtLeastOnce]),
        scenario!(groups::ownership_fences_a_moved_share, [ConsumerGroups]),
        scenario!(redelivery::lease_keep_alive, [Redelivery, ConsumerGroups]),
        scenario!(load::broker_restart, [RestartHook, AtLeastOnce], true),
        scenario!(basic::invalid_input, []),
        scenario!(basic::closed_transport, []),
        scenario!(basic::connection_events, []),
    ]
}

/// Parses libtest arguments (so `cargo test -- name_filter` works), runs every
/// scenario as a libtest-mimic trial named `<harness name>::<scenario>` in
/// its own tokio runtime with a 60 s timeout, prints a `ran/skipped` summary
/// per transport naming the capability that excluded each skip, and returns
/// the exit code. Under [`Strictness::AllRequired`] a skipped scenario is a
/// FAILED trial whose message names the missing capability.
pub fn run(harness: impl Harness, strictness: Strictness) -> ExitCode {
    let args = Arguments::from_args();
    let harness: Arc<dyn Harness> = Arc::new(harness);
    let transport = harness.name().to_owned();
    let probe = probe(&harness);
    // Scenarios share one broker; the restart scenario must not disturb the
    // others, so it takes this lock exclusively.
    let broker_lock = Arc::new(RwLock::new(()));
    let ran = Arc::new(AtomicUsize::new(0));
    let mut skipped = Vec::new();
    let mut trials = Vec::new();
    for scenario in scenarios() {
        let trial_name = format!("{transport}::{}", scenario.name);
        let caps = match &probe {
            Ok(caps) => caps.clone(),
            Err(error) => {
                let error = error.clone();
                trials.push(Trial::test(trial_name, move || Err(error.into())));
                continue;
            }
        };
        if let Some(need) = scenario.needs.iter().find(|n| !n.met(&caps, &*harness)) {
            skipped.push((scenario.name, need.name()));
            let message = format!(
                "skipped: `{transport}` lacks {}, which scenario `{}` needs",
                need.name(),
                scenario.name
            );
            let trial = Trial::test(trial_name, move || Err(message.into()));
            trials.push(trial.with_ignored_flag(strictness == Strictness::AllowSkips));
            continue;
        }
        let harness = harness.clone();
        let broker_lock = broker_lock.clone();
        let ran = ran.clone();
        trials.push(Trial::test(trial_name, move || {
            ran.fetch_add(1, Ordering::Relaxed);
            run_one(&scenario, harness, caps, &broker_lock)
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    if !args.list {
        println!(
            "conformance `{transport}`: {} ran, {} skipped ({} passed, {} failed)",
            ran.load(Ordering::Relaxed),
            skipped.len(),
            conclusion.num_passed,
            conclusion.num_failed,
        );
        for (name, need) in &skipped {
            println!("  skipped {transport}::{name}: needs {need}");
        }
    }
    conclusion.exit_code()
}

/// The capabilities of a default topic, asked of a fresh transport.
fn probe(harness: &Arc<dyn Harness>) -> Result<Capabilities, String> {
    let runtime = runtime().map_err(|e| e.to_string())?;
    let harness = harness.clone();
    let caps = runtime.block_on(async move {
        let transport = harness
            .transport()
            .await
            .map_err(|e| format!("the harness could not create a transport: {e:#}"))?;
        let caps = transport.capabilities(&super::support::unique("probe"));
        let _ = transport.close().await;
        Ok(caps)
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    caps
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn run_one(
    scenario: &Scenario,
    harness: Arc<dyn Harness>,
    caps: Capabilities,
    broker_lock: &RwLock<()>,
) -> Result<(), Failed> {
    // A poisoned lock only means another scenario panicked.
    let _shared;
    let _exclusive;
    if scenario.exclusive {
        _exclusive = broker_lock.write().unwrap_or_else(|e| e.into_inner());
    } else {
        _shared = broker_lock.read().unwrap_or_else(|e| e.into_inner());
    }
    let runtime = runtime().map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    let ctx = Ctx::new(harness, caps);
    let body = scenario.body;
    let outcome = runtime.block_on(async {
        let outcome = tokio::time::timeout(SCENARIO_LIMIT, body(ctx.clone())).await;
        ctx.close_all().await;
        outcome
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(format!("{error:#}").into()),
        Err(_) => Err(format!("did not finish within {} s", SCENARIO_LIMIT.as_secs()).into()),
    }
}
