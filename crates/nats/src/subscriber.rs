//! Opening subscriptions: a durable pull consumer on the topic's stream for
//! JetStream topics, a queue subscription for core NATS topics.

use std::sync::Arc;

use async_nats::{
    Subscriber,
    jetstream::{
        consumer::{AckPolicy, DeliverPolicy, PriorityPolicy, pull},
        context::GetStreamByNameErrorKind,
        stream::ConsumerErrorKind,
    },
};
use async_trait::async_trait;
use evbus_transport::{
    AckHandle, Delivery, ErrorKind, Position, Result, StartFrom, SubscribeOptions, Subscription,
    TopicUse, TransportError,
};
use futures::{FutureExt, StreamExt};
use tokio::sync::watch;

use crate::{
    NAME,
    acker::CoreAcker,
    config::GroupMode,
    error, mapping,
    pull::{PIN_GROUP, PullShared, PullSubscription, PullTarget, transport_closed},
    topics::Mode,
    transport::Inner,
};

pub(crate) async fn subscribe(
    inner: &Arc<Inner>,
    topic: &str,
    group: &str,
    options: SubscribeOptions,
) -> Result<Box<dyn Subscription>> {
    inner.ensure_open()?;
    inner.validate_topic(topic, TopicUse::Subscribe)?;
    validate_group(topic, group)?;
    match inner.topics.mode(topic) {
        Mode::Core => subscribe_core(inner, topic, group).await,
        Mode::JetStream => match partitioned_mode(inner, topic)? {
            Some(partitions) => {
                crate::partitioned::subscribe(inner, topic, group, options, partitions).await
            }
            None => subscribe_jetstream(inner, topic, group, options).await,
        },
    }
}

/// The partition count when the group consumes `topic` in partitioned
/// mode: always on a partitioned topic (unless `shared`, refused there),
/// and on any topic when configured.
pub(crate) fn partitioned_mode(inner: &Inner, topic: &str) -> Result<Option<u32>> {
    let partitions = inner.topics.partitions(topic);
    match inner.config.group_mode {
        GroupMode::Partitioned => Ok(Some(partitions)),
        GroupMode::Shared if partitions > 1 => Err(error::on_topic(
            ErrorKind::Unsupported,
            topic,
            "a partitioned topic cannot be consumed in shared group mode: use group_mode \
             \"partitioned\" (or \"ordered\", which means partitioned on such a topic)",
        )),
        _ if partitions > 1 => Ok(Some(partitions)),
        _ => Ok(None),
    }
}

/// A group name becomes a queue group (core NATS) or a consumer name.
fn validate_group(topic: &str, group: &str) -> Result<()> {
    if group.is_empty() || !group.chars().all(|c| c.is_ascii_graphic()) {
        return Err(error::on_topic(
            ErrorKind::Config,
            topic,
            format!(
                "consumer group {group:?}: a NATS group name is 1 or more printable ASCII \
                 characters without spaces"
            ),
        ));
    }
    Ok(())
}

