//! A consumer group's state on one topic: per partition a cursor, the
//! deliveries in flight and the redeliveries waiting; and which live member
//! works on which partition.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use super::log::TopicLog;
use crate::{delivery::Settlement, transport::StartFrom};

/// Identifies one subscription (group member) on a broker.
pub(super) type MemberId = u64;

#[derive(Debug, Clone, Copy)]
struct InFlight {
    /// Deliveries so far, this one included.
    count: u32,
    deadline: Instant,
    /// Tells this delivery from a later one of the same offset.
    token: u64,
}

#[derive(Debug, Clone, Copy)]
struct Waiting {
    count: u32,
    not_before: Instant,
}

/// What [`Group::take`] hands out: one message to deliver.
#[derive(Debug, Clone, Copy)]
pub(super) struct Taken {
    pub partition: u32,
    pub offset: u64,
    pub count: u32,
    pub token: u64,
}

#[derive(Debug, Default)]
struct GroupPartition {
    /// The next offset never delivered to the group.
    cursor: u64,
    inflight: ahash::HashMap<u64, InFlight>,
    deadlines: BTreeSet<(Instant, u64)>,
    /// Redeliveries due now: offset -> deliveries so far.
    ready: BTreeMap<u64, u32>,
    /// Redeliveries due later (nacked with a delay).
    waiting: BTreeMap<u64, Waiting>,
    waiting_times: BTreeSet<(Instant, u64)>,
    /// The member that takes from this partition now.
    owner: Option<MemberId>,
    /// The member that should; the partition moves to it once the owner has
    /// nothing in flight, so first deliveries of a key stay in order.
    assigned: Option<MemberId>,
}

impl GroupPartition {
    fn return_inflight(&mut self) {
        for (offset, flight) in self.inflight.drain() {
            self.ready.insert(offset, flight.count);
        }
        self.deadlines.clear();
    }

    fn forget(&mut self, offset: u64) {
        if let Some(flight) = self.inflight.remove(&offset) {
            self.deadlines.remove(&(flight.deadline, offset));
        } else if self.ready.remove(&offset).is_none()
            && let Some(waiting) = self.waiting.remove(&offset)
        {
            self.waiting_times.remove(&(waiting.not_before, offset));
        }
    }

    fn schedule(&mut self, offset: u64, count: u32, not_before: Instant, now: Instant) {
        if not_before <= now {
            self.ready.insert(offset, count);
        } else {
            self.waiting.insert(offset, Waiting { count, not_before });
            self.waiting_times.insert((not_before, offset));
        }
    }
}

/// Records deliveries handed out by [`Group::take`].
struct Deliver<'a> {
    next_token: &'a mut u64,
    taken: &'a mut Vec<Taken>,
    partition: u32,
    deadline: Instant,
}

impl Deliver<'_> {
    /// `count`: deliveries before this one.
    fn push(&mut self, state: &mut GroupPartition, offset: u64, count: u32) {
        *self.next_token += 1;
        let flight = InFlight {
            count: count.saturating_add(1),
            deadline: self.deadline,
            token: *self.next_token,
        };
        state.inflight.insert(offset, flight);
        state.deadlines.insert((self.deadline, offset));
        self.taken.push(Taken {
            partition: self.partition,
            offset,
            count: flight.count,
            token: flight.token,
        });
    }
}

/// One consumer group of a topic.
#[derive(Debug)]
pub(super) struct Group {
    partitions: Vec<GroupPartition>,
    /// Live members in join order.
    members: Vec<MemberId>,
    next_token: u64,
    /// Where `take` starts, rotated so no partition starves.
    rotation: usize,
}

impl Group {
    pub fn new(log: &TopicLog, start_from: StartFrom) -> Self {
        let partitions = (0..log.partition_count())
            .map(|p| GroupPartition {
                cursor: match start_from {
                    StartFrom::Latest => log.partition(p).next_offset(),
                    _ => log.partition(p).base(),
                },
                ..GroupPartition::default()
            })
            .collect();
        Self {
            partitions,
            members: Vec::new(),
            next_token: 0,
            rotation: 0,
        }
    }

    pub fn join(&mut self, member: MemberId) {
        self.members.push(member);
        self.assign();
    }

    /// Removes a member; its unsettled deliveries become due for redelivery.
    /// Returns whether it was a member.
    pub fn leave(&mut self, member: MemberId) -> bool {
        let Some(index) = self.members.iter().position(|&m| m == member) else {
            return false;
        };
        self.members.remove(index);
        for partition in &mut self.partitions {
            if partition.owner == Some(member) {
                partition.return_inflight();
                partition.owner = None;
            }
        }
        self.assign();
        true
    }

