//! Rebalances: partitions assigned to and revoked from this member, and the
//! librdkafka callbacks that report them (run on the polling thread).

use std::{cmp::Reverse, time::Instant};

use evbus_transport::ownership::OwnershipChange;
use rdkafka::{
    ClientContext, Offset, TopicPartitionList,
    config::RDKafkaLogLevel,
    consumer::{Consumer, ConsumerContext, Rebalance, RebalanceProtocol},
    error::{KafkaError, KafkaResult},
    types::RDKafkaRespErr,
};

use super::{
    core::{Core, GroupConsumer},
    handoff::Record,
    partition::PartitionState,
};
use crate::logs;

impl Core {
    /// For a `Latest` group, sets the start of assigned partitions without a
    /// committed offset to their end as of the subscription, so a message
    /// published after `subscribe` returned is never skipped (librdkafka's
    /// `latest` would resolve the end only now).
    fn start_new_partitions(&self, consumer: &GroupConsumer, tpl: &mut TopicPartitionList) {
        let latest = self.latest.lock();
        let Some(ends) = latest.as_ref() else {
            return;
        };
        let committed = match consumer.committed_offsets(tpl.clone(), self.settings.drain_timeout) {
            Ok(committed) => committed,
            Err(error) => {
                // Unknown: the earliest start loses nothing.
                logs::client_error(&error, "reading committed offsets");
                return;
            }
        };
        for element in committed.elements() {
            if let Offset::Offset(_) = element.offset() {
                continue;
            }
            // A partition created after the subscription holds only newer
            // messages: from its beginning.
            let start = ends
                .get(&element.partition())
                .map_or(Offset::Beginning, |&end| Offset::Offset(end));
            if let Err(error) = tpl.set_partition_offset(self.topic(), element.partition(), start) {
                logs::client_error(&error, "setting a start offset");
            }
        }
    }

    /// Partitions leave this member: drop what of them was never handed
    /// out (the poll batch under way, the hand-off, nack timers), end their
    /// ownership so what was handed out is fenced off, wait (bounded) for the
    /// deliveries already handed out, commit what finished, and forget them,
    /// so a later settlement of theirs commits nothing.
    fn revoke(&self, consumer: &GroupConsumer, partitions: &[i32]) {
        let lost = consumer.assignment_lost();
        let purged = self.handoff.purge(partitions);
        let stopping = {
            let mut state = self.state.lock();
            // The revoke runs inside a poll: records polled earlier in the
            // same batch are staged, never handed out, and would otherwise
            // hold the drain until its timeout and then reach the handler
            // while the new owner handles them too.
            let (staged, kept): (Vec<Record>, Vec<Record>) = std::mem::take(&mut state.staged)
                .into_iter()
                .partition(|r| partitions.contains(&r.partition));
            state.staged = kept;
            for record in purged.iter().chain(&staged) {
                state.abandon(record);
            }
            let timers = std::mem::take(&mut state.timers);
            for Reverse(timer) in timers {
                if partitions.contains(&timer.record.partition) {
                    state.abandon(&timer.record);
                } else {
                    state.timers.push(Reverse(timer));
                }
            }
            for &partition in partitions {
                if let Some(p) = state.partitions.get_mut(&partition) {
                    p.leaving = true;
                    // Before the callback returns, so before any other
                    // member can fetch the partition: whatever this member
                    // still holds of it is fenced off.
                    let epoch = p.ownership.end();
                    let change = if lost {
                        OwnershipChange::Lost
                    } else {
                        OwnershipChange::Revoked
                    };
                    self.handoff.announce(partition, change, epoch);
                    // librdkafka keeps a pause across reassignment.
                    if p.paused {
                        p.paused = false;
                        self.set_paused(consumer, partition, false);
                    }
                }
            }
            state.stopping
        };
        // A lost assignment may no longer commit. When stopping, the
        // shutdown just committed every position: only what it failed to
        // commit is sent again.
        match (lost, stopping) {
            (true, _) => {}
            (false, true) => self.commit_unsent(consumer, partitions),
            (false, false) => {
                self.drain(partitions);
                self.commit_leaving(consumer, Some(partitions));
            }
        }
        let mut state = self.state.lock();
        for partition in partitions {
            state.partitions.remove(partition);
        }
        tracing::info!(
            topic = self.topic(),
            ?partitions,
            lost,
            "partitions revoked"
        );
    }

    /// Applies settlements until the partitions have nothing pending or the
    /// drain timeout passes.
    fn drain(&self, partitions: &[i32]) {
        let deadline = Instant::now() + self.settings.drain_timeout;
        loop {
            let pending: usize = {
                let state = self.state.lock();
                partitions
                    .iter()
                    .filter_map(|p| state.partitions.get(p))
                    .map(PartitionState::pending)
                    .sum()
            };
            if pending == 0 {
                return;
            }
            match self.inbox.commands.recv_deadline(deadline) {
                Ok(command) => self.apply(command),
                Err(_) => {
                    tracing::warn!(
                        topic = self.topic(),
                        ?partitions,
                        pending,
                        "deliveries still unsettled when their partitions left; \
                         the group delivers them again"
                    );
                    return;
                }
            }
        }
    }

    fn assign(&self, partitions: &[i32]) {
        let mut state = self.state.lock();
        for &partition in partitions {
            state.next_epoch += 1;
            let epoch = state.next_epoch;
            let ownership = state.ownerships.entry(partition).or_default().clone();
            self.handoff
                .announce(partition, OwnershipChange::Assigned, ownership.epoch());
            state
                .partitions
                .insert(partition, PartitionState::new(epoch, ownership));
        }
        tracing::info!(topic = self.topic(), ?partitions, "partitions assigned");
    }
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl ClientContext for Core {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        logs::log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        logs::client_error(&error, reason);
    }
}

impl ConsumerContext for Core {
    /// librdkafka's default rebalance (what rdkafka does), plus the start
    /// offsets of a `Latest` group.
    fn rebalance(
        &self,
        consumer: &GroupConsumer,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        let result = match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                self.start_new_partitions(consumer, tpl);
                let rebalance = Rebalance::Assign(tpl);
                self.pre_rebalance(consumer, &rebalance);
                let result = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                self.post_rebalance(consumer, &rebalance);
                result
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                let rebalance = Rebalance::Revoke(tpl);
                self.pre_rebalance(consumer, &rebalance);
                let result = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                self.post_rebalance(consumer, &rebalance);
                result
            }
            other => {
                let error = KafkaError::Rebalance(other.into());
                logs::client_error(&error, "rebalancing");
                self.revoke(consumer, &partitions_of(tpl));
                consumer.unassign()
            }
        };
        if let Err(error) = result {
            logs::client_error(&error, "applying a rebalance");
        }
    }

    fn pre_rebalance(&self, consumer: &GroupConsumer, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(tpl) => self.revoke(consumer, &partitions_of(tpl)),
            Rebalance::Assign(_) => {}
            Rebalance::Error(error) => logs::client_error(error, "rebalancing"),
        }
    }

    fn post_rebalance(&self, _consumer: &GroupConsumer, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            self.assign(&partitions_of(tpl));
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        if let Err(error) = result {
            logs::client_error(&error, "committing offsets");
            self.commit_failed(offsets);
        }
    }
}
