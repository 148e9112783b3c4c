//! Per-key order, exactly-once success and the absence of head-of-line
//! blocking.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use evbus_keyed_pool::{KeyedPool, PoolConfig, RetryPolicy, TaskErrorKind};
use parking_lot::Mutex;
use proptest::prelude::*;
use tokio::sync::Semaphore;

/// One generated item: its key, how long its handler sleeps, and how many
/// of its attempts fail before one succeeds.
#[derive(Clone, Debug)]
struct Spec {
    key: Option<u8>,
    delay_us: u64,
    failures: u32,
}

#[derive(Clone)]
struct Item {
    id: usize,
    spec: Spec,
    log: Arc<Log>,
}

#[derive(Default)]
struct Log {
    /// Every attempt start, in the order workers started them.
    attempts: Mutex<Vec<(Option<u8>, usize)>>,
    /// Every successful handling.
    successes: Mutex<Vec<usize>>,
    attempt_counts: Mutex<HashMap<usize, u32>>,
}

const MAX_ATTEMPTS: u32 = 3;

async fn handle(item: Item) -> Result<usize, String> {
    item.log.attempts.lock().push((item.spec.key, item.id));
    let attempt = {
        let mut counts = item.log.attempt_counts.lock();
        let count = counts.entry(item.id).or_insert(0);
        *count += 1;
        *count
    };
    tokio::time::sleep(Duration::from_micros(item.spec.delay_us)).await;
    if attempt <= item.spec.failures {
        return Err(format!("item {} attempt {attempt} fails", item.id));
    }
    item.log.successes.lock().push(item.id);
    Ok(item.id)
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        proptest::option::weighted(0.8, 0u8..6),
        0u64..1_500,
        prop_oneof![4 => Just(0u32), 1 => 1u32..4],
    )
        .prop_map(|(key, delay_us, failures)| Spec {
            key,
            delay_us,
            failures,
        })
}

fn run_case(specs: Vec<Spec>, workers: usize, capacity: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut config = PoolConfig::default();
        config.workers = workers;
        config.capacity = capacity;
        config.enqueue_timeout = Duration::from_secs(30);
        config.retry = RetryPolicy::attempts(MAX_ATTEMPTS)
            .with_backoff(Duration::from_micros(100), Duration::from_millis(1));
        let pool = KeyedPool::new(config, handle).unwrap();
        let log = Arc::new(Log::default());
        let mut completions = Vec::new();
        for (id, spec) in specs.iter().enumerate() {
            let item = Item {
                id,
                spec: spec.clone(),
                log: log.clone(),
            };
            completions.push(pool.submit(spec.key, item).await.unwrap());
        }
        for (id, completion) in completions.into_iter().enumerate() {
            match completion.await {
                Ok(handled) => {
                    assert_eq!(handled, id);
                    assert!(
                        specs[id].failures < MAX_ATTEMPTS,
                        "item {id} should have failed"
                    );
                }
                Err(error) => {
                    assert!(
                        specs[id].failures >= MAX_ATTEMPTS,
                        "item {id} should have succeeded"
                    );
                    assert!(matches!(error.kind(), TaskErrorKind::Handler(_)));
                    assert_eq!(error.attempts(), MAX_ATTEMPTS);
                }
            }
        }
        pool.close(None).await;

        // Exactly once per successful completion.
        let mut successes = log.successes.lock().clone();
        successes.sort_unstable();
        let expected: Vec<usize> = (0..specs.len())
            .filter(|&id| specs[id].failures < MAX_ATTEMPTS)
            .collect();
        assert_eq!(successes, expected);

        // Per key, attempts start in submit order; retries of an item come
        // before any attempt of the key's next item.
        let mut last_per_key: HashMap<u8, usize> = HashMap::new();
        for &(key, id) in log.attempts.lock().iter() {
            let Some(key) = key else { continue };
            if let Some(&last) = last_per_key.get(&key) {
                assert!(id >= last, "key {key}: item {id} started after item {last}");
            }
            last_per_key.insert(key, id);
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn items_of_a_key_run_in_submit_order_and_succeed_once(
        specs in proptest::collection::vec(spec(), 1..60),
        workers in 1usize..6,
        capacity in 1usize..16,
    ) {
        run_case(specs, workers, capacity);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_key_does_not_delay_other_keys() {
    let mut config = PoolConfig::default();
    config.workers = 4;
    // The slow key's first item waits for this gate, which opens only after
    // every fast key finished: with head-of-line blocking, fast keys sharing
    // its worker would never finish and the test would time out.
    let gate = Arc::new(Semaphore::new(0));
    let order = Arc::new(Mutex::new(Vec::new()));
    let handler = {
        let gate = gate.clone();
        let order = order.clone();
        move |(key, seq): (u32, u32)| {
            let gate = gate.clone();
            let order = order.clone();
            async move {
                if key == 0 {
                    order.lock().push(seq);
                    if seq == 0 {
                        let _permit = gate.acquire().await.unwrap();
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                Ok::<_, ()>(())
            }
        }
    };
    let pool = KeyedPool::new(config, handler).unwrap();
    let slow_first = pool.submit(Some(0), (0, 0)).await.unwrap();
    let slow_second = pool.submit(Some(0), (0, 1)).await.unwrap();
    let mut fast = Vec::new();
    for key in 1..=1_000 {
        for seq in 0..2 {
            fast.push(pool.submit(Some(key), (key, seq)).await.unwrap());
        }
    }
    let all_fast = futures::future::join_all(fast);
    let results = tokio::time::timeout(Duration::from_secs(20), all_fast)
        .await
        .expect("fast keys must finish while the slow key is blocked");
    assert!(results.iter().all(Result::is_ok));
    // The slow key is still on its first item, and its second has not started.
    assert_eq!(*order.lock(), vec![0]);
    gate.add_permits(1);
    slow_first.await.unwrap();
    slow_second.await.unwrap();
    assert_eq!(*order.lock(), vec![0, 1]);
    pool.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unkeyed_items_run_concurrently() {
    let mut config = PoolConfig::default();
    config.workers = 3;
    // Each unkeyed item waits until all three run at once; they could not
    // finish if unkeyed items were serialized.
    let barrier = Arc::new(tokio::sync::Barrier::new(3));
    let pool = KeyedPool::<u8, _, _, ()>::new(config, move |()| {
        let barrier = barrier.clone();
        async move {
            barrier.wait().await;
            Ok(())
        }
    })
    .unwrap();
    let mut completions = Vec::new();
    for _ in 0..3 {
        completions.push(pool.submit(None, ()).await.unwrap());
    }
    let done = tokio::time::timeout(
        Duration::from_secs(20),
        futures::future::join_all(completions),
    )
    .await;
    assert!(
        done.expect("unkeyed items must run in parallel")
            .iter()
            .all(Result::is_ok)
    );
    pool.close(None).await;
}
