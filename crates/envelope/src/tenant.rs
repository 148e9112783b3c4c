//! The tenant id, which the Go SDK wrote as a string before it wrote a number.

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The tenant an event belongs to.
///
/// The Go SDK's latest version writes `tenant_id` as a JSON number, earlier
/// versions as a JSON string. A Go consumer can only read the form its SDK
/// version declares, so the envelope remembers which form it carries and every
/// codec writes it back the same way. Serde (de)serialises it in that form: a
/// number or a string.
///
/// ```
/// use evbus_envelope::TenantId;
///
/// assert_eq!(serde_json::to_string(&TenantId::from(42)).unwrap(), "42");
/// assert_eq!(serde_json::to_string(&TenantId::from("acme")).unwrap(), "\"acme\"");
/// assert_eq!(TenantId::from(42).to_string(), "42");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TenantId {
    /// A numeric tenant id, as written by the Go SDK's latest version.
    Number(i64),
    /// A textual tenant id, as written by earlier Go SDK versions.
    Text(String),
}

impl TenantId {
    /// Whether this is the Go zero value (`0` or `""`), which the Go SDK omits
    /// and so means "no tenant".
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Number(n) => *n == 0,
            Self::Text(s) => s.is_empty(),
        }
    }
}

impl fmt::Display for TenantId {
    /// Writes the value as it appears in the `X-Tenant-ID` header.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

impl From<i64> for TenantId {
    fn from(value: i64) -> Self {
        Self::Number(value)
    }
}

impl From<i32> for TenantId {
    fn from(value: i32) -> Self {
        Self::Number(value.into())
    }
}

impl From<u32> for TenantId {
    fn from(value: u32) -> Self {
        Self::Number(value.into())
    }
}

impl From<&str> for TenantId {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for TenantId {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl Serialize for TenantId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(n) => serializer.serialize_i64(*n),
            Self::Text(s) => serializer.serialize_str(s),
        }
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TenantVisitor)
    }
}

struct TenantVisitor;

impl Visitor<'_> for TenantVisitor {
    type Value = TenantId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a tenant id: a 64-bit integer or a string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<TenantId, E> {
        Ok(TenantId::Number(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<TenantId, E> {
        i64::try_from(v)
            .map(TenantId::Number)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TenantId, E> {
        Ok(TenantId::Text(v.to_owned()))
    }
}
