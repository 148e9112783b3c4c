//! A full disk on the topic's leader: its data directory is moved onto a
//! small tmpfs of its own (a restart), which is then filled until writes
//! fail, with the load running, and freed again; then the data moves back.
//!
//! Done inside the cluster's temp dir with mount(8), so nothing outside it
//! is touched; it needs the right to mount (root has it). A node whose
//! disk failed is restarted once the disk is fixed, as an operator would:
//! nats-server turns JetStream off on a write error and Kafka stops a
//! broker whose only log directory failed, and neither comes back alone.
//!
//! A data directory made read-only under a running broker is not done:
//! Linux refuses to remount a filesystem read-only while files on it are
//! open for writing (EBUSY; only the kernel's own error handling forces
//! it), and permissions do not bind a broker running as root. Starting a
//! broker on a read-only directory would test its start-up, not a fault
//! under load.

use std::{
    fs,
    io::{ErrorKind, Write as _},
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures::FutureExt;

use crate::chaos::{
    clusters::Cluster,
    workload::{FaultCtx, Faults},
};

/// Room on the small disk above what the node stores when it is mounted:
/// enough for the node to run until the filler takes the rest.
const HEADROOM: u64 = 64 << 20;
/// How long the publisher runs: the phases need restarts, a Kafka one
/// takes seconds.
pub const PUBLISH_FOR: Duration = Duration::from_secs(60);

/// The phases, at fractions of the publishing time.
pub fn faults() -> Faults {
    Box::new(|ctx: FaultCtx| {
        async move {
            let began = Instant::now();
            let at = |fraction: f64| {
                tokio::time::sleep_until((began + ctx.publish_for.mul_f64(fraction)).into())
            };
            at(0.1).await;
            let node = ctx.cluster.leader_of(&ctx.topic).await?;
            let dir = ctx.cluster.data_dir(node)?;
            ctx.mark(format!(
                "move node {node}'s data onto a small tmpfs (restart)"
            ));
            ctx.cluster.stop(node, false).await?;
            let disk = blocking(dir, SmallDisk::mount).await?;
            ctx.cluster.start_node(node).await?;

            at(0.25).await;
            ctx.mark(format!("node {node}'s disk full, the leader"));
            let disk = blocking(disk, |d| d.fill().map(|()| d)).await?;
            at(0.5).await;
            let leader = ctx.cluster.leader_of(&ctx.topic).await?;
            ctx.mark(format!(
                "node {node}'s disk freed, node restarted (the leader is node {leader})"
            ));
            let disk = blocking(disk, |d| d.free().map(|()| d)).await?;
            restart(&ctx.cluster, node).await?;

            at(0.75).await;
            ctx.mark(format!("move node {node}'s data back (restart)"));
            ctx.cluster.stop(node, false).await?;
            blocking(disk, SmallDisk::unmount).await?;
            ctx.cluster.start_node(node).await
        }
        .boxed()
    })
}

/// Stops `node` if it still runs and starts it again.
async fn restart(cluster: &Arc<Cluster>, node: u32) -> anyhow::Result<()> {
    if cluster.is_running(node) {
        cluster.stop(node, false).await?;
    }
    cluster.start_node(node).await
}

async fn blocking<T: Send + 'static, R: Send + 'static>(
    value: T,
    f: impl FnOnce(T) -> anyhow::Result<R> + Send + 'static,
) -> anyhow::Result<R> {
    tokio::task::spawn_blocking(move || f(value)).await?
}

/// A tmpfs mounted over a node's data directory, holding its data; unmounted
/// (lazily, losing what it holds) if dropped before [`SmallDisk::unmount`],
/// so a failed run leaves no mount behind.
struct SmallDisk {
    dir: PathBuf,
    mounted: bool,
}

impl SmallDisk {
    /// Copies `dir` aside, mounts a tmpfs of its size plus [`HEADROOM`]
    /// over it and copies the data in. The node must be stopped.
    fn mount(dir: PathBuf) -> anyhow::Result<Self> {
        let aside = aside(&dir);
        copy(&dir, &aside)?;
        let size = used_bytes(&dir)? + HEADROOM;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size}"))
            .arg("evbus-chaos-disk")
            .arg(&dir))
        .context("mounting a tmpfs (needs the right to mount, as root has)")?;
        let disk = Self { dir, mounted: true };
        copy(&aside, &disk.dir)?;
        fs::remove_dir_all(&aside)?;
        Ok(disk)
    }

    /// Writes a filler file until the disk has no space left.
    fn fill(&self) -> anyhow::Result<()> {
        let mut filler = fs::File::create(self.filler())?;
        let chunk = vec![0u8; 1 << 20];
        loop {
            match filler.write(&chunk) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(error) if error.kind() == ErrorKind::StorageFull => return Ok(()),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => return Err(error).context("filling the disk"),
            }
        }
    }

    fn free(&self) -> anyhow::Result<()> {
        fs::remove_file(self.filler()).context("removing the filler")
    }

    /// Copies the data aside, unmounts and copies it back. The node must be
    /// stopped.
    fn unmount(mut self) -> anyhow::Result<()> {
        let aside = aside(&self.dir);
        copy(&self.dir, &aside)?;
        run(Command::new("umount").arg(&self.dir))?;
        self.mounted = false;
        copy(&aside, &self.dir)?;
        fs::remove_dir_all(&aside)?;
        Ok(())
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("evbus-chaos-filler")
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn aside(dir: &Path) -> PathBuf {
    dir.with_extension("aside")
}

/// Copies `from`'s contents into `to` (created), keeping modes and times.
fn copy(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    run(Command::new("cp").arg("-a").arg(from.join(".")).arg(to))
}

fn used_bytes(dir: &Path) -> anyhow::Result<u64> {
    let output = Command::new("du").arg("-sb").arg(dir).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("du -sb {}: {text}", dir.display()))
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("{command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
