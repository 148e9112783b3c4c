//! What the consumers reported, and the accounting of a scenario from it:
//! lost, per-aggregate reorders, duplicates and recovery times.

use std::{
    collections::{HashMap, HashSet},
    time::{Duration, Instant},
};

use parking_lot::Mutex;
use serde::Serialize;

/// One handled event, as a consumer reported it.
#[derive(Debug, Clone)]
pub struct Handled {
    /// The aggregate id.
    pub aggregate: String,
    /// The event version (the publishing round).
    pub version: i64,
    /// The broker's delivery count.
    pub delivery_count: u32,
    /// When the report arrived.
    pub at: Instant,
}

/// A consumer's resource sample.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the scenario began.
    pub at_secs: f64,
    /// Resident set size, bytes.
    pub rss: u64,
    /// Live heap, bytes.
    pub heap: u64,
    /// Live tokio tasks.
    pub tasks: u64,
    /// OS threads.
    pub threads: u64,
    /// Which consumer process (0, 1, ... as they were started).
    pub process: u32,
}

/// Everything the consumers of one scenario reported, in arrival order.
#[derive(Debug, Default)]
pub struct Ledger {
    handled: Mutex<Vec<Handled>>,
    distinct: Mutex<HashSet<(String, i64)>>,
    samples: Mutex<Vec<Sample>>,
}

impl Ledger {
    /// Records a line of a consumer's output (see `child`); other lines
    /// (logs) are ignored.
    pub fn record(&self, line: &str, process: u32, began: Instant) {
        let mut fields = line.split_whitespace();
        match fields.next() {
            Some("h") => {
                let (Some(aggregate), Some(version), Some(count)) =
                    (fields.next(), fields.next(), fields.next())
                else {
                    return;
                };
                let (Ok(version), Ok(delivery_count)) = (version.parse(), count.parse()) else {
                    return;
                };
                self.distinct.lock().insert((aggregate.to_owned(), version));
                self.handled.lock().push(Handled {
                    aggregate: aggregate.to_owned(),
                    version,
                    delivery_count,
                    at: Instant::now(),
                });
            }
            Some("s") => {
                let numbers: Vec<u64> = fields.filter_map(|f| f.parse().ok()).collect();
                if let [rss, heap, tasks, threads] = numbers[..] {
                    self.samples.lock().push(Sample {
                        at_secs: began.elapsed().as_secs_f64(),
                        rss,
                        heap,
                        tasks,
                        threads,
                        process,
                    });
                }
            }
            _ => {}
        }
    }

    /// Distinct (aggregate, version) pairs handled so far.
    pub fn distinct(&self) -> usize {
        self.distinct.lock().len()
    }

    /// The resource samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples.lock().clone()
    }

    /// Every handled report, in arrival order.
    pub fn handled(&self) -> Vec<Handled> {
        self.handled.lock().clone()
    }
}

/// The accounting of a scenario.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    /// Handler completions reported (duplicates included).
    pub handled: usize,
    /// Acknowledged events never handled.
    pub lost: usize,
    /// First deliveries handled before an earlier version of their
    /// aggregate had been handled.
    pub reorders: usize,
    /// Handler completions beyond the first of an event.
    pub duplicates: usize,
    /// Handler completions of a redelivery (broker delivery count above 1).
    pub redelivered: usize,
    /// The first few reorders, to say what happened in a failed run.
    #[serde(skip)]
    pub first_reorders: Vec<Reorder>,
}

/// How many reorders a tally describes one by one.
const REORDERS_DESCRIBED: usize = 5;

/// One reorder: `handled` came first while `missing`, the aggregate's next
/// version, had not been handled.
#[derive(Debug, Clone)]
pub struct Reorder {
    /// The version handled too early.
    pub handled: Handled,
    /// The version it overtook, when it came at last (`None`: never).
    pub missing: Option<Handled>,
}

