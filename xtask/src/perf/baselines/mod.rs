//! The raw clients each evbus figure is compared with. Each sends the same
//! wire bytes and headers as evbus (`Work::wires`, evbus's own encoding),
//! with the same window, batch, ack or commit cadence and client settings
//! as the evbus backend it is compared with; each module's `settings` says
//! which, and the report prints them.

pub mod kafka;
pub mod memory;
pub mod nats;

use std::future::Future;

use tokio::sync::mpsc;

use crate::perf::{
    side::pace,
    workload::{Schedule, Work},
};

/// Sends every message of `work` with `send(index)` (which returns the
/// message's ack future once the client took it, waiting while its window
/// is full) and awaits the acks in send order, both in the calling task,
/// the way evbus's transports pipeline a batch.
pub async fn pipeline<S, F, A>(
    work: &Work,
    schedule: Option<&Schedule>,
    send: S,
) -> anyhow::Result<()>
where
    S: Fn(usize) -> F,
    F: Future<Output = anyhow::Result<A>>,
    A: Future<Output = anyhow::Result<()>>,
{
    // Unbounded, yet never longer than the client's window: each entry
    // holds one of its in-flight slots.
    let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
    let send_all = async move {
        for index in 0..work.topics.len() {
            pace(schedule, index).await;
            let sent = send(index).await;
            let failed = sent.is_err();
            if sent_tx.send(sent).is_err() || failed {
                break;
            }
        }
    };
    let await_acks = async {
        while let Some(sent) = sent_rx.recv().await {
            sent?.await?;
        }
        anyhow::Ok(())
    };
    let ((), acked) = tokio::join!(send_all, await_acks);
    acked
}
