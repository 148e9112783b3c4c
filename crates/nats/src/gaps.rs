//! Noticing deliveries lost on the way to the one active member of an
//! ordered group, so a lost message is handled before later ones again.
//!
//! JetStream numbers every delivery of a consumer, redeliveries included
//! (the consumer sequence in the `$JS.ACK` reply subject). The active member
//! of an ordered (pinned) group receives all of them, so a jump means
//! deliveries were sent but never arrived: a consumer leader that died after
//! sending them (issue 17: a SIGKILLed stream leader), or a pin that moved
//! to another member and back. A new consumer leader numbers from its own
//! replicated count, which can be below, at or above the next number
//! expected, and pins the group anew. So a jump, a number going back or a
//! new pin makes the member suspicious, and the next message it has not
//! seen before tells: if it skips stream sequences, those were lost
//! (issue 18's partition). JetStream keeps lost messages pending and
//! redelivers them only when their AckWait runs out — after later messages
//! of the same aggregates were handled.
//!
//! On a loss the subscription naks the stream sequences that were skipped
//! (rebuilding their ack subjects from the delivery that revealed the loss;
//! the server ignores a nak of a message it does not hold pending, such as
//! one acked already or of another subject) and gives back the revealing
//! delivery. From then on it hands out a delivery only when no lost or
//! given-back message below it is still owed, and gives back the others,
//! whatever order they come in: naks can be lost with a consumer leader,
//! and messages redelivered at AckWait come in batches whose order does
//! not follow the stream (issue 18's rolling restart: the revealing
//! delivery came back before the lost ones, a given-back one after newer
//! first deliveries). A message given back again stays away longer each
//! time (100 ms, then four times as long, at most half of AckWait): every
//! round trip counts as a delivery, and the bus dead-letters a message
//! delivered more than `max_deliveries` times.
//!
//! A lost sequence the server no longer holds pending never comes back.
//! The revealing delivery is the probe: it is given back after the naks of
//! the lost ones, so when it returns and some are still missing, either
//! their naks were lost or they are not pending. They are asked for again,
//! [`MAX_ASKS`] times in all, then given up as not pending. Everything owed
//! is given up twice AckWait after the last loss, by when the server has
//! redelivered all it holds on its own.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::Duration,
};

use tokio::time::Instant;

/// The most skipped stream sequences naked for one loss: a lost pull
/// response holds at most a pull batch; more means a stream shared with
/// other subjects, where a nak per sequence would cost more than it saves.
const MAX_NAKS: u64 = 10_000;

/// How often lost sequences are asked for before those that did not come
/// back are taken as no longer pending.
const MAX_ASKS: u32 = 3;

/// How long a delivery given back the first time stays away.
pub(crate) const FIRST_GIVE_BACK: Duration = Duration::from_millis(100);

/// What to do with a delivery that just arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it out.
    Hand,
    /// Give it back (nak with this delay) so it comes again after messages
    /// owed before it.
    GiveBack(Duration),
    /// Deliveries were lost before this one: nak `lost` (stream
    /// sequences, ascending) at once, then give this one back for
    /// [`FIRST_GIVE_BACK`].
    Lost(Vec<u64>),
}

/// The sequences a delivery's ack subject carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sequences {
    pub(crate) stream: u64,
    pub(crate) consumer: u64,
    /// How often the server delivered this message, this time included.
    pub(crate) delivered: u64,
}

/// Tracks one member's deliveries for lost ones.
#[derive(Debug)]
pub(crate) struct GapGuard {
    ack_wait: Duration,
    last_consumer: Option<u64>,
    max_stream: u64,
    /// Deliveries may have been lost since the last message not seen before.
    suspect: bool,
    recovery: Option<Recovery>,
}

/// What is owed after a loss, until it all came back.
#[derive(Debug)]
struct Recovery {
    /// Lost stream sequences not seen again; the server may no longer hold
    /// some of them.
    missing: BTreeSet<u64>,
    /// Given-back stream sequences (pending at the server, they come again)
    /// and how often each was given back.
    held: BTreeMap<u64, u32>,
    /// The delivery that revealed the last loss.
    probe: u64,
    asks: u32,
    until: Instant,
}

impl GapGuard {
    pub(crate) fn new(ack_wait: Duration) -> Self {
        Self {
            ack_wait,
            last_consumer: None,
            max_stream: 0,
            suspect: false,
            recovery: None,
        }
    }

    /// The group was pinned anew (a new consumer leader, or the pin moved
    /// here from another member): deliveries may have been lost.
    pub(crate) fn pin_changed(&mut self) {
        if self.last_consumer.is_some() {
            self.suspect = true;
        }
    }

