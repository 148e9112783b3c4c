//! The pool can be shared across tasks the way the evbus facade uses it.

use std::sync::Arc;

use evbus_keyed_pool::{KeyedPool, PoolConfig};

/// The facade's shape: a key of (subscription id, aggregate id) and a job
/// that carries its own handler.
type Job = Arc<dyn Fn() -> Result<u32, String> + Send + Sync>;
type FacadePool = KeyedPool<(u64, String), Job, u32, String>;

fn assert_send<T: Send>(_: &T) {}
fn assert_send_sync<T: Send + Sync>() {}

#[tokio::test]
async fn pool_and_its_futures_can_move_between_tasks() {
    assert_send_sync::<FacadePool>();
    let pool: Arc<FacadePool> =
        Arc::new(KeyedPool::new(PoolConfig::default(), |job: Job| async move { job() }).unwrap());
    let submit = pool.submit(Some((1, "order-1".to_owned())), Arc::new(|| Ok(7)));
    assert_send(&submit);
    let completion = submit.await.unwrap();
    assert_send(&completion);
    let from_task = tokio::spawn({
        let pool = pool.clone();
        async move {
            pool.submit(
                Some((1, "order-1".to_owned())),
                Arc::new(|| Err("no".to_owned())),
            )
            .await
            .unwrap()
            .await
        }
    });
    assert_eq!(completion.await.unwrap(), 7);
    assert!(from_task.await.unwrap().is_err());
    let close = pool.close(None);
    assert_send(&close);
    close.await;
}