    /// Spreads partitions over the live members and moves those that can move.
    fn assign(&mut self) -> bool {
        let members = &self.members;
        for (p, partition) in self.partitions.iter_mut().enumerate() {
            partition.assigned = (!members.is_empty()).then(|| members[p % members.len()]);
        }
        self.move_owners()
    }

    /// Hands each partition to its assigned member once the current owner
    /// has nothing in flight there. Returns whether any moved.
    fn move_owners(&mut self) -> bool {
        let mut moved = false;
        for partition in &mut self.partitions {
            if partition.owner != partition.assigned
                && (partition.owner.is_none() || partition.inflight.is_empty())
            {
                partition.owner = partition.assigned;
                moved = true;
            }
        }
        moved
    }

    /// Turns expired deliveries and elapsed nack delays into due
    /// redeliveries. Returns whether a partition changed hands.
    pub fn expire(&mut self, now: Instant) -> bool {
        for partition in &mut self.partitions {
            while let Some(&(deadline, offset)) = partition.deadlines.first() {
                if deadline > now {
                    break;
                }
                partition.deadlines.pop_first();
                if let Some(flight) = partition.inflight.remove(&offset) {
                    partition.ready.insert(offset, flight.count);
                }
            }
            while let Some(&(not_before, offset)) = partition.waiting_times.first() {
                if not_before > now {
                    break;
                }
                partition.waiting_times.pop_first();
                if let Some(waiting) = partition.waiting.remove(&offset) {
                    partition.ready.insert(offset, waiting.count);
                }
            }
        }
        self.move_owners()
    }

    /// Takes up to `max` messages for `member`: due redeliveries first (lowest
    /// offset first), then new messages, from the partitions it owns.
    pub fn take(
        &mut self,
        member: MemberId,
        max: usize,
        now: Instant,
        ack_wait: Duration,
        log: &TopicLog,
    ) -> Vec<Taken> {
        let mut taken = Vec::new();
        let n = self.partitions.len();
        let deadline = now + ack_wait;
        self.rotation = (self.rotation + 1) % n;
        let order: Vec<usize> = (0..n)
            .map(|i| (self.rotation + i) % n)
            .filter(|&p| {
                let partition = &self.partitions[p];
                partition.owner == Some(member) && partition.assigned == Some(member)
            })
            .collect();
        for redeliveries in [true, false] {
            for &p in &order {
                if taken.len() >= max {
                    return taken;
                }
                let partition = &mut self.partitions[p];
                let plog = log.partition(p as u32);
                let mut deliver = Deliver {
                    next_token: &mut self.next_token,
                    taken: &mut taken,
                    partition: p as u32,
                    deadline,
                };
                if redeliveries {
                    while deliver.taken.len() < max {
                        let Some((offset, count)) = partition.ready.pop_first() else {
                            break;
                        };
                        // A message trimmed by retention is gone for everyone.
                        if offset >= plog.base() {
                            deliver.push(partition, offset, count);
                        }
                    }
                } else {
                    partition.cursor = partition.cursor.max(plog.base());
                    while deliver.taken.len() < max && partition.cursor < plog.next_offset() {
                        let offset = partition.cursor;
                        partition.cursor += 1;
                        deliver.push(partition, offset, 0);
                    }
                }
            }
        }
        taken
    }

    /// When the next delivery expires or nack delay ends, if any.
    pub fn next_wakeup(&self) -> Option<Instant> {
        self.partitions
            .iter()
            .flat_map(|p| {
                [
                    p.deadlines.first().map(|d| d.0),
                    p.waiting_times.first().map(|w| w.0),
                ]
            })
            .flatten()
            .min()
    }

    /// Settles one delivery. An ack or reject ends the message for the group
    /// whichever of its deliveries sends it (it was handled or given up); a
    /// nack counts only from the current delivery. Returns whether members
    /// should look again (a redelivery is due or a partition moved).
    pub fn settle(
        &mut self,
        partition: u32,
        offset: u64,
        token: u64,
        settlement: Settlement,
        now: Instant,
    ) -> bool {
        let Some(state) = self.partitions.get_mut(partition as usize) else {
            return false;
        };
        match settlement {
            Settlement::Ack | Settlement::Reject => state.forget(offset),
            Settlement::Nack(delay) => {
                let Some(flight) = state.inflight.get(&offset).copied() else {
                    return false;
                };
                if flight.token != token {
                    return false;
                }
                state.forget(offset);
                state.schedule(offset, flight.count, now + delay, now);
                return true;
            }
        }
        state.owner != state.assigned && state.inflight.is_empty() && self.move_owners()
    }