    /// Judges a delivery, in the order deliveries arrive.
    pub(crate) fn on_delivery(&mut self, seq: Sequences, now: Instant) -> Verdict {
        let previous = self.last_consumer.replace(seq.consumer);
        if previous.is_some_and(|previous| seq.consumer != previous + 1) {
            self.suspect = true;
        }
        let max_before = self.max_stream;
        self.max_stream = self.max_stream.max(seq.stream);
        if let Some(lost) = self.newly_lost(seq.stream, max_before) {
            // What an earlier loss still owes stays owed.
            let (mut missing, mut held) = (self.recovery.take())
                .map(|owed| (owed.missing, owed.held))
                .unwrap_or_default();
            missing.extend(lost.iter().copied());
            held.insert(seq.stream, 1);
            self.recovery = Some(Recovery {
                missing,
                held,
                probe: seq.stream,
                asks: 1,
                until: now + self.ack_wait * 2,
            });
            return Verdict::Lost(lost);
        }
        let Some(recovery) = &mut self.recovery else {
            return Verdict::Hand;
        };
        if now >= recovery.until {
            tracing::warn!(
                missing = recovery.missing.len(),
                given_back = recovery.held.len(),
                "deliveries owed after a loss did not all come again within twice AckWait: \
                 handing out in arrival order"
            );
            self.recovery = None;
            return Verdict::Hand;
        }
        let verdict = recovery.judge(seq.stream, self.ack_wait);
        if recovery.missing.is_empty() && recovery.held.is_empty() {
            self.recovery = None;
        }
        verdict
    }

    /// The stream sequences lost before `stream`, when the member was
    /// suspicious and `stream` is the first message not seen before.
    fn newly_lost(&mut self, stream: u64, max_before: u64) -> Option<Vec<u64>> {
        // Only first deliveries come in stream order, so only they tell
        // which stream sequences were lost.
        if !self.suspect || stream <= max_before {
            return None;
        }
        self.suspect = false;
        if stream == max_before + 1 {
            return None;
        }
        if stream - 1 - max_before > MAX_NAKS {
            tracing::warn!(
                from = max_before + 1,
                to = stream - 1,
                "deliveries were lost but too many stream sequences lie between to nak each"
            );
            return None;
        }
        Some((max_before + 1..stream).collect())
    }
}

impl Recovery {
    fn judge(&mut self, stream: u64, ack_wait: Duration) -> Verdict {
        if stream == self.probe && !self.missing.is_empty() {
            // Its nak was sent after theirs, yet it came first.
            if self.asks < MAX_ASKS {
                self.asks += 1;
                return Verdict::Lost(self.missing.iter().copied().collect());
            }
            tracing::warn!(
                count = self.missing.len(),
                first = self.missing.first(),
                "stream sequences lost on the way did not come again when asked for {MAX_ASKS} \
                 times: taken as no longer pending (acknowledged, deleted or of another subject)"
            );
            self.missing.clear();
        }
        self.missing.remove(&stream);
        let given_back = self.held.remove(&stream).unwrap_or(0);
        let owed_below = [self.missing.first(), self.held.keys().next()]
            .into_iter()
            .flatten()
            .any(|owed| *owed < stream);
        if !owed_below {
            return Verdict::Hand;
        }
        self.held.insert(stream, given_back + 1);
        let delay = FIRST_GIVE_BACK.saturating_mul(4u32.saturating_pow(given_back));
        Verdict::GiveBack(delay.min(ack_wait / 2))
    }
}

/// The positions of the stream and consumer sequences among the tokens of
/// an ack subject: `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.
/// <ts>.<pending>` (9 tokens), or ADR-15's form with a domain and an
/// account hash after `ACK` (11 tokens, or more with a trailing token).
fn sequence_tokens(tokens: usize) -> Option<(usize, usize)> {
    match tokens {
        9 => Some((5, 6)),
        11.. => Some((7, 8)),
        _ => None,
    }
}

/// The sequences of a delivery's ack subject.
pub(crate) fn sequences(reply: &str) -> Option<Sequences> {
    let tokens: Vec<&str> = reply.split('.').collect();
    if tokens.first() != Some(&"$JS") || tokens.get(1) != Some(&"ACK") {
        return None;
    }
    let (stream, consumer) = sequence_tokens(tokens.len())?;
    Some(Sequences {
        stream: tokens[stream].parse().ok()?,
        consumer: tokens[consumer].parse().ok()?,
        // The delivery count comes right before the stream sequence.
        delivered: tokens[stream - 1].parse().ok()?,
    })
}

