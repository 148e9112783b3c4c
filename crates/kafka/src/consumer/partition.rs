//! The commit tracker of one assigned partition: which fetched offsets are
//! still pending, which finished, and the offset that is safe to commit.

use std::collections::VecDeque;

use evbus_transport::ownership::Ownership;

/// Where a fetched offset stands in this assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// Queued, handed out, or waiting for a nack delay.
    Pending,
    /// Acked or rejected: never needed again by the group.
    Done,
    /// Dropped without being settled (its partition is leaving): it will
    /// never finish here, so the commit stops before it.
    Abandoned,
}

/// One partition's offsets since it was assigned (one epoch).
///
/// Offsets are kept in fetch order, which is offset order; gaps (compacted
/// records, transaction markers) do not matter because the commit position
/// is the first unfinished offset actually fetched, never `offset + 1` of a
/// number that was not seen.
#[derive(Debug)]
pub(crate) struct PartitionState {
    /// Tells settlements of this assignment from those of an earlier one.
    pub epoch: u64,
    /// Ended when the partition leaves: the fences of its records go stale.
    pub ownership: Ownership,
    /// Fetched offsets from the oldest unfinished one on.
    entries: VecDeque<(i64, Entry)>,
    pending: usize,
    /// The highest offset fetched in this epoch.
    highest: Option<i64>,
    /// The last offset committed (the next one the group reads).
    committed: Option<i64>,
    /// Whether fetching is paused because the window is full.
    pub paused: bool,
    /// Being revoked: nothing more is delivered from it.
    pub leaving: bool,
}

impl PartitionState {
    pub fn new(epoch: u64, ownership: Ownership) -> Self {
        Self {
            epoch,
            ownership,
            entries: VecDeque::new(),
            pending: 0,
            highest: None,
            committed: None,
            paused: false,
            leaving: false,
        }
    }

    /// Records a fetched offset. `false` for an offset fetched before in
    /// this epoch (librdkafka re-fetching after a reset): it is not handed
    /// out twice.
    pub fn fetched(&mut self, offset: i64) -> bool {
        if self.highest.is_some_and(|h| offset <= h) {
            return false;
        }
        self.highest = Some(offset);
        self.entries.push_back((offset, Entry::Pending));
        self.pending += 1;
        true
    }

    fn find(&mut self, offset: i64) -> Option<&mut Entry> {
        let index = self
            .entries
            .binary_search_by_key(&offset, |(o, _)| *o)
            .ok()?;
        self.entries.get_mut(index).map(|(_, e)| e)
    }

    /// Marks a pending offset done (acked or rejected). Returns whether it
    /// was pending.
    pub fn complete(&mut self, offset: i64) -> bool {
        let done = match self.find(offset) {
            Some(entry @ Entry::Pending) => {
                *entry = Entry::Done;
                true
            }
            _ => false,
        };
        if done {
            self.pending -= 1;
            while let Some((_, Entry::Done)) = self.entries.front() {
                self.entries.pop_front();
            }
        }
        done
    }

    /// Marks a pending offset abandoned: it was dropped unsettled because the
    /// partition is leaving this member.
    pub fn abandon(&mut self, offset: i64) {
        if let Some(entry @ Entry::Pending) = self.find(offset) {
            *entry = Entry::Abandoned;
            self.pending -= 1;
        }
    }

    /// Offsets fetched and not yet settled.
    pub fn pending(&self) -> usize {
        self.pending
    }

    /// Whether fetching must pause: the tracked span, from the oldest
    /// unsettled offset to the newest fetched, fills `window`. The span, not
    /// the pending count: behind one stuck offset every later one is kept
    /// (the commit cannot pass it) although it settled.
    pub fn is_full(&self, window: usize) -> bool {
        self.entries.len() >= window
    }

    /// Whether a paused partition may fetch again: its span is down to half
    /// the window.
    pub fn has_room(&self, window: usize) -> bool {
        self.entries.len() <= window / 2
    }

    /// The offset the group may resume from: the first fetched offset not
    /// done, or one past the highest fetched when all are done.
    pub fn position(&self) -> Option<i64> {
        match self.entries.front() {
            Some((offset, _)) => Some(*offset),
            None => self.highest.map(|h| h + 1),
        }
    }

    /// The position, when it moved past the last commit.
    pub fn to_commit(&self) -> Option<i64> {
        let position = self.position()?;
        match self.committed {
            Some(committed) if committed >= position => None,
            _ => Some(position),
        }
    }

