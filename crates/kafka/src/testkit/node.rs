//! One Apache Kafka process in KRaft combined mode (broker + controller):
//! its configuration, storage format, start, stop and log.

use std::{
    fmt::Write as _,
    fs,
    io::{self, ErrorKind},
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use parking_lot::Mutex;

use super::security::BrokerSecurity;

/// The cluster id every test cluster is formatted with: each cluster has
/// its own data directories, so they never meet.
const CLUSTER_ID: &str = "ZXZidXMtdGVzdGtpdC0wMQ";

/// How long a graceful stop may take before the process is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the JVM is tuned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum JvmProfile {
    /// Small heap, quick start: the JIT stops at its first tier, which saves
    /// seconds of CPU per start on a small machine. For tests. (Default.)
    #[default]
    QuickStart,
    /// A larger heap and the full JIT, for benchmarks.
    Throughput,
}

impl JvmProfile {
    fn args(self) -> &'static [&'static str] {
        match self {
            JvmProfile::QuickStart => &[
                "-Xms128m",
                "-Xmx512m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
            ],
            JvmProfile::Throughput => &["-Xms1g", "-Xmx1g", "-XX:+UseG1GC"],
        }
    }
}

/// The loopback ports of one node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ports {
    /// Clients connect here (with the configured security).
    pub client: u16,
    /// Brokers replicate over this plaintext listener; readiness checks use it.
    pub internal: u16,
    /// The KRaft controller listener.
    pub controller: u16,
    /// The proxied client listener, used only with an advertised proxy.
    pub proxied: u16,
}

impl Ports {
    pub fn free() -> io::Result<Self> {
        // Held together so the three are distinct.
        let listeners = [bind()?, bind()?, bind()?, bind()?];
        let port = |l: &TcpListener| l.local_addr().map(|a| a.port());
        Ok(Self {
            client: port(&listeners[0])?,
            internal: port(&listeners[1])?,
            controller: port(&listeners[2])?,
            proxied: port(&listeners[3])?,
        })
    }
}

fn bind() -> io::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
}

/// What a node is: its id, ports, the cluster's voters and replication.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub id: u32,
    pub ports: Ports,
    /// The proxy port advertised on the proxied client listener; `None`:
    /// no such listener.
    pub advertised_proxy: Option<u16>,
    /// `controller.quorum.voters`: `id@host:port` of every node.
    pub voters: String,
    /// Replication of internal topics and the default for new topics.
    pub replication: u32,
    /// `min.insync.replicas` for internal and new topics.
    pub min_insync: u32,
    pub security: BrokerSecurity,
    pub jvm: JvmProfile,
}

/// A formatted node, running or not.
#[derive(Debug)]
pub(crate) struct Node {
    spec: NodeSpec,
    dir: PathBuf,
    java: PathBuf,
    classpath: String,
    child: Mutex<Option<Child>>,
}

