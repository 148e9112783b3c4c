//! A transactional outbox on evbus: orders and their events are written in
//! one SQLite transaction, a relay publishes pending events detached and
//! marks each row from the publish result stream. The relay is killed in
//! the middle (its runtime dropped after it published a batch and before it
//! marked it) and restarted: it republishes the unmarked rows with the same
//! event ids, the broker's dedup recognises them, and the idempotent
//! consumer handles every event exactly once.
//!
//! ```text
//! cargo run --example outbox                       # in-memory broker
//! cargo run --example outbox --features nats -- --nats nats://127.0.0.1:4222
//! ```
//!
//! Options: `--orders N` (default 200), `--crash-after N` rows marked
//! before the kill (default half). It exits non-zero unless every row is
//! marked and every event handled once. See docs/outbox.md.

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{Arc, mpsc as std_mpsc},
    time::Duration,
};

use anyhow::{Context, bail, ensure};
use evbus::{BusConfig, Envelope, EventBus, TopicOptions};
use parking_lot::Mutex;
use rusqlite::{Connection, params};
use tokio::sync::Notify;

/// Rows the relay takes per round.
const BATCH: usize = 50;

/// Where the events go.
#[derive(Debug, Clone)]
pub enum Broker {
    /// An in-memory broker shared by the relay and the consumer.
    Memory(evbus::transport::memory::MemoryBroker),
    /// A NATS server (JetStream): the relay and the consumer connect to it.
    Nats(String),
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// The broker.
    pub broker: Broker,
    /// Orders written.
    pub orders: usize,
    /// Rows marked before the relay is killed.
    pub crash_after: usize,
    /// The SQLite file (created fresh).
    pub db: PathBuf,
}

/// What the run counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Orders (and outbox rows) written.
    pub written: usize,
    /// Detached publishes, both relay runs.
    pub published: usize,
    /// Publishes of rows published before the kill and never marked.
    pub republished: usize,
    /// Publishes the broker recognised as duplicates of a stored event.
    pub broker_duplicates: usize,
    /// Rows marked published.
    pub marked: usize,
    /// Rows still unmarked at the end.
    pub unmarked: usize,
    /// Deliveries the consumer received.
    pub delivered: usize,
    /// Events the consumer handled (the first delivery of each event id).
    pub handled_once: usize,
    /// Deliveries of an event id already handled, skipped by the consumer.
    pub duplicates_skipped: usize,
}

#[derive(Debug, Default, Clone, Copy)]
struct RelayStats {
    published: usize,
    republished: usize,
    broker_duplicates: usize,
    marked: usize,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut orders = 200;
    let mut crash_after = None;
    let mut broker = Broker::Memory(evbus::transport::memory::MemoryBroker::new(
        Default::default(),
    )?);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--orders" => orders = value()?.parse()?,
            "--crash-after" => crash_after = Some(value()?.parse()?),
            "--nats" => broker = Broker::Nats(value()?),
            other => bail!("unknown argument {other}"),
        }
    }
    let db = std::env::temp_dir().join(format!("evbus-outbox-{}.db", uuid::Uuid::now_v7()));
    let options = Options {
        broker,
        orders,
        crash_after: crash_after.unwrap_or(orders / 2),
        db: db.clone(),
    };
    let report = run(&options);
    let _ = std::fs::remove_file(&db);
    let report = report?;
    println!("rows written:        {}", report.written);
    println!(
        "published:           {} ({} republished after the restart)",
        report.published, report.republished
    );
    println!("broker duplicates:   {}", report.broker_duplicates);
    println!("marked:              {}", report.marked);
    println!("unmarked:            {}", report.unmarked);
    println!("delivered:           {}", report.delivered);
    println!("handled once:        {}", report.handled_once);
    println!("duplicates skipped:  {}", report.duplicates_skipped);
    ensure!(report.unmarked == 0, "rows left unmarked");
    ensure!(report.handled_once == report.written, "events not handled");
    Ok(())
}

