//! Shared by the Go interop tests (`go_interop_nats.rs`, `go_interop_kafka.rs`):
//! the Go tool (`interop/go`), the traffic both sides agree on, and the
//! checks run on what evbus receives.

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod spec;

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::PathBuf,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use evbus::{BusConfig, Envelope, EventBus};
use libtest_mimic::{Failed, Trial};
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::Notify;

pub use spec::Spec;

/// How long one side may take to send or receive a run.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The Go tool's binary: `EVBUS_GO_INTEROP`, set by `cargo xtask test`.
pub fn go_tool() -> anyhow::Result<PathBuf> {
    let how = "run `cargo xtask test`, which builds it into ~/.cache/evbus/go-interop-*/, \
               or build it with `cd interop/go && go build -o /tmp/evbus-interop .` and set \
               EVBUS_GO_INTEROP=/tmp/evbus-interop";
    let path = std::env::var_os("EVBUS_GO_INTEROP")
        .map(PathBuf::from)
        .with_context(|| {
            format!("EVBUS_GO_INTEROP is not set: the Go interop tests need the Go tool; {how}")
        })?;
    ensure!(
        path.is_file(),
        "EVBUS_GO_INTEROP={} is not a file; {how}",
        path.display()
    );
    Ok(path)
}

/// The JSON summary line a Go command prints (`interop/go/spec.go`).
#[derive(Debug, Deserialize)]
pub struct GoSummary {
    pub command: String,
    pub wire_form: String,
    #[serde(default)]
    pub published: usize,
    #[serde(default)]
    pub received: usize,
    #[serde(default)]
    pub distinct: usize,
    pub aggregates: usize,
    pub duplicates: usize,
    pub invalid: usize,
    pub order_violations: usize,
    pub field_mismatches: usize,
    #[serde(default)]
    pub partitions: BTreeMap<String, u32>,
    pub partition_mismatches: usize,
    #[serde(default)]
    pub errors: Vec<String>,
}

/// Runs the Go tool with `args` (off the async runtime) and returns its
/// summary; fails with its stderr when it fails.
pub async fn run_go(args: Vec<String>) -> anyhow::Result<GoSummary> {
    let tool = go_tool()?;
    let line = format!("{} {}", tool.display(), args.join(" "));
    let output = tokio::task::spawn_blocking(move || Command::new(tool).args(&args).output())
        .await?
        .with_context(|| format!("cannot start {line}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{line} failed ({}):\n{stdout}\n{stderr}", output.status);
    }
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).with_context(|| format!("{line} printed {stdout:?}"))
}

/// Turns spec flags into Go tool arguments.
pub fn spec_args(spec: &Spec) -> Vec<String> {
    let mut args = vec![
        "-count".into(),
        spec.count.to_string(),
        "-aggregates".into(),
        spec.aggregates.to_string(),
        "-first-version".into(),
        spec.first_version.to_string(),
        "-id-prefix".into(),
        spec.id_prefix.clone(),
        "-timeout".into(),
        format!("{}s", RUN_TIMEOUT.as_secs()),
    ];
    if spec.string_tenants {
        args.push("-string-tenants".into());
    }
    args
}

/// Asserts a Go consumer saw every envelope once, in order, valid and equal.
pub fn assert_go_consumed(summary: &GoSummary, spec: &Spec) -> anyhow::Result<()> {
    ensure!(
        summary.distinct == spec.count
            && summary.duplicates == 0
            && summary.invalid == 0
            && summary.order_violations == 0
            && summary.field_mismatches == 0
            && summary.partition_mismatches == 0,
        "the Go consumer found problems: {summary:#?}"
    );
    Ok(())
}

/// What evbus's handler received, checked as it arrives.
#[derive(Default)]
struct State {
    received: usize,
    duplicates: usize,
    order_violations: usize,
    field_mismatches: usize,
    seen: BTreeSet<String>,
    last_version: HashMap<String, i64>,
    /// Partitions each aggregate's envelopes came from, by producer
    /// (event id prefix).
    partitions: BTreeMap<String, BTreeMap<String, BTreeSet<u32>>>,
    errors: Vec<String>,
}

/// The receiving side's tally, shared with the handler.
#[derive(Clone)]
pub struct Received {
    expected: Arc<HashMap<String, (Spec, usize)>>,
    first_version: i64,
    total: usize,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

/// A finished tally.
#[derive(Debug)]
pub struct Tally {
    pub received: usize,
    pub distinct: usize,
    pub duplicates: usize,
    pub order_violations: usize,
    pub field_mismatches: usize,
    pub partitions: BTreeMap<String, BTreeMap<String, BTreeSet<u32>>>,
    pub errors: Vec<String>,
}

impl Received {
    /// Expects every envelope of `specs`, published in this order (so each
    /// aggregate's versions run on from one spec to the next).
    pub fn new(specs: &[Spec]) -> Self {
        let mut expected = HashMap::new();
        for spec in specs {
            for i in 0..spec.count {
                expected.insert(spec.expected(i).event_id, (spec.clone(), i));
            }
        }
        Self {
            total: expected.len(),
            expected: Arc::new(expected),
            first_version: specs.iter().map(|s| s.first_version).min().unwrap_or(1),
            state: Arc::default(),
            changed: Arc::default(),
        }
    }

