//! Watermill (Go), the library Go services pick for the same job: its
//! program lives in `interop/go/peers/watermill` (see [`go_program`]).
//!
//! [`go_program`]: super::go_program

use super::go_program::Program;

/// The module versions measured (the pins of its `go.mod`) and what the
/// program does before the timing.
const ABOUT: &str = "watermill v1.5.1, watermill-nats/v2 v2.1.3, watermill-kafka/v3 v3.0.6 \
    (Sarama); each envelope made a Watermill message before the timing";

/// The peer's name in the report.
pub const NAME: &str = "Watermill 1.5 (Go)";

/// Its program.
pub static PROGRAM: Program = Program {
    folder: "watermill",
    binary: "watermill-peer",
    name: NAME,
    about: ABOUT,
    nats: NATS_SETTINGS,
    kafka: KAFKA_SETTINGS,
};

/// The NATS subscriber and publisher as the program sets them up.
const NATS_SETTINGS: &str = "watermill-nats pkg/nats (its production package) on evbus's \
    stream, AutoProvision off; subscriber: SubscribersCount 1 (one subscription, each message \
    waits for the previous one's Ack: the only way Watermill keeps an aggregate's order on \
    NATS, which its docs do not promise), durable push consumer with deliver group, \
    DeliverAll, AckExplicit, AckWaitTimeout 30 s, AckSync per message; publisher: synchronous \
    JetStream publish, TrackMsgId (Nats-Msg-Id = event id), NATSMarshaler (payload = envelope \
    bytes); publishes from min(evbus-nats max_pending_acks, K) goroutines, each aggregate on \
    one goroutine in version order";
/// The Kafka subscriber and publisher as the program sets them up.
const KAFKA_SETTINGS: &str = "watermill-kafka v3 (Sarama) on evbus's topic; publisher: \
    DefaultSaramaSyncPublisherConfig (sync producer, leader acks), partitioning marshaler \
    keyed by the aggregate id (Sarama's hash partitioner); subscriber: consumer group, \
    DefaultSaramaSubscriberConfig with the oldest offset for a new group, each partition's \
    messages one at a time (the next after the previous Ack), offsets marked on Ack and \
    committed every second; publishes from min(evbus-kafka max_in_flight, K) goroutines, \
    each aggregate on one goroutine in version order";
