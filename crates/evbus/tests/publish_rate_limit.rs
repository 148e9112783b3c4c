//! The bus-wide publish rate limit on the in-memory transport: a count over
//! a window, not a race against the clock.

use std::time::{Duration, Instant};

use evbus::{BusConfig, BusErrorKind, Envelope, EventBus, RateLimit};

/// 1,000 msg/s with a burst of 50, publishers always ready: over 5 s the
/// bucket lets through its rate (within 5%) plus at most the burst, and
/// nothing fails: callers wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_within_five_percent_over_five_seconds() -> anyhow::Result<()> {
    let mut config = BusConfig::default();
    config.publish.rate_limit = Some(RateLimit::per_second(1_000).with_burst(50));
    let bus = EventBus::builder().config(config).build().await?;
    let window = Duration::from_secs(5);
    let started = Instant::now();
    let mut publishers = Vec::new();
    for publisher in 0..4 {
        let bus = bus.clone();
        publishers.push(tokio::spawn(async move {
            let mut sent = 0u64;
            let mut version = 0;
            while started.elapsed() < window {
                version += 1;
                let event =
                    Envelope::builder(format!("agg-{publisher}"), "Tick", version, "{}").build()?;
                bus.publish_envelope("ticks", &event).await?;
                if started.elapsed() <= window {
                    sent += 1;
                }
            }
            anyhow::Ok(sent)
        }));
    }
    let mut sent = 0;
    for publisher in publishers {
        sent += publisher.await??;
    }
    let expected = 1_000 * window.as_secs();
    // The bucket lets through the rate plus its burst (50), and one more
    // token can fall due exactly at the window's end: the promise users
    // rely on is the rate within 5%.
    assert!(
        sent <= expected * 105 / 100,
        "{sent} published in {window:?}: more than 5% above the rate"
    );
    assert!(
        sent >= expected * 95 / 100,
        "{sent} published in {window:?}: the limit held back more than it allows"
    );
    bus.close().await?;
    Ok(())
}

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
