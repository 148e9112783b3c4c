//! The JetStream subscription: one durable pull consumer per (topic, group)
//! and one pull loop per subscription, driven by `next_batch`.
//!
//! Pull requests are sent on the wire format of the JetStream API
//! (`$JS.API.CONSUMER.MSG.NEXT`) rather than through async-nats's `fetch`:
//! `fetch` refuses pinned priority groups, subscribes a new inbox per call
//! and loses in-flight messages when its future is dropped, while one
//! long-lived inbox keeps `next_batch` cancel-safe and lets each request ask
//! for exactly the caller's free capacity.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use ahash::AHashSet;
use async_nats::{Client, StatusCode, Subject, Subscriber, header::NATS_PIN_ID};
use async_trait::async_trait;
use bytes::Bytes;
use evbus_transport::{
    AckHandle, Delivery, ErrorKind, Position, Result, Subscription, TransportError,
};
use futures::{FutureExt, StreamExt};
use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::{
    NAME,
    acker::JetStreamAcker,
    gaps::{self, GapGuard, Verdict},
    mapping,
};

/// The priority group every ordered-mode member pulls in.
pub(crate) const PIN_GROUP: &str = "evbus";

/// How long past its expiry a pull request may stay unanswered before it
/// is taken as lost (a connection drop eats the server's reply).
const LOST_REQUEST_GRACE: Duration = Duration::from_secs(1);

/// What a subscription shares with the ackers of its deliveries.
pub(crate) struct PullShared {
    pub(crate) client: Client,
    /// Only to read delivery metadata with async-nats's own parser.
    jetstream: async_nats::jetstream::Context,
    pub(crate) keep_alive_every: Duration,
    /// The consumer's AckWait: how long a delivery's lease runs.
    pub(crate) ack_wait: Duration,
    epoch: Instant,
    unpin_subject: Option<String>,
    state: Mutex<PullState>,
}

#[derive(Default)]
struct PullState {
    /// Stream sequences returned by `next_batch` and not settled yet.
    in_flight: AHashSet<u64>,
    /// The pin this member holds in an ordered group.
    pin_id: Option<String>,
    /// When the last pull request expires at the server.
    request_expiry: Option<tokio::time::Instant>,
    closed: bool,
}

impl PullShared {
    pub(crate) fn new(
        jetstream: async_nats::jetstream::Context,
        ack_wait: Duration,
        unpin_subject: Option<String>,
    ) -> Self {
        Self {
            client: jetstream.client(),
            jetstream,
            keep_alive_every: ack_wait / 3,
            ack_wait,
            epoch: Instant::now(),
            unpin_subject,
            state: Mutex::new(PullState::default()),
        }
    }

    pub(crate) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Queues a publish without waiting; `false` when the client's queue is
    /// full or closed. For the callers that must not block.
    pub(crate) fn send_now(&self, subject: Subject, payload: Bytes) -> bool {
        matches!(
            self.client.publish(subject, payload).now_or_never(),
            Some(Ok(()))
        )
    }

    /// A delivery was settled (or abandoned).
    pub(crate) fn settled(&self, sequence: u64) {
        let mut state = self.state.lock();
        state.in_flight.remove(&sequence);
        self.hand_over_if_done(&mut state);
    }

    /// When the last pull request of a member holding a pin expires: until
    /// then the server could pin the group to it again.
    pub(crate) fn pinned_request_expiry(&self) -> Option<tokio::time::Instant> {
        let state = self.state.lock();
        state.pin_id.as_ref().and(state.request_expiry)
    }

    /// Stops the member: once its last delivery is settled, its pin (if it
    /// holds one) is released so a standby member takes over at once
    /// instead of after `pinned_ttl`.
    pub(crate) fn close(&self) {
        let mut state = self.state.lock();
        state.closed = true;
        self.hand_over_if_done(&mut state);
    }

