//! resources: peak RSS, heap bytes (counting allocator), threads and tokio
//! tasks while a scenario runs on evbus, and the same after `close()`
//! compared with before the bus started (leak check). Each scenario runs in
//! a child process of its own; the post-close reading is taken after
//! `IDLE`, once tokio's idle blocking threads have timed out (10 s).

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use evbus::BusConfig;
use serde::{Deserialize, Serialize};

use crate::perf::{
    alloc, child, probe,
    scenarios::e2e_ordered,
    setup::fresh_topics,
    side::{Evbus, PublishMode, Run, Side, publish_all},
    workload::Work,
};

/// Wait after `close()` before the post-close reading: tokio's blocking
/// threads exit after 10 s idle; the margin covers their wake-up.
pub const IDLE: Duration = Duration::from_millis(10_500);

/// How long the children of one transport may take together.
const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// What a child process runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub transport: String,
    pub scenario: String,
    pub config: BusConfig,
    pub messages: u64,
    pub aggregates: u64,
    pub topics: usize,
    /// Whether a consumer checks the messages (else publish only).
    pub consume: bool,
}

/// One reading of the process.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Reading {
    pub rss_bytes: u64,
    pub heap_bytes: u64,
    pub threads: u64,
    pub tasks: u64,
}

/// What a child reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resources {
    pub transport: String,
    pub scenario: String,
    pub messages: u64,
    /// Before the bus was built (runtime and workload already there).
    pub before: Reading,
    /// Highest values while the bus ran (RSS from the kernel's peak).
    pub peak: Reading,
    /// After `close()` and `IDLE`.
    pub after: Reading,
}

/// How much more live heap than before the bus may be left after
/// `close()`: room for a few lazily built statics, far below what a leak
/// that grows per message leaves after tens of thousands of messages.
pub const HEAP_SLACK: u64 = 1 << 20;

impl Resources {
    /// Live heap after `close()` less before, bytes.
    pub fn heap_growth(&self) -> i64 {
        self.after.heap_bytes as i64 - self.before.heap_bytes as i64
    }

    /// The leak-check verdicts: extra threads, extra tasks, RSS growth.
    pub fn leaks(&self) -> (i64, i64, f64) {
        (
            self.after.threads as i64 - self.before.threads as i64,
            self.after.tasks as i64 - self.before.tasks as i64,
            self.after.rss_bytes as f64 / self.before.rss_bytes as f64 - 1.0,
        )
    }

    /// Whether nothing leaked: no extra threads or tasks, and the live heap
    /// back within [`HEAP_SLACK`] of before. RSS is reported beside it but
    /// not judged: it stood in for the live heap before the counting
    /// allocator, and it keeps what glibc's malloc holds after free.
    pub fn passes(&self) -> bool {
        let (threads, tasks, _) = self.leaks();
        threads <= 0 && tasks <= 0 && self.heap_growth() <= HEAP_SLACK as i64
    }
}

fn reading(handle: &tokio::runtime::Handle) -> Reading {
    Reading {
        rss_bytes: probe::rss(),
        heap_bytes: alloc::live() as u64,
        threads: probe::threads(),
        tasks: handle.metrics().num_alive_tasks() as u64,
    }
}

/// The child process: runs one spec and prints its `Resources` as JSON.
pub fn child(spec: &str) -> anyhow::Result<()> {
    alloc::enable();
    let spec: ChildSpec = serde_json::from_str(spec).context("reading the child spec")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    let work = Work::new(spec.messages, spec.aggregates, spec.topics)?;
    let side = Evbus {
        config: spec.config.clone(),
    };

    let before = reading(&handle);
    probe::reset_peak_rss();
    alloc::reset_peak();
    let stop = Arc::new(AtomicBool::new(false));
    let max_threads = Arc::new(AtomicU64::new(0));
    let max_tasks = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, max_threads, max_tasks, handle) = (
            stop.clone(),
            max_threads.clone(),
            max_tasks.clone(),
            handle.clone(),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                max_threads.fetch_max(probe::threads(), Ordering::Relaxed);
                max_tasks.fetch_max(handle.metrics().num_alive_tasks() as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    let result = runtime.block_on(async {
        if spec.consume {
            let sample = e2e_ordered::once(&side, &work, spec.topics, Duration::ZERO).await?;
            if let Some(tally) = sample.tally {
                tally.check(&spec.scenario)?;
            }
        } else {
            let topics = fresh_topics(spec.topics);
            let run = side.open(&topics, None).await?;
            publish_all(&run, &topics, &work, PublishMode::Async).await?;
            run.close().await?;
        }
        anyhow::Ok(())
    });
    if let Err(error) = result {
        // A failed run may leave a client's blocking thread behind.
        runtime.shutdown_timeout(Duration::from_secs(5));
        return Err(error);
    }
    stop.store(true, Ordering::Relaxed);
    sampler.join().expect("the sampler does not panic");
    let peak = Reading {
        rss_bytes: probe::peak_rss(),
        heap_bytes: alloc::peak() as u64,
        // The sampler thread itself is not the bus's.
        threads: max_threads.load(Ordering::Relaxed).saturating_sub(1),
        tasks: max_tasks.load(Ordering::Relaxed),
    };

    std::thread::sleep(IDLE);
    let after = reading(&handle);
    let report = Resources {
        transport: spec.transport,
        scenario: spec.scenario,
        messages: work.len(),
        before,
        peak,
        after,
    };
    drop(work);
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Runs every spec in a child process of its own, all at once (readings
/// are per process; nothing here is timed), and collects the reports.
pub fn run_children(specs: &[ChildSpec]) -> anyhow::Result<Vec<Resources>> {
    let children = specs
        .iter()
        .map(|spec| child::spawn("--child", spec))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let started = std::time::Instant::now();
    specs
        .iter()
        .zip(children)
        .map(|(spec, running)| {
            let what = format!(
                "the resources child for {} {}",
                spec.transport, spec.scenario
            );
            child::report(running, started, CHILD_TIMEOUT, &what)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(after: Reading) -> Resources {
        let before = Reading {
            rss_bytes: 100 << 20,
            heap_bytes: 50 << 20,
            threads: 3,
            tasks: 0,
        };
        Resources {
            transport: "memory".into(),
            scenario: "publish async".into(),
            messages: 10_000,
            before,
            peak: after,
            after,
        }
    }

    #[test]
    fn the_leak_check_judges_the_live_heap_not_rss() {
        let rss_kept_by_malloc = Reading {
            rss_bytes: 180 << 20,
            heap_bytes: 50 << 20,
            threads: 3,
            tasks: 0,
        };
        assert!(resources(rss_kept_by_malloc).passes());
        let heap_left = Reading {
            heap_bytes: (50 << 20) + HEAP_SLACK + 1,
            ..rss_kept_by_malloc
        };
        assert!(!resources(heap_left).passes());
        let task_left = Reading {
            tasks: 1,
            ..rss_kept_by_malloc
        };
        assert!(!resources(task_left).passes());
    }
}
