//! What crosses a transport: outgoing messages, receipts and broker positions.

use std::fmt;

use bytes::Bytes;

/// Transport headers: ordered `(name, value)` pairs, as sent.
///
/// A name may repeat; order is kept. Every transport carries them intact
/// (see [`crate::Capabilities::headers`]).
pub type Headers = Vec<(String, String)>;

/// Returns the first value of header `name` (exact, case-sensitive match).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A message to publish: bytes and headers, with the key that orders it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutgoingMessage {
    /// The ordering key (the aggregate id). Messages of one key are stored in
    /// publish order and delivered in that order. `None`: no order needed.
    pub key: Option<String>,
    /// Headers sent with the message.
    pub headers: Headers,
    /// The payload.
    pub payload: Bytes,
    /// An id the broker may use to drop a retried duplicate (the event id;
    /// NATS `Nats-Msg-Id`). Ignored by transports without publish dedup.
    pub dedup_id: Option<String>,
}

impl OutgoingMessage {
    /// A message with just a payload.
    pub fn new(payload: impl Into<Bytes>) -> Self {
        Self {
            payload: payload.into(),
            ..Self::default()
        }
    }

    /// Sets the ordering key.
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the dedup id.
    pub fn with_dedup_id(mut self, id: impl Into<String>) -> Self {
        self.dedup_id = Some(id.into());
        self
    }

    /// The bytes this message occupies on the wire as transports count it
    /// against their limits: payload, key, and header names and values.
    pub fn wire_size(&self) -> usize {
        self.payload.len()
            + self.key.as_ref().map_or(0, String::len)
            + self
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
    }
}

/// Where a message is stored on the broker.
///
/// NATS has one partition (`0`) and the offset is the stream sequence; Kafka
/// and the memory transport have real partitions and offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Position {
    /// The partition (0 where the broker has none).
    pub partition: u32,
    /// The offset or sequence number within the partition.
    pub offset: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.partition, self.offset)
    }
}

/// The broker's answer to a successful publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Where the message was stored.
    pub position: Position,
    /// The broker recognised the dedup id and did not store the message again.
    pub duplicate: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_size_counts_key_headers_and_payload() {
        let m = OutgoingMessage::new(vec![0u8; 10])
            .with_key("abc")
            .with_header("X-A", "12");
        assert_eq!(m.wire_size(), 10 + 3 + 3 + 2);
        assert_eq!(header(&m.headers, "X-A"), Some("12"));
        assert_eq!(header(&m.headers, "x-a"), None);
    }
}
