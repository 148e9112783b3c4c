//! Partitioned consumer groups: a topic's partitions spread over the live
//! members of a group, each partition consumed by one member at a time, in
//! order.
//!
//! Each partition has its own durable consumer (filtered on the partition's
//! subject) and its own lease in the group's KV bucket; a member pulls a
//! partition only while it holds the lease, and stops (ending the
//! partition's [`Ownership`](evbus_transport::ownership::Ownership)) one
//! tick before the lease could have expired at the server, so the next
//! owner never starts before the previous one stopped. See [`member`] for
//! the bucket's layout and the hand-over.

mod backlog;
mod member;
mod slot;
mod worker;

use std::sync::Arc;

use async_nats::jetstream::{
    context::{CreateKeyValueErrorKind, GetStreamByNameErrorKind},
    kv,
};
use async_trait::async_trait;
use evbus_transport::{
    Delivery, ErrorKind, Result, StartFrom, SubscribeOptions, Subscription,
    ownership::{OwnershipEvent, OwnershipEvents},
};
use futures::FutureExt;
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinHandle,
};

use crate::{error, mapping, pull::transport_closed, transport::Inner};

pub(crate) use backlog::backlog;
use member::{Member, Start};

/// Ownership events kept for a receiver that falls behind.
const EVENTS: usize = 1024;

/// Joins `group` on the partitioned `topic` of `partitions` partitions.
pub(crate) async fn subscribe(
    inner: &Arc<Inner>,
    topic: &str,
    group: &str,
    options: SubscribeOptions,
    partitions: u32,
) -> Result<Box<dyn Subscription>> {
    let unavailable = |error: async_nats::Error| {
        error::on_topic(
            ErrorKind::Disconnected,
            topic,
            "JetStream did not answer while joining the partitioned group",
        )
        .with_source(error)
    };
    let first_subject = mapping::partition_subject(topic, partitions, 0);
    let stream_name = match inner.jetstream.stream_by_subject(&first_subject).await {
        Ok(name) => name,
        Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => {
            return Err(error::no_stream(topic));
        }
        Err(err) => return Err(unavailable(err.into())),
    };
    let mut stream = inner
        .jetstream
        .get_stream(&stream_name)
        .await
        .map_err(|err| unavailable(err.into()))?;
    let start = match options.start_from {
        StartFrom::Latest => {
            let info = stream.info().await.map_err(|err| unavailable(err.into()))?;
            Start::From(info.state.last_sequence + 1)
        }
        _ => Start::All,
    };
    let kv = bucket(inner, &stream_name, group)
        .await
        .map_err(&unavailable)?;
    // The bucket's max_age is the lease, whoever created the bucket.
    let lease = kv
        .status()
        .await
        .map(|status| status.max_age())
        .map_err(|err| unavailable(err.into()))?;
    if lease < std::time::Duration::from_secs(1) {
        return Err(error::on_topic(
            ErrorKind::Config,
            topic,
            format!(
                "the lease bucket of group `{group}` has max_age {lease:?}; a partitioned group \
                 needs at least 1s: delete the bucket `{}`",
                mapping::group_bucket_name(&stream_name, group)
            ),
        ));
    }
    let me = inner
        .client
        .new_inbox()
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let (out, deliveries) = mpsc::channel(inner.config.fetch_batch);
    let (events, _) = broadcast::channel(EVENTS);
    let (stop, stop_rx) = watch::channel(false);
    let member = Member {
        inner: inner.clone(),
        kv,
        stream,
        stream_name,
        topic: Arc::from(topic),
        group: Arc::from(group),
        partitions,
        me,
        lease,
        start,
        out,
        events: events.clone(),
    };
    Ok(Box::new(PartitionedSubscription {
        topic: Arc::from(topic),
        group: group.to_owned(),
        deliveries,
        events,
        stop,
        member: Some(tokio::spawn(member.run(stop_rx))),
        closing: inner.closing.subscribe(),
    }))
}

/// The group's lease bucket, created with this member's lease when missing.
async fn bucket(inner: &Inner, stream: &str, group: &str) -> Result<kv::Store, async_nats::Error> {
    let name = mapping::group_bucket_name(stream, group);
    match inner.jetstream.get_key_value(&name).await {
        Ok(store) => return Ok(store),
        Err(err) if err.kind() == async_nats::jetstream::context::KeyValueErrorKind::GetBucket => {}
        Err(err) => return Err(err.into()),
    }
    let config = kv::Config {
        bucket: name.clone(),
        description: format!("evbus partitioned group `{group}` on stream `{stream}`"),
        history: 1,
        max_age: inner.config.partition_lease,
        storage: async_nats::jetstream::stream::StorageType::File,
        ..Default::default()
    };
    match inner.jetstream.create_key_value(config).await {
        Ok(store) => Ok(store),
        // Another member created it meanwhile.
        Err(err) if err.kind() == CreateKeyValueErrorKind::BucketCreate => {
            Ok(inner.jetstream.get_key_value(&name).await?)
        }
        Err(err) => Err(err.into()),
    }
}

/// A member of a partitioned group.
struct PartitionedSubscription {
    topic: Arc<str>,
    group: String,
    deliveries: mpsc::Receiver<Delivery>,
    events: broadcast::Sender<OwnershipEvent>,
    stop: watch::Sender<bool>,
    member: Option<JoinHandle<()>>,
    closing: watch::Receiver<bool>,
}

#[async_trait]
impl Subscription for PartitionedSubscription {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn group(&self) -> &str {
        &self.group
    }

    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        while out.is_empty() && max > 0 {
            let first = tokio::select! {
                biased;
                () = transport_closed(&mut self.closing) => return Ok(out),
                delivery = self.deliveries.recv() => delivery,
            };
            let Some(first) = first else {
                return Ok(out);
            };
            // A delivery of a partition no longer owned is dropped (a nak)
            // instead of being handled beside the new owner.
            let mut next = Some(first);
            while let Some(delivery) = next {
                if delivery.ack.fence().is_current() {
                    out.push(delivery);
                }
                if out.len() >= max {
                    break;
                }
                next = self.deliveries.recv().now_or_never().flatten();
            }
        }
        Ok(out)
    }

    fn ownership_events(&self) -> Option<OwnershipEvents> {
        Some(self.events.subscribe())
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        self.stop.send_replace(true);
        if let Some(member) = self.member.take() {
            // Queued deliveries go back at once, so the hand-over need not
            // wait for them.
            self.deliveries.close();
            while self.deliveries.recv().await.is_some() {}
            let _ = member.await;
        }
        Ok(())
    }
}

impl Drop for PartitionedSubscription {
    fn drop(&mut self) {
        // The member hands its partitions over in the background.
        self.stop.send_replace(true);
    }
}
