//! A TCP fault proxy on loopback, in this process: each [`Proxy`] forwards
//! one local port to one broker port, and injects the fault it is set to.
//!
//! Written here rather than running toxiproxy: the four faults the
//! scenarios need are a few dozen lines on tokio, and it spares the run a
//! Go build and a download.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::watch,
};

/// What a proxy does to the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forwards everything at once.
    None,
    /// Delays every chunk, both ways.
    Latency(Duration),
    /// Resets every connection and refuses new ones.
    Cut,
    /// Accepts connections and reads from them, forwarding nothing either
    /// way: the peers wait for answers that never come. Ending it resets the
    /// connections (their streams lost bytes).
    BlackHole,
    /// Forwards at most this many bytes per second each way.
    Slow(u64),
}

/// The fault and a generation that changes whenever open connections must
/// be reset.
type State = (Fault, u64);

/// One forwarded port; stops when dropped.
pub struct Proxy {
    port: u16,
    state: watch::Sender<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port, forwarding to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (state, watcher) = watch::channel((Fault::None, 0));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let watcher = watcher.clone();
                tokio::spawn(async move {
                    let _ = serve(client, upstream, watcher).await;
                });
            }
        });
        Ok(Self { port, state, task })
    }

    /// The local port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets the fault; a cut, and the end of a black hole, reset the open
    /// connections.
    pub fn set(&self, fault: Fault) {
        self.state.send_modify(|(current, generation)| {
            if fault == Fault::Cut || *current == Fault::BlackHole {
                *generation += 1;
            }
            *current = fault;
        });
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    watcher: watch::Receiver<State>,
) -> anyhow::Result<()> {
    let (fault, generation) = *watcher.borrow();
    if fault == Fault::Cut {
        return Ok(());
    }
    let server = TcpStream::connect(upstream).await?;
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    // Either direction ending (or a reset) ends both: dropping the halves
    // closes the sockets.
    tokio::select! {
        _ = pump(client_read, server_write, watcher.clone(), generation) => {}
        _ = pump(server_read, client_write, watcher, generation) => {}
    }
    Ok(())
}

/// Copies `from` to `to` under the current fault until either side closes
/// or the generation changes.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut watcher: watch::Receiver<State>,
    generation: u64,
) -> anyhow::Result<()> {
    let mut buffer = vec![0; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = from.read(&mut buffer) => read?,
            changed = watcher.changed() => {
                changed?;
                if watcher.borrow().1 != generation {
                    return Ok(());
                }
                continue;
            }
        };
        if read == 0 {
            return Ok(());
        }
        let (fault, now) = *watcher.borrow();
        if now != generation {
            return Ok(());
        }
        match fault {
            Fault::None => {}
            Fault::Latency(delay) => tokio::time::sleep(delay).await,
            Fault::Cut => return Ok(()),
            Fault::BlackHole => continue,
            Fault::Slow(bytes_per_second) => {
                let secs = read as f64 / bytes_per_second.max(1) as f64;
                tokio::time::sleep(Duration::from_secs_f64(secs)).await;
            }
        }
        to.write_all(&buffer[..read]).await?;
    }
}
