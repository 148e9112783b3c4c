//! The publish side beyond a single awaited send: the outcome stream of
//! detached publishes, per tenant ([`results`]), and per-call options
//! ([`options`]), the publish success callback ([`callbacks`]) and the
//! bus-wide publish rate limit ([`rate_limit`]).

pub(crate) mod callbacks;
pub(crate) mod options;
pub(crate) mod rate_limit;
pub(crate) mod results;
