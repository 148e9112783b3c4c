//! Output of a run: the summary table on stdout, the JSON of the run under
//! `target/perf/`, and the Markdown report with SVG plots under
//! `target/perf/report/`.

use std::{fmt::Write as _, path::PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::perf::{
    ceiling::Ceiling,
    peers, plots,
    profile::Profile,
    scenarios::{
        Figure, Kind,
        allocs::{self, AllocFigure},
        backlog::{self, Backlog},
        go_parity,
        partitioned::Scaling,
        resources::{HEAP_SLACK, Resources},
        sweep::{self, Point},
    },
    stats::{Percentiles, Sample, Summary},
};

/// Everything one `cargo xtask perf` produced.
#[derive(Debug, Serialize)]
pub struct Run {
    pub command: String,
    pub machine: String,
    /// 1-minute load average before and after: well above 0 before means
    /// other work shared the machine.
    pub load_before: f64,
    pub load_after: f64,
    pub runs: usize,
    pub seconds: f64,
    /// (transport, baseline name, its settings).
    pub baselines: Vec<(String, String, String)>,
    pub figures: Vec<Figure>,
    /// The raw clients beside the brokers' own bench tools.
    pub ceilings: Vec<Ceiling>,
    /// Partitioned consumer groups: 1 vs 3 instances, failover after a kill.
    pub partitioned: Vec<Scaling>,
    pub resources: Vec<Resources>,
    /// Flat CPU profiles of one extra evbus run per missed ratio target.
    pub profiles: Vec<Profile>,
    /// evbus beside the peers: `Figure::raw` holds the peer's samples.
    pub peers: Vec<Figure>,
    /// evbus over K aggregates and handler times h.
    pub sweep: Vec<Point>,
    /// A slow consumer's memory while a million messages wait.
    pub backlogs: Vec<Backlog>,
    /// Heap allocations per message, evbus beside the raw client.
    pub allocations: Vec<AllocFigure>,
}

/// One checked target.
pub struct Target {
    pub what: String,
    pub met: bool,
    pub detail: String,
}

fn rate(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    if value >= 100_000.0 {
        format!("{:.0}k", value / 1000.0)
    } else if value >= 10_000.0 {
        format!("{:.1}k", value / 1000.0)
    } else {
        format!("{value:.0}")
    }
}

fn span(summary: Summary, f: fn(f64) -> String) -> String {
    format!(
        "{} ({}-{})",
        f(summary.median),
        f(summary.min),
        f(summary.max)
    )
}

fn micros(value: f64) -> String {
    if !value.is_finite() {
        "-".into()
    } else if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else {
        format!("{value:.0} us")
    }
}

fn cpu(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.1}")
    } else {
        "-".into()
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1024.0 / 1024.0)
}

/// The rows of the sweep's table: one per transport and K, a cell per h
/// with msg/s median (min-max) and CPU us/msg (median).
fn sweep_rows(run: &Run) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    let mut keys: Vec<(&str, u64)> = Vec::new();
    for p in &run.sweep {
        if !keys.contains(&(p.transport, p.aggregates)) {
            keys.push((p.transport, p.aggregates));
        }
    }
    keys.sort_by_key(|&(transport, aggregates)| {
        let first = run.sweep.iter().position(|p| p.transport == transport);
        (first, aggregates)
    });
    for (transport, aggregates) in keys {
        let mut row: [String; 6] = Default::default();
        row[0] = transport.to_owned();
        row[1] = aggregates.to_string();
        for (i, h) in sweep::HANDLER_US.into_iter().enumerate() {
            let point = run.sweep.iter().find(|p| {
                p.transport == transport && p.aggregates == aggregates && p.handler_us == h
            });
            row[2 + i] = point.map_or_else(
                || "-".into(),
                |p| format!("{}, {}", span(p.rate(), rate), cpu(p.cpu().median)),
            );
        }
        rows.push(row);
    }
    rows
}

/// The rows of the backlog table, one per broker.
fn backlog_rows(run: &Run) -> Vec<[String; 7]> {
    run.backlogs
        .iter()
        .map(|b| {
            let (middle, last) = b.thirds();
            let rss = |r: Option<&backlog::Reading>| r.map_or(0, |r| r.rss_bytes);
            [
                b.transport.clone(),
                b.messages.to_string(),
                b.handled().to_string(),
                mib(b.heap_before),
                format!("{} / {} / {}", mib(b.peak_heap()), mib(middle), mib(last)),
                format!(
                    "{} / {}",
                    mib(rss(b.readings.first())),
                    mib(rss(b.readings.last()))
                ),
                if b.passes() { "yes" } else { "NO" }.into(),
            ]
        })
        .collect()
}

