//! The strategy engine, written once against [`TopicAdmin`].

use std::cmp::Ordering;

use tracing::{debug, info, warn};

use crate::admin::{AdminLimits, TopicAdmin};
use crate::drift::{Change, Drift, DriftReason, Joined};
use crate::error::{TopicsError, TopicsErrorKind};
use crate::field::{FieldValue, TopicField};
use crate::name::validate_topic_name;
use crate::options::TopicOptions;
use crate::policy::{MismatchAction, Strategy, TopicPolicy};

/// What [`configure`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The topic was missing and has been created.
    Created,
    /// The topic exists and matches every field that was set.
    Unchanged,
    /// `CreateOrUpdate` changed `changes` on the broker; `drift` lists what
    /// it had to leave (immutable or destructive), possibly nothing.
    Updated {
        /// Fields changed on the broker.
        changes: Vec<Change>,
        /// Fields still differing.
        drift: Vec<Drift>,
    },
    /// The topic differs and nothing was changed (`CreateOnly`,
    /// `ValidateOnly`, or `CreateOrUpdate` with only unchangeable drift).
    Drifted(Vec<Drift>),
    /// `ValidateOnly` with `Warn`: the topic does not exist; nothing was created.
    Missing,
    /// `Skip`: the broker was not asked anything.
    Skipped,
}

impl Outcome {
    /// The fields that still differ from the wanted options.
    pub fn drift(&self) -> &[Drift] {
        match self {
            Outcome::Updated { drift, .. } | Outcome::Drifted(drift) => drift,
            _ => &[],
        }
    }
}

/// Brings `topic` in line with `options` as far as `policy` allows.
///
/// # Behavior
///
/// - An invalid topic name or option value fails before any broker call.
/// - `Skip` returns [`Outcome::Skipped`] without calling `admin` at all.
/// - More replicas than [`AdminLimits::max_replicas`] fail with
///   [`TopicsError::ReplicasUnavailable`] (naming the override) before any
///   broker call, whatever the topic's state.
/// - A missing topic is created by `CreateOnly` and `CreateOrUpdate`. If
///   another process creates it first, the engine judges the existing topic
///   instead. `ValidateOnly` reports it missing: [`Outcome::Missing`], or
///   [`TopicsError::Missing`] under [`MismatchAction::Fail`].
/// - Only fields set in `options` (and reported by the broker) are
///   compared; an unset field or `Persistence::Auto` is never drift.
/// - `CreateOrUpdate` changes a drifted field through one `update` call
///   unless the backend cannot change it ([`DriftReason::Immutable`]), it
///   would shrink partitions ([`DriftReason::Impossible`]), or it would
///   shrink retention/size limits or grow partitions without
///   [`TopicPolicy::allow_destructive`] ([`DriftReason::Destructive`]).
/// - Drift left on the broker is logged as a `tracing` warning per field
///   and returned; under [`MismatchAction::Fail`] it is a
///   [`TopicsError::Drift`] naming every field, and nothing is changed.
pub async fn configure(
    admin: &dyn TopicAdmin,
    topic: &str,
    options: &TopicOptions,
    policy: &TopicPolicy,
) -> Result<Outcome, TopicsError> {
    validate_topic_name(topic)?;
    options.validate(topic)?;
    if policy.strategy == Strategy::Skip {
        debug!(topic, "topic configuration skipped");
        return Ok(Outcome::Skipped);
    }
    let limits = admin.limits();
    check_replicas(topic, options, &limits)?;

    let Some(actual) = admin.describe(topic).await? else {
        return on_missing(admin, topic, options, policy, &limits).await;
    };
    reconcile(admin, topic, options, &actual, policy, &limits).await
}

fn check_replicas(
    topic: &str,
    options: &TopicOptions,
    limits: &AdminLimits,
) -> Result<(), TopicsError> {
    match (options.replicas, limits.max_replicas) {
        (Some(wanted), Some(max)) if wanted > max => Err(TopicsError::ReplicasUnavailable {
            topic: topic.to_owned(),
            wanted,
            max,
        }),
        _ => Ok(()),
    }
}

