//! Turning librdkafka errors into the transport's [`TransportError`].

use evbus_transport::{ErrorKind, TransportError};
use rdkafka::{error::KafkaError, types::RDKafkaErrorCode};

use crate::NAME;

/// The kind of a failed publish, from the delivery report's error code.
pub(crate) fn produce_kind(code: RDKafkaErrorCode) -> ErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        // The message may have reached the broker before its timer ran out,
        // or the broker failed while writing it (UNKNOWN_SERVER_ERROR), or
        // the client died of a fatal error with it in flight (it is then
        // replaced, so a retry goes through).
        C::MessageTimedOut | C::RequestTimedOut | C::PurgeInflight | C::Unknown | C::Fatal => {
            ErrorKind::OutcomeUnknown
        }
        C::UnknownTopic
        | C::UnknownTopicOrPartition
        | C::UnknownPartition
        | C::InvalidTopic
        | C::TopicAuthorizationFailed
        | C::Authentication
        | C::SaslAuthenticationFailed
        | C::InvalidRequest
        | C::PolicyViolation => ErrorKind::Rejected,
        C::MessageSizeTooLarge => ErrorKind::TooLarge,
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::NotLeaderForPartition
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend => ErrorKind::Disconnected,
        C::PurgeQueue => ErrorKind::Closed,
        _ => ErrorKind::Other,
    }
}

/// A publish that failed with `error` on `topic`.
pub(crate) fn produce_error(error: KafkaError, topic: &str) -> TransportError {
    let code = error.rdkafka_error_code();
    let kind = code.map_or(ErrorKind::Other, produce_kind);
    let message = match code {
        Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition) => {
            "the topic does not exist on the broker (topics are not created on publish: \
             configure them first, e.g. with the create-only strategy)"
                .to_owned()
        }
        Some(RDKafkaErrorCode::MessageTimedOut) => {
            "no acknowledgement within the publish timeout; the message may have been stored"
                .to_owned()
        }
        _ => format!("publish failed: {error}"),
    };
    TransportError::new(kind, NAME, message)
        .with_topic(topic)
        .with_source(error)
}

/// An error the consumer of `topic` reported while polling.
pub(crate) fn consume_error(error: KafkaError, topic: &str) -> TransportError {
    let code = error.rdkafka_error_code();
    let kind = code.map_or(ErrorKind::Other, produce_kind);
    let message = match code {
        Some(RDKafkaErrorCode::UnknownTopic | RDKafkaErrorCode::UnknownTopicOrPartition) => {
            format!(
                "`{topic}` does not exist on the broker: nothing is consumed until it is \
                 created ({error})"
            )
        }
        Some(RDKafkaErrorCode::TopicAuthorizationFailed) => {
            format!("not authorized to consume `{topic}` ({error})")
        }
        _ => format!("consuming `{topic}` failed: {error}"),
    };
    TransportError::new(kind, NAME, message)
        .with_topic(topic)
        .with_source(error)
}

/// A client that could not be created from the configuration.
pub(crate) fn config_error(error: KafkaError) -> TransportError {
    TransportError::new(
        ErrorKind::Config,
        NAME,
        format!("invalid client configuration: {error}"),
    )
    .with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_retryable_and_unknown_topics_are_not() {
        let timeout = produce_error(
            KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut),
            "t",
        );
        assert_eq!(timeout.kind(), ErrorKind::OutcomeUnknown);
        assert!(timeout.is_retryable());
        let missing = produce_error(
            KafkaError::MessageProduction(RDKafkaErrorCode::UnknownTopicOrPartition),
            "t",
        );
        assert_eq!(missing.kind(), ErrorKind::Rejected);
        assert!(missing.to_string().contains("does not exist"), "{missing}");
        assert_eq!(
            produce_kind(RDKafkaErrorCode::AllBrokersDown),
            ErrorKind::Disconnected
        );
    }
}