    fn hand_over_if_done(&self, state: &mut PullState) {
        if !state.closed || !state.in_flight.is_empty() {
            return;
        }
        let (Some(subject), Some(_)) = (&self.unpin_subject, state.pin_id.take()) else {
            return;
        };
        let request = serde_json::json!({ "group": PIN_GROUP }).to_string();
        let sent = self
            .client
            .publish_with_reply(subject.clone(), self.client.new_inbox(), request.into())
            .now_or_never();
        if !matches!(sent, Some(Ok(()))) {
            tracing::debug!("could not release the group's pin; it expires after pinned_ttl");
        }
    }
}

/// A pull request on the wire (ADR-13, with ADR-42's priority group fields).
#[derive(Serialize)]
struct PullRequest<'a> {
    batch: usize,
    /// Nanoseconds.
    expires: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
}

/// The pull request waiting for messages.
struct Outstanding {
    reply: String,
    remaining: usize,
    deadline: tokio::time::Instant,
}

/// Where a subscription pulls from and how much.
pub(crate) struct PullTarget {
    pub(crate) topic: Arc<str>,
    pub(crate) group: String,
    /// `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`.
    pub(crate) next_subject: String,
    pub(crate) ordered: bool,
    pub(crate) batch: usize,
    pub(crate) max_wait: Duration,
}

/// A member of a consumer group on a JetStream topic.
pub(crate) struct PullSubscription {
    target: PullTarget,
    shared: Arc<PullShared>,
    /// Replies to this subscription's pull requests: `<inbox>.<n>`;
    /// `None` once unsubscribed.
    messages: Option<Subscriber>,
    inbox: String,
    requests: u64,
    outstanding: Option<Outstanding>,
    /// Messages received beyond what the caller asked for (after a
    /// cancelled call), handed out first by the next call.
    overflow: VecDeque<async_nats::Message>,
    /// In an ordered group, where this member receives every delivery
    /// while it holds the pin: lost deliveries come again before newer ones.
    gaps: Option<GapCheck>,
    /// An error status that came after deliveries of the same call: those
    /// were handed out first, the error is the next call's.
    deferred: Option<TransportError>,
    closing: watch::Receiver<bool>,
    closed: bool,
}

impl PullSubscription {
    pub(crate) fn new(
        target: PullTarget,
        shared: Arc<PullShared>,
        messages: Subscriber,
        inbox: String,
        closing: watch::Receiver<bool>,
    ) -> Self {
        let gaps = target.ordered.then(|| {
            let (naks, queued) = mpsc::unbounded_channel();
            tokio::spawn(send_naks(shared.client.clone(), queued));
            GapCheck {
                guard: GapGuard::new(shared.ack_wait),
                pin: None,
                naks,
            }
        });
        Self {
            gaps,
            deferred: None,
            target,
            shared,
            messages: Some(messages),
            inbox,
            requests: 0,
            outstanding: None,
            overflow: VecDeque::new(),
            closing,
            closed: false,
        }
    }

    fn is_closed(&self) -> bool {
        self.closed || *self.closing.borrow()
    }

    async fn request(&mut self, batch: usize) -> Result<()> {
        self.requests += 1;
        let reply = format!("{}.{}", self.inbox, self.requests);
        let pin_id = {
            let mut state = self.shared.state.lock();
            state.request_expiry = Some(tokio::time::Instant::now() + self.target.max_wait);
            state.pin_id.clone()
        };
        let request = PullRequest {
            batch,
            expires: u64::try_from(self.target.max_wait.as_nanos()).unwrap_or(u64::MAX),
            group: self.target.ordered.then_some(PIN_GROUP),
            id: pin_id,
        };
        let payload = serde_json::to_vec(&request).map_err(|error| {
            TransportError::new(ErrorKind::Other, NAME, "encoding a pull request")
                .with_source(error)
        })?;
        self.shared
            .client
            .publish_with_reply(
                self.target.next_subject.clone(),
                reply.clone(),
                payload.into(),
            )
            .await
            .map_err(|error| {
                TransportError::new(ErrorKind::Disconnected, NAME, "sending a pull request")
                    .with_topic(&*self.target.topic)
                    .with_source(error)
            })?;
        self.outstanding = Some(Outstanding {
            reply,
            remaining: batch,
            deadline: tokio::time::Instant::now() + self.target.max_wait + LOST_REQUEST_GRACE,
        });
        Ok(())
    }

