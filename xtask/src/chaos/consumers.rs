//! The consuming process of a scenario: started as a child of this binary,
//! its reports fed into the [`Ledger`], killable and replaceable.

use std::{
    io::{BufRead, BufReader},
    process::{Child, ChildStdin, Command, Stdio},
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::Context;

use super::{child::ChildSpec, ledger::Ledger};

/// How long a stopped consumer may take to close its bus before it is
/// killed (the bus's own close deadline is 30 s).
const STOP_TIMEOUT: Duration = Duration::from_secs(40);

/// A consumer process, its stdin (closing it asks the process to stop) and
/// the thread feeding its reports into the ledger.
struct Running {
    child: Child,
    stdin: ChildStdin,
    reader: JoinHandle<()>,
}

/// The running consumer process and the ones before it.
pub struct Consumers {
    spec: ChildSpec,
    ledger: Arc<Ledger>,
    began: Instant,
    current: Option<Running>,
    started: u32,
}

impl Consumers {
    /// Starts the first consumer.
    pub fn start(spec: ChildSpec, ledger: Arc<Ledger>, began: Instant) -> anyhow::Result<Self> {
        let mut consumers = Self {
            spec,
            ledger,
            began,
            current: None,
            started: 0,
        };
        consumers.spawn()?;
        Ok(consumers)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let mut spec = self.spec.clone();
        // Each process fails its own handlers, differently but repeatably.
        spec.seed = spec.seed.wrapping_add(u64::from(self.started));
        let mut child = Command::new(std::env::current_exe()?)
            .args(["chaos", "--child", &serde_json::to_string(&spec)?])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a consumer process")?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let (ledger, began, process) = (self.ledger.clone(), self.began, self.started);
        // Ends when the child's stdout closes, i.e. when it exits.
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                ledger.record(&line, process, began);
            }
        });
        self.started += 1;
        self.current = Some(Running {
            child,
            stdin,
            reader,
        });
        Ok(())
    }

    /// SIGKILLs the running consumer (a crash) and starts a new one.
    pub fn kill_and_replace(&mut self) -> anyhow::Result<()> {
        if let Some(mut running) = self.current.take() {
            running.child.kill()?;
            running.child.wait()?;
        }
        self.spawn()
    }

    /// Processes started so far.
    pub fn started(&self) -> u32 {
        self.started
    }

    /// Asks the running consumer to close its bus and exit (closes its
    /// stdin); kills it if it takes longer than [`STOP_TIMEOUT`].
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(Running {
            mut child,
            stdin,
            reader,
        }) = self.current.take()
        else {
            return Ok(());
        };
        drop(stdin);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                eprintln!("a consumer did not close within {STOP_TIMEOUT:?}: killed");
                child.kill()?;
                child.wait()?;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Its last reports may still be in the pipe: the reader ends at the
        // pipe's end of file.
        tokio::task::spawn_blocking(move || reader.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the consumer's report reader panicked"))?;
        Ok(())
    }
}

impl Drop for Consumers {
    fn drop(&mut self) {
        if let Some(mut running) = self.current.take() {
            let _ = running.child.kill();
            let _ = running.child.wait();
        }
    }
}
