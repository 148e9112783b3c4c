//! examples/operations.rs serves every metric of the catalogue and the
//! health snapshot: started in-process and scraped over HTTP.

#[allow(dead_code)]
#[path = "../../../examples/operations.rs"]
mod example;

use std::{collections::BTreeSet, time::Duration};

use anyhow::{Result, ensure};
use evbus::telemetry::CATALOGUE;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

async fn get(addr: std::net::SocketAddr, path: &str) -> Result<String> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    ensure!(response.starts_with("HTTP/1.1 200"), "{path}: {response}");
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok(body.to_owned())
}

/// Metric names in a Prometheus text exposition (summaries' `_sum` and
/// `_count` series folded into their metric).
fn exposed(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(|name| {
            name.strip_suffix("_sum")
                .or_else(|| name.strip_suffix("_count"))
                .filter(|base| CATALOGUE.iter().any(|m| m.name == *base))
                .unwrap_or(name)
                .to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scrape_returns_every_catalogue_metric() -> Result<()> {
    let running = example::start("127.0.0.1:0", Duration::from_millis(200)).await?;
    // Long enough for a beat, a published event handled and a sample; the
    // loop ends as soon as everything is there.
    let mut missing = Vec::new();
    for _ in 0..100 {
        let names = exposed(&get(running.addr, "/metrics").await?);
        missing = CATALOGUE
            .iter()
            .map(|m| m.name)
            .filter(|name| !names.contains(*name))
            .collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(missing.is_empty(), "not exposed: {missing:?}");
    let health: serde_json::Value = serde_json::from_str(&get(running.addr, "/health").await?)?;
    ensure!(health["service"] == "operations-example", "{health}");
    ensure!(health["connection"] == "connected", "{health}");
    ensure!(
        health["monitored"][0]["source"] == "operations-example",
        "its own beats are monitored: {health}"
    );
    running.stop().await
}