    /// Extends the deadline of a delivery that is still current.
    pub fn keep_alive(&mut self, partition: u32, offset: u64, token: u64, deadline: Instant) {
        let Some(state) = self.partitions.get_mut(partition as usize) else {
            return;
        };
        if let Some(flight) = state.inflight.get_mut(&offset)
            && flight.token == token
        {
            state.deadlines.remove(&(flight.deadline, offset));
            flight.deadline = deadline;
            state.deadlines.insert((deadline, offset));
        }
    }

    /// A broker restart: every delivery in flight is due again.
    pub fn return_all_inflight(&mut self) {
        for partition in &mut self.partitions {
            partition.return_inflight();
        }
    }

    /// The messages are gone (an ephemeral topic's restart): keep only the
    /// cursors.
    pub fn forget_unsettled(&mut self) {
        for partition in &mut self.partitions {
            partition.inflight.clear();
            partition.deadlines.clear();
            partition.ready.clear();
            partition.waiting.clear();
            partition.waiting_times.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutgoingMessage;

    const WAIT: Duration = Duration::from_secs(30);

    fn setup(messages: usize) -> (TopicLog, Group, Instant) {
        let mut log = TopicLog::new(2, super::super::log::Limits::default());
        let now = Instant::now();
        for i in 0..messages {
            log.append(
                OutgoingMessage::new(vec![i as u8]).with_key(format!("k{}", i % 4)),
                now,
            );
        }
        let group = Group::new(&log, StartFrom::Earliest);
        (log, group, now)
    }

    #[test]
    fn nacked_message_comes_back_first_after_its_delay() {
        let (log, mut group, now) = setup(6);
        group.join(1);
        let first = group.take(1, 1, now, WAIT, &log)[0];
        group.settle(
            first.partition,
            first.offset,
            first.token,
            Settlement::Nack(Duration::from_secs(1)),
            now,
        );
        let rest = group.take(1, 10, now, WAIT, &log);
        assert_eq!(rest.len(), 5);
        assert!(group.take(1, 10, now, WAIT, &log).is_empty());
        let later = now + Duration::from_secs(1);
        assert_eq!(group.next_wakeup(), Some(later));
        group.expire(later);
        let again = group.take(1, 10, later, WAIT, &log);
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].offset, again[0].count), (first.offset, 2));
    }

    #[test]
    fn expired_delivery_is_redelivered_and_a_stale_nack_is_ignored() {
        let (log, mut group, now) = setup(1);
        group.join(1);
        let first = group.take(1, 1, now, WAIT, &log)[0];
        group.expire(now + WAIT);
        let second = group.take(1, 1, now + WAIT, WAIT, &log)[0];
        assert_eq!(second.count, 2);
        assert!(!group.settle(
            first.partition,
            first.offset,
            first.token,
            Settlement::Nack(Duration::ZERO),
            now
        ));
        assert!(group.take(1, 1, now + WAIT, WAIT, &log).is_empty());
        group.settle(
            second.partition,
            second.offset,
            second.token,
            Settlement::Ack,
            now,
        );
        group.expire(now + WAIT * 3);
        assert!(group.take(1, 1, now + WAIT * 3, WAIT, &log).is_empty());
    }

    #[test]
    fn a_partition_moves_to_a_new_member_only_when_nothing_is_in_flight() {
        let (log, mut group, now) = setup(8);
        group.join(1);
        let taken = group.take(1, 100, now, WAIT, &log);
        assert_eq!(taken.len(), 8);
        group.join(2);
        // Member 2 is assigned partition 1 but member 1 still has it in flight.
        assert!(group.take(2, 100, now, WAIT, &log).is_empty());
        let mut moved = false;
        for t in taken.iter().filter(|t| t.partition == 1) {
            moved |= group.settle(t.partition, t.offset, t.token, Settlement::Ack, now);
        }
        assert!(moved);
        assert_eq!(group.partitions[1].owner, Some(2));
    }

    #[test]
    fn a_leaving_member_returns_its_deliveries_to_the_group() {
        let (log, mut group, now) = setup(4);
        group.join(1);
        group.join(2);
        let one = group.take(1, 100, now, WAIT, &log);
        assert!(!one.is_empty());
        assert!(group.leave(1));
        let two = group.take(2, 100, now, WAIT, &log);
        assert_eq!(two.len(), 4);
        assert!(two.iter().filter(|t| t.count == 2).count() == one.len());
    }
}
