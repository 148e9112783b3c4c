//! Bounded capacity: `Full` after the enqueue timeout, items handed back,
//! waiting submitters admitted as capacity frees.

use std::sync::Arc;
use std::time::Duration;

use evbus_keyed_pool::{KeyedPool, PoolConfig, SubmitError};
use tokio::sync::Semaphore;

/// A pool of `capacity` whose handler holds each item until the returned
/// gate gets a permit.
fn gated_pool(capacity: usize, workers: usize) -> (KeyedPool<u32, u32, u32, ()>, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let mut config = PoolConfig::default();
    config.capacity = capacity;
    config.workers = workers;
    config.enqueue_timeout = Duration::from_millis(50);
    let handler_gate = gate.clone();
    let pool = KeyedPool::new(config, move |n: u32| {
        let gate = handler_gate.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            Ok(n)
        }
    })
    .unwrap();
    (pool, gate)
}

#[tokio::test(start_paused = true)]
async fn a_full_pool_returns_full_after_the_timeout_and_hands_the_item_back() {
    let (pool, gate) = gated_pool(4, 2);
    let mut completions = Vec::new();
    for n in 0..4 {
        completions.push(pool.submit(Some(n), n).await.unwrap());
    }
    assert_eq!(pool.free_capacity(), 0);
    assert_eq!(pool.len(), 4);

    let started = tokio::time::Instant::now();
    match pool.submit(Some(9), 99).await {
        Err(SubmitError::Full(item)) => assert_eq!(item, 99),
        other => panic!("expected Full, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_millis(50),
        "Full only after the enqueue timeout"
    );
    assert!(matches!(
        pool.try_submit(None, 7),
        Err(SubmitError::Full(7))
    ));
    assert!(SubmitError::Full(()).is_retryable());

    gate.add_permits(4);
    for (n, completion) in completions.into_iter().enumerate() {
        assert_eq!(completion.await.unwrap(), n as u32);
    }
    assert_eq!(pool.free_capacity(), 4);
    pool.close(None).await;
}

#[tokio::test(start_paused = true)]
async fn a_waiting_submit_is_admitted_when_capacity_frees() {
    let (pool, gate) = gated_pool(1, 1);
    let pool = Arc::new(pool);
    let first = pool.submit(Some(1), 1).await.unwrap();
    let waiting = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.submit(Some(2), 2)
                .await
                .map_err(SubmitError::into_item)
        }
    });
    // Let the waiting submit find the pool full before room is made.
    tokio::task::yield_now().await;
    gate.add_permits(2);
    assert_eq!(first.await.unwrap(), 1);
    let second = waiting
        .await
        .unwrap()
        .expect("admitted once the first item finished");
    assert_eq!(second.await.unwrap(), 2);
    pool.close(None).await;
}

#[tokio::test(start_paused = true)]
async fn wait_for_capacity_returns_once_an_item_finishes() {
    let (pool, gate) = gated_pool(1, 1);
    let pool = Arc::new(pool);
    let first = pool.submit(Some(1), 1).await.unwrap();
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.wait_for_capacity().await }
    });
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "no room while the only slot is held");
    gate.add_permits(1);
    assert_eq!(first.await.unwrap(), 1);
    waiter.await.unwrap();
    assert_eq!(pool.free_capacity(), 1);
    pool.close(None).await;
    // A closed pool never makes a caller wait.
    pool.wait_for_capacity().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_items_never_exceed_capacity() {
    let (pool, gate) = gated_pool(16, 4);
    let mut accepted = Vec::new();
    let mut rejected = 0;
    for n in 0..1_000 {
        match pool.try_submit(Some(n % 7), n) {
            Ok(completion) => accepted.push(completion),
            Err(error) => {
                assert!(matches!(error, SubmitError::Full(item) if item == n));
                rejected += 1;
            }
        }
        assert!(pool.len() <= 16);
        if n % 50 == 0 {
            gate.add_permits(8);
        }
    }
    assert!(
        rejected > 0,
        "a flood larger than the capacity must be refused"
    );
    gate.add_permits(1_000);
    for completion in accepted {
        completion.await.unwrap();
    }
    // A completion resolves just before its worker releases the slot, so
    // `len` is read once the pool has closed and its workers have ended.
    pool.close(None).await;
    assert_eq!(pool.len(), 0);
}

#[test]
fn submit_blocking_waits_then_reports_full() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let mut config = PoolConfig::default();
    config.capacity = 2;
    config.enqueue_timeout = Duration::from_millis(20);
    let handler_gate = gate.clone();
    let pool = KeyedPool::<u32, u32, u32, ()>::builder(config)
        .runtime(runtime.handle().clone())
        .build(move |n| {
            let gate = handler_gate.clone();
            async move {
                gate.acquire().await.unwrap().forget();
                Ok(n)
            }
        })
        .unwrap();
    let first = pool.submit_blocking(Some(1), 1).unwrap();
    let second = pool.submit_blocking(Some(1), 2).unwrap();
    assert!(matches!(
        pool.submit_blocking(Some(2), 3),
        Err(SubmitError::Full(3))
    ));

    // A blocked submitter is admitted as soon as an item finishes.
    std::thread::scope(|scope| {
        let waiting = scope.spawn(|| {
            let mut item = 3;
            // The enqueue timeout is short; retrying on Full is what a caller does.
            loop {
                match pool.submit_blocking(Some(2), item) {
                    Ok(completion) => return completion,
                    Err(error) => item = error.into_item(),
                }
            }
        });
        gate.add_permits(3);
        assert_eq!(waiting.join().unwrap().wait_blocking().unwrap(), 3);
    });
    assert_eq!(first.wait_blocking().unwrap(), 1);
    assert_eq!(second.wait_blocking().unwrap(), 2);
    pool.close_blocking(None);
}
