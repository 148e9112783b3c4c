//! The publish side beyond a single awaited send: the outcome stream of
//! detached publishes, per-tenant ([`results`]).

pub(crate) mod results;
