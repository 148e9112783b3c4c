//! How topics, groups, keys and headers map onto NATS: subjects, stream and
//! consumer names, and the message headers evbus adds.
//!
//! | evbus | NATS |
//! |---|---|
//! | topic `orders.created` | subject `orders.created` (the topic itself) |
//! | persistent topic | stream [`stream_name`]`("EVBUS_", topic)` with `subjects = [topic]` |
//! | consumer group `billing` | durable pull consumer [`durable_name`]`("billing")`, filtered on the topic's subject |
//! | key | header `Evbus-Key` |
//! | dedup id | header `Nats-Msg-Id` (JetStream's duplicate window) |
//! | header order | header `Evbus-Headers` (NATS headers are a map) |

use async_nats::{HeaderMap, header::HeaderName};
use evbus_transport::{ErrorKind, Headers, Result, TransportError};

use crate::NAME;

/// Header carrying the message's key.
pub const KEY_HEADER: &str = "Evbus-Key";
/// Header listing the names of the user's headers in their original order,
/// separated by spaces (header names cannot contain spaces).
pub const ORDER_HEADER: &str = "Evbus-Headers";
/// JetStream's dedup header.
const MSG_ID_HEADER: &str = "Nats-Msg-Id";
/// Header the server adds to deliveries of a pinned priority group.
const PIN_ID_HEADER: &str = "Nats-Pin-Id";

/// The longest stream or consumer name created (JetStream's limit is 255;
/// names also become file names in the server's store).
const MAX_NAME_LEN: usize = 200;

/// The JetStream stream name of `topic`: `prefix` followed by the topic, with
/// every character other than ASCII letters, digits, `_` and `-` replaced by
/// `_`. When anything was replaced (or the name would exceed 200
/// characters) an 8-hex-digit FNV-1a hash of the topic is appended, so two
/// topics never share a stream.
///
/// ```
/// use evbus_nats::mapping::stream_name;
///
/// assert_eq!(stream_name("EVBUS_", "orders"), "EVBUS_orders");
/// assert_eq!(stream_name("EVBUS_", "orders.created"), "EVBUS_orders_created_4a7571d2");
/// assert_ne!(stream_name("EVBUS_", "orders.created"), stream_name("EVBUS_", "orders_created"));
/// ```
pub fn stream_name(prefix: &str, topic: &str) -> String {
    format!("{prefix}{}", safe_name(topic, MAX_NAME_LEN - prefix.len()))
}

/// The subject of partition `partition` of a topic with `partitions`
/// partitions: `<topic>.p.<partition>`, or the topic itself when it is not
/// partitioned. A partitioned topic's stream lists these subjects.
///
/// ```
/// use evbus_nats::mapping::partition_subject;
///
/// assert_eq!(partition_subject("orders", 12, 3), "orders.p.3");
/// assert_eq!(partition_subject("orders", 1, 0), "orders");
/// ```
pub fn partition_subject(topic: &str, partitions: u32, partition: u32) -> String {
    if partitions > 1 {
        format!("{topic}.p.{partition}")
    } else {
        topic.to_owned()
    }
}

/// The partition count a stream's subjects say `topic` has: `n` when they
/// are exactly the subjects of [`partition_subject`] for `n > 1` partitions.
pub fn partitions_of(topic: &str, subjects: &[String]) -> Option<u32> {
    let count = u32::try_from(subjects.len()).ok().filter(|n| *n > 1)?;
    (0..count)
        .all(|p| subjects.contains(&partition_subject(topic, count, p)))
        .then_some(count)
}

/// The durable consumer name of partition `partition` of consumer group
/// `group` in partitioned mode.
pub fn partition_durable_name(group: &str, topic: &str, partition: u32) -> String {
    safe_name(&format!("{group}__{topic}__p{partition}"), MAX_NAME_LEN)
}

/// The KV bucket holding the membership and partition leases of a
/// partitioned group on `stream`.
pub fn group_bucket_name(stream: &str, group: &str) -> String {
    safe_name(&format!("EVBUS_PCG_{stream}__{group}"), MAX_NAME_LEN)
}

