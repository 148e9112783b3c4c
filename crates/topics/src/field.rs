//! Names and values of the fields of [`TopicOptions`], for diffs and limits.

use std::fmt;
use std::time::Duration;

use crate::options::{Compression, Persistence, TopicOptions, UNLIMITED, UNLIMITED_RETENTION};

/// One field of [`TopicOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TopicField {
    /// [`TopicOptions::persistence`].
    Persistence,
    /// [`TopicOptions::retention`].
    Retention,
    /// [`TopicOptions::max_bytes`].
    MaxBytes,
    /// [`TopicOptions::max_messages`].
    MaxMessages,
    /// [`TopicOptions::replicas`].
    Replicas,
    /// [`TopicOptions::partitions`].
    Partitions,
    /// [`TopicOptions::compression`].
    Compression,
    /// [`TopicOptions::description`].
    Description,
}

impl TopicField {
    /// Every field, in the order diffs list them.
    pub const ALL: [TopicField; 8] = [
        TopicField::Persistence,
        TopicField::Retention,
        TopicField::MaxBytes,
        TopicField::MaxMessages,
        TopicField::Replicas,
        TopicField::Partitions,
        TopicField::Compression,
        TopicField::Description,
    ];

    /// The field's name in configuration (`max_bytes`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TopicField::Persistence => "persistence",
            TopicField::Retention => "retention",
            TopicField::MaxBytes => "max_bytes",
            TopicField::MaxMessages => "max_messages",
            TopicField::Replicas => "replicas",
            TopicField::Partitions => "partitions",
            TopicField::Compression => "compression",
            TopicField::Description => "description",
        }
    }

    const fn bit(self) -> u16 {
        1 << self as u16
    }

    /// The value of this field in `options`; `None` when it is left to the
    /// broker (or, for persistence, `Auto`).
    pub fn value_in(self, options: &TopicOptions) -> Option<FieldValue> {
        match self {
            TopicField::Persistence => match options.persistence {
                Persistence::Auto => None,
                explicit => Some(FieldValue::Persistence(explicit)),
            },
            TopicField::Retention => options.retention.map(FieldValue::Duration),
            TopicField::MaxBytes => options.max_bytes.map(FieldValue::Bytes),
            TopicField::MaxMessages => options.max_messages.map(FieldValue::Count),
            TopicField::Replicas => options.replicas.map(|n| FieldValue::Count(n.into())),
            TopicField::Partitions => options.partitions.map(|n| FieldValue::Count(n.into())),
            TopicField::Compression => options.compression.map(FieldValue::Compression),
            TopicField::Description => options.description.clone().map(FieldValue::Text),
        }
    }

    /// Copies this field from `from` into `to`.
    pub(crate) fn copy(self, from: &TopicOptions, to: &mut TopicOptions) {
        match self {
            TopicField::Persistence => to.persistence = from.persistence,
            TopicField::Retention => to.retention = from.retention,
            TopicField::MaxBytes => to.max_bytes = from.max_bytes,
            TopicField::MaxMessages => to.max_messages = from.max_messages,
            TopicField::Replicas => to.replicas = from.replicas,
            TopicField::Partitions => to.partitions = from.partitions,
            TopicField::Compression => to.compression = from.compression,
            TopicField::Description => to.description.clone_from(&from.description),
        }
    }
}

