//! Go interop on NATS JetStream, against a real nats-server and the Go SDK's
//! wire form (`interop/go`, built by `cargo xtask test`):
//!
//! - `go_to_evbus_nats`: a Go service publishes 1,000 envelopes over 100
//!   aggregates on its own stream (some in the SDK's older string-tenant
//!   form); evbus consumes every one, each aggregate in order, every field
//!   equal.
//! - `evbus_to_go_nats`: evbus publishes 1,000 with `codec = "go_json"` on
//!   the stream it created; the Go SDK's `SubscribeEnvelope` path (configured
//!   with that stream as its unified stream) consumes every one, in order,
//!   its `Validate` passing, every field equal.
//! - `go_json_and_protobuf_side_by_side_nats`: one topic carries the Go
//!   service's JSON and evbus's protobuf for the same aggregates; evbus
//!   consumes both without a dead letter or an error.
//!
//! Each prints its counts and which Go code spoke the wire form.

mod go_interop;

use std::{process::ExitCode, sync::Arc, sync::atomic::Ordering};

use anyhow::{Context, ensure};
use evbus::{
    Backend, BusConfig, CodecKind, TopicOptions,
    nats::{mapping, testkit::NatsServer},
};
use go_interop::{Spec, bus, consume, run_go, spec_args, trial, unique};
use libtest_mimic::Arguments;

fn config(server: &NatsServer, codec: CodecKind) -> BusConfig {
    let mut config = BusConfig::default();
    config.backend = Backend::Nats;
    config.service_name = unique("evbus-service");
    config.nats.servers = vec![server.url()];
    config.codec = codec;
    config
}

async fn go_to_evbus(server: &NatsServer) -> anyhow::Result<()> {
    let topic = unique("interop-go-to-evbus");
    let stream = format!("GO_{}", topic.replace('-', "_"));
    let mut spec = Spec::standard("00000000");
    spec.string_tenants = true;
    let mut args = vec!["nats-publish".into(), "-url".into(), server.url()];
    args.extend(["-topic".into(), topic.clone(), "-stream".into(), stream]);
    args.extend(spec_args(&spec));
    let published = run_go(args).await?;
    ensure!(published.published == spec.count, "{published:?}");

    let (bus, errors) = bus(config(server, CodecKind::Protobuf)).await?;
    let tally = consume(&bus, &topic, std::slice::from_ref(&spec)).await?;
    bus.close().await?;
    ensure!(
        errors.load(Ordering::Relaxed) == 0,
        "the bus reported errors"
    );
    println!(
        "go_to_evbus_nats: Go published {} envelopes over {} aggregates ({} with string tenants); \
         evbus received {}, distinct {}, duplicates {}, order violations {}, field mismatches {}; \
         Go wire form: {}",
        published.published,
        spec.aggregates,
        spec.count / 4,
        tally.received,
        tally.distinct,
        tally.duplicates,
        tally.order_violations,
        tally.field_mismatches,
        published.wire_form
    );
    Ok(())
}

async fn evbus_to_go(server: &NatsServer) -> anyhow::Result<()> {
    let topic = unique("interop-evbus-to-go");
    let config = config(server, CodecKind::GoJson);
    let stream = mapping::stream_name(&config.nats.stream_prefix, &topic);
    let (bus, errors) = bus(config).await?;
    bus.configure_topics([(topic.clone(), TopicOptions::default())])
        .await?;
    let spec = Spec::standard("11111111");
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

    let mut args = vec!["nats-consume".into(), "-url".into(), server.url()];
    args.extend(["-topic".into(), topic, "-stream".into(), stream]);
    args.extend(["-durable".into(), "go-service".into()]);
    args.extend(spec_args(&spec));
    let consumed = run_go(args).await?;
    go_interop::assert_go_consumed(&consumed, &spec)?;
    println!(
        "evbus_to_go_nats: evbus (codec go_json) published {published} envelopes over {} \
         aggregates; Go received {}, distinct {}, Validate failures {}, duplicates {}, order \
         violations {}, field mismatches {}; Go wire form: {}",
        spec.aggregates,
        consumed.received,
        consumed.distinct,
        consumed.invalid,
        consumed.duplicates,
        consumed.order_violations,
        consumed.field_mismatches,
        consumed.wire_form
    );
    Ok(())
}

async fn side_by_side(server: &NatsServer) -> anyhow::Result<()> {
    let topic = unique("interop-mixed");
    let stream = format!("GO_{}", topic.replace('-', "_"));
    let mut go_spec = Spec::standard("22222222");
    go_spec.string_tenants = true;
    let mut args = vec!["nats-publish".into(), "-url".into(), server.url()];
    args.extend(["-topic".into(), topic.clone(), "-stream".into(), stream]);
    args.extend(spec_args(&go_spec));
    let go = run_go(args).await?;

    // evbus continues every aggregate where the Go service stopped.
    let mut evbus_spec = Spec::standard("33333333");
    evbus_spec.first_version = 11;
    let (bus, errors) = bus(config(server, CodecKind::Protobuf)).await?;
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
    println!(
        "go_json_and_protobuf_side_by_side_nats: Go published {} (JSON), evbus {} (protobuf) on \
         one topic; evbus handled {} distinct of {}, order violations {}, field mismatches {}, \
         dead letters and bus errors {errors}; Go wire form: {}",
        go.published,
        evbus_spec.count,
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
    let server = match NatsServer::start() {
        Ok(server) => Arc::new(server),
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let trials = vec![
        libtest_mimic::Trial::test("interop_checks_catch_bad_deliveries", || {
            go_interop::checks_catch_bad_deliveries().map_err(|e| format!("{e:#}").into())
        }),
        trial("go_to_evbus_nats", &server, |s| async move {
            go_to_evbus(&s).await
        }),
        trial("evbus_to_go_nats", &server, |s| async move {
            evbus_to_go(&s).await
        }),
        trial(
            "go_json_and_protobuf_side_by_side_nats",
            &server,
            |s| async move { side_by_side(&s).await },
        ),
    ];
    libtest_mimic::run(&args, trials).exit_code()
}
