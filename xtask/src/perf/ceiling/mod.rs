//! ceiling: the broker's own benchmark tool beside the raw client on the
//! same work, same server, same run: how far below what the server can do
//! the raw baselines (and so evbus) are. The bar: raw >= 0.8x the
//! tool.

pub mod kafka_perf;
pub mod nats_bench;

use serde::Serialize;

use crate::perf::{
    baselines::{
        kafka::RawKafka,
        nats::{RawNats, header_pairs},
    },
    scenarios::Ctx,
    setup::{create_topics, fresh_group, fresh_topics},
    stats::{Sample, Summary},
    workload::Work,
};

use self::{
    kafka_perf::KafkaPerf,
    nats_bench::{BenchWork, NatsBench},
};

/// Aggregates of the envelopes (only their size and headers matter here).
const AGGREGATES: u64 = 1_000;

/// One work measured by the raw client and by the broker's own tool.
#[derive(Debug, Clone, Serialize)]
pub struct Ceiling {
    pub transport: &'static str,
    /// E.g. `js pub async, evbus headers`.
    pub name: String,
    pub messages: u64,
    /// Body bytes per message.
    pub size: usize,
    /// E.g. `raw async-nats`.
    pub client: String,
    /// E.g. `nats bench (natscli 0.5.0)`.
    pub tool: String,
    /// The tool's command line, of the last run.
    pub command: String,
    pub raw: Vec<Sample>,
    pub bench: Vec<Sample>,
}

impl Ceiling {
    pub fn raw_rate(&self) -> Summary {
        Summary::of(self.raw.iter().map(Sample::rate))
    }

    pub fn bench_rate(&self) -> Summary {
        Summary::of(self.bench.iter().map(Sample::rate))
    }

    /// Raw median over the tool's median.
    pub fn ratio(&self) -> f64 {
        self.raw_rate().median / self.bench_rate().median
    }
}

/// The raw async-nats baseline and `nats bench`, alternately, on publish
/// then durable pull consume with acks, with evbus's headers and without.
pub async fn nats(
    ctx: &Ctx,
    raw: &RawNats,
    bench: NatsBench,
    messages: u64,
) -> anyhow::Result<Vec<Ceiling>> {
    let work = Work::new(messages, AGGREGATES, 1)?;
    let first = work.wires.first().expect("at least one message");
    let size = first.payload.len();
    let bench = std::sync::Arc::new(bench);
    let mut ceilings = Vec::new();
    for headers in [false, true] {
        let label = if headers {
            "evbus headers"
        } else {
            "no headers"
        };
        ctx.bar
            .set_message(format!("nats ceiling: nats bench beside raw, {label}"));
        let tool_work = std::sync::Arc::new(BenchWork {
            messages: work.len(),
            size,
            headers: if headers {
                header_pairs(first)
            } else {
                Vec::new()
            },
            dedup: headers,
        });
        let (mut raw_pub, mut raw_consume) = (Vec::new(), Vec::new());
        let (mut tool_pub, mut tool_consume) = (Vec::new(), Vec::new());
        let mut commands = [String::new(), String::new()];
        for _ in 0..ctx.runs {
            let (published, consumed) = raw.publish_then_drain(&work, headers).await?;
            raw_pub.push(published);
            raw_consume.push(consumed);
            ctx.tick();
            let (bench, tool_work) = (bench.clone(), tool_work.clone());
            let (published, consumed, lines) =
                tokio::task::spawn_blocking(move || bench.publish_then_consume(&tool_work))
                    .await??;
            tool_pub.push(published);
            tool_consume.push(consumed);
            commands = lines;
            ctx.tick();
        }
        let [pub_line, consume_line] = commands;
        let ceiling = |name: &str, raw, bench, command| Ceiling {
            transport: "nats",
            name: format!("{name}, {label}"),
            messages: work.len(),
            size,
            client: "raw async-nats".into(),
            tool: "nats bench (natscli 0.5.0)".into(),
            command,
            raw,
            bench,
        };
        ceilings.push(ceiling("js pub async", raw_pub, tool_pub, pub_line));
        ceilings.push(ceiling(
            "js durable pull consume, explicit acks",
            raw_consume,
            tool_consume,
            consume_line,
        ));
    }
    Ok(ceilings)
}

/// The raw rdkafka baseline and Apache Kafka's perf tools, alternately, on
/// produce then consume in a fresh group. Without key and headers only: the
/// tools write neither.
pub async fn kafka(
    ctx: &Ctx,
    raw: &RawKafka,
    tools: KafkaPerf,
    messages: u64,
) -> anyhow::Result<Vec<Ceiling>> {
    let work = Work::new(messages, AGGREGATES, 1)?;
    let size = work
        .wires
        .first()
        .expect("at least one message")
        .payload
        .len();
    let tools = std::sync::Arc::new(tools);
    ctx.bar
        .set_message("kafka ceiling: the Kafka perf tools beside raw, no key or headers");
    let (mut raw_pub, mut raw_consume) = (Vec::new(), Vec::new());
    let (mut tool_pub, mut tool_consume) = (Vec::new(), Vec::new());
    let mut commands = [String::new(), String::new()];
    for _ in 0..ctx.runs {
        let (published, consumed) = raw.publish_then_drain(&work, false).await?;
        raw_pub.push(published);
        raw_consume.push(consumed);
        ctx.tick();
        let topics = fresh_topics(1);
        create_topics(&raw.admin, &topics).await?;
        let tools = tools.clone();
        let (published, consumed, lines) = tokio::task::spawn_blocking(move || {
            tools.produce_then_consume(&topics[0], &fresh_group(), messages, size)
        })
        .await??;
        tool_pub.push(published);
        tool_consume.push(consumed);
        commands = lines;
        ctx.tick();
    }
    let [produce_line, consume_line] = commands;
    let ceiling = |name: &str, raw, bench, command| Ceiling {
        transport: "kafka",
        name: format!("{name}, no key or headers"),
        messages: work.len(),
        size,
        client: "raw rdkafka".into(),
        tool: "Apache Kafka 4.4.0 perf tools".into(),
        command,
        raw,
        bench,
    };
    Ok(vec![
        ceiling(
            "produce async (idempotent, acks=all)",
            raw_pub,
            tool_pub,
            produce_line,
        ),
        ceiling(
            "consume in a fresh group",
            raw_consume,
            tool_consume,
            consume_line,
        ),
    ])
}