impl fmt::Display for TopicField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`TopicField`]s (copyable, so error kinds can carry it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TopicFields(u16);

impl TopicFields {
    /// No field.
    pub const NONE: TopicFields = TopicFields(0);

    /// Every field.
    pub const ALL: TopicFields = TopicFields::NONE
        .with(TopicField::Persistence)
        .with(TopicField::Retention)
        .with(TopicField::MaxBytes)
        .with(TopicField::MaxMessages)
        .with(TopicField::Replicas)
        .with(TopicField::Partitions)
        .with(TopicField::Compression)
        .with(TopicField::Description);

    /// This set plus `field`.
    pub const fn with(self, field: TopicField) -> TopicFields {
        TopicFields(self.0 | field.bit())
    }

    /// This set minus `field`.
    pub const fn without(self, field: TopicField) -> TopicFields {
        TopicFields(self.0 & !field.bit())
    }

    /// Whether `field` is in the set.
    pub const fn contains(self, field: TopicField) -> bool {
        self.0 & field.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The fields in the set, in [`TopicField::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = TopicField> {
        TopicField::ALL
            .into_iter()
            .filter(move |f| self.contains(*f))
    }
}

impl FromIterator<TopicField> for TopicFields {
    fn from_iter<I: IntoIterator<Item = TopicField>>(iter: I) -> Self {
        iter.into_iter().fold(TopicFields::NONE, TopicFields::with)
    }
}

impl fmt::Debug for TopicFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for TopicFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(field.name())?;
        }
        Ok(())
    }
}

/// The value of one field, as compared and shown in a [`Drift`](crate::Drift).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue {
    /// A storage mode (never `Auto`).
    Persistence(Persistence),
    /// A retention time; [`UNLIMITED_RETENTION`] shows as `unlimited`.
    Duration(Duration),
    /// A size in bytes; [`UNLIMITED`] shows as `unlimited`.
    Bytes(u64),
    /// A count (messages, replicas, partitions); [`UNLIMITED`] shows as `unlimited`.
    Count(u64),
    /// A compression codec.
    Compression(Compression),
    /// Free text.
    Text(String),
}

impl FieldValue {
    /// Orders two values of the same numeric kind; `None` for other kinds.
    pub(crate) fn numeric_cmp(&self, other: &FieldValue) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (FieldValue::Duration(a), FieldValue::Duration(b)) => Some(a.cmp(b)),
            (FieldValue::Bytes(a), FieldValue::Bytes(b))
            | (FieldValue::Count(a), FieldValue::Count(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Persistence(p) => f.write_str(match p {
                Persistence::Persistent => "persistent",
                Persistence::Ephemeral => "ephemeral",
                Persistence::Auto => "auto",
            }),
            FieldValue::Duration(d) if *d == UNLIMITED_RETENTION => f.write_str("unlimited"),
            FieldValue::Duration(d) => {
                write!(f, "{}", humantime_serde::re::humantime::format_duration(*d))
            }
            FieldValue::Bytes(UNLIMITED) | FieldValue::Count(UNLIMITED) => f.write_str("unlimited"),
            FieldValue::Bytes(n) => write_bytes(f, *n),
            FieldValue::Count(n) => write!(f, "{n}"),
            FieldValue::Compression(c) => f.write_str(c.as_str()),
            FieldValue::Text(s) => write!(f, "{s:?}"),
        }
    }
}

/// Exact binary units when they divide evenly, so a drift message never rounds.
fn write_bytes(f: &mut fmt::Formatter<'_>, n: u64) -> fmt::Result {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return write!(f, "{} {unit}", n / size);
        }
    }
    write!(f, "{n} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_set_holds_exactly_what_was_added() {
        let set = TopicFields::NONE
            .with(TopicField::Retention)
            .with(TopicField::Description);
        assert!(set.contains(TopicField::Retention));
        assert!(!set.contains(TopicField::Replicas));
        assert_eq!(set.to_string(), "retention, description");
        assert_eq!(TopicFields::ALL.iter().count(), TopicField::ALL.len());
        assert!(
            !TopicFields::ALL
                .without(TopicField::Persistence)
                .contains(TopicField::Persistence)
        );
    }

    #[test]
    fn values_display_for_humans_without_rounding() {
        assert_eq!(FieldValue::Bytes(100 << 20).to_string(), "100 MiB");
        assert_eq!(FieldValue::Bytes(1_000_000).to_string(), "1000000 B");
        assert_eq!(FieldValue::Bytes(UNLIMITED).to_string(), "unlimited");
        assert_eq!(
            FieldValue::Duration(Duration::from_secs(7 * 86_400)).to_string(),
            "7days"
        );
        assert_eq!(
            FieldValue::Duration(UNLIMITED_RETENTION).to_string(),
            "unlimited"
        );
    }
}
