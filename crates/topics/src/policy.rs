//! How the engine treats a topic: create, update, validate or skip.

use serde::{Deserialize, Serialize};

/// What [`configure`](crate::configure) does with a topic.
///
/// | Strategy | topic missing | topic matches | topic drifted |
/// |---|---|---|---|
/// | `CreateOnly` | create it | nothing | report drift |
/// | `CreateOrUpdate` | create it | nothing | update what is safe, report the rest |
/// | `ValidateOnly` | report missing | nothing | report drift |
/// | `Skip` | nothing (no broker call) | nothing | nothing |
///
/// "Report" means a `tracing` warning and a returned [`Outcome`](crate::Outcome)
/// under [`MismatchAction::Warn`], an error under [`MismatchAction::Fail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Create a missing topic, never alter an existing one (production).
    #[default]
    CreateOnly,
    /// Create a missing topic and fix drift where it is safe (development).
    CreateOrUpdate,
    /// Neither create nor change; only report what differs (staging).
    ValidateOnly,
    /// Ask the broker nothing (fastest start-up; topics managed elsewhere).
    Skip,
}

/// What a mismatch (drift, or a missing topic under `ValidateOnly`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MismatchAction {
    /// Log a warning and return the drift in the [`Outcome`](crate::Outcome).
    #[default]
    Warn,
    /// Return an error naming every drifted field; nothing is changed.
    Fail,
}

/// How topics are configured.
///
/// The default is `CreateOnly` + `Warn` + no destructive changes: an
/// application creates what is missing so a fresh environment works out of
/// the box, but never alters a topic someone already set up (an operator,
/// or another service with other options), and drift is visible in the
/// logs without stopping start-up. Choose `CreateOrUpdate` explicitly where
/// the application owns its topics.
///
/// ```
/// use evbus_topics::{MismatchAction, Strategy, TopicPolicy};
///
/// let staging: TopicPolicy = serde_json::from_str(
///     r#"{"strategy":"validate_only","on_mismatch":"fail"}"#,
/// ).unwrap();
/// assert_eq!(staging, TopicPolicy::new(Strategy::ValidateOnly).on_mismatch(MismatchAction::Fail));
/// assert!(!staging.allow_destructive);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TopicPolicy {
    /// What to do with each topic. Default: `create_only`.
    pub strategy: Strategy,
    /// What drift does. Default: `warn`.
    pub on_mismatch: MismatchAction,
    /// Let `CreateOrUpdate` shrink retention, `max_bytes` or `max_messages`
    /// (the broker deletes messages at once) and grow partitions (keys move
    /// to other partitions, breaking per-aggregate order across the change).
    /// Default: `false` (such changes are reported as drift).
    pub allow_destructive: bool,
}

impl TopicPolicy {
    /// A policy with `strategy`, warning on drift, no destructive changes.
    pub fn new(strategy: Strategy) -> Self {
        Self {
            strategy,
            ..Self::default()
        }
    }

    /// Sets what drift does.
    pub fn on_mismatch(mut self, action: MismatchAction) -> Self {
        self.on_mismatch = action;
        self
    }

    /// Allows or forbids destructive changes.
    pub fn allow_destructive(mut self, allow: bool) -> Self {
        self.allow_destructive = allow;
        self
    }
}
