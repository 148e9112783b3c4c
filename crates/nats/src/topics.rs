//! Which topics live on JetStream and which on core NATS.

use ahash::AHashMap;
use evbus_topics::{Persistence, TopicOptions};
use parking_lot::RwLock;

/// Where a topic's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A JetStream stream: stored, at-least-once.
    JetStream,
    /// Core NATS: not stored, at-most-once.
    Core,
}

/// The modes of registered topics; unregistered topics follow the default.
/// Read on every publish, so it is a local map and never a broker call.
#[derive(Debug)]
pub(crate) struct TopicModes {
    default: Persistence,
    modes: RwLock<AHashMap<String, Mode>>,
}

impl TopicModes {
    pub(crate) fn new(default: Persistence) -> Self {
        Self {
            default,
            modes: RwLock::new(AHashMap::new()),
        }
    }

    pub(crate) fn register(&self, topic: &str, options: &TopicOptions) {
        let mode = self.resolve(options.persistence);
        self.modes.write().insert(topic.to_owned(), mode);
    }

    pub(crate) fn mode(&self, topic: &str) -> Mode {
        self.modes
            .read()
            .get(topic)
            .copied()
            .unwrap_or_else(|| self.resolve(Persistence::Auto))
    }

    /// The mode of `persistence`, with `Auto` following the default.
    pub(crate) fn resolve(&self, persistence: Persistence) -> Mode {
        match persistence.resolve(self.default) {
            Persistence::Ephemeral => Mode::Core,
            // An `Auto` default is read as persistent: nothing is lost by
            // storing a message.
            _ => Mode::JetStream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_modes_win_and_auto_follows_the_default() {
        let modes = TopicModes::new(Persistence::Persistent);
        assert_eq!(modes.mode("orders"), Mode::JetStream);
        modes.register(
            "clicks",
            &TopicOptions::new().persistence(Persistence::Ephemeral),
        );
        modes.register("orders", &TopicOptions::new());
        assert_eq!(modes.mode("clicks"), Mode::Core);
        assert_eq!(modes.mode("orders"), Mode::JetStream);

        let ephemeral_default = TopicModes::new(Persistence::Ephemeral);
        assert_eq!(ephemeral_default.mode("x"), Mode::Core);
        assert_eq!(
            ephemeral_default.resolve(Persistence::Persistent),
            Mode::JetStream
        );
    }
}
