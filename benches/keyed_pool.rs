//! Keyed pool against two baselines with the same worker count and capacity:
//! (a) static `hash(key) % workers` sharding over bounded channels (the Go
//! SDK's design) and (b) one `tokio::spawn` per item with a per-key lock.
//!
//! Run: `cargo bench -p evbus-keyed-pool --bench keyed_pool` (env `RUNS`,
//! default 7; `SCENARIO=n` for only the n-th). Each run measures the time from the first submit until the
//! last completion resolved; the three implementations alternate run by run
//! so drift on a noisy machine hits all of them alike.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ahash::{AHashMap, RandomState};
use evbus_keyed_pool::{KeyedPool, PoolConfig};
use tokio::sync::{Mutex as AsyncMutex, Semaphore, mpsc, oneshot};

const WORKERS: usize = 256;
const CAPACITY: usize = 10_000;

/// One scenario: its keys, items and handler cost.
#[derive(Clone, Copy)]
struct Scenario {
    name: &'static str,
    keys: u64,
    items: u64,
    /// Keys below this are slow; the fast keys' finish time is measured
    /// separately.
    slow_keys: u64,
    fast_work: Duration,
    slow_work: Duration,
}

impl Scenario {
    /// Item `i` goes to key `i % keys`: keys interleave as in a busy stream.
    fn key(self, i: u64) -> u64 {
        i % self.keys
    }

    fn work_for(self, key: u64) -> Duration {
        if key < self.slow_keys {
            self.slow_work
        } else {
            self.fast_work
        }
    }
}

/// The handler every implementation runs: sleep for the item's work, if any.
async fn work(duration: Duration) -> Result<(), ()> {
    if !duration.is_zero() {
        tokio::time::sleep(duration).await;
    }
    Ok(())
}

/// Timings of one run: until every fast item was done, and until all were.
#[derive(Clone, Copy)]
struct Run {
    fast: Duration,
    all: Duration,
}

/// Awaits the fast keys' completions, then the slow ones'.
async fn finish<F, R>(
    scenario: Scenario,
    started: Instant,
    completions: Vec<(u64, F)>,
    ok: fn(R) -> bool,
) -> Run
where
    F: Future<Output = R>,
{
    let (slow, fast): (Vec<_>, Vec<_>) = completions
        .into_iter()
        .partition(|(key, _)| *key < scenario.slow_keys);
    for (_, done) in fast {
        assert!(ok(done.await), "fast item failed");
    }
    let fast = started.elapsed();
    for (_, done) in slow {
        assert!(ok(done.await), "slow item failed");
    }
    Run {
        fast,
        all: started.elapsed(),
    }
}

async fn run_pool(scenario: Scenario) -> Run {
    let mut config = PoolConfig::default();
    config.workers = WORKERS;
    config.capacity = CAPACITY;
    config.enqueue_timeout = Duration::from_secs(60);
    let pool = KeyedPool::<u64, u64, (), ()>::new(config, move |key| work(scenario.work_for(key)))
        .expect("valid config");
    let started = Instant::now();
    let mut completions = Vec::with_capacity(scenario.items as usize);
    for i in 0..scenario.items {
        let key = scenario.key(i);
        let completion = pool
            .submit(Some(key), key)
            .await
            .map_err(|_| "pool full")
            .unwrap();
        completions.push((key, completion));
    }
    let run = finish(scenario, started, completions, |r| r.is_ok()).await;
    pool.close(None).await;
    run
}

type Reply = oneshot::Sender<Result<(), ()>>;

/// Baseline (a): the Go SDK's design. Each worker owns a bounded channel of
/// `CAPACITY / WORKERS` items; a key always goes to worker
/// `hash(key) % WORKERS`.
async fn run_sharded(scenario: Scenario) -> Run {
    let hasher = RandomState::with_seeds(1, 2, 3, 4);
    let mut senders = Vec::with_capacity(WORKERS);
    let mut workers = Vec::with_capacity(WORKERS);
    for _ in 0..WORKERS {
        let (tx, mut rx) = mpsc::channel::<(u64, Reply)>(CAPACITY / WORKERS);
        senders.push(tx);
        workers.push(tokio::spawn(async move {
            while let Some((key, reply)) = rx.recv().await {
                let _ = reply.send(work(scenario.work_for(key)).await);
            }
        }));
    }
    let started = Instant::now();
    let mut completions = Vec::with_capacity(scenario.items as usize);
    for i in 0..scenario.items {
        let key = scenario.key(i);
        let (reply, done) = oneshot::channel();
        let shard = (hasher.hash_one(key) % WORKERS as u64) as usize;
        senders[shard]
            .send((key, reply))
            .await
            .map_err(|_| "worker gone")
            .unwrap();
        completions.push((key, done));
    }
    let run = finish(scenario, started, completions, |r| matches!(r, Ok(Ok(())))).await;
    drop(senders);
    for worker in workers {
        worker.await.unwrap();
    }
    run
}

