//! The orchestration of a perf run: brokers, suites per transport,
//! resources children, target checks and the report.

use std::time::{Duration, Instant};

use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};

use crate::perf::{
    Args,
    baselines::{kafka::RawKafka, memory::RawChannel, nats::RawNats},
    ceiling::{self, kafka_perf::KafkaPerf, nats_bench::NatsBench},
    cli::{ScenarioName, TransportChoice},
    peers, probe,
    profile::{self, Profile},
    report,
    scenarios::{
        Ctx, Figure, Pair, Sizes, allocs, backlog, e2e_ordered, go_parity, latency, partitioned,
        publish,
        resources::{self, ChildSpec},
        sweep,
    },
    setup::{self, Kafka, Nats},
    side::{Evbus, PublishMode, Side},
    workload::Work,
};

/// Runs per figure and side when not given.
const RUNS: usize = 5;
const QUICK_RUNS: usize = 3;

/// Entry point of the release build.
pub fn main(args: Args) -> anyhow::Result<()> {
    if let Some(spec) = &args.child {
        return resources::child(spec);
    }
    if let Some(spec) = &args.backlog_child {
        return backlog::child(spec);
    }
    crate::cmd::block_on(run(args))?
}

fn sizes(transport: &str, quick: bool) -> Sizes {
    let all_e2e: Vec<(u64, u64)> = [0, 1]
        .into_iter()
        .flat_map(|h| e2e_ordered::AGGREGATES.map(|k| (k, h)))
        .collect();
    let (publish, publish_sync, e2e) = match (transport, quick) {
        ("memory", true) => (50_000, 20_000, 20_000),
        ("memory", false) => (200_000, 100_000, 100_000),
        (_, true) => (10_000, 1_000, 10_000),
        (_, false) => (50_000, 3_000, 50_000),
    };
    let some_e2e = vec![(10, 0), (1_000, 0), (100_000, 0), (1_000, 1)];
    let (e2e_variants, latency_rates, parity_messages) = match (transport, quick) {
        (_, true) => (
            some_e2e,
            latency::RATES.to_vec(),
            go_parity::MESSAGES.to_vec(),
        ),
        (_, false) => (
            all_e2e,
            latency::RATES.to_vec(),
            go_parity::MESSAGES.to_vec(),
        ),
    };
    let latency_seconds = if quick { 1 } else { 3 };
    // The test size in a full run.
    let partitioned = if quick { 10_000 } else { 30_000 };
    Sizes {
        publish,
        publish_sync,
        e2e,
        e2e_variants,
        latency_rates,
        latency_seconds,
        parity_messages,
        partitioned,
    }
}

/// Timed runs of one transport, for the progress bar.
fn planned_runs(transport: &str, scenarios: &[ScenarioName], sizes: &Sizes, runs: usize) -> u64 {
    // 1 instance, 3 instances, the killed run.
    let partitioned = if transport == "nats" && scenarios.contains(&ScenarioName::Partitioned) {
        3
    } else {
        0
    };
    let figures: usize = scenarios
        .iter()
        .map(|s| match s {
            ScenarioName::Publish => 3,
            ScenarioName::E2eOrdered => sizes.e2e_variants.len(),
            ScenarioName::Latency => sizes.latency_rates.len(),
            ScenarioName::GoSdkParity => sizes.parity_messages.len(),
            ScenarioName::Resources
            | ScenarioName::Partitioned
            | ScenarioName::Sweep
            | ScenarioName::Backlog
            | ScenarioName::Allocs => 0,
            ScenarioName::Peers => match transport {
                "nats" | "kafka" => peers::FIGURES,
                _ => 0,
            },
            // Publish then consume, with and without headers.
            ScenarioName::Ceiling => match transport {
                "nats" => 2,
                "kafka" => 1,
                _ => 0,
            },
        })
        .sum();
    let sweep = if scenarios.contains(&ScenarioName::Sweep) {
        sweep::PLANNED_RUNS
    } else {
        0
    };
    // One child per broker.
    let backlog = usize::from(transport != "memory" && scenarios.contains(&ScenarioName::Backlog));
    (figures * runs * 2 + partitioned * runs + sweep + backlog) as u64
}

