//! Go interop on Kafka, against a real broker (the testkit's) and the Go
//! SDK's wire form (`interop/go`, built by `cargo xtask test`), on topics of
//! 12 partitions:
//!
//! - `go_to_evbus_kafka`: a Go service publishes 1,000 envelopes over 100
//!   aggregates with sarama's hash partitioner (some in the SDK's older
//!   string-tenant form); evbus consumes every one, each aggregate in order,
//!   every field equal, each from the partition the Go producer wrote it to.
//! - `evbus_to_go_kafka`: evbus publishes 1,000 with `codec = "go_json"`;
//!   the Go SDK's consumer-group path consumes every one, in order, its
//!   `Validate` passing, every field equal, each key on the partition
//!   sarama's hash partitioner picks.
//! - `go_json_and_protobuf_side_by_side_kafka`: the Go producer and evbus
//!   (protobuf) write the same 100 aggregates to one topic; every aggregate
//!   lands on one partition whoever wrote it, and evbus consumes all 2,000
//!   in order without a dead letter or an error.
//!
//! Each prints its counts and which Go code spoke the wire form.

mod go_interop;

use std::{
    collections::BTreeSet,
    process::ExitCode,
    sync::{Arc, atomic::Ordering},
};

use anyhow::{Context, ensure};
use evbus::{Backend, BusConfig, CodecKind, EventBus, TopicOptions, kafka::testkit::KafkaBroker};
use go_interop::{GoSummary, Spec, Tally, bus, consume, run_go, spec_args, trial, unique};
use libtest_mimic::Arguments;

const PARTITIONS: u32 = 12;

fn config(broker: &KafkaBroker, codec: CodecKind) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Kafka;
    config.service_name = unique("evbus-service");
    config.kafka.bootstrap_servers = vec![broker.bootstrap()];
    config.codec = codec;
    config
}

/// Creates `topic` with 12 partitions (the Go SDK does not create topics by
/// default; evbus's configuration strategy does).
async fn create_topic(bus: &EventBus, topic: &str) -> anyhow::Result<()> {
    bus.configure_topics([(topic.to_owned(), TopicOptions::new().partitions(PARTITIONS))])
        .await?;
    Ok(())
}

async fn go_publish(broker: &KafkaBroker, topic: &str, spec: &Spec) -> anyhow::Result<GoSummary> {
    let mut args = vec![
        "kafka-publish".into(),
        "-brokers".into(),
        broker.bootstrap(),
    ];
    args.extend(["-topic".into(), topic.to_owned()]);
    args.extend(spec_args(spec));
    let summary = run_go(args).await?;
    ensure!(
        summary.published == spec.count && summary.partition_mismatches == 0,
        "the Go producer: {summary:#?}"
    );
    Ok(summary)
}

/// Asserts every aggregate came from one partition, the one the Go producer
/// wrote it to; returns how many partitions were used.
fn assert_partitions(tally: &Tally, go: &GoSummary) -> anyhow::Result<usize> {
    let mut used = BTreeSet::new();
    for (aggregate, by_producer) in &tally.partitions {
        let all: BTreeSet<u32> = by_producer.values().flatten().copied().collect();
        ensure!(
            all.len() == 1,
            "aggregate {aggregate} was read from several partitions: {by_producer:?}"
        );
        let partition = *all.first().expect("one");
        ensure!(
            go.partitions.get(aggregate) == Some(&partition),
            "aggregate {aggregate}: evbus read partition {partition}, the Go producer wrote to {:?}",
            go.partitions.get(aggregate)
        );
        used.insert(partition);
    }
    ensure!(
        tally.partitions.len() == go.partitions.len(),
        "{} aggregates read, {} written by Go",
        tally.partitions.len(),
        go.partitions.len()
    );
    Ok(used.len())
}

async fn go_to_evbus(broker: &KafkaBroker) -> anyhow::Result<()> {
    let topic = unique("interop-go-to-evbus");
    let (bus, errors) = bus(config(broker, CodecKind::Protobuf)).await?;
    create_topic(&bus, &topic).await?;
    let mut spec = Spec::standard("44444444");
    spec.string_tenants = true;
    let go = go_publish(broker, &topic, &spec).await?;
    let tally = consume(&bus, &topic, std::slice::from_ref(&spec)).await?;
    bus.close().await?;
    ensure!(
        errors.load(Ordering::Relaxed) == 0,
        "the bus reported errors"
    );
    let used = assert_partitions(&tally, &go)?;
    println!(
        "go_to_evbus_kafka: Go published {} envelopes over {} aggregates ({} with string tenants) \
         to {PARTITIONS} partitions; evbus received {}, distinct {}, duplicates {}, order \
         violations {}, field mismatches {}; every aggregate read from the partition Go wrote it \
         to ({used} partitions used); Go wire form: {}",
        go.published,
        spec.aggregates,
        spec.count / 4,
        tally.received,
        tally.distinct,
        tally.duplicates,
        tally.order_violations,
        tally.field_mismatches,
        go.wire_form
    );
    Ok(())
}