const BACKLOG_HEADER: [&str; 7] = [
    "transport",
    "waiting",
    "handled by the last sample",
    "heap before MiB",
    "heap MiB peak / mean middle third / mean last third",
    "RSS MiB first / last sample",
    "bounded and flat",
];

const SWEEP_HEADER: [&str; 6] = [
    "transport",
    "K",
    "h=0: msg/s (min-max), CPU us/msg",
    "h=0.1ms (CPU)",
    "h=1ms (wait)",
    "h=10ms (wait)",
];

/// The rows of the throughput table.
fn throughput_rows(run: &Run) -> Vec<[String; 9]> {
    run.figures
        .iter()
        .filter(|f| f.kind == Kind::Throughput)
        .map(|f| {
            let (violations, lost) = f.broken();
            [
                f.transport.to_owned(),
                f.suite.clone(),
                format!("{}{}", f.name, f.note.as_ref().map_or("", |_| " (*)")),
                f.messages.to_string(),
                span(f.evbus_rate(), rate),
                span(f.raw_rate(), rate),
                format!("{:.2}", f.ratio()),
                format!(
                    "{} / {}",
                    cpu(f.evbus_cpu().median),
                    cpu(f.raw_cpu().median)
                ),
                format!("{violations}/{lost}/{}", f.duplicates()),
            ]
        })
        .collect()
}

const THROUGHPUT_HEADER: [&str; 9] = [
    "transport",
    "suite",
    "variant",
    "msgs",
    "evbus msg/s median (min-max)",
    "baseline msg/s median (min-max)",
    "ratio",
    "CPU us/msg evbus / baseline",
    "viol/lost/dup",
];

/// The rows of the ceiling table.
fn ceiling_rows(run: &Run) -> Vec<[String; 8]> {
    run.ceilings
        .iter()
        .map(|c| {
            [
                c.transport.to_owned(),
                c.name.clone(),
                c.messages.to_string(),
                c.size.to_string(),
                span(c.raw_rate(), rate),
                span(c.bench_rate(), rate),
                format!("{:.2}", c.ratio()),
                cpu(Summary::of(c.raw.iter().map(Sample::cpu_us_per_message)).median),
            ]
        })
        .collect()
}

const CEILING_HEADER: [&str; 8] = [
    "transport",
    "work",
    "msgs",
    "body bytes",
    "raw client msg/s median (min-max)",
    "bench tool msg/s median (min-max)",
    "raw / tool",
    "raw CPU us/msg",
];

fn seconds(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2} s")
    } else {
        "-".into()
    }
}

/// The rows of the partitioned-group table.
fn partitioned_rows(run: &Run) -> Vec<[String; 8]> {
    run.partitioned
        .iter()
        .map(|s| {
            let (violations, lost) = s.broken();
            let moved: usize = s.failover.iter().map(|f| f.moved).sum();
            let orphaned: usize = s.failover.iter().map(|f| f.orphaned).sum();
            [
                s.transport.to_owned(),
                format!(
                    "K={} h={}ms, {} partitions, {} msgs",
                    s.aggregates, s.handler_ms, s.partitions, s.messages
                ),
                span(s.one_rate(), rate),
                span(s.many_rate(), rate),
                format!("{:.2}", s.ratio()),
                format!(
                    "{} / {} (bound {}); {moved} of {orphaned} orphaned partitions moved in {} kills",
                    span(s.first(), seconds),
                    span(s.all(), seconds),
                    seconds(s.bound_seconds),
                    s.failover.len()
                ),
                format!(
                    "{} / {}",
                    cpu(Summary::of(s.one.iter().map(Sample::cpu_us_per_message)).median),
                    cpu(Summary::of(s.many.iter().map(Sample::cpu_us_per_message)).median)
                ),
                format!("{violations}/{lost}/{}", s.duplicates()),
            ]
        })
        .collect()
}

