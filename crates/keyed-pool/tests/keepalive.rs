//! The wait hook: called periodically for held items, never for answered
//! ones.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use evbus_keyed_pool::{KeyedPool, PoolConfig, RetryPolicy};
use tokio::sync::{Semaphore, mpsc};

#[tokio::test(start_paused = true)]
async fn the_hook_sees_running_queued_and_backoff_items_until_they_finish() {
    let mut config = PoolConfig::default();
    config.workers = 2;
    config.keepalive_interval = Some(Duration::from_secs(1));
    config.retry =
        RetryPolicy::attempts(2).with_backoff(Duration::from_secs(60), Duration::from_secs(60));
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let handler_gate = gate.clone();
    let pool = KeyedPool::<u8, u32, u32, u32>::builder(config)
        .on_wait(move |n: &u32| {
            let _ = seen_tx.send(*n);
        })
        .build(move |n| {
            let gate = handler_gate.clone();
            async move {
                match n {
                    // Fails once, then waits 60 s in backoff.
                    3 => Err(n),
                    _ => {
                        gate.acquire().await.unwrap().forget();
                        Ok(n)
                    }
                }
            }
        })
        .unwrap();
    let running = pool.submit(Some(1), 1).await.unwrap();
    let queued = pool.submit(Some(1), 2).await.unwrap();
    let backoff = pool.submit(Some(2), 3).await.unwrap();

    // Each held item is reported on every tick; wait for two ticks' worth.
    let mut counts: HashMap<u32, u32> = HashMap::new();
    while [1, 2, 3]
        .iter()
        .any(|n| counts.get(n).copied().unwrap_or(0) < 2)
    {
        let n = seen.recv().await.unwrap();
        *counts.entry(n).or_default() += 1;
    }

    gate.add_permits(2);
    assert_eq!(running.await.unwrap(), 1);
    assert_eq!(queued.await.unwrap(), 2);
    assert_eq!(backoff.await.unwrap_err().attempts(), 2);
    // Drain reports from ticks before the items finished, then no more come.
    while seen.try_recv().is_ok() {}
    let later = tokio::time::timeout(Duration::from_secs(5), seen.recv()).await;
    assert!(
        later.is_err(),
        "answered items are not kept alive: {later:?}"
    );
    pool.close(None).await;
}

#[tokio::test(start_paused = true)]
async fn without_an_interval_the_hook_is_never_called() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let pool = KeyedPool::<u8, u32, u32, ()>::builder(PoolConfig::default())
        .on_wait(move |n: &u32| {
            let _ = seen_tx.send(*n);
        })
        .build(|n| async move {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok(n)
        })
        .unwrap();
    let completion = pool.submit(Some(1), 1).await.unwrap();
    assert_eq!(completion.await.unwrap(), 1);
    pool.close(None).await;
    assert!(
        seen.recv().await.is_none(),
        "the hook was dropped without a call"
    );
}

#[tokio::test(start_paused = true)]
async fn a_shortened_interval_applies_at_once() {
    let mut config = PoolConfig::default();
    config.keepalive_interval = Some(Duration::from_secs(3_600));
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(0));
    let handler_gate = gate.clone();
    let pool = KeyedPool::<u8, u32, u32, u32>::builder(config)
        .on_wait(move |n: &u32| {
            let _ = seen_tx.send(*n);
        })
        .build(move |n| {
            let gate = handler_gate.clone();
            async move {
                gate.acquire().await.unwrap().forget();
                Ok(n)
            }
        })
        .unwrap();
    let running = pool.submit(Some(1), 7).await.unwrap();
    pool.shorten_keepalive_interval(Duration::from_secs(1));
    assert_eq!(pool.keepalive_interval(), Some(Duration::from_secs(1)));
    // A longer one never lengthens it again.
    pool.shorten_keepalive_interval(Duration::from_secs(10));
    assert_eq!(pool.keepalive_interval(), Some(Duration::from_secs(1)));
    let first = tokio::time::timeout(Duration::from_secs(2), seen.recv()).await;
    assert_eq!(
        first.ok().flatten(),
        Some(7),
        "the hook ran within the new interval"
    );
    gate.add_permits(1);
    assert_eq!(running.await.unwrap(), 7);
    pool.close(None).await;
}
