//! toxiproxy, the TCP fault proxy of the `network` scenario: a
//! `toxiproxy-server` on a free loopback port for the run, driven through
//! its HTTP API (<https://github.com/Shopify/toxiproxy#http-api>). Each
//! proxy forwards one local port to one broker port; a [`Fault`] is a set
//! of toxics on every proxy, or every proxy disabled. The `partition`
//! scenario runs its own instance in front of the NATS routes and disables
//! single proxies.

use std::{
    net::{Ipv4Addr, TcpListener},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::json;

/// What the proxies do to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Delays all data, both ways (toxic `latency`).
    Latency(Duration),
    /// Every proxy disabled: its connections closed, new ones refused.
    Cut,
    /// Accepts connections and drops all data both ways, never closing
    /// them (toxic `timeout` with timeout 0): the peers wait for answers
    /// that never come. Removing the toxic closes the connections.
    BlackHole,
    /// At most this many KiB/s each way (toxic `bandwidth`).
    Slow(u64),
}

/// A running toxiproxy-server, killed when dropped.
pub struct Toxiproxy {
    child: Child,
    api: String,
    agent: ureq::Agent,
    /// The names of the proxies created, which faults apply to.
    proxies: Vec<String>,
}

/// The part of a proxy's JSON the run needs.
#[derive(Deserialize)]
struct ProxyJson {
    listen: String,
}

impl Toxiproxy {
    /// Starts the installed toxiproxy-server (see `benchtools.rs`) on a
    /// free loopback port; returns once its API answers.
    pub fn start() -> anyhow::Result<Self> {
        let binary = crate::benchtools::ensure_toxiproxy()?;
        let port = free_port()?;
        let child = Command::new(&binary)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .stdin(Stdio::null())
            // It logs every connection; the run reports what matters.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let mut server = Self {
            child,
            api: format!("http://127.0.0.1:{port}"),
            agent,
            proxies: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while server
            .agent
            .get(format!("{}/version", server.api))
            .call()
            .is_err()
        {
            if let Some(status) = server.child.try_wait()? {
                bail!("toxiproxy-server exited at start ({status})");
            }
            if Instant::now() > deadline {
                bail!("toxiproxy-server did not answer on port {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }

    /// Creates a proxy named `name` from 127.0.0.1:`listen` (0: a free
    /// port) to `upstream` (`host:port`); returns the port it listens on.
    pub fn create(&mut self, name: &str, listen: u16, upstream: &str) -> anyhow::Result<u16> {
        let proxy = self.post_proxy(name, listen, upstream)?;
        let port = proxy
            .listen
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("proxy {name} listens on {}", proxy.listen))?;
        self.proxies.push(name.to_owned());
        Ok(port)
    }

    /// Injects `fault` on every proxy.
    pub fn inject(&self, fault: Fault) -> anyhow::Result<()> {
        for proxy in &self.proxies {
            let (kind, attributes) = match fault {
                Fault::Cut => {
                    self.disable(std::slice::from_ref(proxy))?;
                    continue;
                }
                Fault::Latency(delay) => (
                    "latency",
                    json!({ "latency": delay.as_millis() as u64, "jitter": 0 }),
                ),
                Fault::BlackHole => ("timeout", json!({ "timeout": 0 })),
                Fault::Slow(kib) => ("bandwidth", json!({ "rate": kib })),
            };
            for stream in ["upstream", "downstream"] {
                self.agent
                    .post(format!("{}/proxies/{proxy}/toxics", self.api))
                    .send_json(json!({
                        "name": format!("{kind}_{stream}"),
                        "type": kind,
                        "stream": stream,
                        "toxicity": 1.0,
                        "attributes": attributes,
                    }))
                    .with_context(|| format!("adding toxic {kind} to proxy {proxy}"))?;
            }
        }
        Ok(())
    }

    /// Disables the proxies named `names`: their connections closed, new
    /// ones refused, until [`heal`](Self::heal).
    pub fn disable(&self, names: &[String]) -> anyhow::Result<()> {
        for proxy in names {
            self.agent
                .post(format!("{}/proxies/{proxy}", self.api))
                .send_json(json!({ "enabled": false }))
                .with_context(|| format!("disabling proxy {proxy}"))?;
        }
        Ok(())
    }

    /// Ends every fault: every proxy enabled, every toxic removed (which
    /// closes the connections a black hole held).
    pub fn heal(&self) -> anyhow::Result<()> {
        self.agent
            .post(format!("{}/reset", self.api))
            .send_empty()
            .context("resetting toxiproxy")?;
        Ok(())
    }

    /// Creates a proxy; returns its JSON.
    fn post_proxy(&self, name: &str, listen: u16, upstream: &str) -> anyhow::Result<ProxyJson> {
        Ok(self
            .agent
            .post(format!("{}/proxies", self.api))
            .send_json(json!({
                "name": name,
                "listen": format!("127.0.0.1:{listen}"),
                "upstream": upstream,
                "enabled": true,
            }))
            .with_context(|| format!("creating proxy {name} to {upstream}"))?
            .body_mut()
            .read_json()?)
    }
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free right now (the caller binds it soon after).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}
