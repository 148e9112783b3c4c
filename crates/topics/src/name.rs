//! Topic name rules shared by every backend.

use crate::error::TopicsError;

/// Longest accepted topic name, in bytes (Kafka's limit is 249, JetStream
/// subjects allow more; the Go SDK's 255 is kept and each backend may refuse
/// longer names with its own error).
const MAX_LEN: usize = 255;

/// Checks that `topic` is 1-255 printable ASCII characters without spaces,
/// the rule of the Go SDK.
///
/// [`configure`](crate::configure) calls this first, so a bad name fails
/// before any broker request.
pub fn validate_topic_name(topic: &str) -> Result<(), TopicsError> {
    let reason = if topic.is_empty() {
        Some("it is empty")
    } else if topic.len() > MAX_LEN {
        Some("it is longer than 255 characters")
    } else if !topic.bytes().all(|b| b.is_ascii_graphic()) {
        Some("only printable ASCII characters without spaces are allowed")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(TopicsError::InvalidTopicName {
            topic: topic.to_owned(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dotted_ascii_names_up_to_255() {
        assert!(validate_topic_name("orders.created-v1_eu").is_ok());
        assert!(validate_topic_name(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn rejects_empty_long_spaced_control_and_non_ascii_names() {
        for bad in ["", "has space", "tab\there", "caf\u{e9}", &"a".repeat(256)] {
            let err = validate_topic_name(bad).unwrap_err();
            assert_eq!(
                err.kind(),
                crate::TopicsErrorKind::InvalidTopicName,
                "{bad:?}"
            );
        }
    }
}
