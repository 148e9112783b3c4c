//! Topic strategies against Apache Kafka, and no admin request on the
//! publish path.

mod common;

use std::time::Duration;

use anyhow::{Result, ensure};
use common::{connect, set_unmanaged_config, topic, topic_config, unique};
use evbus_kafka::testkit::KafkaBroker;
use evbus_topics::{
    MismatchAction, Outcome, Strategy, TopicField, TopicOptions, TopicPolicy, configure,
};
use evbus_transport::{OutgoingMessage, Transport};

const HOUR: Duration = Duration::from_secs(3600);

fn policy(strategy: Strategy) -> TopicPolicy {
    TopicPolicy::new(strategy)
}

fn drifted_fields(outcome: &Outcome) -> Vec<TopicField> {
    outcome.drift().iter().map(|d| d.field).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strategies_act_on_what_the_broker_has() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let admin = transport.topic_admin();
    let wanted = TopicOptions::new().partitions(3).retention(HOUR);
    let longer = wanted.clone().retention(2 * HOUR);

    // Create-only creates a missing topic with its options...
    let created = unique("create-only");
    let outcome = configure(&*admin, &created, &wanted, &policy(Strategy::CreateOnly)).await?;
    ensure!(outcome == Outcome::Created, "{outcome:?}");
    let actual = admin.describe(&created).await?.expect("created");
    ensure!(actual.partitions == Some(3), "{actual:?}");
    ensure!(actual.retention == Some(HOUR), "{actual:?}");
    // ...and leaves an existing one alone, reporting the drift.
    let outcome = configure(&*admin, &created, &longer, &policy(Strategy::CreateOnly)).await?;
    ensure!(
        drifted_fields(&outcome) == [TopicField::Retention],
        "{outcome:?}"
    );
    ensure!(admin.describe(&created).await?.expect("exists").retention == Some(HOUR));

    // Create-or-update: creates, accepts a match...
    let owned = unique("create-or-update");
    let update = policy(Strategy::CreateOrUpdate);
    ensure!(configure(&*admin, &owned, &wanted, &update).await? == Outcome::Created);
    ensure!(configure(&*admin, &owned, &wanted, &update).await? == Outcome::Unchanged);
    // ...fixes drifted retention, leaving alone a config it does not manage
    // (the legacy AlterConfigs would reset it: the admin sends every config
    // set on the topic)...
    set_unmanaged_config(broker, &owned, "segment.ms", "7200000").await?;
    let outcome = configure(&*admin, &owned, &longer, &update).await?;
    ensure!(matches!(outcome, Outcome::Updated { .. }), "{outcome:?}");
    ensure!(admin.describe(&owned).await?.expect("exists").retention == Some(2 * HOUR));
    let kept = topic_config(broker, &owned, "segment.ms").await?;
    ensure!(
        kept.as_deref() == Some("7200000"),
        "segment.ms was reset to {kept:?}"
    );
    // ...and grows partitions only with the opt-in.
    let more = longer.clone().partitions(6);
    let outcome = configure(&*admin, &owned, &more, &update).await?;
    ensure!(
        drifted_fields(&outcome) == [TopicField::Partitions],
        "{outcome:?}"
    );
    ensure!(admin.describe(&owned).await?.expect("exists").partitions == Some(3));
    let outcome = configure(&*admin, &owned, &more, &update.allow_destructive(true)).await?;
    ensure!(matches!(outcome, Outcome::Updated { .. }), "{outcome:?}");
    ensure!(admin.describe(&owned).await?.expect("exists").partitions == Some(6));

    // Validate-only reports drift and a missing topic, and changes nothing.
    let validate = policy(Strategy::ValidateOnly);
    let outcome = configure(&*admin, &created, &longer, &validate).await?;
    ensure!(
        drifted_fields(&outcome) == [TopicField::Retention],
        "{outcome:?}"
    );
    let err = configure(
        &*admin,
        &created,
        &longer,
        &validate.on_mismatch(MismatchAction::Fail),
    )
    .await
    .expect_err("drift under fail");
    ensure!(err.to_string().contains("retention"), "{err}");
    ensure!(admin.describe(&created).await?.expect("exists").retention == Some(HOUR));
    let absent = unique("validate-only");
    ensure!(configure(&*admin, &absent, &wanted, &validate).await? == Outcome::Missing);
    ensure!(
        admin.describe(&absent).await?.is_none(),
        "validate-only created a topic"
    );

    // Skip asks the broker nothing and creates nothing.
    let skipped = unique("skip");
    let before = transport.admin().requests();
    ensure!(
        configure(&*admin, &skipped, &wanted, &policy(Strategy::Skip)).await? == Outcome::Skipped
    );
    ensure!(
        transport.admin().requests() == before,
        "skip asked the broker"
    );
    ensure!(
        admin.describe(&skipped).await?.is_none(),
        "skip created a topic"
    );
    transport.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_publishes_make_no_admin_request() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let topic = topic(&transport, "no-admin", 4).await?;
    let before = transport.admin().requests();
    let started = std::time::Instant::now();
    let batches = (0..20).map(|b| {
        let messages = (0..500)
            .map(|i| OutgoingMessage::new(format!("m{b}-{i}")).with_key(format!("k{}", i % 32)))
            .collect();
        transport.publish_batch(&topic, messages)
    });
    let mut published = 0;
    for results in futures::future::join_all(batches).await {
        for result in results {
            result?;
            published += 1;
        }
    }
    ensure!(published == 10_000);
    let elapsed = started.elapsed();
    println!(
        "10,000 publishes in {elapsed:?} ({:.0} msg/s), no admin request",
        10_000.0 / elapsed.as_secs_f64()
    );
    let after = transport.admin().requests();
    ensure!(
        after == before,
        "{} admin requests during the publishes",
        after - before
    );
    transport.close().await?;
    Ok(())
}