/// Writes the orders, runs the relay until it is killed, restarts it, and
/// waits until the consumer handled every event.
pub fn run(options: &Options) -> anyhow::Result<Report> {
    let conn = Connection::open(&options.db)?;
    create_schema(&conn)?;
    let written = write_orders(&conn, options.orders)?;
    let topic = format!("outbox-orders-{}", uuid::Uuid::now_v7().simple());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let consumer = runtime.block_on(async {
        let bus = connect(&options.broker, "outbox-consumer", false).await?;
        bus.configure_topics([(topic.clone(), TopicOptions::default())])
            .await?;
        let consumer = Consumer::default();
        consumer.subscribe(&bus, &topic).await?;
        anyhow::Ok((bus, consumer))
    })?;

    let first = run_relay(options, &topic, Some(options.crash_after))?;
    let second = run_relay(options, &topic, None)?;

    let (bus, consumer) = consumer;
    runtime.block_on(async {
        consumer.wait_for(written).await?;
        bus.close().await?;
        anyhow::Ok(())
    })?;
    let state = consumer.state.lock();
    Ok(Report {
        written,
        published: first.published + second.published,
        republished: first.republished + second.republished,
        broker_duplicates: first.broker_duplicates + second.broker_duplicates,
        marked: count(&conn, "published_at IS NOT NULL")?,
        unmarked: count(&conn, "published_at IS NULL")?,
        delivered: state.seen.values().sum(),
        handled_once: state.seen.len(),
        duplicates_skipped: state.seen.values().map(|n| n - 1).sum(),
    })
}

async fn connect(broker: &Broker, service: &str, results: bool) -> anyhow::Result<EventBus> {
    let mut config = BusConfig::default();
    config.service_name = service.into();
    config.publish.results = results;
    let builder = EventBus::builder();
    let builder = match broker {
        Broker::Memory(memory) => builder.transport(Arc::new(memory.connect())),
        Broker::Nats(url) => {
            nats_backend(&mut config, url)?;
            builder
        }
    };
    Ok(builder.config(config).build().await?)
}

#[cfg(feature = "nats")]
fn nats_backend(config: &mut BusConfig, url: &str) -> anyhow::Result<()> {
    config.backend = evbus::Backend::Nats;
    config.nats.servers = vec![url.to_owned()];
    Ok(())
}

#[cfg(not(feature = "nats"))]
fn nats_backend(_: &mut BusConfig, _: &str) -> anyhow::Result<()> {
    bail!("NATS needs the `nats` feature: cargo run --example outbox --features nats")
}

// ----- the database -----------------------------------------------------------

fn create_schema(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         CREATE TABLE orders (id TEXT PRIMARY KEY, customer TEXT NOT NULL, total_cents INTEGER NOT NULL);
         CREATE TABLE outbox (
             seq INTEGER PRIMARY KEY AUTOINCREMENT,
             event_id TEXT NOT NULL UNIQUE,
             aggregate_id TEXT NOT NULL,
             event_type TEXT NOT NULL,
             tenant_id INTEGER NOT NULL,
             payload TEXT NOT NULL,
             attempts INTEGER NOT NULL DEFAULT 0,
             published_at TEXT
         );",
    )?;
    Ok(())
}

/// One transaction per order: the order and its event commit together.
fn write_orders(conn: &Connection, orders: usize) -> anyhow::Result<usize> {
    for n in 0..orders {
        let tx = conn.unchecked_transaction()?;
        let order_id = format!("order-{n}");
        let total = 1_000 + n as i64;
        tx.execute(
            "INSERT INTO orders (id, customer, total_cents) VALUES (?1, ?2, ?3)",
            params![order_id, format!("customer-{}", n % 7), total],
        )?;
        let payload = serde_json::json!({ "order_id": order_id, "total_cents": total });
        tx.execute(
            "INSERT INTO outbox (event_id, aggregate_id, event_type, tenant_id, payload)
             VALUES (?1, ?2, 'OrderPlaced', ?3, ?4)",
            params![
                uuid::Uuid::now_v7().to_string(),
                order_id,
                (n % 3) as i64 + 1,
                payload.to_string()
            ],
        )?;
        tx.commit()?;
    }
    Ok(orders)
}

fn count(conn: &Connection, condition: &str) -> anyhow::Result<usize> {
    let n: i64 = conn.query_row(
        &format!("SELECT COUNT(*) FROM outbox WHERE {condition}"),
        [],
        |row| row.get(0),
    )?;
    Ok(n as usize)
}

struct Row {
    event_id: String,
    aggregate_id: String,
    event_type: String,
    tenant_id: i64,
    payload: String,
    attempts: i64,
}

impl Row {
    /// The envelope, with the event id stored in the row: a republish is
    /// the same event to the broker's dedup and to consumers.
    fn envelope(&self) -> anyhow::Result<Envelope> {
        Ok(Envelope::builder(
            self.aggregate_id.as_str(),
            self.event_type.as_str(),
            1,
            self.payload.clone(),
        )
        .event_id(self.event_id.clone())
        .tenant_id(self.tenant_id)
        .build()?)
    }
}