    /// Handles one reply: a message becomes a delivery (or overflow), a
    /// status ends its pull request.
    fn on_reply(
        &mut self,
        message: async_nats::Message,
        out: &mut Vec<Delivery>,
        max: usize,
    ) -> Result<()> {
        match message.status {
            None | Some(StatusCode::OK) => {
                if let Some(outstanding) = &mut self.outstanding {
                    outstanding.remaining = outstanding.remaining.saturating_sub(1);
                    if outstanding.remaining == 0 {
                        self.outstanding = None;
                    }
                }
                if !self.in_order(&message) {
                    return Ok(());
                }
                if out.len() < max {
                    if let Some(delivery) = self.deliver(message) {
                        out.push(delivery);
                    }
                } else {
                    self.overflow.push_back(message);
                }
                Ok(())
            }
            Some(StatusCode::IDLE_HEARTBEAT) => Ok(()),
            Some(status) => {
                // A status ends the request it answers; one for an older
                // request (already given up on) changes nothing.
                let current = self
                    .outstanding
                    .as_ref()
                    .is_some_and(|o| o.reply == message.subject.as_str());
                if current {
                    self.outstanding = None;
                }
                self.on_status(status, message.description.as_deref())
            }
        }
    }

    fn on_status(&mut self, status: StatusCode, description: Option<&str>) -> Result<()> {
        let topic = &*self.target.topic;
        match status {
            StatusCode::TIMEOUT | StatusCode::NOT_FOUND => Ok(()),
            StatusCode::PIN_ID_MISMATCH => {
                // Another member holds the group: wait on standby.
                self.shared.state.lock().pin_id = None;
                if let Some(check) = &mut self.gaps {
                    check.pin = None;
                }
                Ok(())
            }
            // Transient while a server restarts or a cluster elects a
            // leader; lasting when the stream or consumer was deleted.
            StatusCode::NO_RESPONDERS => Err(TransportError::new(
                ErrorKind::Disconnected,
                NAME,
                format!(
                    "the consumer of group `{}` does not answer: its stream or consumer was \
                     deleted (or JetStream is unavailable)",
                    self.target.group
                ),
            )
            .with_topic(topic)),
            _ if description == Some("Consumer Deleted") => Err(TransportError::new(
                ErrorKind::Rejected,
                NAME,
                format!("the consumer of group `{}` was deleted", self.target.group),
            )
            .with_topic(topic)),
            StatusCode::REQUEST_TERMINATED => self.on_refused_request(description),
            _ => {
                tracing::debug!(%status, ?description, topic, "pull request ended");
                Ok(())
            }
        }
    }

    /// A 409 refusing a pull request. A batch above the consumer's
    /// `max_batch` (changed since subscribing) is lowered and asked again;
    /// anything else is returned as an error, so the caller hears of it and
    /// backs off instead of re-requesting in a spin.
    fn on_refused_request(&mut self, description: Option<&str>) -> Result<()> {
        let description = description.unwrap_or("no description");
        if let Some(max_batch) = description
            .strip_prefix("Exceeded MaxRequestBatch of ")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .filter(|n| *n > 0 && *n < self.target.batch)
        {
            tracing::warn!(topic = &*self.target.topic, group = %self.target.group, max_batch,
                "the group's consumer caps pull requests: asking for fewer messages at once");
            self.target.batch = max_batch;
            return Ok(());
        }
        // Passing while a server restarts or a leader moves.
        let passing = [
            "Leadership Change",
            "Server Shutdown",
            "Exceeded MaxWaiting",
        ]
        .iter()
        .any(|prefix| description.starts_with(prefix));
        let kind = if passing {
            ErrorKind::Disconnected
        } else {
            ErrorKind::Rejected
        };
        Err(TransportError::new(
            kind,
            NAME,
            format!(
                "JetStream refused a pull request of group `{}`: {description}",
                self.target.group
            ),
        )
        .with_topic(&*self.target.topic))
    }

