//! The opt-in publish success callback: failures already reach the error
//! callback; a service that counts or audits what the broker confirmed
//! registers this one.

use std::sync::Arc;

use evbus_transport::Receipt;

/// A publish the broker confirmed, as the success callback sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Published<'a> {
    /// The topic.
    pub topic: &'a str,
    /// The dedup id it was sent with: the event id of an envelope.
    pub event_id: Option<&'a str>,
    /// The broker's receipt.
    pub receipt: &'a Receipt,
    /// Whether it was a [`publish_detached`](crate::EventBus::publish_detached).
    pub detached: bool,
}

/// The user's publish success callback.
pub type PublishedCallback = Arc<dyn Fn(&Published<'_>) + Send + Sync>;
