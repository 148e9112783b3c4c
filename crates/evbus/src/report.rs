//! Where errors go that no caller is waiting for: the log, a metric, and the
//! user's error callback.

use std::sync::Arc;

use crate::{
    error::{BusError, BusErrorKind},
    telemetry::Metrics,
};

/// The user's error callback.
pub type ErrorCallback = Arc<dyn Fn(&BusError) + Send + Sync>;

/// Reports background errors (detached publishes, settlements, fetches).
pub(crate) struct Reporter {
    callback: Option<ErrorCallback>,
    metrics: Arc<Metrics>,
}

impl Reporter {
    pub(crate) fn new(callback: Option<ErrorCallback>, metrics: Arc<Metrics>) -> Self {
        Self { callback, metrics }
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
