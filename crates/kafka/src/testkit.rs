//! [`KafkaBroker`]: a throw-away Kafka-protocol broker (tansu) for tests.
//!
//! ```no_run
//! use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let broker = KafkaBroker::start()?;
//! let transport = KafkaTransport::connect(broker.config()).await?;
//! # Ok(())
//! # }
//! ```

use std::{
    env, fs,
    io::{self, ErrorKind},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use tempfile::TempDir;

use crate::KafkaConfig;

/// The environment variable naming the tansu binary to use.
pub const TANSU_ENV: &str = "EVBUS_TANSU";

/// How to get the broker when it is missing.
const HOW_TO_GET: &str = "run `cargo xtask test` (it installs it), or \
     `cargo install tansu --version 0.6.0 --locked --features dynostore,libsql` \
     and put it on PATH or name it in EVBUS_TANSU";

/// How long a starting broker may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a stopping broker may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A tansu broker on a free loopback port, storing into a temporary
/// directory (sqlite), stopped and deleted on drop.
///
/// The binary is found through the `EVBUS_TANSU` environment variable, then
/// `PATH`, then `~/.cache/evbus/tansu-0.6.0/bin/tansu` (where
/// `cargo xtask test` installs it).
#[derive(Debug)]
pub struct KafkaBroker {
    binary: PathBuf,
    dir: TempDir,
    port: u16,
    child: Mutex<Option<Child>>,
}

impl KafkaBroker {
    /// Starts a broker; returns once it accepts connections.
    ///
    /// # Errors
    /// The binary is missing (the message says how to get it), or the
    /// broker did not start (the message includes the end of its log).
    pub fn start() -> io::Result<Self> {
        let binary = find_binary()?;
        let dir = tempfile::Builder::new().prefix("evbus-tansu-").tempdir()?;
        let port = free_port()?;
        let broker = Self {
            binary,
            dir,
            port,
            child: Mutex::new(None),
        };
        broker.spawn()?;
        Ok(broker)
    }

    /// `host:port` to bootstrap from.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// A transport configuration for this broker, tuned for tests: short
    /// heartbeats and session so rebalances are quick, topics created with
    /// 4 partitions unless told otherwise.
    pub fn config(&self) -> KafkaConfig {
        let mut config = KafkaConfig::new(&self.bootstrap());
        config.heartbeat_interval = Duration::from_millis(500);
        config.session_timeout = Duration::from_secs(10);
        config.default_partitions = Some(4);
        config
    }

    /// Where the broker keeps its data (and its log, `tansu.log`).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the broker (SIGKILL, like a crash) and starts it again on the
    /// same port with the same data; returns once it accepts connections.
    ///
    /// A crash rather than a graceful stop: while tansu 0.6.0 shuts down
    /// gracefully (about 5 s) it answers every produce request with
    /// UNKNOWN_SERVER_ERROR, after which librdkafka's idempotent producer
    /// kept failing that partition's later messages with the same error.
    ///
    /// # Errors
    /// The broker did not start again.
    pub fn restart(&self) -> io::Result<()> {
        if let Some(mut child) = self.child.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.spawn()
    }

    fn spawn(&self) -> io::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let child = Command::new(&self.binary)
            .arg("broker")
            .args(["--listener-url", &url])
            .args(["--advertised-listener-url", &url])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("could not run {}: {e}; {HOW_TO_GET}", self.binary.display()),
                )
            })?;
        *self.child.lock() = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let exited = self
                .child
                .lock()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.stop();
                return Err(io::Error::other(format!(
                    "tansu did not start on port {} ({}); its log ends with:\n{}",
                    self.port,
                    exited.map_or("timed out".to_owned(), |s| s.to_string()),
                    self.log_tail()
                )));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Stops the broker: SIGTERM, then SIGKILL if it lingers.
    fn stop(&self) {
        let Some(mut child) = self.child.lock().take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn find_binary() -> io::Result<PathBuf> {
    if let Some(path) = env::var_os(TANSU_ENV) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(io::Error::new(
                ErrorKind::NotFound,
                format!("{TANSU_ENV}={} is not a file; {HOW_TO_GET}", path.display()),
            ))
        };
    }
    let on_path = env::var_os("PATH")
        .map(|paths| {
            env::split_paths(&paths)
                .map(|p| p.join("tansu"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let cached = env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/evbus/tansu-0.6.0/bin/tansu"));
    on_path
        .into_iter()
        .chain(cached)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            io::Error::new(
                ErrorKind::NotFound,
                format!("the tansu broker binary was not found; {HOW_TO_GET}"),
            )
        })
}
