//! Operations in one place: Prometheus metrics and the health snapshot
//! served on a local HTTP port, health beats published and monitored, and
//! every health or backlog alert printed.
//!
//! ```text
//! cargo run --example operations                 # serves 127.0.0.1:9464
//! curl -s 127.0.0.1:9464/metrics                 # Prometheus text format
//! curl -s 127.0.0.1:9464/health                  # EventBus::health() as JSON
//! ```
//!
//! It runs on the embedded in-memory transport, publishing an event a
//! second to a topic it also consumes; point `BusConfig` at NATS or Kafka
//! for backlog figures (the in-memory transport reports none).

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use evbus::{
    BusConfig, Envelope, EventBus, TopicOptions,
    operations::{BacklogOf, HealthMonitor},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// The running example: the bus and the address it serves on.
pub struct Running {
    /// The bus.
    pub bus: EventBus,
    /// Where `/metrics` and `/health` are served.
    pub addr: SocketAddr,
    monitor: HealthMonitor,
}

impl Running {
    /// Stops monitoring and closes the bus.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.monitor.stop().await;
        Ok(self.bus.close().await?)
    }
}

const TOPIC: &str = "orders.placed";

/// Installs the Prometheus recorder, starts a bus with beats, a monitor and
/// a consumer, and serves HTTP on `addr` (port 0 picks a free one).
pub async fn start(addr: &str, beat_every: Duration) -> anyhow::Result<Running> {
    // Installed before the bus is built, so its handles register with it.
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .context("installing the Prometheus recorder")?;
    let mut config = BusConfig::default();
    config.service_name = "operations-example".into();
    config.operations.sample_interval = Duration::from_secs(1);
    config.operations.health.interval = beat_every;
    let bus = EventBus::from_config(config).await?;
    let health_topic = bus
        .config()
        .operations
        .health
        .topic_for(bus.transport().name());
    bus.configure_topics([
        (TOPIC, TopicOptions::new()),
        (health_topic.as_str(), TopicOptions::new()),
    ])
    .await?;

    bus.on_backlog(|alert| {
        let of = match &alert.of {
            BacklogOf::Subscription { topic, group } => format!("{topic} / {group}"),
            BacklogOf::Publisher => "the publisher".to_owned(),
        };
        println!(
            "backlog of {of}: {} (was {}), {} behind",
            alert.level.as_str(),
            alert.previous.as_str(),
            alert.backlog.total()
        );
    });
    let monitor = bus
        .monitor_health(|alert| {
            println!(
                "health of {}: {} (was {}), {} beats missed",
                alert.source,
                alert.level.as_str(),
                alert.previous.as_str(),
                alert.missed_beats
            );
        })
        .await?;
    // The publisher lives as long as the bus: closing the bus stops it.
    drop(bus.start_health_publisher());
    bus.subscribe_envelope(TOPIC, |_event: Envelope, _meta| async { Ok(()) })
        .await?;

    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, prometheus, bus.clone()));
    let publisher = bus.clone();
    tokio::spawn(async move {
        for version in 1.. {
            let Ok(event) = Envelope::builder("order-1", "OrderPlaced", version, "{}").build()
            else {
                return;
            };
            if publisher.publish_envelope(TOPIC, &event).await.is_err() {
                return; // closed
            }
            if publisher.publish_detached(TOPIC, &event).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(Running { bus, addr, monitor })
}

/// A minimal HTTP/1.1 server: `GET /metrics` and `GET /health`, one
/// request per connection. Enough for a scraper or a probe; a service
/// would mount the two handlers in its own HTTP server.
async fn serve(listener: TcpListener, prometheus: PrometheusHandle, bus: EventBus) {
    while let Ok((stream, _)) = listener.accept().await {
        let (prometheus, bus) = (prometheus.clone(), bus.clone());
        tokio::spawn(async move {
            if let Err(error) = answer(stream, &prometheus, &bus).await {
                eprintln!("http: {error}");
            }
        });
    }
}

async fn answer(
    mut stream: TcpStream,
    prometheus: &PrometheusHandle,
    bus: &EventBus,
) -> anyhow::Result<()> {
    let mut request = vec![0; 4096];
    let read = stream.read(&mut request).await?;
    let request = String::from_utf8_lossy(&request[..read]);
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let (status, content_type, body) = match path {
        "/metrics" => ("200 OK", "text/plain; version=0.0.4", prometheus.render()),
        "/health" => (
            "200 OK",
            "application/json",
            serde_json::to_string_pretty(&bus.health())?,
        ),
        _ => (
            "404 Not Found",
            "text/plain",
            "try /metrics or /health\n".into(),
        ),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    Ok(stream.shutdown().await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let running = start("127.0.0.1:9464", Duration::from_secs(120)).await?;
    println!(
        "serving http://{0}/metrics and http://{0}/health; Ctrl-C stops",
        running.addr
    );
    tokio::signal::ctrl_c().await?;
    running.stop().await
}