/// The durable consumer name of consumer group `group` on a stream
/// created by this transport (one stream per topic): the group name made
/// safe the way [`stream_name`] does it.
pub fn durable_name(group: &str) -> String {
    safe_name(group, MAX_NAME_LEN)
}

/// The durable consumer name of `group` on a stream this transport did not
/// create, which may hold several topics: group and topic together, so each
/// topic has its own consumer.
pub fn durable_name_on_shared_stream(group: &str, topic: &str) -> String {
    safe_name(&format!("{group}__{topic}"), MAX_NAME_LEN)
}

fn safe_name(raw: &str, max_len: usize) -> String {
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name != raw || name.len() > max_len {
        // 9 = '_' + 8 hex digits.
        name.truncate(max_len.saturating_sub(9));
        name.push_str(&format!("_{:08x}", fnv1a(raw.as_bytes())));
    }
    name
}

/// FNV-1a, 32 bits: stable across versions and platforms, which a name
/// derived from it must be (std's and ahash's hashers are not).
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |hash, byte| {
        (hash ^ u32::from(*byte)).wrapping_mul(0x0100_0193)
    })
}

/// NATS's own topic rule, run after the shared ones: a topic is a subject,
/// so it is made of non-empty `.`-separated tokens, and names starting with
/// `$` are the server's own APIs.
pub(crate) fn subject_rule(topic: &str) -> Result<(), String> {
    if topic.starts_with('$') {
        return Err("a NATS topic must not start with '$' (reserved for server APIs)".into());
    }
    if topic.split('.').any(str::is_empty) {
        return Err(
            "a NATS topic is a subject: '.'-separated tokens, none of them empty \
             (no leading, trailing or doubled '.')"
                .into(),
        );
    }
    Ok(())
}

fn unsupported(message: String) -> TransportError {
    TransportError::new(ErrorKind::Unsupported, NAME, message)
}

/// A header value NATS carries intact: no CR or LF (they end a header line)
/// and no leading or trailing whitespace (receivers trim it). Takes the
/// value's `String` over instead of copying it.
fn header_value(
    value: String,
    what: impl FnOnce() -> String,
) -> Result<async_nats::header::HeaderValue> {
    // Whitespace at either end is exactly what `trim` would remove.
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(unsupported(format!(
            "{}: NATS header values lose leading and trailing whitespace",
            what()
        )));
    }
    // Bytes, not chars: CR and LF are ASCII, and a byte scan is far cheaper
    // than matching a char pattern.
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n')) {
        return Err(unsupported(format!(
            "{}: NATS header values cannot contain CR or LF",
            what()
        )));
    }
    Ok(value.into())
}

/// The names evbus-nats itself writes, built once: a name parsed per
/// message is validated and copied each time.
static KEY_NAME: HeaderName = HeaderName::from_static(KEY_HEADER);
static ORDER_NAME: HeaderName = HeaderName::from_static(ORDER_HEADER);
static MSG_ID_NAME: HeaderName = HeaderName::from_static(MSG_ID_HEADER);