    /// The position to commit as the partition leaves this member, whether
    /// or not an earlier commit sent it: that commit may still be on its
    /// way, and a rebalance fails the commits a member sends during it
    /// ("rebalance in progress", "illegal generation"), answering possibly
    /// after the partition is gone, when nothing could send it again and
    /// the next owner would read from an older offset.
    /// `None` when nothing was fetched.
    pub fn to_commit_on_leaving(&self) -> Option<i64> {
        self.position()
    }

    /// Forgets the last commit, so the position is committed again.
    pub fn commit_failed(&mut self) {
        self.committed = None;
    }

    /// Records a commit of `offset`.
    pub fn committed(&mut self, offset: i64) {
        self.committed = Some(self.committed.map_or(offset, |c| c.max(offset)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_stops_at_the_first_unfinished_offset_then_jumps() {
        let mut p = PartitionState::new(1, Ownership::new());
        for offset in 10..15 {
            assert!(p.fetched(offset));
        }
        assert_eq!(p.to_commit(), Some(10));
        for offset in [11, 12, 14] {
            assert!(p.complete(offset));
        }
        assert_eq!(p.to_commit(), Some(10), "10 is still pending");
        assert_eq!(p.pending(), 2);
        assert!(p.complete(10));
        assert_eq!(p.to_commit(), Some(13));
        p.committed(13);
        assert_eq!(p.to_commit(), None);
        assert!(p.complete(13));
        assert_eq!(p.to_commit(), Some(15));
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn gaps_in_offsets_commit_past_the_last_fetched() {
        let mut p = PartitionState::new(1, Ownership::new());
        p.fetched(3);
        p.fetched(7);
        p.complete(7);
        assert_eq!(p.to_commit(), Some(3));
        p.complete(3);
        assert_eq!(p.to_commit(), Some(8));
    }

    #[test]
    fn refetched_and_settled_twice_offsets_are_ignored() {
        let mut p = PartitionState::new(1, Ownership::new());
        assert!(p.fetched(5));
        assert!(!p.fetched(5));
        assert!(!p.fetched(4));
        assert!(p.complete(5));
        assert!(!p.complete(5));
        assert!(!p.complete(99));
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn abandoned_offsets_hold_the_commit_forever() {
        let mut p = PartitionState::new(1, Ownership::new());
        p.fetched(1);
        p.fetched(2);
        p.abandon(1);
        assert_eq!(p.pending(), 1);
        p.complete(2);
        assert_eq!(p.pending(), 0);
        assert_eq!(p.to_commit(), Some(1));
        assert!(!p.complete(1), "an abandoned offset never completes");
    }

    /// One offset never finishes (its handler hangs) while every later one
    /// does: what the tracker holds spans from the stuck one to the newest,
    /// so the partition must pause once that span fills the window, or the
    /// tracker grows with every later record.
    #[test]
    fn a_stuck_head_pauses_the_partition_at_its_window() {
        let window = 1_000;
        let mut p = PartitionState::new(1, Ownership::new());
        assert!(p.fetched(0), "the stuck head");
        let mut paused_at = None;
        for offset in 1..=1_000_000 {
            if p.is_full(window) {
                paused_at = Some(offset);
                break;
            }
            assert!(p.fetched(offset));
            assert!(p.complete(offset));
        }
        assert_eq!(
            paused_at,
            Some(window as i64),
            "paused once the window is held"
        );
        assert!(p.entries.len() <= window, "held: {}", p.entries.len());
        assert!(!p.has_room(window), "no room until the head finishes");
        assert!(p.complete(0));
        assert!(p.has_room(window));
        assert_eq!(p.to_commit(), Some(window as i64));
    }

    #[test]
    fn nothing_fetched_nothing_to_commit() {
        let p = PartitionState::new(1, Ownership::new());
        assert_eq!(p.to_commit(), None);
        assert_eq!(p.to_commit_on_leaving(), None);
    }

    /// The periodic commit sent offset 3 and has no answer yet when the
    /// partition leaves: the last commit sends 3 again rather than trust
    /// it, since its failure could no longer be acted on.
    #[test]
    fn a_leaving_partition_commits_its_position_again() {
        let mut p = PartitionState::new(1, Ownership::new());
        for offset in 0..3 {
            p.fetched(offset);
            p.complete(offset);
        }
        let sent = p.to_commit().unwrap();
        p.committed(sent);
        assert_eq!(p.to_commit(), None, "the periodic commit does not repeat");
        assert_eq!(p.to_commit_on_leaving(), Some(3));
    }
}