/// The rows of the peers table: each side's own violations, losses and
/// duplicates.
fn peer_rows(run: &Run) -> Vec<[String; 9]> {
    let broken = |samples: &[Sample]| {
        let t = peers::tally(samples);
        format!(
            "{}/{}/{} of {} handled",
            t.violations, t.lost, t.duplicates, t.handled
        )
    };
    run.peers
        .iter()
        .map(|f| {
            [
                f.transport.to_owned(),
                f.baseline.clone(),
                f.messages.to_string(),
                span(f.evbus_rate(), rate),
                span(f.raw_rate(), rate),
                format!("{:.2}", f.ratio()),
                format!(
                    "{} / {}",
                    cpu(f.evbus_cpu().median),
                    cpu(f.raw_cpu().median)
                ),
                broken(&f.evbus),
                broken(&f.raw),
            ]
        })
        .collect()
}

const PARTITIONED_HEADER: [&str; 8] = [
    "transport",
    "work",
    "1 instance msg/s median (min-max)",
    "3 instances msg/s median (min-max)",
    "ratio 3/1",
    "failover after a kill: first / all partitions, median (min-max)",
    "CPU us/msg 1 / 3",
    "viol/lost/dup",
];

const PEER_HEADER: [&str; 9] = [
    "transport",
    "peer",
    "msgs",
    "evbus msg/s median (min-max)",
    "peer msg/s median (min-max)",
    "evbus / peer",
    "CPU us/msg evbus / peer",
    "evbus viol/lost/dup (all runs)",
    "peer viol/lost/dup (all runs)",
];

fn latency_rows(run: &Run) -> Vec<[String; 6]> {
    let mut rows = Vec::new();
    for f in run.figures.iter().filter(|f| f.kind == Kind::Latency) {
        let mut evbus = Vec::new();
        let mut raw = Vec::new();
        for i in 0..Percentiles::NAMES.len() {
            let (e, r) = f.latency(i);
            evbus.push(micros(e.median));
            raw.push(micros(r.median));
        }
        let (violations, lost) = f.broken();
        rows.push([
            f.transport.to_owned(),
            f.name.clone(),
            evbus.join(" / "),
            raw.join(" / "),
            format!("{:.2}", f.ratio()),
            format!("{violations}/{lost}/{}", f.duplicates()),
        ]);
    }
    rows
}

const LATENCY_HEADER: [&str; 6] = [
    "transport",
    "offered rate",
    "evbus p50 / p90 / p99 / p99.9",
    "baseline p50 / p90 / p99 / p99.9",
    "p99 ratio",
    "viol/lost/dup",
];

fn resource_rows(run: &Run) -> Vec<[String; 8]> {
    run.resources
        .iter()
        .map(|r| {
            let (threads, tasks, growth) = r.leaks();
            [
                r.transport.clone(),
                r.scenario.clone(),
                format!(
                    "{} / {} / {}",
                    mib(r.before.rss_bytes),
                    mib(r.peak.rss_bytes),
                    mib(r.after.rss_bytes)
                ),
                format!(
                    "{} / {} / {}",
                    mib(r.before.heap_bytes),
                    mib(r.peak.heap_bytes),
                    mib(r.after.heap_bytes)
                ),
                format!(
                    "{} / {} / {}",
                    r.before.threads, r.peak.threads, r.after.threads
                ),
                format!("{} / {} / {}", r.before.tasks, r.peak.tasks, r.after.tasks),
                format!(
                    "{threads:+} thr, {tasks:+} tasks, heap {:+.2} MiB, RSS {:+.1}%",
                    r.heap_growth() as f64 / 1024.0 / 1024.0,
                    growth * 100.0
                ),
                if r.passes() { "yes" } else { "NO" }.into(),
            ]
        })
        .collect()
}

const RESOURCE_HEADER: [&str; 8] = [
    "transport",
    "scenario",
    "RSS MiB before / peak / after",
    "heap MiB before / peak / after",
    "threads before / peak / after",
    "tasks before / peak / after",
    "after close vs before",
    "leak check ok",
];

fn allocation_rows(run: &Run) -> Vec<[String; 6]> {
    run.allocations
        .iter()
        .map(|f| {
            let (evbus_calls, raw_calls) = f.calls_per_message();
            let (evbus_bytes, raw_bytes) = f.bytes_per_message();
            [
                f.transport.into(),
                f.path.into(),
                f.messages.to_string(),
                format!("{evbus_calls:.2} / {raw_calls:.2}"),
                format!("{:+.2}", evbus_calls - raw_calls),
                format!("{evbus_bytes:.0} / {raw_bytes:.0}"),
            ]
        })
        .collect()
}

