//! Bad input on the wire: messages evbus never writes, put on a subscribed
//! topic with the broker's raw client between good envelopes of one
//! aggregate. The subscription must survive, every bad message must be
//! dead-lettered with a reason, and the good envelopes around them must be
//! handled, in order.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use bytes::Bytes;
use evbus::{
    CodecKind, Envelope, EventBus, HandlerError, TopicOptions,
    envelope::{CodecConfig, Encoded, codec},
    nats::mapping::KEY_HEADER,
    transport::dead_letter::REASON,
};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng, rngs::StdRng};
use rdkafka::{
    ClientConfig,
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};

use crate::chaos::{
    clusters::{Broker, Cluster, Target},
    ledger::{self, Handled},
    report::Row,
    workload::FAIL_PERCENT,
};

/// The aggregate every message of the scenario belongs to.
const AGGREGATE: &str = "wire-0";
/// The size of the huge garbage message: half the brokers' default
/// message limit, so the broker takes it and the bus has to reject it.
const HUGE: usize = 512 * 1024;
/// How long the dead letters and good envelopes may take to show up.
const WITHIN: Duration = Duration::from_secs(60);

/// One message to write, raw.
struct Raw {
    what: &'static str,
    key: Option<String>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    payload: Bytes,
    /// Whether it is a good envelope (to be handled) or bad input (to be
    /// dead-lettered).
    good: bool,
    /// Whether it carries headers evbus does not write.
    odd_headers: bool,
}

/// The sequence: good envelopes 1..=7 with bad input between them.
fn messages(seed: u64) -> anyhow::Result<Vec<Raw>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let codec = codec(CodecKind::Protobuf, &CodecConfig::default());
    let good = |version: i64| -> anyhow::Result<Encoded> {
        let envelope = Envelope::builder(AGGREGATE, "WireTested", version, "{}").build()?;
        Ok(codec.encode(&envelope)?)
    };
    let as_raw = |what, encoded: Encoded, extra: Vec<(String, Option<Vec<u8>>)>| Raw {
        what,
        odd_headers: !extra.is_empty(),
        key: Some(encoded.key),
        headers: encoded
            .headers
            .into_iter()
            .map(|(k, v)| (k, Some(v.into_bytes())))
            .chain(extra)
            .collect(),
        payload: encoded.body,
        good: true,
    };
    let bad = |what, key: bool, payload: Vec<u8>| Raw {
        what,
        key: key.then(|| AGGREGATE.to_owned()),
        headers: Vec::new(),
        payload: payload.into(),
        good: false,
        odd_headers: false,
    };
    let garbage: Vec<u8> = (0..64).map(|_| rng.random()).collect();
    let huge: Vec<u8> = (0..HUGE).map(|_| rng.random()).collect();
    let truncated = good(99)?.body;
    let odd_headers = vec![
        ("X-Chaos-Unknown".to_owned(), Some(b"surprise".to_vec())),
        ("x-chaos-long".to_owned(), Some(vec![b'l'; 4096])),
        ("x-chaos-empty".to_owned(), Some(Vec::new())),
        ("x-chaos-twice".to_owned(), Some(b"first".to_vec())),
        ("x-chaos-twice".to_owned(), Some(b"second".to_vec())),
    ];
    Ok(vec![
        as_raw("good v1", good(1)?, Vec::new()),
        bad("64 random bytes", true, garbage),
        as_raw("good v2", good(2)?, Vec::new()),
        bad("an empty message", true, Vec::new()),
        as_raw("good v3 with unexpected headers", good(3)?, odd_headers),
        bad("512 KiB of random bytes", true, huge),
        as_raw("good v4", good(4)?, Vec::new()),
        bad(
            "JSON that is no envelope",
            true,
            br#"{"hello":"world"}"#.to_vec(),
        ),
        as_raw("good v5", good(5)?, Vec::new()),
        bad(
            "random bytes without a key",
            false,
            b"\x00\xffnot an event".to_vec(),
        ),
        as_raw("good v6", good(6)?, Vec::new()),
        bad(
            "a protobuf envelope cut in half",
            true,
            truncated[..truncated.len() / 2].to_vec(),
        ),
        as_raw("good v7", good(7)?, Vec::new()),
    ])
}