/// Builds the NATS headers of a message from its parts: the user's headers
/// in order, then the key, the dedup id and the order list. `None` when
/// there is nothing to send, which saves the header block on the wire. The
/// strings move into the map: a message's headers are not copied again.
pub(crate) fn encode_headers(
    headers: Headers,
    key: Option<String>,
    dedup_id: Option<String>,
) -> Result<Option<HeaderMap>> {
    if headers.is_empty() && key.is_none() && dedup_id.is_none() {
        return Ok(None);
    }
    let mut map = HeaderMap::new();
    // Sized once: the names and a space between each two.
    let order_len = headers
        .iter()
        .map(|(name, _)| name.len() + 1)
        .sum::<usize>();
    let mut order = String::with_capacity(order_len);
    for (name, value) in headers {
        if name == KEY_HEADER || name == ORDER_HEADER {
            return Err(unsupported(format!(
                "header name `{name}` is reserved by evbus-nats"
            )));
        }
        if !order.is_empty() {
            order.push(' ');
        }
        let start = order.len();
        order.push_str(&name);
        // The name's own `String` becomes the header name; the copy in the
        // order list is what an error quotes.
        let quoted = || &order[start..];
        let header_value = header_value(value, || format!("the value of header `{}`", quoted()))?;
        let header_name = Some(name)
            .filter(|name| !name.is_empty())
            .and_then(|name| HeaderName::try_from(name).ok())
            .ok_or_else(|| {
                unsupported(format!(
                    "header name {:?}: NATS header names are non-empty printable ASCII \
                     without spaces or ':'",
                    quoted()
                ))
            })?;
        map.append(header_name, header_value);
    }
    if let Some(key) = key {
        map.insert(KEY_NAME.clone(), header_value(key, || "the key".into())?);
    }
    if let Some(id) = dedup_id {
        map.insert(
            MSG_ID_NAME.clone(),
            header_value(id, || "the dedup id".into())?,
        );
    }
    // Names were checked above: none holds CR, LF or a space.
    map.insert(ORDER_NAME.clone(), order);
    Ok(Some(map))
}

/// Reads back the key and the user's headers of a received message.
///
/// A message from a publisher other than evbus has no order list: its
/// headers come sorted by name (NATS does not keep their order), without
/// the server's `Nats-Pin-Id`.
pub(crate) fn decode_headers(map: Option<&HeaderMap>) -> (Option<String>, Headers) {
    let Some(map) = map else {
        return (None, Vec::new());
    };
    // Looked up by the names built once: `get` with a `&str` copies the
    // name into a new `HeaderName` first.
    let key = map.get(KEY_NAME.clone()).map(|v| v.as_str().to_owned());
    let mut headers = Vec::new();
    match map.get(ORDER_NAME.clone()) {
        Some(order) => {
            let names = || order.as_str().split(' ').filter(|n| !n.is_empty());
            headers.reserve_exact(names().count());
            // The n-th occurrence of a name in the list takes that name's
            // n-th value: repeated names keep their relative order.
            let mut taken: Vec<(&str, usize)> = Vec::new();
            for name in names() {
                let nth = match taken.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, count)) => {
                        *count += 1;
                        *count - 1
                    }
                    None => {
                        taken.push((name, 1));
                        0
                    }
                };
                // Found by comparing names, for the same reason as above:
                // the map holds a handful of names.
                let values = map
                    .iter()
                    .find(|(n, _)| AsRef::<str>::as_ref(*n) == name)
                    .map(|(_, values)| values);
                if let Some(value) = values.and_then(|values| values.get(nth)) {
                    headers.push((name.to_owned(), value.as_str().to_owned()));
                }
            }
        }
        None => {
            for (name, values) in map.iter() {
                let name: &str = name.as_ref();
                if name == KEY_HEADER || name == PIN_ID_HEADER {
                    continue;
                }
                for value in values {
                    headers.push((name.to_owned(), value.as_str().to_owned()));
                }
            }
            headers.sort_by(|a, b| a.0.cmp(&b.0));
        }
    }
    (key, headers)
}

/// The bytes NATS puts on the wire for `headers` and `payload`, as the
/// server counts them against its `max_payload`.
pub(crate) fn nats_size(headers: Option<&HeaderMap>, payload_len: usize) -> usize {
    let header_len = headers.map_or(0, |map| {
        // "NATS/1.0\r\n" + "name: value\r\n" per value + "\r\n".
        12 + map
            .iter()
            .map(|(name, values)| {
                let name: &str = name.as_ref();
                values
                    .iter()
                    .map(|v| name.len() + v.as_str().len() + 4)
                    .sum::<usize>()
            })
            .sum::<usize>()
    });
    header_len + payload_len
}

#[cfg(test)]
mod tests {
    use evbus_transport::OutgoingMessage;

    use super::*;

