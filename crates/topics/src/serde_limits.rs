//! Serde forms of optional limits: a number or human duration, or `"unlimited"`.
//!
//! The unlimited sentinels (`u64::MAX`, `Duration::MAX`) are written as the
//! word `"unlimited"` because TOML integers stop at `i64::MAX` and a
//! humantime rendering of `Duration::MAX` is unreadable.

use serde::{Deserialize, Deserializer, Serializer};

const UNLIMITED_WORD: &str = "unlimited";

pub(crate) mod retention {
    use std::time::Duration;

    use super::*;
    use crate::options::UNLIMITED_RETENTION;

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<Duration>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(d) if *d == UNLIMITED_RETENTION => serializer.serialize_str(UNLIMITED_WORD),
            Some(d) => serializer.collect_str(&humantime_serde::re::humantime::format_duration(*d)),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else {
            return Ok(None);
        };
        if text == UNLIMITED_WORD {
            return Ok(Some(UNLIMITED_RETENTION));
        }
        humantime_serde::re::humantime::parse_duration(&text)
            .map(Some)
            .map_err(|e| {
                serde::de::Error::custom(format!(
                    "invalid retention {text:?}: {e} (expected e.g. \"24h\", \"7days\" or \"unlimited\")"
                ))
            })
    }
}

pub(crate) mod count {
    use super::*;
    use crate::options::UNLIMITED;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u64),
        Word(String),
    }

    pub(crate) fn serialize<S: Serializer>(
        value: &Option<u64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            None => serializer.serialize_none(),
            Some(UNLIMITED) => serializer.serialize_str(UNLIMITED_WORD),
            Some(n) => serializer.serialize_u64(*n),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<u64>, D::Error> {
        match Option::<Raw>::deserialize(deserializer)? {
            None => Ok(None),
            Some(Raw::Number(n)) => Ok(Some(n)),
            Some(Raw::Word(word)) if word == UNLIMITED_WORD => Ok(Some(UNLIMITED)),
            Some(Raw::Word(word)) => Err(serde::de::Error::custom(format!(
                "invalid limit {word:?} (expected a non-negative integer or \"unlimited\")"
            ))),
        }
    }
}
