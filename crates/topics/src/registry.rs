//! The bus's local record of configured topics.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::options::TopicOptions;

/// The options each topic was configured with, kept by the bus.
///
/// Written when the bus configures a topic and read only by the bus's
/// getters (transports keep their own per-topic state), never per publish.
/// Reads take a shared lock, so they never wait for each other, and return
/// a copy of the options (a few numbers and the description). Clones share
/// the same record. Nothing here touches the broker:
/// [`remove`](TopicRegistry::remove) forgets the local entry and never
/// deletes a topic.
///
/// ```
/// use evbus_topics::{Preset, TopicOptions, TopicRegistry};
///
/// let registry = TopicRegistry::new();
/// registry.set("orders", TopicOptions::preset(Preset::Default));
/// assert_eq!(registry.get("orders").unwrap().replicas, Some(1));
/// assert_eq!(registry.list().len(), 1);
/// registry.remove("orders");
/// assert!(registry.get("orders").is_none());
/// ```
#[derive(Debug, Clone, Default)]
pub struct TopicRegistry {
    topics: Arc<RwLock<BTreeMap<String, TopicOptions>>>,
}

impl TopicRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `options` for `topic`, returning what was recorded before.
    pub fn set(&self, topic: impl Into<String>, options: TopicOptions) -> Option<TopicOptions> {
        self.write().insert(topic.into(), options)
    }

    /// The options recorded for `topic`.
    pub fn get(&self, topic: &str) -> Option<TopicOptions> {
        self.read().get(topic).cloned()
    }

    /// Every recorded topic with its options, sorted by name.
    pub fn list(&self) -> Vec<(String, TopicOptions)> {
        self.read()
            .iter()
            .map(|(topic, options)| (topic.clone(), options.clone()))
            .collect()
    }

    /// Forgets `topic` locally, returning its options; the broker's topic stays.
    pub fn remove(&self, topic: &str) -> Option<TopicOptions> {
        self.write().remove(topic)
    }

    /// Number of recorded topics.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no topic is recorded.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    // A panic while holding the lock cannot leave the map half-updated
    // (insert and remove are single calls), so a poisoned lock is still sound.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, TopicOptions>> {
        self.topics.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, TopicOptions>> {
        self.topics.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Preset;

    #[test]
    fn set_replaces_and_returns_previous_options() {
        let registry = TopicRegistry::new();
        assert!(
            registry
                .set("a", TopicOptions::preset(Preset::Default))
                .is_none()
        );
        let previous = registry
            .set("a", TopicOptions::new().replicas(2))
            .expect("previous options");
        assert_eq!(previous.replicas, Some(1));
        assert_eq!(registry.get("a").unwrap().replicas, Some(2));
    }

    #[test]
    fn list_is_sorted_and_clones_share_the_record() {
        let registry = TopicRegistry::new();
        let shared = registry.clone();
        shared.set("b", TopicOptions::new());
        shared.set("a", TopicOptions::new());
        let names: Vec<_> = registry.list().into_iter().map(|(t, _)| t).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(registry.remove("a").map(|o| o.replicas), Some(None));
        assert_eq!(shared.len(), 1);
        assert!(!shared.is_empty());
    }
}
