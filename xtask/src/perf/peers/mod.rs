//! peers: libraries a user could pick instead of evbus, measured beside it
//! in the same run, on the same broker, with the same envelopes, K, handler
//! and order check (issue 18). Each peer lives in a folder of its own and
//! is pinned in `xtask/Cargo.toml`; each implements [`Side`], so it runs
//! through the same timed run as evbus ([`e2e_ordered::once`]).
//!
//! The peers speak JSON (a Rust user of ruststream decodes a serde struct
//! with its default codec), so this suite publishes the envelopes in evbus's
//! JSON wire form, the Go SDK's envelope: evbus with `codec = go_json` on
//! one side, the peer publishing the same bytes on the other (checked
//! before the timed runs). A peer that reorders or loses messages is
//! reported in its own columns; it does not fail the run, evbus's side does.

pub mod go_program;
pub mod gosdk;
pub mod ruststream;
pub mod watermill;

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use evbus::CodecKind;

use self::go_program::{Broker, GoPeer, Program};
use crate::perf::{
    baselines::{kafka::RawKafka, nats::RawNats},
    scenarios::{Ctx, Figure, Kind, e2e_ordered},
    setup::fresh_topics,
    side::{Evbus, PublishMode, Run, Side, publish_all},
    stats::{Sample, Stopwatch, interleave},
    workload::{PAYLOAD_BYTES, Sink, Tally, Work},
};

/// Aggregates of the suite: evbus's e2e-ordered K = 1,000 row.
pub const AGGREGATES: u64 = 1_000;
/// Handler wait of the suite: that row's h = 0.
pub const HANDLER_WAIT: Duration = Duration::ZERO;
/// The suite's name in the report.
pub const SUITE: &str = "peers";

/// The Go peers, each a program under `interop/go/peers`.
const GO_PEERS: [&Program; 2] = [&gosdk::PROGRAM, &watermill::PROGRAM];

/// Figures per broker (one per peer), for the progress bar.
pub const FIGURES: usize = 1 + GO_PEERS.len();

/// The ratio evbus must reach against `peer` (issue 18): ten times the Go
/// SDK it replaces, at least level with every other peer.
pub fn bar(peer: &str) -> f64 {
    if peer == gosdk::NAME { 10.0 } else { 1.0 }
}

/// One peer's figure and what the report says about how it was set up.
pub struct Measured {
    pub figure: Figure,
    /// The peer's name, as the figure's baseline.
    pub name: &'static str,
    pub settings: String,
}

/// The peers on the NATS server `raw` talks to, `messages` envelopes each.
pub async fn nats(
    ctx: &Ctx,
    evbus: &Evbus,
    raw: &RawNats,
    messages: u64,
) -> anyhow::Result<Vec<Measured>> {
    let work = json_work(messages)?;
    let peer = ruststream::nats::RuststreamNats {
        url: raw.url.clone(),
        admin: raw.admin.clone(),
        events: ruststream::Events::of(&work)?,
    };
    let rust = Measured {
        figure: figure(ctx, "nats", evbus, ruststream::NAME, &work, || {
            once(&peer, &work)
        })
        .await?,
        name: ruststream::NAME,
        settings: ruststream::nats::settings(),
    };
    let mut measured = vec![rust];
    for program in GO_PEERS {
        let go = GoPeer::prepare(
            program,
            Broker::Nats,
            raw.url.clone(),
            raw.admin.clone(),
            evbus::nats::NatsConfig::default().max_pending_acks,
            &work,
        )?;
        measured.push(Measured {
            figure: figure(ctx, "nats", evbus, program.name, &work, || go.once(&work)).await?,
            name: program.name,
            settings: program.settings(Broker::Nats),
        });
    }
    Ok(measured)
}