/// Counts against `acked`, each aggregate's acknowledged versions (1..=n,
/// published in order, each acknowledged before the next was sent).
pub fn tally(handled: &[Handled], acked: &HashMap<String, i64>) -> Tally {
    // Per aggregate: the highest version v such that 1..=v were all seen,
    // and the versions seen above it.
    let mut contiguous: HashMap<&str, (i64, HashSet<i64>)> = HashMap::new();
    let mut reorders = 0;
    let mut first_reorders = Vec::new();
    let mut duplicates = 0;
    for event in handled {
        let (upto, above) = contiguous.entry(&event.aggregate).or_default();
        if event.version <= *upto || above.contains(&event.version) {
            duplicates += 1;
            continue;
        }
        if event.version != *upto + 1 {
            reorders += 1;
            if first_reorders.len() < REORDERS_DESCRIBED {
                let next = *upto + 1;
                first_reorders.push(Reorder {
                    handled: event.clone(),
                    missing: (handled.iter())
                        .find(|h| h.aggregate == event.aggregate && h.version == next)
                        .cloned(),
                });
            }
            above.insert(event.version);
            continue;
        }
        *upto += 1;
        while above.remove(&(*upto + 1)) {
            *upto += 1;
        }
    }
    let lost = acked
        .iter()
        .map(|(aggregate, &last)| {
            let (upto, above) = contiguous
                .get(aggregate.as_str())
                .map(|(u, a)| (*u, a.clone()))
                .unwrap_or_default();
            (1..=last)
                .filter(|v| *v > upto && !above.contains(v))
                .count()
        })
        .sum();
    Tally {
        redelivered: handled.iter().filter(|h| h.delivery_count > 1).count(),
        handled: handled.len(),
        lost,
        reorders,
        duplicates,
        first_reorders,
    }
}

/// For each fault instant: how long until an event published after it was
/// handled (`None`: none was). `round_started[v - 1]` is when version v was
/// first sent.
pub fn recoveries(
    handled: &[Handled],
    faults: &[Instant],
    round_started: &[Instant],
) -> Vec<Option<Duration>> {
    faults
        .iter()
        .map(|&fault| {
            handled
                .iter()
                .filter(|h| {
                    usize::try_from(h.version - 1)
                        .ok()
                        .and_then(|i| round_started.get(i))
                        .is_some_and(|&sent| sent > fault)
                })
                .map(|h| h.at.saturating_duration_since(fault))
                .min()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(list: &[(&str, i64)]) -> Vec<Handled> {
        let at = Instant::now();
        list.iter()
            .map(|&(a, v)| Handled {
                aggregate: a.into(),
                version: v,
                delivery_count: 1,
                at,
            })
            .collect()
    }

    #[test]
    fn in_order_with_a_redelivery_is_one_duplicate() {
        let handled = events(&[("a", 1), ("b", 1), ("a", 2), ("a", 2), ("b", 2)]);
        let acked = HashMap::from([("a".into(), 2), ("b".into(), 2)]);
        let t = tally(&handled, &acked);
        assert_eq!((t.lost, t.reorders, t.duplicates), (0, 0, 1));
    }

    #[test]
    fn a_gap_is_a_reorder_and_a_missing_version_is_lost() {
        let handled = events(&[("a", 1), ("a", 3), ("a", 2), ("b", 2)]);
        let acked = HashMap::from([("a".into(), 3), ("b".into(), 2)]);
        let t = tally(&handled, &acked);
        assert_eq!((t.lost, t.reorders, t.duplicates), (1, 2, 0));
        let described: Vec<_> = (t.first_reorders.iter())
            .map(|r| {
                let missing = r
                    .missing
                    .as_ref()
                    .map(|m| (m.aggregate.as_str(), m.version));
                (r.handled.aggregate.as_str(), r.handled.version, missing)
            })
            .collect();
        assert_eq!(
            described,
            [("a", 3, Some(("a", 2))), ("b", 2, None)],
            "each reorder names the version it overtook, if that came"
        );
    }
}