    /// Turns a message into a delivery, or drops it when it is a
    /// redelivered copy of one still being worked on here.
    fn deliver(&mut self, message: async_nats::Message) -> Option<Delivery> {
        let reply = message.reply.clone()?;
        let info = async_nats::jetstream::Message {
            message,
            context: self.shared.jetstream.clone(),
        };
        let (sequence, delivered, published) = match info.info() {
            Ok(info) => (info.stream_sequence, info.delivered, info.published),
            Err(error) => {
                tracing::warn!(%error, topic = &*self.target.topic, "not a JetStream delivery; dropped");
                return None;
            }
        };
        let message = info.message;
        {
            let mut state = self.shared.state.lock();
            if !state.in_flight.insert(sequence) {
                tracing::debug!(
                    sequence,
                    topic = &*self.target.topic,
                    "dropped a redelivered copy of a message still in flight"
                );
                return None;
            }
        }
        let (key, headers) = mapping::decode_headers(message.headers.as_ref());
        let acker = JetStreamAcker::new(self.shared.clone(), reply, sequence);
        Some(Delivery {
            topic: self.target.topic.clone(),
            key,
            headers,
            payload: message.payload,
            delivery_count: u32::try_from(delivered).unwrap_or(u32::MAX),
            position: Position {
                partition: 0,
                offset: sequence,
            },
            timestamp: Some(published.into()),
            ack: AckHandle::new(Arc::new(acker)),
        })
    }

    /// Whether a delivery may be handed out now; if not, it was given back
    /// to come again after deliveries lost before it (see [`gaps`]).
    fn in_order(&mut self, message: &async_nats::Message) -> bool {
        let (Some(check), Some(reply)) = (&mut self.gaps, &message.reply) else {
            return true;
        };
        // The pin this member holds, for its pull requests; a new one means
        // a new consumer leader or a pin that moved here. Compared with the
        // check's own copy, so the shared state is locked only on a change.
        if let Some(pin) = message.headers.as_ref().and_then(|h| h.get(NATS_PIN_ID))
            && check.pin.as_deref() != Some(pin.as_str())
        {
            check.pin = Some(pin.as_str().to_owned());
            self.shared.state.lock().pin_id = check.pin.clone();
            check.guard.pin_changed();
        }
        let Some(sequences) = gaps::sequences(reply) else {
            return true;
        };
        match check
            .guard
            .on_delivery(sequences, tokio::time::Instant::now())
        {
            Verdict::Hand => true,
            Verdict::GiveBack(delay) => {
                check.nak_in_order(reply.clone(), Some(delay));
                false
            }
            Verdict::Lost(lost) => {
                tracing::warn!(
                    topic = &*self.target.topic,
                    group = %self.target.group,
                    count = lost.len(),
                    from = lost.first(),
                    to = lost.last(),
                    "deliveries were lost on the way (a consumer leader failed?): asking for \
                     them again before newer messages"
                );
                for stream in lost {
                    if let Some(subject) = gaps::ack_subject_of(reply, stream) {
                        check.nak_in_order(subject.into(), None);
                    }
                }
                check.nak_in_order(reply.clone(), Some(gaps::FIRST_GIVE_BACK));
                false
            }
        }
    }

    /// Naks a message that was received but will not be handed out.
    fn give_back(&self, message: &async_nats::Message) {
        if let Some(reply) = &message.reply {
            self.shared.send_now(
                reply.clone(),
                async_nats::jetstream::AckKind::Nak(None).into(),
            );
        }
    }
}

#[async_trait]
impl Subscription for PullSubscription {
    fn topic(&self) -> &str {
        &self.target.topic
    }

