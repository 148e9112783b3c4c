//! The bus-wide publish rate limit on the in-memory transport: its
//! configuration, batches and wait metric. That it holds the rate within 5%
//! is a bus-suite scenario, run on every backend.

use evbus::{
    BusConfig, BusErrorKind, Envelope, EventBus, RateLimit, telemetry::PUBLISH_RATE_WAIT_SECONDS,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

#[tokio::test]
async fn a_zero_rate_is_a_config_error() {
    let mut config = BusConfig::default();
    config.publish.rate_limit = Some(RateLimit::per_second(0));
    let error = EventBus::builder()
        .config(config)
        .build()
        .await
        .expect_err("invalid");
    assert_eq!(error.kind(), BusErrorKind::Config);
    assert!(error.to_string().contains("publish.rate_limit"), "{error}");
}

/// A batch larger than the burst is not refused: it takes the tokens a
/// burst at a time.
#[tokio::test]
async fn a_batch_larger_than_the_burst_waits_and_goes_through() -> anyhow::Result<()> {
    let mut config = BusConfig::default();
    config.publish.rate_limit = Some(RateLimit::per_second(1_000).with_burst(10));
    let bus = EventBus::builder().config(config).build().await?;
    let batch: Vec<Envelope> = (1..=25)
        .map(|v| Envelope::builder("agg", "Tick", v, "{}").build())
        .collect::<Result<_, _>>()?;
    let results = bus.publish_batch("ticks", &batch).await?;
    assert!(results.iter().all(Result::is_ok));
    bus.close().await?;
    Ok(())
}

/// The waits recorded in `evbus_publish_rate_wait_seconds`, awaited and
/// detached (one snapshot: taking one drains the histograms).
fn rate_waits(snapshotter: &Snapshotter) -> (Vec<f64>, Vec<f64>) {
    let (mut awaited, mut detached) = (Vec::new(), Vec::new());
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let waits = match key.labels().find(|l| l.key() == "mode").map(|l| l.value()) {
            Some("awaited") => &mut awaited,
            Some("detached") => &mut detached,
            _ => continue,
        };
        if let (true, DebugValue::Histogram(values)) =
            (key.name() == PUBLISH_RATE_WAIT_SECONDS, value)
        {
            waits.extend(values.into_iter().map(|v| v.into_inner()));
        }
    }
    (awaited, detached)
}

/// Time spent waiting for the publish limit is a metric, per mode: at 20
/// msg/s with a burst of 1, the second and third publish each wait about
/// 50 ms (GCRA never lets them through sooner), the first waits not at all
/// and records nothing. The bus is built under a recorder of its own, so
/// other tests' buses cannot add to what is asserted.
#[test]
fn time_waiting_for_the_publish_limit_is_recorded_per_mode() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let mut config = BusConfig::default();
    config.publish.rate_limit = Some(RateLimit::per_second(20).with_burst(1));
    // The bus registers its metric handles while it is built: with the
    // local recorder set on this thread, they record into it.
    let bus = metrics::with_local_recorder(&recorder, || {
        runtime.block_on(EventBus::builder().config(config).build())
    })?;
    runtime.block_on(async {
        for version in 1..=3 {
            let event = Envelope::builder("agg", "Tick", version, "{}").build()?;
            bus.publish_envelope("ticks", &event).await?;
        }
        for version in 4..=5 {
            let event = Envelope::builder("agg", "Tick", version, "{}").build()?;
            bus.publish_detached("ticks", &event).await?;
        }
        bus.flush().await?;
        bus.close().await?;
        anyhow::Ok(())
    })?;
    // Tokens come every 50 ms; allow a millisecond for rounding.
    let (awaited, detached) = rate_waits(&snapshotter);
    assert_eq!(
        awaited.len(),
        2,
        "the 2nd and 3rd awaited publish waited: {awaited:?}"
    );
    assert!(awaited.iter().all(|w| *w >= 0.049), "{awaited:?}");
    assert_eq!(
        detached.len(),
        2,
        "both detached publishes waited: {detached:?}"
    );
    assert!(detached.iter().all(|w| *w >= 0.049), "{detached:?}");
    Ok(())
}