/// The peers on the Kafka broker `raw` talks to, `messages` envelopes each.
pub async fn kafka(
    ctx: &Ctx,
    evbus: &Evbus,
    raw: &RawKafka,
    messages: u64,
) -> anyhow::Result<Vec<Measured>> {
    let work = json_work(messages)?;
    let peer = ruststream::kafka::RuststreamKafka {
        config: raw.config.clone(),
        admin: raw.admin.clone(),
        events: ruststream::Events::of(&work)?,
    };
    let rust = Measured {
        figure: figure(ctx, "kafka", evbus, ruststream::NAME, &work, || {
            once(&peer, &work)
        })
        .await?,
        name: ruststream::NAME,
        settings: ruststream::kafka::settings(&raw.config),
    };
    let mut measured = vec![rust];
    for program in GO_PEERS {
        let go = GoPeer::prepare(
            program,
            Broker::Kafka,
            raw.config.bootstrap_servers.join(","),
            raw.admin.clone(),
            raw.config.max_in_flight,
            &work,
        )?;
        measured.push(Measured {
            figure: figure(ctx, "kafka", evbus, program.name, &work, || go.once(&work)).await?,
            name: program.name,
            settings: program.settings(Broker::Kafka),
        });
    }
    Ok(measured)
}

/// A payload of [`PAYLOAD_BYTES`] that is one JSON value (a string), so the
/// JSON envelope embeds it as it is.
pub fn json_payload() -> Bytes {
    let mut payload = vec![b'x'; PAYLOAD_BYTES];
    payload[0] = b'"';
    payload[PAYLOAD_BYTES - 1] = b'"';
    Bytes::from(payload)
}

/// `messages` envelopes over [`AGGREGATES`] aggregates on one topic, with
/// the JSON payload.
pub fn json_work(messages: u64) -> anyhow::Result<Work> {
    Work::with_payload(messages, AGGREGATES, 1, json_payload())
}

/// evbus as configured for `transport`, publishing the JSON envelope.
pub fn evbus_json(evbus: &Evbus) -> Evbus {
    let mut config = evbus.config.clone();
    config.codec = CodecKind::GoJson;
    Evbus { config }
}

/// One peer figure: evbus (JSON envelope) and the peer (`peer_once`, one
/// timed run), alternately, each on fresh topics and groups, `work`
/// published the async way and consumed with the order check.
/// `Figure::raw` holds the peer's samples.
pub async fn figure<F, Fut>(
    ctx: &Ctx,
    transport: &'static str,
    evbus: &Evbus,
    peer_name: &str,
    work: &Work,
    peer_once: F,
) -> anyhow::Result<Figure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Sample>>,
{
    let name = format!(
        "{peer_name} K={} h={}ms",
        work.aggregates,
        HANDLER_WAIT.as_millis()
    );
    ctx.bar.set_message(format!("{transport} {SUITE} {name}"));
    let evbus = evbus_json(evbus);
    let (evbus, peer) = interleave(
        ctx.runs,
        || e2e_ordered::once(&evbus, work, 1, HANDLER_WAIT),
        peer_once,
        || ctx.tick(),
    )
    .await?;
    Ok(Figure {
        suite: SUITE.into(),
        transport,
        name,
        kind: Kind::Throughput,
        messages: work.len(),
        aggregates: work.aggregates,
        topics: 1,
        baseline: peer_name.to_owned(),
        note: Some("both sides publish the JSON envelope (evbus codec go_json)".into()),
        evbus,
        raw: peer,
    })
}

/// One timed run of a peer: [`e2e_ordered::once`] on one topic, except
/// that the clock stops once every message was handled, first delivery or
/// not, so a peer that reorders an aggregate is timed to its last message
/// rather than to the delivery timeout (the tally still shows the
/// reordering).
async fn once<P: Side>(peer: &P, work: &Work) -> anyhow::Result<Sample> {
    let topics = fresh_topics(1);
    let sink = Arc::new(Sink::new(work.len(), 1, HANDLER_WAIT));
    let run = peer.open(&topics, Some(sink.clone())).await?;
    let watch = Stopwatch::start();
    publish_all(&run, &topics, work, PublishMode::Async).await?;
    sink.wait_handled(e2e_ordered::DELIVERY_TIMEOUT).await;
    let (seconds, cpu_seconds) = watch.stop();
    run.close().await?;
    Ok(Sample {
        messages: work.len(),
        seconds,
        cpu_seconds,
        tally: Some(sink.tally()),
        latency: None,
    })
}

/// Order violations, losses and duplicates summed over `samples`.
pub fn tally(samples: &[Sample]) -> Tally {
    samples
        .iter()
        .filter_map(|s| s.tally)
        .fold(Tally::default(), |sum, t| Tally {
            handled: sum.handled + t.handled,
            distinct: sum.distinct + t.distinct,
            duplicates: sum.duplicates + t.duplicates,
            violations: sum.violations + t.violations,
            lost: sum.lost + t.lost,
        })
}
