//! Where the Java runtime and the Apache Kafka jars are.

use std::{
    env,
    io::{self, ErrorKind},
    path::PathBuf,
};

/// The Apache Kafka release the testkit runs (`cargo xtask` installs it).
pub const KAFKA_VERSION: &str = "4.4.0";

/// The environment variable naming a directory of Apache Kafka jars (the
/// broker, its tools and their dependencies) to use instead of the cache.
pub const KAFKA_LIBS_ENV: &str = "EVBUS_KAFKA_LIBS";

/// The environment variable naming a broker the tests use instead of
/// starting one (`host:port`, plaintext).
pub const KAFKA_BOOTSTRAP_ENV: &str = "EVBUS_KAFKA_BOOTSTRAP";

/// How to get the broker when it is missing.
pub(crate) const HOW_TO_GET: &str = "run `cargo xtask brokers` (or `cargo xtask test`), which \
     fetches Apache Kafka with Maven into ~/.cache/evbus; or name a directory of its jars in \
     EVBUS_KAFKA_LIBS; or run a broker yourself and name it in EVBUS_KAFKA_BOOTSTRAP=host:port";

/// The directory holding the Kafka jars: `EVBUS_KAFKA_LIBS`, else
/// `$EVBUS_CACHE_DIR` or `~/.cache/evbus`, then `kafka-<version>/libs`.
pub(crate) fn libs_dir() -> io::Result<PathBuf> {
    let dir = match env::var_os(KAFKA_LIBS_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => cache_dir()
            .join(format!("kafka-{KAFKA_VERSION}"))
            .join("libs"),
    };
    let complete = dir
        .join(format!("kafka_2.13-{KAFKA_VERSION}.jar"))
        .is_file();
    if complete {
        Ok(dir)
    } else {
        Err(io::Error::new(
            ErrorKind::NotFound,
            format!(
                "Apache Kafka {KAFKA_VERSION} was not found in {}; {HOW_TO_GET}",
                dir.display()
            ),
        ))
    }
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = env::var_os("EVBUS_CACHE_DIR").filter(|d| !d.is_empty()) {
        return dir.into();
    }
    let home = env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    PathBuf::from(home).join(".cache").join("evbus")
}

/// The `java` launcher: `$JAVA_HOME/bin/java`, else `java` on `PATH`.
pub(crate) fn java() -> io::Result<PathBuf> {
    let from_home = env::var_os("JAVA_HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join("bin").join("java"));
    let on_path = env::var_os("PATH")
        .map(|paths| {
            env::split_paths(&paths)
                .map(|p| p.join("java"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    from_home
        .into_iter()
        .chain(on_path)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::NotFound,
                "no `java` found (JAVA_HOME or PATH): Apache Kafka needs Java 17 or newer, \
                 e.g. `apt-get install openjdk-17-jre-headless`",
            )
        })
}

/// A broker the user runs, named in `EVBUS_KAFKA_BOOTSTRAP`.
pub(crate) fn external_bootstrap() -> Option<String> {
    env::var(KAFKA_BOOTSTRAP_ENV)
        .ok()
        .filter(|b| !b.trim().is_empty())
}
