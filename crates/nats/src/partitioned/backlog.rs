//! A partitioned group's backlog: the sum over its partition consumers.

use async_nats::jetstream::context::ConsumerInfoErrorKind;
use evbus_transport::{Backlog, ErrorKind, Result};
use futures::TryStreamExt;

use crate::{error, mapping, transport::Inner};

/// `pending` and `ack_pending` summed over the partitions; a partition whose
/// consumer does not exist yet (no member took it so far) counts every
/// message stored on its subject as pending.
pub(crate) async fn backlog(
    inner: &Inner,
    topic: &str,
    group: &str,
    partitions: u32,
) -> Result<Backlog> {
    let unavailable = |error: async_nats::Error| {
        error::on_topic(
            ErrorKind::Disconnected,
            topic,
            "JetStream did not answer a consumer info request",
        )
        .with_source(error)
    };
    let first_subject = mapping::partition_subject(topic, partitions, 0);
    let stream_name = inner
        .jetstream
        .stream_by_subject(first_subject)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let stream = inner
        .jetstream
        .get_stream_no_info(&stream_name)
        .await
        .map_err(|e| unavailable(e.into()))?;
    let (mut pending, mut ack_pending) = (0u64, 0u64);
    for partition in 0..partitions {
        let name = mapping::partition_durable_name(group, topic, partition);
        match stream.consumer_info(&name).await {
            Ok(info) => {
                pending += info.num_pending;
                ack_pending += info.num_ack_pending as u64;
            }
            Err(err) if matches!(err.kind(), ConsumerInfoErrorKind::NotFound) => {
                let subject = mapping::partition_subject(topic, partitions, partition);
                let counts = stream
                    .info_with_subjects(&subject)
                    .await
                    .map_err(|e| unavailable(e.into()))?;
                let stored: Vec<(String, usize)> = counts
                    .try_collect()
                    .await
                    .map_err(|e| unavailable(e.into()))?;
                pending += stored.iter().map(|(_, n)| *n as u64).sum::<u64>();
            }
            Err(err) => return Err(unavailable(err.into())),
        }
    }
    Ok(Backlog::counts(pending, ack_pending))
}