    #[test]
    fn stream_names_are_readable_safe_and_distinct() {
        assert_eq!(stream_name("EVBUS_", "orders-v2_x"), "EVBUS_orders-v2_x");
        let dotted = stream_name("EVBUS_", "a.b");
        assert!(dotted.starts_with("EVBUS_a_b_"), "{dotted}");
        assert_ne!(dotted, stream_name("EVBUS_", "a_b"));
        assert_ne!(dotted, stream_name("EVBUS_", "a*b"));
        let long = stream_name("EVBUS_", &"x".repeat(249));
        assert!(long.len() <= MAX_NAME_LEN, "{}", long.len());
        assert_ne!(long, stream_name("EVBUS_", &"x".repeat(248)));
        assert!(
            long.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn group_names_map_to_distinct_durables() {
        assert_eq!(durable_name("billing"), "billing");
        assert_ne!(durable_name("a.b"), durable_name("a_b"));
        assert_ne!(
            durable_name_on_shared_stream("g", "t1"),
            durable_name_on_shared_stream("g", "t2")
        );
    }

    #[test]
    fn subject_rule_rejects_empty_tokens_and_system_subjects() {
        assert!(subject_rule("orders.created").is_ok());
        for bad in [".a", "a.", "a..b", "$JS.API.INFO"] {
            assert!(subject_rule(bad).is_err(), "{bad}");
        }
    }

    fn encode(message: &OutgoingMessage) -> Result<Option<HeaderMap>> {
        let message = message.clone();
        encode_headers(message.headers, message.key, message.dedup_id)
    }

    #[test]
    fn headers_keep_names_values_order_and_repeats() {
        let message = OutgoingMessage::new("p")
            .with_key("order-7")
            .with_dedup_id("evt-1")
            .with_header("z", "1")
            .with_header("a", "2")
            .with_header("z", "3")
            .with_header("Mixed-Case", "x y");
        let map = encode(&message).unwrap().unwrap();
        assert_eq!(map.get(MSG_ID_HEADER).unwrap().as_str(), "evt-1");
        let (key, headers) = decode_headers(Some(&map));
        assert_eq!(key.as_deref(), Some("order-7"));
        assert_eq!(headers, message.headers);
    }

    #[test]
    fn a_message_without_key_headers_or_id_sends_no_header_block() {
        assert!(encode(&OutgoingMessage::new("p")).unwrap().is_none());
        let map = encode(&OutgoingMessage::new("p").with_dedup_id("x"))
            .unwrap()
            .unwrap();
        assert_eq!(decode_headers(Some(&map)), (None, Vec::new()));
    }

    #[test]
    fn headers_nats_cannot_carry_are_refused_by_name() {
        let cases = [
            OutgoingMessage::new("p").with_header("a:b", "v"),
            OutgoingMessage::new("p").with_header("a b", "v"),
            OutgoingMessage::new("p").with_header("", "v"),
            OutgoingMessage::new("p").with_header("a", "line\nbreak"),
            OutgoingMessage::new("p").with_header(KEY_HEADER, "v"),
            OutgoingMessage::new("p").with_key("k\r\n"),
            OutgoingMessage::new("p").with_header("a", " padded"),
        ];
        for message in cases {
            let err = encode(&message).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Unsupported, "{message:?}");
        }
    }

    #[test]
    fn foreign_headers_come_sorted_without_server_headers() {
        let mut map = HeaderMap::new();
        map.insert("b", "1");
        map.insert("a", "2");
        map.insert(PIN_ID_HEADER, "pin");
        let (key, headers) = decode_headers(Some(&map));
        assert_eq!(key, None);
        assert_eq!(
            headers,
            vec![("a".into(), "2".into()), ("b".into(), "1".into())]
        );
    }

    #[test]
    fn nats_size_counts_the_header_block() {
        let mut map = HeaderMap::new();
        map.insert("ab", "cde");
        assert_eq!(nats_size(Some(&map), 10), 12 + 2 + 3 + 4 + 10);
        assert_eq!(nats_size(None, 10), 10);
    }
}