    fn group(&self) -> &str {
        &self.target.group
    }

    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let mut out = Vec::new();
        if max == 0 {
            return Ok(out);
        }
        // `out` is empty at every await below, so a cancelled call drops no
        // delivery: what arrives later waits in the inbox or in `overflow`.
        loop {
            if self.is_closed() {
                return Ok(Vec::new());
            }
            while out.len() < max {
                let Some(message) = self.overflow.pop_front() else {
                    break;
                };
                if let Some(delivery) = self.deliver(message) {
                    out.push(delivery);
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
            if let Some(error) = self.deferred.take() {
                return Err(error);
            }
            if self.outstanding.is_none() {
                self.request(max.min(self.target.batch)).await?;
            }
            let deadline = self
                .outstanding
                .as_ref()
                .map_or_else(tokio::time::Instant::now, |o| o.deadline);
            tokio::select! {
                biased;
                () = transport_closed(&mut self.closing) => {}
                reply = next_reply(&mut self.messages) => match reply {
                    Some(reply) => self.on_reply(reply, &mut out, max)?,
                    None => {
                        self.closed = true;
                        return Ok(Vec::new());
                    }
                },
                () = tokio::time::sleep_until(deadline) => {
                    self.outstanding = None;
                }
            }
            // Hand out what has already arrived instead of waiting for the
            // batch to fill: latency stays low and the request keeps running.
            while out.len() < max {
                let Some(Some(reply)) = next_reply(&mut self.messages).now_or_never() else {
                    break;
                };
                if let Err(error) = self.on_reply(reply, &mut out, max) {
                    if out.is_empty() {
                        return Err(error);
                    }
                    // A status such as a 409 "Server Shutdown" right behind
                    // messages of the same request: dropping those would
                    // leave them unsettled until AckWait, and an ordered
                    // group would handle newer messages first.
                    self.deferred = Some(error);
                    break;
                }
            }
            if !out.is_empty() {
                return Ok(out);
            }
        }
    }

    async fn close(mut self: Box<Self>) -> Result<()> {
        self.closed = true;
        // Let the last pull request end (it expires within max_wait) and
        // give back what it still brings, so the group need not wait for
        // AckWait to see those messages again.
        while let Some(outstanding) = &self.outstanding {
            if *self.closing.borrow() {
                break;
            }
            let deadline = outstanding.deadline;
            let reply = tokio::select! {
                reply = next_reply(&mut self.messages) => reply,
                () = tokio::time::sleep_until(deadline) => None,
            };
            let Some(reply) = reply else {
                break;
            };
            let mut none = Vec::new();
            // A status here only ends the request; there is no caller left
            // to report it to.
            let _ = self.on_reply(reply, &mut none, 0);
        }
        self.release();
        Ok(())
    }
}

impl PullSubscription {
    /// Gives back undelivered messages, unsubscribes, then releases the
    /// group's pin: in that order, so the server cannot pin the group to a
    /// pull request of this member that is still waiting.
    fn release(&mut self) {
        for message in std::mem::take(&mut self.overflow) {
            self.give_back(&message);
        }
        drop(self.messages.take());
        self.shared.close();
    }
}

/// Resolves once the transport is closed; never when the transport was
/// dropped without closing (the subscription keeps the connection).
pub(crate) async fn transport_closed(closing: &mut watch::Receiver<bool>) {
    if closing.wait_for(|closed| *closed).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// An ordered group's gap guard and the queue of its naks.
struct GapCheck {
    guard: GapGuard,
    /// The pin of the last delivery: a copy of `PullState::pin_id`, reset
    /// with it on standby.
    pin: Option<String>,
    /// Sent in order by [`send_naks`].
    naks: mpsc::UnboundedSender<Nak>,
}

/// One nak of the gap check.
struct Nak {
    subject: Subject,
    delay: Option<Duration>,
}

impl GapCheck {
    /// Queues a nak behind the ones before it: lost messages are asked for
    /// at once (no delay), before the delivery that revealed them is given
    /// back for a while (see [`gaps`]), and none may be dropped. The queue
    /// is gone only once the connection closed; AckWait then redelivers.
    fn nak_in_order(&self, subject: Subject, delay: Option<Duration>) {
        let _ = self.naks.send(Nak { subject, delay });
    }
}

/// Sends the gap check's naks one after another, each awaited. Queued with
/// `send_now`, they were dropped when the client's queue was full, which is
/// right after a reconnect, when deliveries get lost: the lost messages
/// then came back only after AckWait, after newer ones (issue 17's rolling
/// restart and follower kill). Ends when the subscription is dropped and
/// its naks are sent, or when the connection is closed (AckWait then
/// redelivers what was not naked).
async fn send_naks(client: Client, mut naks: mpsc::UnboundedReceiver<Nak>) {
    while let Some(Nak { subject, delay }) = naks.recv().await {
        let nak = async_nats::jetstream::AckKind::Nak(delay).into();
        if client.publish(subject, nak).await.is_err() {
            return;
        }
    }
}

/// The next reply, or `None` once unsubscribed or ended.
async fn next_reply(messages: &mut Option<Subscriber>) -> Option<async_nats::Message> {
    match messages {
        Some(messages) => messages.next().await,
        None => None,
    }
}

impl Drop for PullSubscription {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(all(test, feature = "testkit"))]
mod tests {
    use std::io::{BufRead, BufReader, Write};

    use super::*;
    use crate::testkit::NatsServer;

    /// Writes `wire` (raw NATS protocol) on a connection of its own and
    /// waits for the server's PONG, so everything before it was routed.
    fn send_raw(port: u16, wire: &str) {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        let connect = "CONNECT {\"verbose\":false,\"headers\":true,\"no_responders\":true}\r\n";
        write!(writer, "{connect}{wire}PING\r\n").expect("write");
        let mut line = String::new();
        while !line.starts_with("PONG") {
            line.clear();
            reader.read_line(&mut line).expect("read");
        }
    }

    /// Three deliveries of a pull request with a 409 right behind them, as
    /// a consumer leader that shuts down sends them: the three are handed
    /// out, then the error. `next_batch` used to return the error and drop
    /// the three, which stayed unsettled until AckWait while newer messages
    /// were handled (issue 17's rolling restart, finding 4).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deliveries_before_an_error_status_are_handed_out_before_it() {
        use async_nats::jetstream::{consumer::pull, stream};

        let server = NatsServer::start().expect("nats-server (see the crate README)");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let jetstream = async_nats::jetstream::new(client.clone());
        let stream = jetstream
            .create_stream(stream::Config {
                name: "S".into(),
                subjects: vec!["s".into()],
                ..Default::default()
            })
            .await
            .expect("stream");
        for n in 1..=3 {
            jetstream
                .publish("s", format!("m{n}").into())
                .await
                .expect("publish")
                .await
                .expect("stored");
        }
        stream
            .create_consumer(pull::Config {
                durable_name: Some("C".into()),
                ..Default::default()
            })
            .await
            .expect("consumer");
        let inbox = client.new_inbox();
        let messages = client
            .subscribe(format!("{inbox}.*"))
            .await
            .expect("subscribe");
        // The subscription's first pull request will carry reply `<inbox>.1`:
        // its answer is made to wait in the inbox before it asks, so one
        // call sees the three deliveries and the status together.
        let reply = format!("{inbox}.1");
        // Seeing the deliveries on a second subscription of the same
        // connection means the first one has them queued too.
        let mut probe = client.subscribe(reply.clone()).await.expect("subscribe");
        client
            .publish_with_reply(
                "$JS.API.CONSUMER.MSG.NEXT.S.C",
                reply.clone(),
                r#"{"batch":3}"#.into(),
            )
            .await
            .expect("pull request");
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(10), probe.next())
                .await
                .expect("the three deliveries within 10 s");
        }
        drop(probe);
        let status = "NATS/1.0 409 Server Shutdown\r\n\r\n";
        send_raw(
            server.port(),
            &format!("HPUB {reply} {0} {0}\r\n{status}\r\n", status.len()),
        );
        // Our connection's PONG comes after what the server routed to it.
        client.flush().await.expect("flush");

        let shared = Arc::new(PullShared::new(jetstream, Duration::from_secs(30), None));
        let (_closing, closing) = watch::channel(false);
        let target = PullTarget {
            topic: "t".into(),
            group: "g".into(),
            next_subject: "nobody.answers".into(),
            ordered: false,
            batch: 10,
            max_wait: Duration::from_secs(5),
        };
        let mut subscription = PullSubscription::new(target, shared, messages, inbox, closing);
        let batch = subscription
            .next_batch(10)
            .await
            .expect("the deliveries first, not the error");
        let payloads: Vec<_> = batch.iter().map(|d| d.payload.clone()).collect();
        assert_eq!(payloads, ["m1", "m2", "m3"]);
        let error = subscription.next_batch(10).await.expect_err("then the 409");
        assert!(error.to_string().contains("Server Shutdown"), "{error}");
    }
}