async fn on_missing(
    admin: &dyn TopicAdmin,
    topic: &str,
    options: &TopicOptions,
    policy: &TopicPolicy,
    limits: &AdminLimits,
) -> Result<Outcome, TopicsError> {
    if policy.strategy == Strategy::ValidateOnly {
        warn!(
            topic,
            "topic does not exist (validate-only creates nothing)"
        );
        return match policy.on_mismatch {
            MismatchAction::Warn => Ok(Outcome::Missing),
            MismatchAction::Fail => Err(TopicsError::Missing {
                topic: topic.to_owned(),
            }),
        };
    }
    match admin.create(topic, options).await {
        Ok(()) => {
            info!(topic, ?options, "topic created");
            Ok(Outcome::Created)
        }
        // Several instances of a service start together; the loser of the
        // creation race judges what the winner created.
        Err(err) if err.kind() == TopicsErrorKind::AlreadyExists => {
            match admin.describe(topic).await? {
                Some(actual) => reconcile(admin, topic, options, &actual, policy, limits).await,
                None => Err(err),
            }
        }
        Err(err) => Err(err),
    }
}

async fn reconcile(
    admin: &dyn TopicAdmin,
    topic: &str,
    options: &TopicOptions,
    actual: &TopicOptions,
    policy: &TopicPolicy,
    limits: &AdminLimits,
) -> Result<Outcome, TopicsError> {
    let plan = Plan::new(options, actual, policy, limits);
    for drift in &plan.drift {
        warn!(
            topic,
            field = %drift.field,
            wanted = %drift.wanted,
            actual = %drift.actual,
            reason = %drift.reason,
            "topic configuration drift"
        );
    }
    if !plan.drift.is_empty() && policy.on_mismatch == MismatchAction::Fail {
        return Err(TopicsError::Drift {
            topic: topic.to_owned(),
            drift: plan.drift,
        });
    }
    if plan.changes.is_empty() {
        return Ok(if plan.drift.is_empty() {
            debug!(topic, "topic matches its options");
            Outcome::Unchanged
        } else {
            Outcome::Drifted(plan.drift)
        });
    }
    admin.update(topic, &plan.update).await?;
    info!(topic, changes = %Joined(&plan.changes), "topic updated");
    Ok(Outcome::Updated {
        changes: plan.changes,
        drift: plan.drift,
    })
}

/// The per-field decisions for an existing topic.
struct Plan {
    changes: Vec<Change>,
    drift: Vec<Drift>,
    /// Only the changed fields set; passed to [`TopicAdmin::update`].
    update: TopicOptions,
}

impl Plan {
    fn new(
        options: &TopicOptions,
        actual: &TopicOptions,
        policy: &TopicPolicy,
        limits: &AdminLimits,
    ) -> Self {
        let mut plan = Plan {
            changes: Vec::new(),
            drift: Vec::new(),
            update: TopicOptions::default(),
        };
        for field in TopicField::ALL {
            let (Some(wanted), Some(current)) = (field.value_in(options), field.value_in(actual))
            else {
                continue;
            };
            if wanted == current {
                continue;
            }
            match blocker(field, &wanted, &current, policy, limits) {
                Some(reason) => plan.drift.push(Drift::new(field, wanted, current, reason)),
                None => {
                    field.copy(options, &mut plan.update);
                    plan.changes.push(Change {
                        field,
                        from: current,
                        to: wanted,
                    });
                }
            }
        }
        plan
    }
}

/// Why a differing field must stay as it is, or `None` when it may change.
fn blocker(
    field: TopicField,
    wanted: &FieldValue,
    current: &FieldValue,
    policy: &TopicPolicy,
    limits: &AdminLimits,
) -> Option<DriftReason> {
    let direction = wanted.numeric_cmp(current);
    if policy.strategy != Strategy::CreateOrUpdate {
        Some(DriftReason::NotUpdated)
    } else if field == TopicField::Partitions && direction == Some(Ordering::Less) {
        Some(DriftReason::Impossible)
    } else if !limits.can_update(field) {
        Some(DriftReason::Immutable)
    } else if !policy.allow_destructive && is_destructive(field, direction) {
        Some(DriftReason::Destructive)
    } else {
        None
    }
}

/// Shrinking a limit deletes stored messages at once; growing partitions
/// remaps keys, so one aggregate's events straddle two partitions.
fn is_destructive(field: TopicField, direction: Option<Ordering>) -> bool {
    match field {
        TopicField::Retention | TopicField::MaxBytes | TopicField::MaxMessages => {
            direction == Some(Ordering::Less)
        }
        TopicField::Partitions => direction == Some(Ordering::Greater),
        _ => false,
    }
}
