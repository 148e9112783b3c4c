//! The producer puts a key on the partition `evbus_topics::key_partition`
//! names, so the NATS transport, which routes with that function, puts an
//! aggregate on the same partition number as Kafka.

mod common;

use anyhow::{Result, ensure};
use common::{connect, topic};
use evbus_kafka::testkit::KafkaBroker;
use evbus_transport::{OutgoingMessage, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_land_on_the_partition_key_partition_names() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let partitions = 12;
    let topic = topic(&transport, "partitioner", partitions).await?;
    // librdkafka's own test keys, and aggregate ids like the bus sends.
    let keys: Vec<String> = ["kafka", "giberish123456789", "1234", "234", "34", "4"]
        .into_iter()
        .map(str::to_owned)
        .chain((0..200).map(|n| format!("agg-{n}")))
        .collect();
    for key in keys {
        let receipt = transport
            .publish(&topic, OutgoingMessage::new("x").with_key(key.clone()))
            .await?;
        let expected = evbus_topics::key_partition(key.as_bytes(), partitions);
        ensure!(
            receipt.position.partition == expected,
            "{key:?} went to partition {} on Kafka, key_partition says {expected}",
            receipt.position.partition
        );
    }
    transport.close().await?;
    Ok(())
}
