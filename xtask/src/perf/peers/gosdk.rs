//! The Go SDK evbus replaces (`github.com/ChenBigdata421/jxt-core` v1.7.5,
//! package `sdk/pkg/eventbus`), the library our users run today: its
//! program lives in `interop/go/peers/gosdk` (see [`go_program`]), built
//! from the SDK's own source, vendored unmodified there because the Go
//! module proxy refuses the module (`interop/go/peers/gosdk/VENDORED.md`).
//!
//! [`go_program`]: super::go_program

use super::go_program::Program;

/// The peer's name in the report.
pub const NAME: &str = "Go SDK jxt-core 1.7.5";

/// Its program.
pub static PROGRAM: Program = Program {
    folder: "gosdk",
    binary: "gosdk-peer",
    name: NAME,
    about: ABOUT,
    nats: NATS_SETTINGS,
    kafka: KAFKA_SETTINGS,
};

/// What the report says of it on both brokers.
const ABOUT: &str = "jxt-core v1.7.5 sdk/pkg/eventbus (source vendored unmodified; nats.go \
    v1.45.0, IBM/sarama v1.46.0); bus built with the SDK's factory and its defaults; envelopes \
    decoded into the SDK's Envelope before the timing, published with PublishEnvelope \
    (validate, encode, async publish) from min(window, K) goroutines, each aggregate on one \
    goroutine in version order, and handled through SubscribeEnvelope (its 256-actor pool \
    keyed by aggregate id) by the order check";

/// The NATS bus as the program sets it up.
const NATS_SETTINGS: &str = "NATS: JetStream on evbus's stream (found by subject and named \
    in the SDK's config, which keeps an existing stream), durable pull consumer \
    `<group>-unified_<topic>` per topic, Fetch(500, MaxWait 100 ms), MaxAckPending 1,000, \
    explicit ack after the handler; PublishAsync with up to 100,000 pending, PublishEnvelope \
    returning before the broker's ack; v1.7.5 logs through zap's example logger (debug level, \
    JSON) three lines per handled message and one per fetch, kept as shipped and written to a \
    file";
/// The Kafka bus as the program sets it up.
const KAFKA_SETTINGS: &str = "Kafka: the SDK's conversion of a user-level config (brokers, \
    group, earliest offset): Sarama async producer, idempotent, acks from all in-sync replicas \
    (forced by the conversion), one request in flight, flushing at 1 MiB, 100 messages or \
    500 ms, key = aggregate id (hash partitioner), X-* headers; consumer group, offsets marked \
    after the handler; no logging (zap.NewNop)";
