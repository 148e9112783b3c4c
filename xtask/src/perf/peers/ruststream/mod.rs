//! ruststream 0.7 (crates `ruststream`, `ruststream-nats`,
//! `ruststream-rdkafka`, pinned in `xtask/Cargo.toml`), written the way its
//! guides show a service: an app (`RustStream`) with one subscriber per
//! topic whose handler takes the envelope decoded by the crate's default
//! JSON codec into a serde struct, on keyed lanes (`workers_by_key(n)`,
//! the mount-site spelling of `workers(n, by_key)`) keyed by the aggregate
//! id; messages published through the crate's own publisher (a sibling
//! task's publisher from `RunningApp::publisher`), encoded by the same
//! codec.
//!
//! What each broker adds (subscription descriptor, the key's header,
//! client settings) is in [`nats`] and [`kafka`]; their `settings` say it
//! for the report.

pub mod kafka;
pub mod nats;

use std::{num::NonZeroUsize, ops::Range, sync::Arc};

use anyhow::{Context as _, bail};
use evbus::{
    BusConfig, CodecKind,
    envelope::{CodecConfig, codec},
};
use futures::{StreamExt, TryStreamExt};
use ruststream::prelude::{
    CallerName, Context, Handle, HandlerOutcome, MessageHeaders, NoHeaders, OutgoingDestination,
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::perf::{
    side::pace,
    workload::{SERVICE, Schedule, Sink, Work, warmup},
};

/// The crate versions measured (the `=` pins of `xtask/Cargo.toml`).
pub const VERSIONS: &str = "ruststream 0.7.7, ruststream-nats 0.7.1, ruststream-rdkafka 0.7.1";

/// The peer's name in the report.
pub const NAME: &str = "ruststream 0.7 keyed lanes";

/// Keyed lanes per subscription: as many handlers as one evbus subscription
/// may run at once with the defaults (`pool.workers` x
/// `subscribe.pool_share`, 256 x 0.5).
pub fn lanes() -> NonZeroUsize {
    let config = BusConfig::default();
    let lanes = (config.pool.workers as f64 * config.subscribe.pool_share) as usize;
    NonZeroUsize::new(lanes).unwrap_or(NonZeroUsize::MIN)
}

/// The event as a ruststream user declares it: the fields of evbus's JSON
/// envelope (the Go SDK's), in its order, so the crate's JSON codec writes
/// exactly the bytes evbus's `go_json` codec writes (checked by
/// [`events_of`]).
#[derive(Debug, Serialize, Deserialize)]
pub struct Event {
    event_id: String,
    aggregate_id: String,
    event_type: String,
    event_version: i64,
    timestamp: String,
    payload: Box<RawValue>,
}

// `#[derive(Outgoing)]` with no `name`, by hand (the `macros` feature is
// not built): the call site names the destination, and no typed headers.
impl OutgoingDestination for Event {
    type Form = CallerName;
}

impl MessageHeaders for Event {
    type Contract = NoHeaders;
}

impl Event {
    /// The aggregate id: the lane key.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// The event id: the broker's deduplication id where it has one.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }
}

/// The events of `work` (built outside the timed part, as the envelopes
/// are for evbus), each checked to encode to the very bytes evbus's JSON
/// codec puts on the wire.
pub fn events_of(work: &Work) -> anyhow::Result<Vec<Event>> {
    work.envelopes.iter().map(event_of).collect()
}

/// A warm-up event (a fresh event id each time).
pub fn warmup_event() -> anyhow::Result<Event> {
    event_of(&warmup()?.0)
}

fn event_of(envelope: &evbus::Envelope) -> anyhow::Result<Event> {
    let json = codec(CodecKind::GoJson, &CodecConfig::new(SERVICE));
    let wire = json.encode(envelope)?.body;
    let event: Event = serde_json::from_slice(&wire).context("decoding evbus's JSON envelope")?;
    if serde_json::to_vec(&event)? != wire {
        bail!("the JSON codec does not write the bytes evbus writes for this envelope");
    }
    Ok(event)
}

/// The handler: evbus's, the order check after the same wait.
pub struct Check {
    sink: Arc<Sink>,
}

impl Check {
    pub fn new(sink: Arc<Sink>) -> Self {
        Self { sink }
    }
}

impl Handle<Event> for Check {
    async fn handle(
        &self,
        event: &Event,
        _outs: &(),
        _ctx: &mut Context<'_>,
    ) -> Result<(), HandlerOutcome> {
        if !self.sink.handler_sleep.is_zero() {
            tokio::time::sleep(self.sink.handler_sleep).await;
        }
        self.sink.record(&event.aggregate_id, event.event_version);
        Ok(())
    }
}

/// The events of one figure, for a side that publishes them.
#[derive(Clone)]
pub struct Events(Arc<Vec<Event>>);

impl Events {
    pub fn of(work: &Work) -> anyhow::Result<Self> {
        Ok(Self(Arc::new(events_of(work)?)))
    }

    /// The events of `range`, failing when they are not `work`'s.
    fn of_work(&self, work: &Work, range: Range<usize>) -> anyhow::Result<&[Event]> {
        if self.0.len() as u64 != work.len() {
            bail!(
                "the peer was built for {} events, the figure publishes {}",
                self.0.len(),
                work.len()
            );
        }
        Ok(&self.0[range])
    }
}

/// Publishes `events` through `publish`, `window` publishes at a time,
/// each resolving at the broker's acknowledgement (ruststream's publishers
/// resolve there and have no pipelined publish that keeps order), message
/// `index` not before its due time when a schedule is given. Concurrent
/// publishes are independent futures whose sends may reach the server in
/// any order: with 4,000 in flight over K = 1,000 aggregates, 90-109 of
/// 10,000 JetStream publishes per run were stored after a later version of
/// their aggregate. So callers pass a `window` of at most K: `buffered`
/// starts message i + K only after message i was acknowledged, so no
/// aggregate has two versions in flight.
pub async fn publish_windowed<'a, F, Fut>(
    events: &'a [Event],
    topics: &'a [usize],
    window: usize,
    schedule: Option<&'a Schedule>,
    publish: F,
) -> anyhow::Result<()>
where
    F: Fn(&'a Event, usize) -> Fut + 'a,
    Fut: Future<Output = anyhow::Result<()>> + 'a,
{
    let publish = &publish;
    futures::stream::iter(events.iter().zip(topics).enumerate())
        .map(|(index, (event, &topic))| async move {
            pace(schedule, index).await;
            publish(event, topic).await
        })
        .buffered(window)
        .try_collect::<()>()
        .await
}
