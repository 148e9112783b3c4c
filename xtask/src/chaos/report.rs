//! A scenario's row, and the report of a run: a table on stdout and in
//! `target/chaos/report.md`, everything in `target/chaos/report.json`.

use std::{fmt::Write as _, path::PathBuf};

use serde::Serialize;

use super::{
    clusters::Broker,
    ledger::{Sample, Tally},
};

/// The figures of one scenario on one broker.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario name.
    pub scenario: String,
    /// Broker name.
    pub broker: &'static str,
    /// The run's seed.
    pub seed: u64,
    /// Events sent (each counted once, however often retried).
    pub published: usize,
    /// Events the broker acknowledged.
    pub acknowledged: usize,
    /// Publishes that failed and were sent again.
    pub publish_retries: usize,
    /// Handler completions (duplicates included).
    pub handled: usize,
    /// Acknowledged events never handled.
    pub lost: usize,
    /// First deliveries handled before an earlier version of their
    /// aggregate.
    pub reorders: usize,
    /// Handler completions beyond an event's first.
    pub duplicates: usize,
    /// Handler completions of a broker redelivery.
    pub redelivered: usize,
    /// The faults injected, in order.
    pub faults: Vec<String>,
    /// Per fault, how long until an event published after it was handled
    /// (`None`: never).
    pub recoveries_ms: Vec<Option<u64>>,
    /// Consumer processes started (more than 1 when consumers were killed).
    pub consumer_processes: u32,
    /// Wall time of the scenario.
    pub seconds: f64,
    /// Whether it kept every promise.
    pub passed: bool,
    /// Why it failed, if it did.
    pub failures: Vec<String>,
    /// Observations and errors.
    pub notes: Vec<String>,
    /// The consumer's resource samples (every scenario takes them; the
    /// report keeps them for the soak).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
}

impl Row {
    /// An empty row.
    pub fn new(scenario: &str, broker: Broker, seed: u64) -> Self {
        Self {
            scenario: scenario.into(),
            broker: broker.name(),
            seed,
            published: 0,
            acknowledged: 0,
            publish_retries: 0,
            handled: 0,
            lost: 0,
            reorders: 0,
            duplicates: 0,
            redelivered: 0,
            faults: Vec::new(),
            recoveries_ms: Vec::new(),
            consumer_processes: 0,
            seconds: 0.0,
            passed: false,
            failures: Vec::new(),
            notes: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// Takes the accounting's figures.
    pub fn apply(&mut self, tally: Tally) {
        self.handled = tally.handled;
        self.lost = tally.lost;
        self.reorders = tally.reorders;
        self.duplicates = tally.duplicates;
        self.redelivered = tally.redelivered;
    }

    /// The longest recovery, if every fault was recovered from.
    pub fn worst_recovery_ms(&self) -> Option<u64> {
        self.recoveries_ms
            .iter()
            .copied()
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .max()
    }

    /// Decides `passed`: no loss, no reorder, every fault recovered from,
    /// no error, and whatever failures the scenario added.
    pub fn judge(&mut self) {
        if self.lost > 0 {
            self.failures
                .push(format!("{} acknowledged events lost", self.lost));
        }
        if self.reorders > 0 {
            self.failures.push(format!("{} reorders", self.reorders));
        }
        if self.recoveries_ms.iter().any(Option::is_none) {
            self.failures
                .push("no event published after a fault was handled".into());
        }
        if self.notes.iter().any(|n| n.starts_with("error:")) {
            self.failures.push("the scenario did not complete".into());
        }
        self.passed = self.failures.is_empty();
    }
}

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The command line that reproduces it.
    pub command: String,
    /// The seed.
    pub seed: u64,
    /// The machine.
    pub machine: String,
    /// The clusters.
    pub clusters: Vec<String>,
    /// Wall time of the whole run, seconds.
    pub seconds: f64,
    /// One row per scenario and broker.
    pub rows: Vec<Row>,
}

impl Report {
    /// The table, as Markdown.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| scenario | broker | published | acked | handled | lost | reorders | duplicates \
             | retried publishes | faults | worst recovery | consumers | time | result |"
        );
        let _ = writeln!(
            out,
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"
        );
        for row in &self.rows {
            let recovery = match (row.recoveries_ms.is_empty(), row.worst_recovery_ms()) {
                (true, _) => "-".to_owned(),
                (false, Some(ms)) => format!("{:.1} s", ms as f64 / 1000.0),
                (false, None) => "never".to_owned(),
            };
            let result = if row.passed {
                "pass".to_owned()
            } else {
                format!("FAIL: {}", row.failures.join("; "))
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} s | {} |",
                row.scenario,
                row.broker,
                row.published,
                row.acknowledged,
                row.handled,
                row.lost,
                row.reorders,
                row.duplicates,
                row.publish_retries,
                row.faults.len(),
                recovery,
                row.consumer_processes,
                row.seconds,
                result
            );
        }
        out
    }

    /// Writes `report.md` and `report.json` under `target/chaos/`; returns
    /// the directory.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let dir = crate::cmd::root().join("target").join("chaos");
        std::fs::create_dir_all(&dir)?;
        let mut markdown = format!(
            "# cargo xtask chaos\n\n`{}` (seed {}), {:.0} s on {}\n\nClusters: {}\n\n{}",
            self.command,
            self.seed,
            self.seconds,
            self.machine,
            self.clusters.join("; "),
            self.table()
        );
        for row in &self.rows {
            let _ = writeln!(markdown, "\n## {} on {}\n", row.scenario, row.broker);
            for (fault, recovery) in row.faults.iter().zip(&row.recoveries_ms) {
                let recovery = recovery.map_or("never".into(), |ms| format!("{ms} ms"));
                let _ = writeln!(markdown, "- fault: {fault}; recovered in {recovery}");
            }
            for note in &row.notes {
                let _ = writeln!(markdown, "- {note}");
            }
        }
        std::fs::write(dir.join("report.md"), markdown)?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        Ok(dir)
    }
}
