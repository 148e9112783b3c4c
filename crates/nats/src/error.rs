//! Translating async-nats errors into the transport's and the topic
//! engine's error types.

use async_nats::jetstream::{
    self,
    context::{PublishError, PublishErrorKind},
};
use evbus_topics::TopicsError;
use evbus_transport::{ErrorKind, TransportError};

use crate::{NAME, stream_probe::Verdict};

/// A transport error of `kind` on `topic`.
pub(crate) fn on_topic(kind: ErrorKind, topic: &str, message: impl Into<String>) -> TransportError {
    TransportError::new(kind, NAME, message).with_topic(topic)
}

/// The error of a topic that has no JetStream stream.
pub(crate) fn no_stream(topic: &str) -> TransportError {
    on_topic(
        ErrorKind::Rejected,
        topic,
        format!(
            "no JetStream stream stores subject `{topic}`: configure the topic first \
             (evbus_topics::configure with the create_only or create_or_update strategy, or a \
             stream created by an operator whose subjects include it), or register it as \
             ephemeral to use core NATS"
        ),
    )
}

/// The error of a publish no stream answered, as the JetStream API
/// explained it (see [`crate::stream_probe`]).
fn unanswered(topic: &str, verdict: Verdict, source: PublishError) -> TransportError {
    let message = match verdict {
        Verdict::Missing => return no_stream(topic),
        Verdict::Unreachable(stream) => format!(
            "stream `{stream}` stores this subject, but none of its replicas that can store \
             the message answered (its leader is down or across a network partition, or an \
             election is under way); nothing was stored: retry"
        ),
        Verdict::Unknown => "no JetStream stream answered, and the JetStream API did not \
                             answer within 1 s either: this server is most likely cut off \
                             from its cluster; nothing was stored: retry (if it lasts, check \
                             that a stream stores the subject)"
            .to_owned(),
    };
    on_topic(ErrorKind::Timeout, topic, message).with_source(source)
}

/// Maps a failed JetStream publish on an open transport (the caller
/// reports a closed one as closed); `verdict` says why no stream answered,
/// when none did.
pub(crate) fn publish(
    error: PublishError,
    topic: &str,
    verdict: Option<Verdict>,
) -> TransportError {
    let (kind, message) = match error.kind() {
        PublishErrorKind::StreamNotFound => {
            return unanswered(topic, verdict.unwrap_or(Verdict::Unknown), error);
        }
        PublishErrorKind::MaxPayloadExceeded => (
            ErrorKind::TooLarge,
            "the message exceeds the server's max_payload",
        ),
        PublishErrorKind::TimedOut => (
            ErrorKind::OutcomeUnknown,
            "no ack from JetStream within publish_timeout: the message may be stored; \
             republish it with the same dedup id",
        ),
        PublishErrorKind::BrokenPipe => (
            ErrorKind::OutcomeUnknown,
            "the connection dropped before JetStream's ack: the message may be stored",
        ),
        PublishErrorKind::WrongLastMessageId | PublishErrorKind::WrongLastSequence => {
            (ErrorKind::Rejected, "JetStream refused the message")
        }
        // The JetStream API's own refusals come with the server's reason as
        // source; anything else is the client failing to send.
        PublishErrorKind::Other
            if std::error::Error::source(&error).is_some_and(|s| s.is::<jetstream::Error>()) =>
        {
            (ErrorKind::Rejected, "JetStream refused the message")
        }
        PublishErrorKind::Other | PublishErrorKind::MaxAckPending => (
            ErrorKind::Disconnected,
            "the client could not send the message",
        ),
    };
    on_topic(kind, topic, message).with_source(error)
}

/// Whether a JetStream API error means "not there" (stream or consumer).
pub(crate) fn is_not_found(error: &jetstream::Error) -> bool {
    error.code() == 404
        || error.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
        || error.error_code() == jetstream::ErrorCode::CONSUMER_NOT_FOUND
}

/// Maps an admin request failure: a broker that did not answer is worth
/// retrying, a refusal is not.
pub(crate) fn admin(
    topic: &str,
    unavailable: bool,
    error: impl std::error::Error + Send + Sync + 'static,
) -> TopicsError {
    if unavailable {
        TopicsError::unavailable(topic, error)
    } else {
        TopicsError::broker(topic, error)
    }
}
