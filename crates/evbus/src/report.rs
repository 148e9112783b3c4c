//! Where errors go that no caller is waiting for: the log, a metric, and the
//! user's error callback.

use std::sync::Arc;

use crate::{
    error::{BusError, BusErrorKind},
    publish::callbacks::{Published, PublishedCallback},
    telemetry::Metrics,
};

/// The user's error callback.
pub type ErrorCallback = Arc<dyn Fn(&BusError) + Send + Sync>;

/// Reports background errors (detached publishes, settlements, fetches).
pub(crate) struct Reporter {
    callback: Option<ErrorCallback>,
    metrics: Arc<Metrics>,
    on_published: Option<PublishedCallback>,
}

impl Reporter {
    pub(crate) fn new(callback: Option<ErrorCallback>, metrics: Arc<Metrics>) -> Self {
        Self {
            callback,
            metrics,
            on_published: None,
        }
    }

    /// Adds the publish success callback.
    pub(crate) fn with_on_published(mut self, callback: Option<PublishedCallback>) -> Self {
        self.on_published = callback;
        self
    }

    /// Whether successes are reported (so callers copy what they need only
    /// then).
    pub(crate) fn wants_published(&self) -> bool {
        self.on_published.is_some()
    }

    /// Reports a publish the broker confirmed.
    pub(crate) fn published(&self, published: &Published<'_>) {
        if let Some(callback) = &self.on_published {
            callback(published);
        }
    }

    /// The bus's metric handles.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub(crate) fn report(&self, error: BusError) {
        tracing::error!(error = %error, kind = %error.kind(), "evbus background error");
        self.metrics.error(match error.kind() {
            BusErrorKind::Transport(_) => "transport",
            BusErrorKind::Envelope => "envelope",
            BusErrorKind::Topic => "topic",
            BusErrorKind::Config => "config",
            BusErrorKind::Closed => "closed",
            BusErrorKind::Internal => "internal",
        });
        if let Some(callback) = &self.callback {
            callback(&error);
        }
    }
}