async fn subscribe_jetstream(
    inner: &Arc<Inner>,
    topic: &str,
    group: &str,
    options: SubscribeOptions,
) -> Result<Box<dyn Subscription>> {
    let config = &inner.config;
    let unavailable = |error: async_nats::Error| {
        error::on_topic(
            ErrorKind::Disconnected,
            topic,
            "JetStream did not answer while opening the subscription",
        )
        .with_source(error)
    };
    // The stream is found, never created: topics are created by the
    // configuration strategy only.
    let stream = match inner.jetstream.stream_by_subject(topic).await {
        Ok(stream) => stream,
        Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => {
            return Err(error::no_stream(topic));
        }
        Err(err) => return Err(unavailable(err.into())),
    };
    let ordered = config.group_mode == GroupMode::Ordered;
    if ordered && !inner.client.is_server_compatible(2, 11, 0) {
        return Err(error::on_topic(
            ErrorKind::Unsupported,
            topic,
            format!(
                "ordered group mode needs nats-server 2.11 or later (priority groups); the \
                 server is {}: upgrade it or use group_mode = \"shared\"",
                inner.client.server_info().version
            ),
        ));
    }
    let consumer_name = if stream == mapping::stream_name(&config.stream_prefix, topic) {
        mapping::durable_name(group)
    } else {
        mapping::durable_name_on_shared_stream(group, topic)
    };
    let wanted = pull::Config {
        durable_name: Some(consumer_name.clone()),
        description: Some(format!("evbus group `{group}` on `{topic}`")),
        filter_subject: topic.to_owned(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        // Unlimited: JetStream never stops delivering a message silently;
        // the facade decides when to give up and dead-letter it.
        max_deliver: -1,
        max_ack_pending: i64::try_from(config.max_ack_pending).unwrap_or(i64::MAX),
        deliver_policy: match options.start_from {
            StartFrom::Latest => DeliverPolicy::New,
            _ => DeliverPolicy::All,
        },
        priority_policy: if ordered {
            PriorityPolicy::PinnedClient
        } else {
            PriorityPolicy::None
        },
        priority_groups: if ordered {
            vec![PIN_GROUP.to_owned()]
        } else {
            Vec::new()
        },
        priority_timeout: if ordered {
            config.pinned_ttl
        } else {
            std::time::Duration::ZERO
        },
        ..Default::default()
    };
    let stream_handle = inner
        .jetstream
        .get_stream_no_info(&stream)
        .await
        .map_err(|err| unavailable(err.into()))?;
    let consumer = stream_handle
        .get_or_create_consumer(&consumer_name, wanted)
        .await
        .map_err(|err| match err.kind() {
            ConsumerErrorKind::TimedOut | ConsumerErrorKind::Request => unavailable(err.into()),
            _ => error::on_topic(
                ErrorKind::Rejected,
                topic,
                format!("JetStream refused consumer `{consumer_name}` on stream `{stream}`"),
            )
            .with_source(err),
        })?;
    let actual = &consumer.cached_info().config;
    if actual.filter_subject != topic {
        return Err(error::on_topic(
            ErrorKind::Config,
            topic,
            format!(
                "consumer `{consumer_name}` on stream `{stream}` exists but reads `{}`; \
                 delete it or use another group name",
                actual.filter_subject
            ),
        ));
    }
    // A consumer made elsewhere with other ack rules would confirm messages
    // still being handled (ack all) or stop redelivering silently (a finite
    // max_deliver): refuse it rather than weaken the guarantee.
    if actual.ack_policy != AckPolicy::Explicit || actual.max_deliver > 0 {
        return Err(error::on_topic(
            ErrorKind::Config,
            topic,
            format!(
                "consumer `{consumer_name}` on stream `{stream}` exists with ack policy {:?} and \
                 max_deliver {}; evbus needs explicit acks and unlimited deliveries (-1): delete \
                 it or use another group name",
                actual.ack_policy, actual.max_deliver
            ),
        ));
    }
    if ordered && config.pinned_ttl < actual.ack_wait + config.fetch_max_wait {
        tracing::warn!(
            topic, group, pinned_ttl = ?config.pinned_ttl, ack_wait = ?actual.ack_wait,
            "pinned_ttl is shorter than ack_wait + fetch_max_wait: if the active member \
             crashes, the standby may first receive newer messages of a key before the \
             crashed member's unsettled ones come back"
        );
    }
    let actual_ordered = actual.priority_policy == PriorityPolicy::PinnedClient;
    if actual_ordered != ordered {
        let mode = |ordered| if ordered { "ordered" } else { "shared" };
        return Err(error::on_topic(
            ErrorKind::Config,
            topic,
            format!(
                "group `{group}` exists in {} mode but this transport uses {} mode: use the same \
                 group_mode on every instance of the group, or a new group name",
                mode(actual_ordered),
                mode(ordered)
            ),
        ));
    }

    let inbox = inner.client.new_inbox();
    let messages = inner
        .client
        .subscribe(format!("{inbox}.*"))
        .await
        .map_err(|err| unavailable(err.into()))?;
    let api_prefix = "$JS.API";
    let shared = Arc::new(PullShared::new(
        inner.jetstream.clone(),
        // The consumer's own AckWait: it keeps the one it was created with.
        actual.ack_wait,
        ordered.then(|| format!("{api_prefix}.CONSUMER.UNPIN.{stream}.{consumer_name}")),
    ));
    if ordered {
        let mut pinned = inner.pinned.lock();
        pinned.retain(|weak| weak.strong_count() > 0);
        pinned.push(Arc::downgrade(&shared));
    }
    let target = PullTarget {
        topic: Arc::from(topic),
        group: group.to_owned(),
        next_subject: format!("{api_prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer_name}"),
        ordered,
        // A consumer made elsewhere may cap what one pull request asks for;
        // a request beyond the cap is refused at once (409), every time.
        batch: cap(config.fetch_batch, actual.max_batch),
        max_wait: if actual.max_expires.is_zero() {
            config.fetch_max_wait
        } else {
            config.fetch_max_wait.min(actual.max_expires)
        },
    };
    Ok(Box::new(PullSubscription::new(
        target,
        shared,
        messages,
        inbox,
        inner.closing.subscribe(),
    )))
}

async fn subscribe_core(
    inner: &Arc<Inner>,
    topic: &str,
    group: &str,
) -> Result<Box<dyn Subscription>> {
    let messages = inner
        .client
        .queue_subscribe(topic.to_owned(), group.to_owned())
        .await
        .map_err(|err| {
            error::on_topic(ErrorKind::Disconnected, topic, "subscribing failed").with_source(err)
        })?;
    Ok(Box::new(CoreSubscription {
        topic: Arc::from(topic),
        group: group.to_owned(),
        messages,
        closing: inner.closing.subscribe(),
        closed: false,
    }))
}

/// A member of a queue group on a core NATS subject: at-most-once.
struct CoreSubscription {
    topic: Arc<str>,
    group: String,
    messages: Subscriber,
    closing: watch::Receiver<bool>,
    closed: bool,
}

impl CoreSubscription {
    fn deliver(&self, message: async_nats::Message) -> Delivery {
        let (key, headers) = mapping::decode_headers(message.headers.as_ref());
        Delivery {
            topic: self.topic.clone(),
            key,
            headers,
            payload: message.payload,
            delivery_count: 1,
            position: Position::default(),
            // Core NATS stores nothing, so it keeps no timestamp.
            timestamp: None,
            ack: AckHandle::new(Arc::new(CoreAcker)),
        }
    }
}

#[async_trait]
impl Subscription for CoreSubscription {
    fn topic(&self) -> &str {
        &self.topic
    }

    fn group(&self) -> &str {
        &self.group
    }

    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        if max == 0 || self.closed || *self.closing.borrow() {
            return Ok(Vec::new());
        }
        let first = tokio::select! {
            biased;
            () = transport_closed(&mut self.closing) => None,
            message = self.messages.next() => message,
        };
        let Some(first) = first else {
            self.closed = true;
            return Ok(Vec::new());
        };
        let mut out = vec![self.deliver(first)];
        while out.len() < max {
            match self.messages.next().now_or_never() {
                Some(Some(message)) => out.push(self.deliver(message)),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        self.closed = true;
        self.messages.unsubscribe().await.map_err(|err| {
            TransportError::new(ErrorKind::Disconnected, NAME, "unsubscribing failed")
                .with_topic(&*self.topic)
                .with_source(err)
        })
    }
}

/// `wanted`, capped by a consumer limit where one is set (`limit > 0`).
fn cap(wanted: usize, limit: i64) -> usize {
    match usize::try_from(limit) {
        Ok(limit) if limit > 0 => wanted.min(limit),
        _ => wanted,
    }
}