fn pending(conn: &Connection) -> anyhow::Result<Vec<Row>> {
    let mut statement = conn.prepare(
        "SELECT event_id, aggregate_id, event_type, tenant_id, payload, attempts
         FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT ?1",
    )?;
    let rows = statement.query_map([BATCH as i64], |row| {
        Ok(Row {
            event_id: row.get(0)?,
            aggregate_id: row.get(1)?,
            event_type: row.get(2)?,
            tenant_id: row.get(3)?,
            payload: row.get(4)?,
            attempts: row.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ----- the relay ----------------------------------------------------------------

/// Runs the relay on its own runtime, as its own process would. With
/// `crash_after`, once that many rows are marked it publishes one more
/// batch and is killed before marking it: its runtime is dropped with the
/// bus unclosed and the results unread.
fn run_relay(
    options: &Options,
    topic: &str,
    crash_after: Option<usize>,
) -> anyhow::Result<RelayStats> {
    let (db, broker, topic) = (options.db.clone(), options.broker.clone(), topic.to_owned());
    let (stats_tx, stats_rx) = std_mpsc::channel();
    std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let outcome = runtime.block_on(relay(&db, &broker, &topic, crash_after, &stats_tx));
        // The kill: tasks still running (the bus's sender, its
        // connection) are dropped where they are.
        runtime.shutdown_background();
        outcome
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the relay thread panicked"))??;
    let mut stats = RelayStats::default();
    while let Ok(latest) = stats_rx.try_recv() {
        stats = latest;
    }
    Ok(stats)
}

async fn relay(
    db: &Path,
    broker: &Broker,
    topic: &str,
    crash_after: Option<usize>,
    report: &std_mpsc::Sender<RelayStats>,
) -> anyhow::Result<()> {
    let conn = Connection::open(db)?;
    let bus = connect(broker, "outbox-relay", true).await?;
    let mut results = bus.publish_results()?;
    let mut stats = RelayStats::default();
    loop {
        let rows = pending(&conn)?;
        if rows.is_empty() {
            break;
        }
        let mut in_flight = HashSet::new();
        for row in &rows {
            // Counted before the publish, committed at once: a crash after
            // the publish still shows the row was tried.
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1 WHERE event_id = ?1",
                [&row.event_id],
            )?;
            bus.publish_detached(topic, &row.envelope()?).await?;
            in_flight.insert(row.event_id.clone());
            stats.published += 1;
            if row.attempts > 0 {
                stats.republished += 1;
            }
        }
        let _ = report.send(stats);
        if crash_after.is_some_and(|limit| stats.marked >= limit) {
            // Make sure the broker has the batch, then die unmarked.
            bus.flush().await?;
            return Ok(());
        }
        while !in_flight.is_empty() {
            let result = results.recv().await.context("the result stream ended")?;
            in_flight.remove(&result.event_id);
            match &result.outcome {
                Ok(receipt) => {
                    conn.execute(
                        "UPDATE outbox SET published_at = ?1 WHERE event_id = ?2",
                        params![result.timestamp.to_string(), result.event_id],
                    )?;
                    stats.marked += 1;
                    if receipt.duplicate {
                        stats.broker_duplicates += 1;
                    }
                }
                // Left unmarked: the next round publishes it again.
                Err(error) => eprintln!("publish of {} failed: {error}", result.event_id),
            }
        }
        let _ = report.send(stats);
    }
    bus.close().await?;
    Ok(())
}

// ----- the consumer -------------------------------------------------------------

/// An idempotent consumer: it handles an event id once and skips later
/// deliveries of it (in a service, a `handled` table in the same
/// transaction as the handler's writes).
#[derive(Clone, Default)]
struct Consumer {
    state: Arc<Mutex<Handled>>,
    changed: Arc<Notify>,
}

#[derive(Default)]
struct Handled {
    seen: HashMap<String, usize>,
}

impl Consumer {
    async fn subscribe(&self, bus: &EventBus, topic: &str) -> anyhow::Result<()> {
        let consumer = self.clone();
        bus.subscribe_envelope(topic, move |event: Envelope, _| {
            let consumer = consumer.clone();
            async move {
                *consumer
                    .state
                    .lock()
                    .seen
                    .entry(event.event_id().to_owned())
                    .or_default() += 1;
                consumer.changed.notify_waiters();
                Ok(())
            }
        })
        .await?;
        Ok(())
    }

    async fn wait_for(&self, events: usize) -> anyhow::Result<()> {
        let wait = async {
            loop {
                let changed = self.changed.notified();
                if self.state.lock().seen.len() >= events {
                    return;
                }
                changed.await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .with_context(|| {
                format!(
                    "handled {} of {events} events",
                    self.state.lock().seen.len()
                )
            })
    }
}
