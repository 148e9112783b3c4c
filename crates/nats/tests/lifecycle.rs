//! A closed transport leaves no task behind, and keeps failing with
//! `Closed`.

mod common;

use std::time::Duration;

use evbus_transport::{ErrorKind, OutgoingMessage, SubscribeOptions, Transport};

use common::{connect, next_within, persistent_topic, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_leaves_no_task_behind() {
    let server = common::server();
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    {
        let transport = connect(common::config(&server)).await;
        let topic = persistent_topic(&transport, "tasks").await;
        let mut sub = transport
            .subscribe(&topic, &unique("g"), SubscribeOptions::default())
            .await
            .unwrap();
        for result in transport
            .publish_batch(
                &topic,
                (0..50)
                    .map(|i| OutgoingMessage::new(format!("{i}")))
                    .collect(),
            )
            .await
        {
            result.unwrap();
        }
        let mut received = 0;
        while received < 50 {
            let batch = next_within(&mut *sub, 50, Duration::from_secs(10))
                .await
                .expect("the published messages arrive");
            received += batch.len();
            for delivery in batch {
                delivery.ack().await.unwrap();
            }
        }
        assert!(metrics.num_alive_tasks() > before, "the client runs tasks");
        sub.close().await.unwrap();
        transport.close().await.unwrap();
        let error = transport
            .publish(&topic, OutgoingMessage::new("late"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Closed);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while metrics.num_alive_tasks() > before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} tasks left after close",
            metrics.num_alive_tasks() - before
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
