//! A token bucket's settings, shared by the bus-wide publish limit
//! (`publish::rate_limit`) and each subscription's limit
//! (`subscribe::limits`): both wait for tokens, neither fails nor drops a
//! message because of its limit.

use serde::{Deserialize, Serialize};

/// Messages per second plus a burst.
///
/// ```
/// let config: evbus::BusConfig = serde_json::from_str(
///     r#"{ "publish": { "rate_limit": { "per_second": 1000, "burst": 100 } } }"#,
/// ).unwrap();
/// assert_eq!(config.publish.rate_limit.unwrap().per_second, 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct RateLimit {
    /// Tokens added per second (at least 1).
    pub per_second: u32,
    /// Tokens the bucket holds: messages that may go at once after a quiet
    /// spell (at least 1). Default: `per_second`.
    #[serde(default)]
    pub burst: Option<u32>,
}

impl RateLimit {
    /// `per_second` messages per second, with a burst of as many.
    pub fn per_second(per_second: u32) -> Self {
        Self {
            per_second,
            burst: None,
        }
    }

    /// `per_second` messages per second, up to `burst` at once.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::per_second(per_second).with_burst(burst)
    }

    /// Sets the burst.
    pub fn with_burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }
}
