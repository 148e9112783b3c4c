//! Differences between wanted and actual topic configuration.

use std::fmt;

use crate::field::{FieldValue, TopicField};

/// A field whose value on the broker differs from the wanted one and was
/// left as it is.
///
/// Displays as `retention: wanted 1day, actual 7days (...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drift {
    /// The field that differs.
    pub field: TopicField,
    /// The value in the wanted [`TopicOptions`](crate::TopicOptions).
    pub wanted: FieldValue,
    /// The value the broker reported.
    pub actual: FieldValue,
    /// Why the engine did not change it.
    pub reason: DriftReason,
}

impl Drift {
    /// A drift of `field` from `actual` to `wanted`, left for `reason`.
    pub fn new(
        field: TopicField,
        wanted: FieldValue,
        actual: FieldValue,
        reason: DriftReason,
    ) -> Self {
        Self {
            field,
            wanted,
            actual,
            reason,
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: wanted {}, actual {}",
            self.field, self.wanted, self.actual
        )?;
        match self.reason {
            // The strategy already says why; repeating it on every field is noise.
            DriftReason::NotUpdated => Ok(()),
            reason => write!(f, " ({reason})"),
        }
    }
}

/// Why a drifted field was left unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DriftReason {
    /// The strategy never updates (`CreateOnly`, `ValidateOnly`), or the
    /// mismatch action stopped the update.
    NotUpdated,
    /// The backend cannot change this field after creation
    /// (see [`AdminLimits::updatable`](crate::AdminLimits::updatable)).
    Immutable,
    /// The change would lose data (shrinking retention or size limits) or
    /// per-aggregate order (growing partitions) and
    /// [`TopicPolicy::allow_destructive`](crate::TopicPolicy::allow_destructive) is off.
    Destructive,
    /// No backend can make this change (shrinking partitions).
    Impossible,
}

impl fmt::Display for DriftReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriftReason::NotUpdated => "not updated by the strategy",
            DriftReason::Immutable => "the broker cannot change it after creation",
            DriftReason::Destructive => {
                "would lose data or per-aggregate order; set allow_destructive to apply it"
            }
            DriftReason::Impossible => "partitions can never shrink",
        })
    }
}

/// A field the engine changed on the broker.
///
/// Displays as `retention: 7days -> 1day`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Change {
    /// The field that changed.
    pub field: TopicField,
    /// The value before.
    pub from: FieldValue,
    /// The value after.
    pub to: FieldValue,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.field, self.from, self.to)
    }
}

/// Joins items with `"; "` for one-line messages.
pub(crate) struct Joined<'a, T>(pub(crate) &'a [T]);

impl<T: fmt::Display> fmt::Display for Joined<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