const ALLOCATION_HEADER: [&str; 6] = [
    "transport",
    "path",
    "msgs",
    "allocations/msg evbus / baseline",
    "evbus extra",
    "bytes/msg evbus / baseline",
];

/// The issue's targets, checked against this run.
pub fn targets(run: &Run) -> Vec<Target> {
    let mut targets = Vec::new();
    let find = |transport: &str, suite: &str, name: &str| {
        run.figures
            .iter()
            .find(|f| f.transport == transport && f.suite == suite && f.name == name)
    };
    for &(transport, suite, name, bar) in &RATIO_TARGETS {
        if let Some(f) = find(transport, suite, name) {
            let what = match suite {
                "publish" => format!("{transport} publish {name} >= {bar} x raw"),
                _ => format!("{transport} {suite} {name} >= {bar} x the raw pipeline"),
            };
            targets.push(ratio_target(what, f, bar));
        }
    }
    for (suite, name) in [("publish", "async"), ("e2e-ordered", "K=1000 h=0ms")] {
        if let Some(f) = find("nats", suite, name) {
            targets.push(cpu_target(f));
        }
    }
    for transport in ["memory", "nats", "kafka"] {
        if let Some(f) = find(transport, "e2e-ordered", "K=1000 h=0ms") {
            targets.push(facade_target(f));
        }
    }
    for c in &run.ceilings {
        let ratio = c.ratio();
        targets.push(Target {
            what: format!(
                "{} {}: {} >= 0.8 x {}",
                c.transport, c.name, c.client, c.tool
            ),
            met: ratio >= 0.8,
            detail: if ratio >= 0.8 {
                format!("{ratio:.2}")
            } else {
                format!(
                    "{ratio:.2}: missed by {:.0}% of the target",
                    (0.8 - ratio) / 0.8 * 100.0
                )
            },
        });
    }
    for s in &run.partitioned {
        let all = s.all();
        let met = all.max <= s.bound_seconds && s.unmoved() == 0;
        targets.push(Target {
            what: format!(
                "{} partitioned: a killed instance's partitions all move within the documented \
                 bound ({:.2} s)",
                s.transport, s.bound_seconds
            ),
            met,
            detail: format!(
                "slowest of {} runs {}{}",
                s.failover.len(),
                seconds(all.max),
                if s.unmoved() > 0 {
                    format!("; {} runs where not every partition moved", s.unmoved())
                } else {
                    String::new()
                }
            ),
        });
    }
    for b in &run.backlogs {
        let (middle, last) = b.thirds();
        targets.push(Target {
            what: format!(
                "{} memory while {} messages wait for a slow consumer: bounded and flat",
                b.transport, b.messages
            ),
            met: b.passes(),
            detail: format!(
                "live heap peak {} MiB (bound {}), mean {} MiB in the middle third and {} MiB \
                 in the last; {} handled",
                mib(b.peak_heap()),
                backlog::HEAP_BOUND >> 20,
                mib(middle),
                mib(last),
                b.handled()
            ),
        });
    }
    for f in &run.peers {
        let ratio = f.ratio();
        let bar = peers::bar(&f.baseline);
        let evbus = peers::tally(&f.evbus);
        let peer = peers::tally(&f.raw);
        targets.push(Target {
            what: format!(
                "{} e2e ordered envelopes: evbus >= {bar:.1} x {}, 0 order violations on evbus's side",
                f.transport, f.baseline
            ),
            met: ratio >= bar && evbus.violations == 0,
            detail: format!(
                "{ratio:.2}{}; evbus {} violations, {} lost; the peer {} violations, {} lost",
                if ratio < bar {
                    format!(": missed by {:.0}% of the target", (1.0 - ratio / bar) * 100.0)
                } else {
                    String::new()
                },
                evbus.violations,
                evbus.lost,
                peer.violations,
                peer.lost
            ),
        });
    }
    let (violations, lost) = run
        .figures
        .iter()
        .map(Figure::broken)
        .chain(run.partitioned.iter().map(Scaling::broken))
        .fold((0, 0), |(v, l), (fv, fl)| (v + fv, l + fl));
    targets.push(Target {
        what: "0 order violations and 0 lost messages in every scenario".into(),
        met: violations == 0 && lost == 0,
        detail: format!("{violations} violations, {lost} lost over all runs"),
    });
    for r in &run.resources {
        let (threads, tasks, growth) = r.leaks();
        let heap = r.heap_growth() as f64 / 1024.0 / 1024.0;
        targets.push(Target {
            what: format!(
                "{} {}: after close no extra threads/tasks, live heap within {} MiB of before",
                r.transport,
                r.scenario,
                HEAP_SLACK >> 20
            ),
            met: r.passes(),
            detail: format!(
                "{threads:+} threads, {tasks:+} tasks, live heap {heap:+.2} MiB; RSS {:+.1}% \
                 (shown, not judged: it includes what glibc's malloc keeps after free)",
                growth * 100.0
            ),
        });
    }
    targets
}

