//! What the consumer meets that it cannot use: a record it cannot read in
//! full must not stop its partition, and an error of the client must reach
//! the caller instead of consuming nothing in silence.

mod common;

use std::{ffi::CStr, time::Duration};

use anyhow::{Context as _, Result, ensure};
use common::{WITHIN, connect, topic, unique};
use evbus_kafka::testkit::KafkaBroker;
use evbus_transport::{OutgoingMessage, SubscribeOptions, Subscription, Transport};
use rdkafka::{
    ClientConfig,
    producer::{BaseProducer, Producer},
};

/// The payloads of the next `n` deliveries, acked.
async fn receive(sub: &mut dyn Subscription, n: usize) -> Result<Vec<String>> {
    let mut payloads = Vec::new();
    while payloads.len() < n {
        let batch = tokio::time::timeout(WITHIN, sub.next_batch(n - payloads.len()))
            .await
            .with_context(|| format!("only {payloads:?} within {WITHIN:?}"))??;
        ensure!(
            !batch.is_empty(),
            "the subscription ended after {payloads:?}"
        );
        for delivery in batch {
            payloads.push(String::from_utf8_lossy(&delivery.payload).into_owned());
            delivery.ack().await?;
        }
    }
    Ok(payloads)
}

/// Produces record `first` with key `k` and one header named `name`, which
/// need not be UTF-8. rdkafka takes header names only as `&str`, so this
/// goes through librdkafka itself, as a client in another language would.
fn produce_with_header_name(bootstrap: &str, topic: &str, name: &CStr) -> Result<()> {
    use rdkafka::bindings::{self as rd, rd_kafka_vtype_t as V};
    use std::ffi::{CString, c_int, c_void};

    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let topic = CString::new(topic)?;
    let (key, payload, value) = (b"k", b"first", b"value");
    #[allow(unsafe_code)]
    // SAFETY: every pointer is valid for the call, the sizes match their
    // buffers, the name is NUL-terminated, and RD_KAFKA_MSG_F_COPY makes
    // librdkafka copy key and payload before the call returns (header
    // names and values it always copies). The argument list follows
    // RD_KAFKA_V_* of rdkafka.h and ends with RD_KAFKA_VTYPE_END.
    let error = unsafe {
        rd::rd_kafka_producev(
            producer.client().native_ptr(),
            V::RD_KAFKA_VTYPE_TOPIC as c_int,
            topic.as_ptr(),
            V::RD_KAFKA_VTYPE_KEY as c_int,
            key.as_ptr().cast::<c_void>(),
            key.len(),
            V::RD_KAFKA_VTYPE_VALUE as c_int,
            payload.as_ptr().cast::<c_void>(),
            payload.len(),
            V::RD_KAFKA_VTYPE_HEADER as c_int,
            name.as_ptr(),
            value.as_ptr().cast::<c_void>(),
            value.len() as isize,
            V::RD_KAFKA_VTYPE_MSGFLAGS as c_int,
            rd::RD_KAFKA_MSG_F_COPY as c_int,
            V::RD_KAFKA_VTYPE_END as c_int,
        )
    };
    ensure!(
        error == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR,
        "producev: {error:?}"
    );
    producer.flush(Duration::from_secs(10))?;
    Ok(())
}

/// Kafka header names are bytes; the transport carries text. A name that
/// is not UTF-8 made rdkafka panic on the polling thread, ending the
/// subscription, and no member could get past the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_name_that_is_not_utf8_does_not_stop_the_partition() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let transport = connect(broker).await?;
    let topic = topic(&transport, "header-name", 1).await?;
    produce_with_header_name(&broker.bootstrap(), &topic, c"\xff")?;
    transport
        .publish(&topic, OutgoingMessage::new("second").with_key("k"))
        .await?;
    let mut sub = transport
        .subscribe(&topic, &unique("g"), SubscribeOptions::default())
        .await?;
    ensure!(receive(sub.as_mut(), 2).await? == ["first", "second"]);
    transport
        .publish(&topic, OutgoingMessage::new("third").with_key("k"))
        .await?;
    ensure!(
        receive(sub.as_mut(), 1).await? == ["third"],
        "the subscription is alive"
    );
    sub.close().await?;
    transport.close().await?;
    Ok(())
}