async fn suites<B: Side>(
    ctx: &Ctx,
    pair: &Pair<'_, B>,
    scenarios: &[ScenarioName],
) -> anyhow::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for scenario in scenarios {
        match scenario {
            ScenarioName::Publish => figures.extend(publish::run(ctx, pair).await?),
            ScenarioName::E2eOrdered => figures.extend(e2e_ordered::run(ctx, pair).await?),
            ScenarioName::Latency => figures.extend(latency::run(ctx, pair).await?),
            ScenarioName::GoSdkParity => figures.extend(go_parity::run(ctx, pair).await?),
            // Not a comparison with a raw client: run by the transports
            // that have a bench tool, or partitioned groups.
            ScenarioName::Ceiling
            | ScenarioName::Resources
            | ScenarioName::Partitioned
            | ScenarioName::Sweep
            | ScenarioName::Backlog
            | ScenarioName::Allocs => {}
            // Each peer on its broker: run by the transports.
            ScenarioName::Peers => {}
        }
    }
    Ok(figures)
}

/// The resources children of one transport.
fn child_specs(transport: &str, evbus: &Evbus, sizes: &Sizes) -> Vec<ChildSpec> {
    let spec = |scenario: &str, messages, aggregates, topics, consume| ChildSpec {
        transport: transport.into(),
        scenario: scenario.into(),
        config: evbus.config.clone(),
        messages,
        aggregates,
        topics,
        consume,
    };
    let parity = sizes.parity_messages.last().copied().unwrap_or(10_000);
    vec![
        spec("publish async", sizes.publish, 1_000, 1, false),
        spec(
            &format!("e2e-ordered K=1000 h=0ms, {} msgs", sizes.e2e),
            sizes.e2e,
            1_000,
            1,
            true,
        ),
        spec(
            &format!("go-sdk-parity {parity} msgs"),
            parity,
            parity / 10,
            go_parity::TOPICS,
            true,
        ),
    ]
}

/// Profiles one extra evbus run of each figure that missed its target.
async fn profile_missed(
    bar: &ProgressBar,
    evbus: &Evbus,
    figures: &[Figure],
) -> anyhow::Result<Vec<Profile>> {
    let mut profiles = Vec::new();
    for figure in profile::missed(figures) {
        bar.set_message(format!(
            "{} profiling {} {}",
            figure.transport, figure.suite, figure.name
        ));
        let work = Work::new(figure.messages * profile::SCALE, figure.aggregates, 1)?;
        profiles.push(if figure.suite == "publish" {
            profile::profile(figure, || publish::once(evbus, &work, PublishMode::Async)).await?
        } else {
            profile::profile(figure, || {
                e2e_ordered::once(evbus, &work, 1, Duration::ZERO)
            })
            .await?
        });
    }
    Ok(profiles)
}

async fn measure_resources(
    bar: &ProgressBar,
    transport: &str,
    evbus: &Evbus,
    sizes: &Sizes,
) -> anyhow::Result<Vec<resources::Resources>> {
    bar.set_message(format!(
        "{transport} resources (child processes, 10 s idle)"
    ));
    let children = child_specs(transport, evbus, sizes);
    tokio::task::spawn_blocking(move || resources::run_children(&children)).await?
}

async fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let load_before = probe::load_average();
    let runs = args
        .runs
        .unwrap_or(if args.quick { QUICK_RUNS } else { RUNS })
        .max(QUICK_RUNS);
    let scenarios = args.scenarios();
    let transports: Vec<&'static str> = match args.transport {
        TransportChoice::Memory => vec!["memory"],
        TransportChoice::Nats => vec!["nats"],
        TransportChoice::Kafka => vec!["kafka"],
        TransportChoice::All => vec!["memory", "nats", "kafka"],
    };

    let bar = ProgressBar::new(
        transports
            .iter()
            .map(|t| planned_runs(t, &scenarios, &sizes(t, args.quick), runs))
            .sum(),
    );
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} runs  {msg}")?
            .progress_chars("=> "),
    );
    let ctx = Ctx {
        runs,
        bar: bar.clone(),
    };

    let mut figures = Vec::new();
    let mut settings = Vec::new();
    let mut resources = Vec::new();
    let mut profiles = Vec::new();
    let mut ceilings = Vec::new();
    let mut scaling = Vec::new();
    let mut peer_figures = Vec::new();
    let mut sweep_points = Vec::new();
    let mut backlogs = Vec::new();
    let want_backlog = scenarios.contains(&ScenarioName::Backlog);
    let mut allocations = Vec::new();
    let want_allocs = scenarios.contains(&ScenarioName::Allocs);
    let want_resources = scenarios.contains(&ScenarioName::Resources);
    let want_sweep = scenarios.contains(&ScenarioName::Sweep);
    for &transport in &transports {
        let sizes = sizes(transport, args.quick);
        match transport {
            "memory" => {
                let evbus = Evbus {
                    config: setup::memory_bus_config(),
                };
                let pair = Pair {
                    transport,
                    evbus: &evbus,
                    raw: &RawChannel,
                    raw_name: "raw tokio channel",
                    raw_settings: crate::perf::baselines::memory::SETTINGS.into(),
                    sizes: sizes.clone(),
                };
                figures.extend(suites(&ctx, &pair, &scenarios).await?);
                if want_allocs {
                    bar.set_message(format!("{transport} allocs"));
                    allocations.extend(allocs::run(&pair)?);
                }
                settings.push((transport, pair.raw_name, pair.raw_settings));
                if want_sweep {
                    sweep_points.extend(sweep::run(&ctx, transport, &evbus, sizes.e2e).await?);
                }
                if want_resources {
                    resources.extend(measure_resources(&bar, transport, &evbus, &sizes).await?);
                }
            }
            "nats" => {
                bar.set_message("starting nats-server");
                let nats = Nats::start().await?;
                let evbus = Evbus {
                    config: nats.bus_config(),
                };
                let raw = RawNats {
                    url: nats.server.url(),
                    admin: nats.admin.clone(),
                };
                let pair = Pair {
                    transport,
                    evbus: &evbus,
                    raw: &raw,
                    raw_name: "raw async-nats",
                    raw_settings: crate::perf::baselines::nats::settings(),
                    sizes: sizes.clone(),
                };
                let measured = suites(&ctx, &pair, &scenarios).await?;
                profiles.extend(profile_missed(&bar, &evbus, &measured).await?);
                figures.extend(measured);
                if want_allocs {
                    bar.set_message(format!("{transport} allocs"));
                    allocations.extend(allocs::run(&pair)?);
                }
                settings.push((transport, pair.raw_name, pair.raw_settings));
                if scenarios.contains(&ScenarioName::Partitioned) {
                    scaling.push(
                        partitioned::run(&ctx, transport, &evbus.config, sizes.partitioned).await?,
                    );
                }
                if scenarios.contains(&ScenarioName::Ceiling) {
                    let bench = NatsBench {
                        binary: crate::benchtools::ensure_natscli()?,
                        url: nats.server.url(),
                    };
                    ceilings.extend(ceiling::nats(&ctx, &raw, bench, sizes.publish).await?);
                }
                if scenarios.contains(&ScenarioName::Peers) {
                    for peer in peers::nats(&ctx, &evbus, &raw, sizes.e2e).await? {
                        settings.push((transport, peer.name, peer.settings));
                        peer_figures.push(peer.figure);
                    }
                }
                if want_sweep {
                    sweep_points.extend(sweep::run(&ctx, transport, &evbus, sizes.e2e).await?);
                }
                if want_backlog {
                    backlogs.push(backlog::run(&ctx, transport, &evbus).await?);
                }
                if want_resources {
                    // The children need the server: run them while it is up.
                    resources.extend(measure_resources(&bar, transport, &evbus, &sizes).await?);
                }
                nats.admin.close().await?;
            }
            _ => {
                bar.set_message("starting Apache Kafka");
                let kafka = Kafka::start().await?;
                let evbus = Evbus {
                    config: kafka.bus_config(),
                };
                let raw = RawKafka {
                    config: kafka.broker.config(),
                    admin: kafka.admin.clone(),
                };
                let pair = Pair {
                    transport,
                    evbus: &evbus,
                    raw: &raw,
                    raw_name: "raw rdkafka",
                    raw_settings: crate::perf::baselines::kafka::settings(&kafka.broker.config()),
                    sizes: sizes.clone(),
                };
                let measured = suites(&ctx, &pair, &scenarios).await?;
                profiles.extend(profile_missed(&bar, &evbus, &measured).await?);
                figures.extend(measured);
                if want_allocs {
                    bar.set_message(format!("{transport} allocs"));
                    allocations.extend(allocs::run(&pair)?);
                }
                settings.push((transport, pair.raw_name, pair.raw_settings));
                if scenarios.contains(&ScenarioName::Ceiling) {
                    let tools = KafkaPerf::from_env(raw.config.bootstrap_servers.join(","))?;
                    ceilings.extend(ceiling::kafka(&ctx, &raw, tools, sizes.publish).await?);
                }
                if scenarios.contains(&ScenarioName::Peers) {
                    for peer in peers::kafka(&ctx, &evbus, &raw, sizes.e2e).await? {
                        settings.push((transport, peer.name, peer.settings));
                        peer_figures.push(peer.figure);
                    }
                }
                if want_sweep {
                    sweep_points.extend(sweep::run(&ctx, transport, &evbus, sizes.e2e).await?);
                }
                if want_backlog {
                    backlogs.push(backlog::run(&ctx, transport, &evbus).await?);
                }
                if want_resources {
                    // The children need the broker: run them while it is up.
                    resources.extend(measure_resources(&bar, transport, &evbus, &sizes).await?);
                }
                kafka.admin.close().await?;
            }
        }
    }
    bar.finish_and_clear();

    let run = report::Run {
        command: format!("cargo xtask perf {}", args.to_command_line().join(" ")),
        machine: probe::machine(),
        load_before,
        load_after: probe::load_average(),
        runs,
        seconds: started.elapsed().as_secs_f64(),
        baselines: settings
            .into_iter()
            .map(|(t, name, s)| (t.to_owned(), name.to_owned(), s))
            .collect(),
        figures,
        ceilings,
        partitioned: scaling,
        resources,
        profiles,
        peers: peer_figures,
        sweep: sweep_points,
        backlogs,
        allocations,
    };
    report::print_table(&run);
    let written = report::write(&run)?;
    eprintln!("\nreport: {}", written.display());
    let broken: Vec<String> = run
        .figures
        .iter()
        .map(|f| {
            (
                format!("{} {} {}", f.transport, f.suite, f.name),
                f.broken(),
            )
        })
        .chain(
            run.partitioned
                .iter()
                .map(|s| (format!("{} partitioned", s.transport), s.broken())),
        )
        .chain(run.sweep.iter().map(|p| {
            (
                format!(
                    "{} sweep K={} h={}us",
                    p.transport, p.aggregates, p.handler_us
                ),
                p.broken(),
            )
        }))
        .filter_map(|(what, (violations, lost))| {
            (violations + lost > 0)
                .then(|| format!("{what}: {violations} order violations, {lost} lost"))
        })
        .chain(run.peers.iter().filter_map(|f| {
            // A peer's own violations are reported, not a broken promise.
            let evbus = peers::tally(&f.evbus);
            (evbus.violations + evbus.lost > 0).then(|| {
                format!(
                    "{} {} {} (evbus side): {} order violations, {} lost",
                    f.transport, f.suite, f.name, evbus.violations, evbus.lost
                )
            })
        }))
        .collect();
    if !broken.is_empty() {
        bail!("the promise was broken:\n  {}", broken.join("\n  "));
    }
    Ok(())
}
