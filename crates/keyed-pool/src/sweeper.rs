//! One periodic task that calls the wait hook for every held item, so a
//! caller can keep broker leases alive without a timer per item.

use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::shared::Shared;

pub(crate) type WaitHook<T> = Arc<dyn Fn(&T) + Send + Sync>;

pub(crate) async fn run<K, T, O, E>(shared: Arc<Shared<K, T, O, E>>, hook: WaitHook<T>)
where
    K: Hash + Eq + Clone,
    T: Clone,
{
    loop {
        let interval = Duration::from_millis(shared.keepalive_ms.load(Ordering::Acquire));
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            // A shorter interval: wait again, by the new one.
            () = shared.keepalive_changed.notified() => continue,
            () = shared.stop_sweeper.cancelled() => return,
        }
        // Clone under the lock, call the hook after releasing it: the hook is
        // caller code and must not stall submitters and workers.
        let mut held = Vec::new();
        shared
            .lock()
            .for_each_queued(|item| held.push(item.clone()));
        for slot in shared.in_flight.iter() {
            if let Some(item) = slot.lock().as_ref() {
                held.push(item.clone());
            }
        }
        for item in &held {
            // A panicking hook must not end the keepalives of other items.
            let _ = std::panic::catch_unwind(AssertUnwindSafe(|| hook(item)));
        }
    }
}