/// Writes `messages` with the raw client of `target`'s broker, each
/// acknowledged before the next.
async fn write_raw(target: &Target, topic: &str, messages: &[Raw]) -> anyhow::Result<()> {
    match target.broker {
        Broker::Nats => {
            let server = target.servers.first().context("no NATS server")?;
            let client = async_nats::connect(server.as_str()).await?;
            let jetstream = async_nats::jetstream::new(client);
            for message in messages {
                let mut headers = async_nats::HeaderMap::new();
                if let Some(key) = &message.key {
                    headers.insert(KEY_HEADER, key.as_str());
                }
                for (name, value) in &message.headers {
                    let value = String::from_utf8_lossy(value.as_deref().unwrap_or_default());
                    headers.append(name.as_str(), value.as_ref());
                }
                jetstream
                    .publish_with_headers(topic.to_owned(), headers, message.payload.clone())
                    .await?
                    .await
                    .with_context(|| format!("writing {}", message.what))?;
            }
        }
        Broker::Kafka => {
            let producer: FutureProducer = ClientConfig::new()
                .set("bootstrap.servers", target.servers.join(","))
                .set("acks", "all")
                .set("enable.idempotence", "true")
                .create()?;
            // Kafka allows what NATS does not: a header without a value and
            // one whose value is not text.
            let kafka_only = [
                ("x-chaos-null", None),
                ("x-chaos-binary", Some(&[0xff_u8, 0x00, 0xfe][..])),
            ];
            for message in messages {
                let mut headers = OwnedHeaders::new();
                for (name, value) in &message.headers {
                    headers = headers.insert(Header {
                        key: name,
                        value: value.as_deref(),
                    });
                }
                if message.odd_headers {
                    for (key, value) in kafka_only {
                        headers = headers.insert(Header { key, value });
                    }
                }
                let mut record = FutureRecord::to(topic)
                    .payload(message.payload.as_ref())
                    .headers(headers);
                if let Some(key) = &message.key {
                    record = record.key(key.as_str());
                }
                producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .map_err(|(error, _)| error)
                    .with_context(|| format!("writing {}", message.what))?;
            }
        }
    }
    Ok(())
}

/// Runs the scenario on `cluster`.
pub async fn run(cluster: &Arc<Cluster>, seed: u64) -> Row {
    let began = Instant::now();
    let mut row = Row::new("bad-input", cluster.broker(), seed);
    if let Err(error) = drive(cluster, seed, &mut row).await {
        row.notes.push(format!("error: {error:#}"));
    }
    row.seconds = began.elapsed().as_secs_f64();
    row.judge();
    row
}

async fn drive(cluster: &Arc<Cluster>, seed: u64, row: &mut Row) -> anyhow::Result<()> {
    let target = cluster.target();
    let topic = "chaos-bad-input";
    let dead_letters = format!("{topic}.dlq");
    let bus = EventBus::from_config(target.bus_config("chaos-wire")).await?;
    // One partition: Kafka's raw producer and the bus's then agree on where
    // the aggregate's messages go whatever their partitioners.
    bus.configure_topics([(topic, TopicOptions::new().partitions(1).replicas(3))])
        .await?;

    let handled: Arc<Mutex<Vec<Handled>>> = Arc::default();
    let log = handled.clone();
    let rng = Arc::new(Mutex::new(StdRng::seed_from_u64(seed)));
    let _subscription = bus
        .subscribe_envelope(topic, move |event: Envelope, meta| {
            let (log, rng) = (log.clone(), rng.clone());
            async move {
                if rng.lock().random_range(0..100) < FAIL_PERCENT {
                    return Err(HandlerError::msg("injected transient failure"));
                }
                log.lock().push(Handled {
                    aggregate: event.aggregate_id().to_owned(),
                    version: event.event_version(),
                    delivery_count: meta.delivery_count,
                    at: Instant::now(),
                });
                Ok(())
            }
        })
        .await?;
    let reasons: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = reasons.clone();
    let _dead = bus
        .subscribe_with(&dead_letters, "chaos-wire-dlq", move |message| {
            let sink = sink.clone();
            async move {
                let reason = message
                    .headers
                    .iter()
                    .find(|(name, _)| name == REASON)
                    .map_or_else(|| "(no reason header)".to_owned(), |(_, v)| v.clone());
                sink.lock().push(reason);
                Ok(())
            }
        })
        .await?;

    let messages = messages(seed)?;
    let good = messages.iter().filter(|m| m.good).count();
    let bad = messages.len() - good;
    row.published = messages.len();
    write_raw(&target, topic, &messages).await?;
    row.acknowledged = messages.len();
    row.faults = messages
        .iter()
        .filter(|m| !m.good)
        .map(|m| m.what.to_owned())
        .collect();

    let deadline = Instant::now() + WITHIN;
    while (handled.lock().len() < good || reasons.lock().len() < bad) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bus.close().await?;

    let handled = handled.lock().clone();
    let acked = HashMap::from([(AGGREGATE.to_owned(), good as i64)]);
    row.apply(ledger::tally(&handled, &acked));
    let reasons = reasons.lock().clone();
    let mut by_reason: HashMap<&str, usize> = HashMap::new();
    for reason in &reasons {
        *by_reason.entry(reason).or_default() += 1;
    }
    row.notes.push(format!(
        "{} of {bad} bad messages dead-lettered, by reason: {by_reason:?}",
        reasons.len()
    ));
    if reasons.len() != bad {
        row.failures.push(format!(
            "{} dead letters for {bad} bad messages",
            reasons.len()
        ));
    }
    if reasons.iter().any(|r| r.starts_with('(')) {
        row.failures.push("a dead letter without a reason".into());
    }
    ensure!(
        handled.iter().all(|h| h.aggregate == AGGREGATE),
        "an unexpected aggregate was handled"
    );
    Ok(())
}
