//! The publish side beyond a single awaited send: the outcome stream of
//! detached publishes, per tenant ([`results`]), and per-call options
//! ([`options`]), and the publish success callback ([`callbacks`]).

pub(crate) mod callbacks;
pub(crate) mod options;
pub(crate) mod results;
