//! The header set every transport puts on a dead-lettered message, so a
//! dead-letter topic reads the same on every broker.

use std::time::SystemTime;

use time::{OffsetDateTime, format_description::well_known::Rfc3339};

use crate::message::{Headers, Position, header};

/// Header: the topic the message was consumed from.
pub const ORIGINAL_TOPIC: &str = "evbus-dlq-original-topic";
/// Header: the consumer group that gave up on it.
pub const GROUP: &str = "evbus-dlq-group";
/// Header: its partition on the original topic (0 where the broker has none).
pub const ORIGINAL_PARTITION: &str = "evbus-dlq-original-partition";
/// Header: its offset (Kafka, memory) or stream sequence (NATS).
pub const ORIGINAL_OFFSET: &str = "evbus-dlq-original-offset";
/// Header: why it was dead-lettered, one of [`Reason::as_str`].
pub const REASON: &str = "evbus-dlq-reason";
/// Header: the last error, as text.
pub const ERROR: &str = "evbus-dlq-error";
/// Header: how many times the handler ran (0 when it never could).
pub const ATTEMPTS: &str = "evbus-dlq-attempts";
/// Header: when the first attempt failed, RFC 3339 UTC.
pub const FIRST_FAILURE: &str = "evbus-dlq-first-failure";

/// Header: present when the dead letter carries only a prefix of the
/// original payload (the whole would have exceeded the broker's size limit);
/// its value is the original payload's length in bytes.
pub const TRUNCATED: &str = "evbus-dlq-truncated";

/// Header-name prefixes that direct how a broker stores a publish rather
/// than describe the message: JetStream's expectations (`Nats-Expected-*`),
/// dedup id, rollup and per-message TTL. Copied into a dead letter they
/// would make the broker refuse it (an expected stream or sequence of the
/// original topic), drop it as a duplicate, or purge the dead-letter topic.
const BROKER_DIRECTIVES: &[&str] = &["nats-expected-", "nats-msg-id", "nats-rollup", "nats-ttl"];

/// Whether header `name` directs how a broker stores a publish rather than
/// describing the message (JetStream's `Nats-Expected-*`, `Nats-Msg-Id`,
/// `Nats-Rollup`, `Nats-TTL`), and so must not be copied into a dead letter.
pub fn is_broker_directive(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    BROKER_DIRECTIVES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The longest error text carried in the [`ERROR`] header, in characters.
pub const MAX_ERROR_CHARS: usize = 1_000;

/// An error text every broker carries as a header value: control characters
/// (line breaks in a panic message, say) become spaces, surrounding spaces go,
/// and it is cut at [`MAX_ERROR_CHARS`]. NATS rejects CR/LF in header values,
/// and a dead letter that can never be published would hold its aggregate.
fn header_safe(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_CHARS)
        .collect();
    cleaned.trim().to_owned()
}

/// Why a message was dead-lettered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The handler failed on every attempt the retry policy allowed.
    HandlerFailed,
    /// The bytes could not be decoded into an envelope.
    Undecodable,
    /// The broker delivered it more often than the configured limit (it
    /// keeps crashing the consumer).
    DeliveryLimit,
}

impl Reason {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::HandlerFailed => "handler-failed",
            Reason::Undecodable => "undecodable",
            Reason::DeliveryLimit => "delivery-limit",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::HandlerFailed, Self::Undecodable, Self::DeliveryLimit]
            .into_iter()
            .find(|r| r.as_str() == value)
    }
}

/// Where a dead-lettered message came from and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The topic it was consumed from.
    pub original_topic: String,
    /// The consumer group that gave up on it.
    pub group: String,
    /// Its position on the original topic.
    pub position: Position,
    /// Why it was dead-lettered.
    pub reason: Reason,
    /// The last error.
    pub error: String,
    /// How many times the handler ran.
    pub attempts: u32,
    /// When the first attempt failed.
    pub first_failure: SystemTime,
}

impl DeadLetter {
    /// The headers to add to the message's own when publishing it to the
    /// dead-letter topic.
    pub fn to_headers(&self) -> Headers {
        let first_failure = OffsetDateTime::from(self.first_failure)
            .format(&Rfc3339)
            .unwrap_or_default();
        vec![
            (ORIGINAL_TOPIC.into(), self.original_topic.clone()),
            (GROUP.into(), self.group.clone()),
            (
                ORIGINAL_PARTITION.into(),
                self.position.partition.to_string(),
            ),
            (ORIGINAL_OFFSET.into(), self.position.offset.to_string()),
            (REASON.into(), self.reason.as_str().into()),
            (ERROR.into(), header_safe(&self.error)),
            (ATTEMPTS.into(), self.attempts.to_string()),
            (FIRST_FAILURE.into(), first_failure),
        ]
    }

    /// Reads the dead-letter headers back; `None` when any is missing or
    /// malformed.
    pub fn from_headers(headers: &[(String, String)]) -> Option<Self> {
        let first_failure =
            OffsetDateTime::parse(header(headers, FIRST_FAILURE)?, &Rfc3339).ok()?;
        Some(Self {
            original_topic: header(headers, ORIGINAL_TOPIC)?.to_owned(),
            group: header(headers, GROUP)?.to_owned(),
            position: Position {
                partition: header(headers, ORIGINAL_PARTITION)?.parse().ok()?,
                offset: header(headers, ORIGINAL_OFFSET)?.parse().ok()?,
            },
            reason: Reason::parse(header(headers, REASON)?)?,
            error: header(headers, ERROR)?.to_owned(),
            attempts: header(headers, ATTEMPTS)?.parse().ok()?,
            first_failure: first_failure.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn error_text_is_made_safe_for_every_broker() {
        let dead = DeadLetter {
            original_topic: "t".into(),
            group: "g".into(),
            position: Position::default(),
            reason: Reason::HandlerFailed,
            error: format!("  line one\r\nline two\t{}", "x".repeat(2_000)),
            attempts: 1,
            first_failure: SystemTime::UNIX_EPOCH,
        };
        let headers = dead.to_headers();
        let error = header(&headers, ERROR).unwrap();
        assert!(error.starts_with("line one  line two x"), "{error}");
        assert!(!error.chars().any(char::is_control));
        assert_eq!(error.chars().count(), MAX_ERROR_CHARS - 2);
    }

    #[test]
    fn headers_round_trip() {
        let dead = DeadLetter {
            original_topic: "orders".into(),
            group: "billing".into(),
            position: Position {
                partition: 3,
                offset: 42,
            },
            reason: Reason::HandlerFailed,
            error: "boom".into(),
            attempts: 3,
            first_failure: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        };
        let headers = dead.to_headers();
        assert_eq!(
            header(&headers, FIRST_FAILURE),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(DeadLetter::from_headers(&headers), Some(dead));
    }
}
