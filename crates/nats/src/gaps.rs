//! Noticing deliveries lost on the way to the one active member of an
//! ordered group, so a lost message is handled before later ones again.
//!
//! JetStream numbers every delivery of a consumer, redeliveries included
//! (the consumer sequence in the `$JS.ACK` reply subject). The active member
//! of an ordered (pinned) group receives all of them, so a jump means
//! deliveries were sent but never arrived: a consumer leader that died after
//! sending them (issue 17: a SIGKILLed stream leader), or a pin that moved
//! to another member and back. JetStream keeps such messages pending and
//! redelivers them only when their AckWait runs out — after later messages
//! of the same aggregates were handled.
//!
//! On a jump the subscription naks the stream sequences that were skipped
//! (rebuilding their ack subjects from the delivery that revealed the jump;
//! the server ignores a nak of a message it does not hold pending, such as
//! one acked already or of another subject), then gives back the revealing
//! delivery and every newer one until the revealing one comes back. The
//! server redelivers naked messages first, in the order of the naks, so the
//! lost messages arrive before it. A nak can still be lost (sent while the
//! consumer has no leader); the server then redelivers the lost messages
//! when their AckWait runs out, which is before the revealing delivery's,
//! since they were delivered before it. So the guard waits for the
//! revealing delivery for twice AckWait before it gives up: giving up at
//! AckWait raced the server's own redelivery of the lost messages and lost
//! it under load (issue 17).

use std::{ops::RangeInclusive, time::Duration};

use tokio::time::Instant;

/// The most skipped stream sequences naked for one jump: a lost pull
/// response holds at most a pull batch; more means a stream shared with
/// other subjects, where a nak per sequence would cost more than it saves.
const MAX_NAKS: u64 = 10_000;

/// What to do with a delivery that just arrived.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Hand it out.
    Hand,
    /// Give it back (nak) so it comes again after messages lost before it.
    GiveBack,
    /// Deliveries were lost before this one: nak `lost` (stream
    /// sequences), then give this one back.
    Lost(RangeInclusive<u64>),
}

/// The sequences a delivery's ack subject carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sequences {
    pub(crate) stream: u64,
    pub(crate) consumer: u64,
}

/// Tracks one member's deliveries for jumps in the consumer sequence.
#[derive(Debug)]
pub(crate) struct GapGuard {
    ack_wait: Duration,
    last_consumer: Option<u64>,
    max_stream: u64,
    /// The stream sequence of the delivery that revealed a jump, and when
    /// to stop waiting for it to come back.
    recovering: Option<(u64, Instant)>,
}

impl GapGuard {
    pub(crate) fn new(ack_wait: Duration) -> Self {
        Self {
            ack_wait,
            last_consumer: None,
            max_stream: 0,
            recovering: None,
        }
    }

    /// Judges a delivery, in the order deliveries arrive.
    pub(crate) fn on_delivery(&mut self, seq: Sequences, now: Instant) -> Verdict {
        let previous = self.last_consumer.replace(seq.consumer);
        let max_before = self.max_stream;
        self.max_stream = self.max_stream.max(seq.stream);
        if let Some((revealing, until)) = self.recovering {
            if now < until {
                return match seq.stream.cmp(&revealing) {
                    // A lost message, redelivered.
                    std::cmp::Ordering::Less => Verdict::Hand,
                    std::cmp::Ordering::Equal => {
                        self.recovering = None;
                        Verdict::Hand
                    }
                    std::cmp::Ordering::Greater => Verdict::GiveBack,
                };
            }
            tracing::warn!(
                stream_sequence = revealing,
                "a delivery given back after lost ones did not come again within twice AckWait"
            );
            self.recovering = None;
        }
        let jumped = previous.is_some_and(|previous| seq.consumer > previous + 1);
        // Only first deliveries come in stream order, so only they tell
        // which stream sequences were lost.
        if !jumped || seq.stream <= max_before + 1 {
            return Verdict::Hand;
        }
        let lost = max_before + 1..=seq.stream - 1;
        if seq.stream - 1 - max_before > MAX_NAKS {
            tracing::warn!(
                from = max_before + 1,
                to = seq.stream - 1,
                "deliveries were lost but too many stream sequences lie between to nak each"
            );
            return Verdict::Hand;
        }
        self.recovering = Some((seq.stream, now + self.ack_wait * 2));
        Verdict::Lost(lost)
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

    fn seq(stream: u64, consumer: u64) -> Sequences {
        Sequences { stream, consumer }
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
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(2..=3));
        assert_eq!(guard.on_delivery(seq(5, 5), now), Verdict::GiveBack);
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
        assert_eq!(guard.on_delivery(seq(3, 3), now), Verdict::Lost(2..=2));
        // The lost message's own AckWait may run out a little after the
        // guard's: newer ones are still given back then.
        let ack_wait_later = now + Duration::from_secs(6);
        assert_eq!(
            guard.on_delivery(seq(4, 4), ack_wait_later),
            Verdict::GiveBack
        );
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
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::Lost(2..=3));
        assert_eq!(guard.on_delivery(seq(5, 5), now), Verdict::GiveBack);
        let later = now + Duration::from_secs(5);
        assert_ne!(
            guard.on_delivery(seq(4, 6), later),
            Verdict::Hand,
            "the revealing delivery came back before the lost ones: not yet"
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
        assert_eq!(guard.on_delivery(seq(3, 3), now), Verdict::Lost(2..=2));
        assert_eq!(guard.on_delivery(seq(4, 4), now), Verdict::GiveBack);
        assert_eq!(guard.on_delivery(seq(2, 5), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 6), now), Verdict::Hand);
        // 4's nak was lost: 5, a first delivery, comes before it.
        assert_eq!(guard.on_delivery(seq(5, 7), now), Verdict::GiveBack);
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
        assert_eq!(guard.on_delivery(seq(5, 2), now), Verdict::Lost(3..=4));
    }

    #[test]
    fn a_redelivery_after_a_jump_or_a_first_message_reveals_nothing() {
        let mut guard = GapGuard::new(Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(guard.on_delivery(seq(10, 7), now), Verdict::Hand);
        assert_eq!(guard.on_delivery(seq(3, 9), now), Verdict::Hand);
        // A consumer sequence going back (a new leader) is a new baseline.
        assert_eq!(guard.on_delivery(seq(11, 2), now), Verdict::Hand);
    }

    #[test]
    fn ack_subjects_are_read_and_rebuilt_in_both_formats() {
        let v1 = "$JS.ACK.S.C.1.42.17.1700000000000000000.3";
        assert_eq!(sequences(v1), Some(seq(42, 17)));
        assert_eq!(
            ack_subject_of(v1, 40).as_deref(),
            Some("$JS.ACK.S.C.1.40.16.1700000000000000000.3")
        );
        let v2 = "$JS.ACK.hub.ACCHASH.S.C.2.42.17.1700000000000000000.3.tok";
        assert_eq!(sequences(v2), Some(seq(42, 17)));
        assert_eq!(
            ack_subject_of(v2, 41).as_deref(),
            Some("$JS.ACK.hub.ACCHASH.S.C.2.41.16.1700000000000000000.3.tok")
        );
        assert_eq!(sequences("_INBOX.x.1"), None);
    }
}