/// Baseline (b): a task per item. A semaphore of `CAPACITY` bounds held
/// items, one of `WORKERS` bounds running handlers, and a per-key async
/// mutex serializes each key (tokio's mutex is FIFO, but tasks reach it in
/// scheduling order, so per-key order is not guaranteed).
async fn run_spawned(scenario: Scenario) -> Run {
    let capacity = Arc::new(Semaphore::new(CAPACITY));
    let running = Arc::new(Semaphore::new(WORKERS));
    let mut locks: AHashMap<u64, Arc<AsyncMutex<()>>> = AHashMap::new();
    let started = Instant::now();
    let mut completions = Vec::with_capacity(scenario.items as usize);
    for i in 0..scenario.items {
        let key = scenario.key(i);
        let held = capacity.clone().acquire_owned().await.unwrap();
        let lock = locks.entry(key).or_default().clone();
        let running = running.clone();
        let (reply, done) = oneshot::channel();
        tokio::spawn(async move {
            let _key = lock.lock().await;
            let _slot = running.acquire().await.unwrap();
            let _ = reply.send(work(scenario.work_for(key)).await);
            drop(held);
        });
        completions.push((key, done));
    }
    finish(scenario, started, completions, |r| matches!(r, Ok(Ok(())))).await
}

/// Median, min and max of a metric over runs.
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

fn stats(mut values: Vec<f64>) -> Stats {
    values.sort_by(f64::total_cmp);
    Stats {
        median: values[values.len() / 2],
        min: values[0],
        max: values[values.len() - 1],
    }
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime");
    let scenarios = [
        Scenario {
            name: "no-op handler, 10,000 keys",
            keys: 10_000,
            items: 200_000,
            slow_keys: 0,
            fast_work: Duration::ZERO,
            slow_work: Duration::ZERO,
        },
        Scenario {
            name: "1 ms handler, 1,000 keys",
            keys: 1_000,
            items: 25_600,
            slow_keys: 0,
            fast_work: Duration::from_millis(1),
            slow_work: Duration::ZERO,
        },
        Scenario {
            name: "one 100 ms key among 1,000 keys with 1 ms handlers",
            keys: 1_000,
            items: 20_000,
            slow_keys: 1,
            fast_work: Duration::from_millis(1),
            slow_work: Duration::from_millis(100),
        },
        // The slow key as the head-of-line test defines it.
        Scenario {
            name: "one 200 ms key among 1,000 keys with 1 ms handlers",
            keys: 1_000,
            items: 20_000,
            slow_keys: 1,
            fast_work: Duration::from_millis(1),
            slow_work: Duration::from_millis(200),
        },
    ];
    println!(
        "workers {WORKERS}, capacity {CAPACITY}, 2 runtime threads, {runs} runs after 1 warm-up"
    );
    // `SCENARIO=n` runs only the n-th scenario (0-based), e.g. for profiling.
    let only: Option<usize> = std::env::var("SCENARIO").ok().and_then(|s| s.parse().ok());
    for (index, scenario) in scenarios.into_iter().enumerate() {
        if only.is_some_and(|only| only != index) {
            continue;
        }
        let mut results: [Vec<Run>; 3] = Default::default();
        for run in 0..=runs {
            // Submitters run as runtime tasks, as a transport's fetcher
            // would, so everything shares the runtime's two threads.
            let measured = [
                runtime
                    .block_on(async { tokio::spawn(run_pool(scenario)).await.expect("pool run") }),
                runtime.block_on(async {
                    tokio::spawn(run_sharded(scenario))
                        .await
                        .expect("sharded run")
                }),
                runtime.block_on(async {
                    tokio::spawn(run_spawned(scenario))
                        .await
                        .expect("spawned run")
                }),
            ];
            // The first round only warms up allocator and timers.
            if run > 0 {
                for (all, one) in results.iter_mut().zip(measured) {
                    all.push(one);
                }
            }
        }
        report(scenario, &results);
    }
}

fn report(scenario: Scenario, results: &[Vec<Run>; 3]) {
    let names = ["keyed pool", "(a) hash % workers", "(b) spawn + key lock"];
    let fast_items = scenario.items - scenario.items / scenario.keys * scenario.slow_keys;
    println!("\n### {} ({} items)\n", scenario.name, scenario.items);
    // With a slow key, what matters is when the other keys are done.
    let (label, pick): (&str, fn(&Run) -> Duration) = if scenario.slow_keys > 0 {
        ("fast keys done", |r| r.fast)
    } else {
        ("all done", |r| r.all)
    };
    println!(
        "| implementation | {label}: median ms (min-max) | items/s median | pool speed-up (median) |"
    );
    println!("|---|---|---|---|");
    let medians: Vec<f64> = results
        .iter()
        .map(|runs| stats(runs.iter().map(|r| pick(r).as_secs_f64()).collect()).median)
        .collect();
    for (name, runs) in names.iter().zip(results) {
        let time = stats(runs.iter().map(|r| pick(r).as_secs_f64() * 1e3).collect());
        let rate = stats(
            runs.iter()
                .map(|r| fast_items as f64 / pick(r).as_secs_f64())
                .collect(),
        );
        let own = stats(runs.iter().map(|r| pick(r).as_secs_f64()).collect()).median;
        println!(
            "| {name} | {:.1} ({:.1}-{:.1}) | {:.0} | {:.2}x |",
            time.median,
            time.min,
            time.max,
            rate.median,
            own / medians[0]
        );
    }
    if scenario.slow_keys > 0 {
        let all = stats(
            results[0]
                .iter()
                .map(|r| r.all.as_secs_f64() * 1e3)
                .collect(),
        );
        println!(
            "\nkeyed pool, all items incl. the slow key: median {:.1} ms",
            all.median
        );
    }
    println!(
        "\nratio keyed pool / (a): {:.2}; keyed pool / (b): {:.2} (items/s, > 1 = pool faster)",
        medians[1] / medians[0],
        medians[2] / medians[0]
    );
}