async fn evbus_to_go(broker: &KafkaBroker) -> anyhow::Result<()> {
    let topic = unique("interop-evbus-to-go");
    let (bus, errors) = bus(config(broker, CodecKind::GoJson)).await?;
    create_topic(&bus, &topic).await?;
    let spec = Spec::standard("55555555");
    let envelopes: Vec<_> = (0..spec.count).map(|i| spec.envelope(i)).collect();
    let mut published = 0;
    for result in bus.publish_batch(&topic, &envelopes).await? {
        result.context("an envelope was not stored")?;
        published += 1;
    }
    bus.close().await?;
    ensure!(
        errors.load(Ordering::Relaxed) == 0,
        "the bus reported errors"
    );

    let mut args = vec![
        "kafka-consume".into(),
        "-brokers".into(),
        broker.bootstrap(),
    ];
    args.extend([
        "-topic".into(),
        topic,
        "-group".into(),
        unique("go-service"),
    ]);
    args.extend(spec_args(&spec));
    let consumed = run_go(args).await?;
    go_interop::assert_go_consumed(&consumed, &spec)?;
    let used: BTreeSet<u32> = consumed.partitions.values().copied().collect();
    println!(
        "evbus_to_go_kafka: evbus (codec go_json) published {published} envelopes over {} \
         aggregates to {PARTITIONS} partitions; Go received {}, distinct {}, Validate failures {}, \
         duplicates {}, order violations {}, field mismatches {}, keys off sarama's hash \
         partition {} ({} partitions used); Go wire form: {}",
        spec.aggregates,
        consumed.received,
        consumed.distinct,
        consumed.invalid,
        consumed.duplicates,
        consumed.order_violations,
        consumed.field_mismatches,
        consumed.partition_mismatches,
        used.len(),
        consumed.wire_form
    );
    Ok(())
}

async fn side_by_side(broker: &KafkaBroker) -> anyhow::Result<()> {
    let topic = unique("interop-mixed");
    let (bus, errors) = bus(config(broker, CodecKind::Protobuf)).await?;
    create_topic(&bus, &topic).await?;
    let mut go_spec = Spec::standard("66666666");
    go_spec.string_tenants = true;
    let go = go_publish(broker, &topic, &go_spec).await?;
    // evbus continues every aggregate where the Go service stopped.
    let mut evbus_spec = Spec::standard("77777777");
    evbus_spec.first_version = 11;
    let envelopes: Vec<_> = (0..evbus_spec.count)
        .map(|i| evbus_spec.envelope(i))
        .collect();
    for result in bus.publish_batch(&topic, &envelopes).await? {
        result.context("an envelope was not stored")?;
    }
    let tally = consume(&bus, &topic, &[go_spec.clone(), evbus_spec.clone()]).await?;
    bus.close().await?;
    let errors = errors.load(Ordering::Relaxed);
    ensure!(
        errors == 0,
        "the bus reported {errors} errors (dead letters or decode failures)"
    );
    for (aggregate, by_producer) in &tally.partitions {
        ensure!(
            by_producer.len() == 2,
            "aggregate {aggregate}: envelopes of only {:?} arrived",
            by_producer.keys()
        );
    }
    let used = assert_partitions(&tally, &go)?;
    println!(
        "go_json_and_protobuf_side_by_side_kafka: Go published {} (JSON), evbus {} (protobuf) \
         for the same {} aggregates on one topic of {PARTITIONS} partitions; every aggregate on \
         one partition for both producers ({used} partitions used); evbus handled {} distinct of \
         {}, order violations {}, field mismatches {}, dead letters and bus errors {errors}; Go \
         wire form: {}",
        go.published,
        evbus_spec.count,
        go_spec.aggregates,
        tally.distinct,
        go_spec.count + evbus_spec.count,
        tally.order_violations,
        tally.field_mismatches,
        go.wire_form
    );
    Ok(())
}

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // One at a time: the machine's 2 cores are shared with the broker and
    // the Go process.
    args.test_threads = Some(1);
    let broker = match KafkaBroker::start() {
        Ok(broker) => Arc::new(broker),
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let trials = vec![
        trial("go_to_evbus_kafka", &broker, |b| async move {
            go_to_evbus(&b).await
        }),
        trial("evbus_to_go_kafka", &broker, |b| async move {
            evbus_to_go(&b).await
        }),
        trial(
            "go_json_and_protobuf_side_by_side_kafka",
            &broker,
            |b| async move { side_by_side(&b).await },
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}
