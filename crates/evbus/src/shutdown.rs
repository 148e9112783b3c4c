//! Closing a bus. The shutdown is owned by the bus, not by the caller of
//! [`close`](crate::EventBus::close): it runs as its own task, so a caller
//! that stops waiting (a timeout around `close`) does not stop it half-way,
//! and every later `close` waits for the same outcome.
//!
//! One deadline, [`BusConfig::close_timeout`](crate::BusConfig::close_timeout),
//! bounds the whole shutdown, and each phase has a share of it, so a broker
//! that is down cannot hold one phase (acks, commits, flushes waiting on a
//! reconnecting client) past the others' time: handlers get the first 3/5,
//! settling what they answered the next 1/5, flushing publishes and closing
//! the connection the rest. What is not settled in time is left unsettled,
//! and the broker redelivers it; a connection still closing at the deadline
//! finishes closing in the background.

use std::{sync::Arc, time::Duration};

use tokio::{sync::watch, time::Instant};

use crate::{
    bus::BusInner,
    error::{BusError, BusErrorKind, Result},
};

/// Where a bus is in its life.
#[derive(Debug, Clone)]
enum Phase {
    Open,
    /// Subscribing is refused; publishing still works (handlers publish
    /// while the pool drains).
    Closing,
    /// Every call fails with `Closed`; the shutdown's outcome is kept for
    /// every `close` that asks.
    Closed(Outcome),
}

/// How a shutdown ended: `None` for success, else what failed (a
/// [`BusError`] is not `Clone`, so each caller gets its own copy).
type Outcome = Option<(BusErrorKind, bool, String)>;

/// The bus's phase, shared by its handles and its shutdown task.
pub(crate) struct Lifecycle {
    phase: watch::Sender<Phase>,
}

impl Lifecycle {
    pub(crate) fn new() -> Self {
        Self {
            phase: watch::channel(Phase::Open).0,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Open)
    }

    pub(crate) fn is_closed(&self) -> bool {
        matches!(*self.phase.borrow(), Phase::Closed(_))
    }

    /// Moves from open to closing; `false` when a shutdown already began.
    fn begin(&self) -> bool {
        self.phase.send_if_modified(|phase| {
            let open = matches!(phase, Phase::Open);
            if open {
                *phase = Phase::Closing;
            }
            open
        })
    }

    fn finish(&self, result: &Result<()>) {
        let outcome = result
            .as_ref()
            .err()
            .map(|error| (error.kind(), error.is_retryable(), error.to_string()));
        self.phase.send_replace(Phase::Closed(outcome));
    }

    /// Waits for the shutdown's outcome. Cancel-safe: it only watches.
    async fn outcome(&self) -> Result<()> {
        let mut phase = self.phase.subscribe();
        let closed = phase
            .wait_for(|phase| matches!(phase, Phase::Closed(_)))
            .await;
        // The sender lives in the bus, which outlives this borrow, so the
        // wait only ends on a closed phase.
        match closed.map(|phase| phase.clone()) {
            Ok(Phase::Closed(Some((kind, retryable, message)))) => {
                Err(BusError::new(kind, message).with_retryable(retryable))
            }
            _ => Ok(()),
        }
    }
}

/// Starts the shutdown of `inner` unless one began already. Must run inside
/// a tokio runtime.
pub(crate) fn start(inner: &Arc<BusInner>) {
    if inner.lifecycle.begin() {
        let inner = inner.clone();
        tokio::spawn(async move {
            let result = run(&inner).await;
            inner.lifecycle.finish(&result);
        });
    }
}

/// Starts the shutdown (if no other call did) and waits for its outcome.
pub(crate) async fn close(inner: &Arc<BusInner>) -> Result<()> {
    start(inner);
    inner.lifecycle.outcome().await
}

/// The share of `total` a phase may have used when it ends.
fn share(total: Duration, fifths: u32) -> Duration {
    total * fifths / 5
}

async fn run(inner: &Arc<BusInner>) -> Result<()> {
    let began = Instant::now();
    let total = inner.config.close_timeout;
    let drained_by = began + share(total, 3);
    let settled_by = began + share(total, 4);
    let deadline = began + total;

    // The sampler and health tasks end first: nothing to sample or beat
    // about a bus that is going away.
    inner.ops.stop.cancel();
    let subscriptions = std::mem::take(&mut *inner.subscriptions.lock());
    for subscription in &subscriptions {
        subscription.stop();
    }
    let report = inner
        .pool
        .close(Some(drained_by.saturating_duration_since(Instant::now())))
        .await;
    if report.abandoned > 0 {
        tracing::warn!(
            abandoned = report.abandoned,
            "close deadline reached: unfinished messages will be redelivered"
        );
    }
    let mut unsettled = 0;
    for subscription in &subscriptions {
        if tokio::time::timeout_at(settled_by, subscription.join())
            .await
            .is_err()
        {
            // Its acks or commits wait on a broker that does not answer:
            // what it still holds is dropped unsettled, so redelivered.
            subscription.abort();
            subscription.join().await;
            unsettled += 1;
        }
    }
    if unsettled > 0 {
        tracing::warn!(
            subscriptions = unsettled,
            "close deadline reached while settling: what was not settled will be redelivered"
        );
    }
    let flushed = flush(inner, deadline).await;
    // Its own task: a connection that takes longer to close than the time
    // left (a Kafka client leaving its group) finishes closing in the
    // background rather than being cut off; nothing is lost by waiting less,
    // since everything was settled or given up and flushed before.
    let transport = inner.transport.clone();
    let closing = tokio::spawn(async move { transport.close().await });
    let closed = match tokio::time::timeout_at(deadline, closing).await {
        Ok(Ok(closed)) => closed.map_err(BusError::from),
        Ok(Err(failed)) => Err(BusError::new(
            BusErrorKind::Internal,
            format!("closing the connection failed: {failed}"),
        )),
        Err(_) => {
            tracing::warn!(
                ?total,
                "close_timeout passed while closing the connection; it goes on closing in \
                 the background"
            );
            Ok(())
        }
    };
    flushed?;
    closed
}

/// Sends queued detached publishes and waits for outstanding publishes, by
/// `deadline`. Publishes whose outcome is not known by then fail the close,
/// so the caller hears of them.
async fn flush(inner: &BusInner, deadline: Instant) -> Result<()> {
    let total = inner.config.close_timeout;
    if !inner.detached.close_by(deadline).await {
        let error = past_deadline(total, "sending queued detached publishes");
        inner.report(BusError::new(error.kind(), error.to_string()));
        return Err(error);
    }
    match tokio::time::timeout_at(deadline, inner.transport.flush()).await {
        Ok(flushed) => flushed.map_err(BusError::from),
        Err(_) => Err(past_deadline(total, "waiting for outstanding publishes")),
    }
}

fn past_deadline(total: Duration, doing: &str) -> BusError {
    BusError::new(
        BusErrorKind::Transport(evbus_transport::ErrorKind::Timeout),
        format!("close_timeout ({total:?}) passed while {doing}; their outcome is unknown"),
    )
}
