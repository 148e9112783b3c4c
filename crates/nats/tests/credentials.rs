//! Credentials written into a server URL never show up in errors or in
//! `Debug` output, where logs would keep them.

mod common;

use std::time::Duration;

use evbus_nats::{NatsConfig, NatsTransport};
use evbus_transport::Transport;

const PASSWORD: &str = "hunter2";

/// The full text of an error: its message and every source's.
fn full_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error} / {error:?}");
    let mut source = error.source();
    while let Some(error) = source {
        text.push_str(&format!(" / {error} / {error:?}"));
        source = error.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_connect_and_the_config_hide_the_url_password() {
    let config = NatsConfig::new(format!("nats://u:{PASSWORD}@127.0.0.1:1"))
        .connect_timeout(Duration::from_secs(1));
    let debug = format!("{config:?}");
    assert!(!debug.contains(PASSWORD), "config Debug leaks: {debug}");
    assert!(
        debug.contains("127.0.0.1:1"),
        "the server stays visible: {debug}"
    );
    let error = NatsTransport::connect(config)
        .await
        .expect_err("nothing listens on port 1");
    let text = full_text(&error);
    assert!(!text.contains(PASSWORD), "connect error leaks: {text}");
    assert!(
        text.contains("127.0.0.1:1"),
        "the error names the server: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_transport_hides_the_url_password() {
    let server = common::server();
    let url = server
        .url()
        .replacen("nats://", &format!("nats://u:{PASSWORD}@"), 1);
    let mut config = common::config(&server);
    config.servers = vec![url];
    let transport = common::connect(config).await;
    let debug = format!("{transport:?}");
    assert!(!debug.contains(PASSWORD), "transport Debug leaks: {debug}");
    transport.close().await.expect("close");
}