impl Node {
    /// Writes the node's configuration under `dir` and formats its storage.
    pub fn prepare(spec: NodeSpec, dir: PathBuf, java: PathBuf, libs: &Path) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        let node = Self {
            classpath: format!("{}/*", libs.display()),
            spec,
            dir,
            java,
            child: Mutex::new(None),
        };
        fs::write(node.dir.join("server.properties"), node.properties()?)?;
        fs::write(node.dir.join("log4j2.properties"), LOG4J2)?;
        node.format()?;
        Ok(node)
    }

    pub fn id(&self) -> u32 {
        self.spec.id
    }

    /// The client listener's protocol (`PLAINTEXT`, `SASL_SSL`, ...).
    pub fn protocol(&self) -> &'static str {
        self.spec.security.protocol()
    }

    /// `host:port` of the client listener.
    pub fn client_address(&self) -> String {
        format!("127.0.0.1:{}", self.spec.ports.client)
    }

    /// `host:port` of the proxied client listener, if it has one.
    pub fn proxied_address(&self) -> Option<String> {
        self.spec
            .advertised_proxy
            .map(|_| format!("127.0.0.1:{}", self.spec.ports.proxied))
    }

    /// `host:port` of the plaintext internal listener.
    pub fn internal_address(&self) -> String {
        format!("127.0.0.1:{}", self.spec.ports.internal)
    }

    /// Where the node keeps its data (`log.dirs`).
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn properties(&self) -> io::Result<String> {
        let NodeSpec {
            id,
            ports,
            voters,
            replication,
            min_insync,
            security,
            advertised_proxy,
            ..
        } = &self.spec;
        let data = self.data_dir();
        let mut p = format!(
            "process.roles=broker,controller\n\
             node.id={id}\n\
             controller.quorum.voters={voters}\n\
             listeners=CLIENT://127.0.0.1:{client},INTERNAL://127.0.0.1:{internal},CONTROLLER://127.0.0.1:{controller}{proxied_listener}\n\
             advertised.listeners=CLIENT://127.0.0.1:{client},INTERNAL://127.0.0.1:{internal}{proxied_advertised}\n\
             listener.security.protocol.map=CLIENT:{protocol},INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT\n\
             inter.broker.listener.name=INTERNAL\n\
             controller.listener.names=CONTROLLER\n\
             log.dirs={data}\n\
             num.partitions=1\n\
             default.replication.factor={replication}\n\
             min.insync.replicas={min_insync}\n\
             offsets.topic.replication.factor={replication}\n\
             offsets.topic.num.partitions=4\n\
             transaction.state.log.replication.factor={replication}\n\
             transaction.state.log.min.isr={min_insync}\n\
             share.coordinator.state.topic.replication.factor={replication}\n\
             share.coordinator.state.topic.min.isr={min_insync}\n\
             auto.create.topics.enable=false\n\
             unclean.leader.election.enable=false\n\
             # Tests join and leave groups all the time: no initial delay, and\n\
             # sessions as short as the tests ask for.\n\
             group.initial.rebalance.delay.ms=0\n\
             group.min.session.timeout.ms=1000\n\
             # Two cores: few threads.\n\
             num.network.threads=2\n\
             num.io.threads=2\n\
             num.recovery.threads.per.data.dir=1\n\
             background.threads=2\n",
            client = ports.client,
            internal = ports.internal,
            controller = ports.controller,
            // Clients that came through a proxy learn the proxy's address.
            proxied_listener = advertised_proxy
                .map(|_| format!(",PROXIED://127.0.0.1:{}", ports.proxied))
                .unwrap_or_default(),
            proxied_advertised = advertised_proxy
                .map(|proxy| format!(",PROXIED://127.0.0.1:{proxy}"))
                .unwrap_or_default(),
            protocol = security.protocol(),
            data = data.display(),
        );
        if let Some(tls) = &security.tls {
            let pem = self.dir.join("server.pem");
            fs::write(
                &pem,
                format!(
                    "{}\n{}",
                    tls.private_key_pem.expose().trim(),
                    tls.certificate_chain_pem.trim()
                ),
            )?;
            let _ = write!(
                p,
                "listener.name.client.ssl.keystore.type=PEM\n\
                 listener.name.client.ssl.keystore.location={}\n",
                pem.display()
            );
        }
        if security.scram.is_some() {
            p.push_str(
                "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512\n",
            );
            for mechanism in ["scram-sha-256", "scram-sha-512"] {
                let _ = writeln!(
                    p,
                    "listener.name.client.{mechanism}.sasl.jaas.config=\
                     org.apache.kafka.common.security.scram.ScramLoginModule required;"
                );
            }
        }
        Ok(p)
    }

    fn java(&self) -> Command {
        let mut command = Command::new(&self.java);
        command
            .args(self.spec.jvm.args())
            .arg("-Djava.awt.headless=true")
            .arg(format!(
                "-Dlog4j2.configurationFile={}",
                self.dir.join("log4j2.properties").display()
            ))
            .arg("-cp")
            .arg(&self.classpath)
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// `kafka-storage format`, with the SCRAM credentials if any.
    fn format(&self) -> io::Result<()> {
        let mut command = self.java();
        command.args([
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            CLUSTER_ID,
            "--config",
            "server.properties",
        ]);
        if let Some(user) = &self.spec.security.scram {
            for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512"] {
                command.arg("--add-scram").arg(format!(
                    "{mechanism}=[name={},password={}]",
                    user.username,
                    user.password.expose()
                ));
            }
        }
        let out = command.output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "formatting the storage of Kafka node {} failed ({}): {}{}",
                self.spec.id,
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        Ok(())
    }

    /// Starts the process (appending to its log) unless it runs already.
    pub fn spawn(&self) -> io::Result<()> {
        let mut child = self.child.lock();
        if child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
        {
            return Ok(());
        }
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())?;
        let started = self
            .java()
            .args(["kafka.Kafka", "server.properties"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("could not run {}: {e}", self.java.display()),
                )
            })?;
        // Read by the watchdog that kills the node if the test process dies.
        fs::write(self.dir.join("broker.pid"), started.id().to_string())?;
        *child = Some(started);
        Ok(())
    }

    /// Whether the process has exited (a crash at start shows here).
    pub fn exited(&self) -> Option<String> {
        self.child
            .lock()
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map(|status| status.to_string())
    }

    pub fn is_running(&self) -> bool {
        self.child
            .lock()
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGKILL, like a crash: nothing is flushed, no leadership handed over.
    pub fn kill(&self) {
        if let Some(mut child) = self.child.lock().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM: a controlled shutdown (leaderships moved, logs flushed);
    /// SIGKILL if it takes longer than 30 s.
    pub fn terminate(&self) -> io::Result<()> {
        let Some(mut child) = self.child.lock().take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(io::Error::new(
            ErrorKind::TimedOut,
            format!(
                "Kafka node {} did not stop within {STOP_TIMEOUT:?} of SIGTERM and was killed",
                self.spec.id
            ),
        ))
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("broker.log")
    }

    /// The last lines of the node's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        format!(
            "--- Kafka node {} log ({}), last lines:\n{}",
            self.spec.id,
            self.log_path().display(),
            lines[lines.len().saturating_sub(30)..].join("\n")
        )
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Drop does not wait for a controlled shutdown: the data goes too.
        self.kill();
    }
}

/// Kafka's own messages at WARN and above, the broker's start and stop at
/// INFO, into the node's log file (stdout is redirected there).
const LOG4J2: &str = "\
rootLogger.level=WARN
rootLogger.appenderRef.stdout.ref=STDOUT
appender.stdout.type=Console
appender.stdout.name=STDOUT
appender.stdout.layout.type=PatternLayout
appender.stdout.layout.pattern=[%d] %p %m (%c)%n
logger.server.name=kafka.server.KafkaRaftServer
logger.server.level=INFO
logger.broker.name=kafka.server.BrokerServer
logger.broker.level=INFO
";