/// The throughput ratio targets of issue 18: (transport, suite, variant,
/// the lowest evbus / raw median ratio).
const RATIO_TARGETS: [(&str, &str, &str, f64); 5] = [
    ("nats", "publish", "async", 0.95),
    ("nats", "e2e-ordered", "K=1000 h=0ms", 0.85),
    ("memory", "e2e-ordered", "K=1000 h=0ms", 0.6),
    ("kafka", "publish", "async", 0.9),
    ("kafka", "e2e-ordered", "K=1000 h=0ms", 0.8),
];

/// The ratio bar of a figure, if issue 18 sets one.
pub fn ratio_bar(f: &Figure) -> Option<f64> {
    RATIO_TARGETS
        .iter()
        .find(|(t, suite, name, _)| *t == f.transport && *suite == f.suite && *name == f.name)
        .map(|&(.., bar)| bar)
}

/// The highest evbus / raw CPU per message on NATS (issue 18).
const CPU_BAR: f64 = 1.25;
/// The most CPU per message the facade and pool may add to the raw
/// pipeline's, on every transport (issue 18), microseconds.
const FACADE_US: f64 = 4.0;

fn cpu_target(f: &Figure) -> Target {
    let (evbus, raw) = (f.evbus_cpu().median, f.raw_cpu().median);
    let ratio = evbus / raw;
    Target {
        what: format!(
            "{} {} {}: CPU per message <= {CPU_BAR} x raw",
            f.transport, f.suite, f.name
        ),
        met: ratio <= CPU_BAR,
        detail: format!("{ratio:.2} ({evbus:.1} vs {raw:.1} us/msg)"),
    }
}

fn facade_target(f: &Figure) -> Target {
    let (evbus, raw) = (f.evbus_cpu().median, f.raw_cpu().median);
    let cost = evbus - raw;
    Target {
        what: format!(
            "{} {} {}: the facade and pool's own CPU (evbus - raw) <= {FACADE_US} us/msg",
            f.transport, f.suite, f.name
        ),
        met: cost <= FACADE_US,
        detail: format!("{cost:.1} us/msg ({evbus:.1} vs {raw:.1})"),
    }
}

fn ratio_target(what: String, f: &Figure, bar: f64) -> Target {
    let ratio = f.ratio();
    let cpu = format!(
        "CPU {:.1} vs {:.1} us/msg",
        f.evbus_cpu().median,
        f.raw_cpu().median
    );
    Target {
        what,
        met: ratio >= bar,
        detail: if ratio >= bar {
            format!("{ratio:.2}; {cpu}")
        } else {
            format!(
                "{ratio:.2}: missed by {:.0}% of the target; {cpu}",
                (bar - ratio) / bar * 100.0
            )
        },
    }
}

