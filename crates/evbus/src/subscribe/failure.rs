//! What happens after a failed handler attempt: the subscription's failure
//! hook decides, or, without one, its retry policy.

use super::{
    dead_letter::DeadLetterSink,
    options::{Failure, FailureAction},
};
use crate::handler::{DeliveryMeta, HandlerError};

/// The action for a failed `attempt` (1 for the first). Without a hook: a
/// permanent failure or the policy's last attempt is dead-lettered, any
/// other failure retried after the policy's backoff.
pub(crate) fn decide(
    sink: &DeadLetterSink,
    error: &HandlerError,
    attempt: u32,
    meta: &DeliveryMeta,
) -> FailureAction {
    if let Some(hook) = sink.on_failure() {
        return hook(&Failure {
            error,
            attempt,
            meta,
        });
    }
    if error.is_permanent() || attempt >= sink.max_attempts() {
        FailureAction::DeadLetter
    } else {
        FailureAction::Retry
    }
}