/// The ack subject of the message at stream sequence `stream` of the same
/// consumer, built from a delivery's `reply`. Its consumer sequence is the
/// one before the delivery's: a nak is taken only for a sequence above the
/// ack floor and not above the last delivered one, and only the stream
/// sequence picks the message.
pub(crate) fn ack_subject_of(reply: &str, stream: u64) -> Option<String> {
    let mut tokens: Vec<String> = reply.split('.').map(str::to_owned).collect();
    let (stream_at, consumer_at) = sequence_tokens(tokens.len())?;
    let consumer: u64 = tokens[consumer_at].parse().ok()?;
    tokens[stream_at] = stream.to_string();
    tokens[consumer_at] = consumer.checked_sub(1)?.to_string();
    Some(tokens.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn back(ms: u64) -> Verdict {
        Verdict::GiveBack(Duration::from_millis(ms))
    }

    /// A first delivery.
    fn seq(stream: u64, consumer: u64) -> Sequences {
        Sequences {
            stream,
            consumer,
            delivered: 1,
        }
    }

    #[test]
    fn contiguous_deliveries_are_handed_out() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        for n in 1..=5 {
            assert_eq!(guard.on_delivery(seq(n, n), now), Verdict::Hand);
        }
    }

    #[test]
    fn a_jump_naks_the_skipped_messages_and_holds_newer_ones_until_they_came() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(guard.on_delivery(seq(1, 1), now), Verdict::Hand);
        // Deliveries 2 and 3 (stream 2, 3) were lost.
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(vec![2, 3]));
        assert_eq!(guard.on_delivery(seq(5, 5), now), back(100));
        assert_eq!(guard.on_delivery(seq(2, 6), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 7), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(4, 8), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(5, 9), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(6, 10), now), Verdict::Hand);
    }

    #[test]
    fn the_guard_waits_past_ack_wait_then_stops_waiting() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(3, 3), now), Verdict::Lost(vec![2]));
        // The lost message's own AckWait may run out a little after the
        // guard's: newer ones are still given back then.
        let ack_wait_later = now + Duration::from_secs(6);
        assert_eq!(guard.on_delivery(seq(4, 4), ack_wait_later), back(100));
        let much_later = now + Duration::from_secs(11);
        assert_eq!(guard.on_delivery(seq(5, 5), much_later), Verdict::Hand);
    }

    /// The CI run of issue 18's seventh stop (rolling restart): the naks
    /// of a jump were lost with a consumer leader, and the server
    /// redelivered the revealing delivery at AckWait before the lost ones.
    #[test]
    fn lost_messages_that_come_back_after_the_revealing_one_are_still_handled_first() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(guard.on_delivery(seq(1, 1), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(vec![2, 3]));
        assert_eq!(guard.on_delivery(seq(5, 5), now), back(100));
        let later = now + Duration::from_secs(5);
        assert_eq!(
            guard.on_delivery(seq(4, 6), later),
            Verdict::Lost(vec![2, 3]),
            "the revealing delivery came back before the lost ones: ask again"
        );
        assert_eq!(guard.on_delivery(seq(2, 7), later), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 8), later), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(4, 9), later), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(5, 10), later), Verdict::Hand);
    }

    /// A delivery given back whose nak was lost comes again only at
    /// AckWait: newer messages must not overtake it meanwhile.
    #[test]
    fn a_given_back_delivery_is_handled_before_newer_ones_even_after_the_lost_ones_came() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(3, 3), now), Verdict::Lost(vec![2]));
        assert_eq!(guard.on_delivery(seq(4, 4), now), back(100));
        assert_eq!(guard.on_delivery(seq(2, 5), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 6), now), Verdict::Hand);
        // 4's nak was lost: 5, a first delivery, comes before it.
        assert_eq!(guard.on_delivery(seq(5, 7), now), back(100));
        assert_eq!(guard.on_delivery(seq(4, 8), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(5, 9), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(6, 10), now), Verdict::Hand);
    }

    /// A new consumer leader numbers deliveries from its own (replicated)
    /// count, which can be below the last one seen: the consumer sequence
    /// goes back, and a skipped stream sequence is the only sign of loss
    /// (the partition scenario of the same CI run).
    #[test]
    fn a_first_delivery_skipping_stream_sequences_after_a_leader_change_reveals_a_loss() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        guard.on_delivery(seq(2, 2), now);
        assert_eq!(guard.on_delivery(seq(5, 2), now), Verdict::Lost(vec![3, 4]));
    }

    #[test]
    fn a_redelivery_after_a_jump_or_a_first_message_reveals_nothing() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(guard.on_delivery(seq(10, 7), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 9), now), Verdict::Hand);
        // A consumer sequence going back (a new leader) without a skipped
        // stream sequence is a new baseline.
        assert_eq!(guard.on_delivery(seq(11, 2), now), Verdict::Hand);
    }

    /// Issue 18's review: a redelivery right after the jump is no message
    /// not seen before, so the next one is judged.
    #[test]
    fn a_loss_is_judged_on_the_next_new_message_after_a_redelivery() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        for n in 1..=3 {
            assert_eq!(guard.on_delivery(seq(n, n), now), Verdict::Hand);
        }
        // Deliveries 4 and 5 (stream 4, 5) were lost.
        let redelivered = Sequences {
            delivered: 2,
            ..seq(2, 6)
        };
        assert_eq!(guard.on_delivery(redelivered, now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(6, 7), now), Verdict::Lost(vec![4, 5]));
    }

    /// A new consumer leader pins the group anew, and its numbering may go
    /// on as if nothing was lost.
    #[test]
    fn a_new_pin_makes_a_skipped_stream_sequence_a_loss() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        guard.on_delivery(seq(2, 2), now);
        guard.pin_changed();
        assert_eq!(guard.on_delivery(seq(5, 3), now), Verdict::Lost(vec![3, 4]));
        // Without a new pin, contiguous numbering with a skipped stream
        // sequence is a message of another subject or one deleted.
        let mut guard = GapGuard::new(Duration::from_secs(5));
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(5, 2), now), Verdict::Hand);
    }

    /// Issue 18's review: a loss while recovering from another one.
    #[test]
    fn a_second_loss_while_recovering_is_asked_for_too() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(vec![2, 3]));
        assert_eq!(guard.on_delivery(seq(2, 5), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 6), now), Verdict::Hand);
        // Deliveries 7 and 8 (stream 5, 6) were lost.
        assert_eq!(guard.on_delivery(seq(7, 9), now), Verdict::Lost(vec![5, 6]));
        assert_eq!(guard.on_delivery(seq(4, 10), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(8, 11), now), back(100));
        assert_eq!(guard.on_delivery(seq(5, 12), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(6, 13), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(7, 14), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(8, 15), now), Verdict::Hand);
    }

    /// Every give-back counts as a delivery towards `max_deliveries`: one
    /// that keeps coming back before what it waits for stays away longer.
    #[test]
    fn a_delivery_given_back_again_stays_away_longer() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(3, 3), now), Verdict::Lost(vec![2]));
        assert_eq!(guard.on_delivery(seq(4, 4), now), back(100));
        assert_eq!(guard.on_delivery(seq(4, 5), now), back(400));
        assert_eq!(guard.on_delivery(seq(4, 6), now), back(1_600));
        // At most half of AckWait.
        assert_eq!(guard.on_delivery(seq(4, 7), now), back(2_500));
    }

    /// Lost sequences the server no longer holds (acked by a member that
    /// held the pin meanwhile, deleted, of another subject) cost a few
    /// round trips, not twice AckWait.
    #[test]
    fn lost_sequences_that_never_come_are_asked_for_three_times_then_given_up() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        guard.on_delivery(seq(1, 1), now);
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(vec![2, 3]));
        assert_eq!(guard.on_delivery(seq(5, 5), now), back(100));
        assert_eq!(guard.on_delivery(seq(4, 6), now), Verdict::Lost(vec![2, 3]));
        assert_eq!(guard.on_delivery(seq(5, 7), now), back(400));
        // One of them came after the second ask.
        assert_eq!(guard.on_delivery(seq(3, 8), now), back(100));
        assert_eq!(guard.on_delivery(seq(4, 9), now), Verdict::Lost(vec![2]));
        // 2 is given up; 4 still waits for 3, given back before it.
        assert_eq!(guard.on_delivery(seq(4, 10), now), back(400));
        assert_eq!(guard.on_delivery(seq(3, 11), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(4, 12), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(5, 13), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(6, 14), now), Verdict::Hand);
    }

    #[test]
    fn ack_subjects_are_read_and_rebuilt_in_both_formats() {
        let v1 = "$JS.ACK.S.C.1.42.17.1700000000000000000.3";
        assert_eq!(sequences(v1), Some(seq(42, 17)));
        let v1_again = "$JS.ACK.S.C.3.42.17.1700000000000000000.3";
        assert_eq!(sequences(v1_again).map(|s| s.delivered), Some(3));
        assert_eq!(
            ack_subject_of(v1, 40).as_deref(),
            Some("$JS.ACK.S.C.1.40.16.1700000000000000000.3")
        );
        let v2 = "$JS.ACK.hub.ACCHASH.S.C.2.42.17.1700000000000000000.3.tok";
        assert_eq!(
            sequences(v2),
            Some(Sequences {
                delivered: 2,
                ..seq(42, 17)
            })
        );
        assert_eq!(
            ack_subject_of(v2, 41).as_deref(),
            Some("$JS.ACK.hub.ACCHASH.S.C.2.41.16.1700000000000000000.3.tok")
        );
        let v2_short = "$JS.ACK.hub.ACCHASH.S.C.2.42.17.1700000000000000000.3";
        assert_eq!(
            sequences(v2_short).map(|s| (s.stream, s.delivered)),
            Some((42, 2))
        );
        assert_eq!(sequences("_INBOX.x.1"), None);
    }
}