fn text_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(out, "{cell:<w$}  ");
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn markdown_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) -> String {
    let mut out = format!("| {} |\n|{}\n", header.join(" | "), "---|".repeat(N));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// Prints the summary table.
pub fn print_table(run: &Run) {
    println!();
    println!("{}", text_table(THROUGHPUT_HEADER, &throughput_rows(run)));
    let ceilings = ceiling_rows(run);
    if !ceilings.is_empty() {
        println!("ceiling (raw client beside the broker's own bench tool, same work):");
        println!("{}", text_table(CEILING_HEADER, &ceilings));
    }
    let partitioned = partitioned_rows(run);
    if !partitioned.is_empty() {
        println!(
            "partitioned consumer group (evbus instances in one process, first deliveries in order):"
        );
        println!("{}", text_table(PARTITIONED_HEADER, &partitioned));
    }
    let peer = peer_rows(run);
    if !peer.is_empty() {
        println!(
            "peers (e2e ordered JSON envelopes K={} h={}ms, same broker, interleaved with evbus):",
            peers::AGGREGATES,
            peers::HANDLER_WAIT.as_millis()
        );
        println!("{}", text_table(PEER_HEADER, &peer));
    }
    let latency = latency_rows(run);
    if !latency.is_empty() {
        println!("latency (microseconds, from each message's due time):");
        println!("{}", text_table(LATENCY_HEADER, &latency));
    }
    let sweep = sweep_rows(run);
    if !sweep.is_empty() {
        println!("sweep (evbus e2e ordered over K aggregates and handler time h):");
        println!("{}", text_table(SWEEP_HEADER, &sweep));
    }
    let backlogs = backlog_rows(run);
    if !backlogs.is_empty() {
        println!(
            "backlog (a slow consumer, h = {} ms, while {} messages wait; child process):",
            backlog::HANDLER.as_millis(),
            backlog::MESSAGES
        );
        println!("{}", text_table(BACKLOG_HEADER, &backlogs));
    }
    let resources = resource_rows(run);
    if !resources.is_empty() {
        println!("resources (evbus, child process per scenario):");
        println!("{}", text_table(RESOURCE_HEADER, &resources));
    }
    let allocations = allocation_rows(run);
    if !allocations.is_empty() {
        println!("allocations per message (counting allocator, current-thread runtime):");
        println!("{}", text_table(ALLOCATION_HEADER, &allocations));
    }
    println!("targets:");
    for t in targets(run) {
        println!(
            "  [{}] {}: {}",
            if t.met { "met" } else { "MISSED" },
            t.what,
            t.detail
        );
    }
    for p in &run.profiles {
        println!(
            "\nprofile of an extra evbus run, {} {}:",
            p.transport, p.figure
        );
        for line in &p.top {
            println!("  {line}");
        }
    }
    println!(
        "\n{} runs per side and figure, interleaved evbus/baseline; median (min-max). (*) = baseline without the handler wait.",
        run.runs
    );
    println!(
        "load average {:.2} before, {:.2} after; {:.0} s in all",
        run.load_before, run.load_after, run.seconds
    );
}

/// The Markdown body shared by the report and `docs/performance.md`.
pub fn markdown(run: &Run, plot_dir: &str) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "Command: `{}`\n", run.command);
    let _ = writeln!(
        md,
        "Machine: {}; 1-minute load average {:.2} before and {:.2} after the run ({:.0} s). \
         Each figure: {} runs per side, evbus and baseline interleaved (A B A B ...), \
         median with (min-max). Ratio = evbus median / baseline median. CPU = user+sys \
         microseconds of the measuring process per message (the brokers run in their own \
         processes and are not counted; the in-memory transport's broker is).\n",
        run.machine, run.load_before, run.load_after, run.seconds, run.runs
    );
    md.push_str("### Throughput\n\n");
    md.push_str(&markdown_table(THROUGHPUT_HEADER, &throughput_rows(run)));
    md.push_str(
        "\n(*) h = 1 ms rows: the baseline has no keyed pool, so it is the raw pipeline \
         without the wait (the ceiling).\n",
    );
    let ceilings = ceiling_rows(run);
    if !ceilings.is_empty() {
        md.push_str(
            "\n### Ceiling: the raw client beside the broker's own bench tool\n\n\
             Same server, same run, same message count and body size, runs alternated; \
             publish is timed to the last ack, consume from the first message to the \
             last (as the tool times it). The tool's CPU is its own process's and is \
             not measured.\n\n",
        );
        md.push_str(&markdown_table(CEILING_HEADER, &ceilings));
        md.push('\n');
        for c in &run.ceilings {
            let _ = writeln!(md, "- {} {}: `{}`", c.transport, c.name, c.command);
        }
    }
    let partitioned = partitioned_rows(run);
    if !partitioned.is_empty() {
        md.push_str(
            "\n### Partitioned consumer group: 1 vs 3 instances, failover after a kill\n\n\
             Each instance is an `EventBus` on its own tokio runtime in this process; the \
             partitions are spread evenly before the clock starts; msg/s from the first \
             publish to the last first delivery, order checked across the instances. \
             Failover: from killing one of the 3 instances mid-stream (its runtime torn \
             down, no close) to the first delivery on a survivor of a partition it owned \
             (first), and of the last of its partitions (all).\n\n",
        );
        md.push_str(&markdown_table(PARTITIONED_HEADER, &partitioned));
    }
    let peer = peer_rows(run);
    if !peer.is_empty() {
        let _ = writeln!(
            md,
            "\n### Peers: e2e ordered envelopes beside other libraries\n\n\
             Same broker, same run, runs alternated with evbus: {} envelopes' worth over K = {} \
             aggregates, h = {} ms, one topic, published the async way and checked by the same \
             handler (per-aggregate order, losses, duplicates). Both sides carry the JSON \
             envelope (evbus with codec `go_json`; the peer publishes the same bytes, checked \
             before the runs). A peer's own violations or losses are shown, not hidden, and do \
             not fail the run; a peer run is timed to its last handled message, and a version \
             that arrives after a later one of its aggregate counts as a violation when the \
             later one comes and then as a duplicate, so under the tally's definitions it also \
             counts as lost unless it is handled once more (`handled` = messages the handler \
             saw). How each peer was set up: Baselines below.\n",
            run.peers.first().map_or(0, |f| f.messages),
            peers::AGGREGATES,
            peers::HANDLER_WAIT.as_millis()
        );
        md.push_str(&markdown_table(PEER_HEADER, &peer));
    }
    let latency = latency_rows(run);
    if !latency.is_empty() {
        md.push_str("\n### Latency (publish to handler, from each message's due time)\n\n");
        md.push_str(&markdown_table(LATENCY_HEADER, &latency));
    }
    let parity: Vec<String> = run
        .figures
        .iter()
        .filter(|f| f.suite == "go-sdk-parity" && f.messages == 10_000)
        .filter_map(|f| {
            go_parity::go_sdk_reported(f.transport).map(|go| {
                format!(
                    "- {}: evbus {} msg/s vs the Go SDK's reported {} msg/s ({:.1}x)",
                    f.transport,
                    rate(f.evbus_rate().median),
                    rate(go),
                    f.evbus_rate().median / go
                )
            })
        })
        .collect();
    if !parity.is_empty() {
        md.push_str(
            "\n### Go SDK parity at 10,000 envelopes (its own figures are from its \
             documentation, another machine)\n\n",
        );
        md.push_str(&parity.join("\n"));
        md.push('\n');
    }
    let sweep = sweep_rows(run);
    if !sweep.is_empty() {
        let _ = writeln!(
            md,
            "\n### Sweep: how the cost grows with K and h\n\n\
             evbus alone (the raw pipelines have no keyed pool to spread a handler's time \
             over), e2e ordered on one topic, {} runs per point: msg/s median (min-max) and \
             CPU us/msg (median). h = 0.1 ms is CPU work (a spin), 1 and 10 ms an async wait. \
             A point with h publishes what its ideal rate handles in about a second (at \
             least K messages, at most the e2e size); `target/perf/run-*.json` has each \
             point's message count.\n",
            sweep::RUNS
        );
        md.push_str(&markdown_table(SWEEP_HEADER, &sweep));
    }
    let backlogs = backlog_rows(run);
    if !backlogs.is_empty() {
        let _ = writeln!(
            md,
            "\n### Backlog: memory while {} messages wait for a slow consumer\n\n\
             The run publishes {} envelopes over {} aggregates with evbus, then a child \
             process subscribes with a handler that waits {} ms per message and samples its \
             live heap (counting allocator; librdkafka's own C heap is not in it), RSS and \
             handled count every {} ms for {} s from its first handled message. Bounded: \
             peak live heap <= {} MiB; flat: the last third's mean within {} MiB of the \
             middle third's.\n",
            backlog::MESSAGES,
            backlog::MESSAGES,
            backlog::AGGREGATES,
            backlog::HANDLER.as_millis(),
            backlog::SAMPLE_EVERY.as_millis(),
            backlog::SECONDS,
            backlog::HEAP_BOUND >> 20,
            backlog::FLAT_SLACK >> 20
        );
        md.push_str(&markdown_table(BACKLOG_HEADER, &backlogs));
    }
    let resources = resource_rows(run);
    if !resources.is_empty() {
        md.push_str("\n### Resources (evbus; one child process per scenario; after = 10.5 s after close)\n\n");
        md.push_str(&markdown_table(RESOURCE_HEADER, &resources));
    }
    let allocations = allocation_rows(run);
    if !allocations.is_empty() {
        let _ = writeln!(
            md,
            "\n### Allocations per message\n\n\
             Calls of the global allocator (alloc, alloc_zeroed, realloc) and bytes requested, \
             over {} messages published async on a current-thread runtime (each side alone, \
             the baseline being the raw client), so the counts do not depend on the \
             machine's load. The consume path's share is the e2e row less the publish row. \
             Rust's allocations only (not librdkafka's C heap). Paths measured: {}.\n",
            allocs::MESSAGES,
            allocs::PATHS.join(", ")
        );
        md.push_str(&markdown_table(ALLOCATION_HEADER, &allocations));
    }
    md.push_str("\n### Targets\n\n");
    for t in targets(run) {
        let _ = writeln!(
            md,
            "- {} {}: {}",
            if t.met { "met:" } else { "**missed**:" },
            t.what,
            t.detail
        );
    }
    for p in &run.profiles {
        let _ = writeln!(
            md,
            "\nProfile of one extra evbus run of {} {} with {}x the messages (`perf record \
             -F 999 -g`, flat, top symbols):\n\n```text\n{}\n```",
            p.transport,
            p.figure,
            crate::perf::profile::SCALE,
            p.top.join("\n")
        );
    }
    md.push_str("\n### Baselines\n\n");
    for (transport, name, settings) in &run.baselines {
        let _ = writeln!(md, "- {transport}, {name}: {settings}");
    }
    md.push_str("\n### Plots\n\n");
    for (file, title) in plots::files(run) {
        let _ = writeln!(md, "![{title}]({plot_dir}{file})");
    }
    md
}

