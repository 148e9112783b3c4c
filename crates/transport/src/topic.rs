//! Topic-name validation: rules shared by every transport, plus each
//! transport's own.

use crate::error::{ErrorKind, TransportError};

/// The longest topic name any transport accepts (Kafka's limit).
pub const MAX_TOPIC_LEN: usize = 249;

/// How a topic name is used: publishing names one topic; a subscription may,
/// where the transport supports it, name a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopicUse {
    /// Publishing to the topic: wildcards are never allowed.
    Publish,
    /// Subscribing to the topic.
    Subscribe,
}

/// A transport-specific naming rule, checked after the shared ones.
pub type TopicRule = fn(&str) -> Result<(), String>;

/// Checks `topic` against the shared rules and then `extra`.
///
/// Shared rules: 1 to [`MAX_TOPIC_LEN`] characters; no whitespace; no control
/// characters; no `*` or `>` wildcards when publishing.
///
/// The error is [`ErrorKind::InvalidTopic`] and names the rule that failed.
pub fn validate_topic(
    transport: &'static str,
    topic: &str,
    usage: TopicUse,
    extra: Option<TopicRule>,
) -> Result<(), TransportError> {
    let fail = |rule: String| {
        Err(TransportError::new(ErrorKind::InvalidTopic, transport, rule).with_topic(topic))
    };
    let len = topic.chars().count();
    if len == 0 {
        return fail("a topic name must not be empty".into());
    }
    if len > MAX_TOPIC_LEN {
        return fail(format!(
            "a topic name has at most {MAX_TOPIC_LEN} characters, this one has {len}"
        ));
    }
    if let Some(c) = topic.chars().find(|c| c.is_whitespace()) {
        return fail(format!("a topic name must not contain whitespace ({c:?})"));
    }
    if let Some(c) = topic.chars().find(|c| c.is_control()) {
        return fail(format!(
            "a topic name must not contain control characters ({c:?})"
        ));
    }
    if usage == TopicUse::Publish
        && let Some(c) = topic.chars().find(|c| matches!(c, '*' | '>'))
    {
        return fail(format!(
            "a publish topic must not contain the wildcard {c:?}"
        ));
    }
    match extra {
        Some(rule) => rule(topic).or_else(fail),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(topic: &str) -> Result<(), String> {
        validate_topic("memory", topic, TopicUse::Publish, None).map_err(|e| e.to_string())
    }

    #[test]
    fn accepts_ordinary_names() {
        check("orders").unwrap();
        check("orders.v1_created-2").unwrap();
        check(&"a".repeat(MAX_TOPIC_LEN)).unwrap();
    }

    #[test]
    fn each_shared_rule_is_named() {
        assert!(check("").unwrap_err().contains("must not be empty"));
        assert!(check(&"a".repeat(250)).unwrap_err().contains("at most 249"));
        assert!(check("a b").unwrap_err().contains("whitespace"));
        assert!(check("a\u{7}b").unwrap_err().contains("control"));
        assert!(check("a.*").unwrap_err().contains("wildcard '*'"));
        assert!(check("a.>").unwrap_err().contains("wildcard '>'"));
    }

    #[test]
    fn wildcards_are_allowed_when_subscribing() {
        validate_topic("memory", "a.*", TopicUse::Subscribe, None).unwrap();
    }

    #[test]
    fn transport_rule_runs_after_shared_rules() {
        fn no_dots(topic: &str) -> Result<(), String> {
            if topic.contains('.') {
                Err("no dots here".into())
            } else {
                Ok(())
            }
        }
        let err = validate_topic("x", "a.b", TopicUse::Publish, Some(no_dots)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidTopic);
        assert!(err.to_string().contains("no dots here"));
        assert!(err.to_string().contains("`a.b`"));
    }
}