    /// Records one handled envelope read from `partition`.
    pub fn record(&self, envelope: &Envelope, partition: u32) {
        let mut state = self.state.lock();
        state.received += 1;
        let id = envelope.event_id().to_owned();
        let Some((spec, i)) = self.expected.get(&id) else {
            state.field_mismatches += 1;
            push_error(&mut state, format!("unexpected event id {id}"));
            return;
        };
        if !state.seen.insert(id.clone()) {
            state.duplicates += 1;
            return;
        }
        let want = spec.expected(*i);
        if let Err(difference) = want.matches(envelope) {
            state.field_mismatches += 1;
            push_error(&mut state, format!("envelope {id}: {difference}"));
        }
        let aggregate = envelope.aggregate_id().to_owned();
        let version = envelope.event_version();
        let last = state.last_version.get(&aggregate).copied();
        let in_order = match last {
            Some(last) => version == last + 1,
            None => version == self.first_version,
        };
        if !in_order {
            state.order_violations += 1;
            push_error(
                &mut state,
                format!("aggregate {aggregate}: version {version} after {last:?}"),
            );
        }
        state.last_version.insert(aggregate.clone(), version);
        state
            .partitions
            .entry(aggregate)
            .or_default()
            .entry(spec.id_prefix.clone())
            .or_default()
            .insert(partition);
        drop(state);
        self.changed.notify_waiters();
    }

    /// Waits until every expected envelope was handled, at most `timeout`.
    pub async fn wait_all(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if self.state.lock().seen.len() >= self.total {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if tokio::time::timeout(left, changed).await.is_err() {
                bail!("timed out after {timeout:?}: {:#?}", self.tally());
            }
        }
    }

    /// The tally so far.
    pub fn tally(&self) -> Tally {
        let state = self.state.lock();
        Tally {
            received: state.received,
            distinct: state.seen.len(),
            duplicates: state.duplicates,
            order_violations: state.order_violations,
            field_mismatches: state.field_mismatches,
            partitions: state.partitions.clone(),
            errors: state.errors.clone(),
        }
    }

    /// How many distinct envelopes are expected.
    pub fn total(&self) -> usize {
        self.total
    }
}

fn push_error(state: &mut State, error: String) {
    if state.errors.len() < 20 {
        state.errors.push(error);
    }
}

impl Tally {
    /// Asserts everything arrived once, in order, every field equal.
    pub fn assert_clean(&self, total: usize) -> anyhow::Result<()> {
        ensure!(
            self.distinct == total
                && self.duplicates == 0
                && self.order_violations == 0
                && self.field_mismatches == 0,
            "evbus received {} of {total} distinct envelopes: {self:#?}",
            self.distinct
        );
        Ok(())
    }
}

/// The receiving checks catch what they claim to catch: a reordered, an
/// altered, a repeated and an unexpected envelope, and a partial run.
pub fn checks_catch_bad_deliveries() -> anyhow::Result<()> {
    let spec = Spec {
        count: 4,
        aggregates: 2,
        first_version: 1,
        id_prefix: "00000000".into(),
        string_tenants: false,
    };
    let received = Received::new(std::slice::from_ref(&spec));
    // Aggregate 0: version 2 before version 1.
    received.record(&spec.envelope(2), 0);
    let altered = spec.envelope(1).to_builder().tenant_id(99).build()?;
    received.record(&altered, 0);
    received.record(&spec.envelope(1), 0);
    let unexpected = spec.envelope(3).to_builder().event_id("unknown").build()?;
    received.record(&unexpected, 0);
    let tally = received.tally();
    ensure!(
        tally.order_violations == 1 && tally.field_mismatches == 2 && tally.duplicates == 1,
        "the checks missed something: {tally:#?}"
    );
    ensure!(
        tally.assert_clean(received.total()).is_err(),
        "a partial, disordered run passed"
    );
    Ok(())
}

/// A name unique to this process and call.
pub fn unique(label: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bus whose asynchronous errors (dead letters, decode failures) are
/// counted.
pub async fn bus(config: BusConfig) -> anyhow::Result<(EventBus, Arc<AtomicUsize>)> {
    let errors = Arc::new(AtomicUsize::new(0));
    let counted = errors.clone();
    let bus = EventBus::builder()
        .config(config)
        .on_error(move |error| {
            eprintln!("bus error: {error}");
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .await?;
    Ok((bus, errors))
}

/// evbus consumes `topic` until every envelope of `specs` was handled.
pub async fn consume(bus: &EventBus, topic: &str, specs: &[Spec]) -> anyhow::Result<Tally> {
    let received = Received::new(specs);
    let recorder = received.clone();
    let subscription = bus
        .subscribe_envelope(topic, move |envelope, meta| {
            recorder.record(&envelope, meta.position.partition);
            async { Ok(()) }
        })
        .await?;
    received.wait_all(RUN_TIMEOUT).await?;
    drop(subscription);
    let tally = received.tally();
    tally.assert_clean(received.total())?;
    Ok(tally)
}

/// A libtest-mimic trial running `test` on its own runtime with `server`.
pub fn trial<S, F, Fut>(name: &'static str, server: &Arc<S>, test: F) -> Trial
where
    S: Send + Sync + 'static,
    F: FnOnce(Arc<S>) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let server = server.clone();
    Trial::test(name, move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failed::from(e.to_string()))?;
        runtime
            .block_on(test(server))
            .map_err(|e| Failed::from(format!("{e:#}")))
    })
}