/// Writes the JSON and the report; returns the report's path.
pub fn write(run: &Run) -> anyhow::Result<PathBuf> {
    let dir = crate::cmd::root().join("target").join("perf");
    let report_dir = dir.join("report");
    std::fs::create_dir_all(&report_dir)
        .with_context(|| format!("creating {}", report_dir.display()))?;
    let stamp = time::OffsetDateTime::now_utc();
    let name = format!(
        "run-{:04}{:02}{:02}-{:02}{:02}{:02}.json",
        stamp.year(),
        u8::from(stamp.month()),
        stamp.day(),
        stamp.hour(),
        stamp.minute(),
        stamp.second()
    );
    std::fs::write(dir.join(&name), serde_json::to_vec_pretty(run)?)?;
    // The report describes this run only: no plots of an earlier one.
    for entry in std::fs::read_dir(&report_dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "svg") {
            std::fs::remove_file(path)?;
        }
    }
    plots::draw(run, &report_dir)?;
    let mut md = format!(
        "# evbus performance report\n\n{} UTC, JSON: `target/perf/{name}`\n\n",
        stamp
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    );
    md.push_str(&markdown(run, ""));
    let path = report_dir.join("report.md");
    std::fs::write(&path, md)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A NATS e2e figure: evbus and raw at `rates` msg/s and `cpu` us/msg.
    fn figure(rates: (f64, f64), cpu: (f64, f64)) -> Figure {
        let sample = |rate: f64, us: f64| Sample {
            messages: 10_000,
            seconds: 10_000.0 / rate,
            cpu_seconds: us * 1e-6 * 10_000.0,
            tally: None,
            latency: None,
        };
        Figure {
            suite: "e2e-ordered".into(),
            transport: "nats",
            name: "K=1000 h=0ms".into(),
            kind: Kind::Throughput,
            messages: 10_000,
            aggregates: 1_000,
            topics: 1,
            baseline: "raw".into(),
            note: None,
            evbus: vec![sample(rates.0, cpu.0)],
            raw: vec![sample(rates.1, cpu.1)],
        }
    }

    #[test]
    fn the_issue_18_bars_judge_ratio_cpu_and_facade_cost() {
        let close = figure((45_000.0, 50_000.0), (17.0, 14.0));
        assert_eq!(ratio_bar(&close), Some(0.85));
        assert!(ratio_target(String::new(), &close, 0.85).met);
        assert!(cpu_target(&close).met);
        assert!(facade_target(&close).met);
        let far = figure((30_000.0, 50_000.0), (28.0, 16.0));
        assert!(!ratio_target(String::new(), &far, 0.85).met);
        assert!(!cpu_target(&far).met);
        assert!(!facade_target(&far).met);
    }
}
