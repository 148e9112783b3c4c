//! A consumer process killed mid-stream (SIGKILL, no commit, no leave) and
//! started again: no message is lost, each key's first deliveries keep
//! publish order, and the duplicates are counted.
//!
//! `harness = false`: the same binary is the consumer child when
//! `EVBUS_KT_CHILD` is set.

mod common;

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Write},
    process::{Child, Command, ExitCode, Stdio},
    sync::mpsc,
    time::Duration,
};

use anyhow::{Context as _, Result, bail, ensure};
use evbus_kafka::{KafkaConfig, KafkaTransport, testkit::KafkaBroker};
use evbus_transport::{OutgoingMessage, SubscribeOptions, Transport};

const CHILD: &str = "EVBUS_KT_CHILD";
const KEYS: usize = 16;
const EACH: usize = 150;

fn main() -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = match std::env::var(CHILD) {
        Ok(args) => runtime.block_on(child(&args)),
        Err(_) => runtime.block_on(parent()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("killed_consumer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The consumer: prints `RECV <payload> <count>` for each delivery, then
/// acks it, until killed.
async fn child(args: &str) -> Result<()> {
    let mut parts = args.split(' ');
    let (Some(bootstrap), Some(topic), Some(group)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("{CHILD} must be `bootstrap topic group`");
    };
    let mut config = KafkaConfig::new(bootstrap);
    config.heartbeat_interval = Duration::from_millis(500);
    config.session_timeout = Duration::from_secs(6);
    let transport = KafkaTransport::connect(config).await?;
    let mut sub = transport
        .subscribe(topic, group, SubscribeOptions::default())
        .await?;
    let mut out = std::io::stdout().lock();
    loop {
        for delivery in sub.next_batch(32).await? {
            let payload = String::from_utf8_lossy(&delivery.payload).into_owned();
            writeln!(out, "RECV {payload} {}", delivery.delivery_count)?;
            out.flush()?;
            delivery.ack().await?;
        }
    }
}

/// Runs a consumer child; its lines arrive on the returned channel.
fn spawn_child(args: &str) -> Result<(Child, mpsc::Receiver<(String, u32)>)> {
    let mut child = Command::new(std::env::current_exe()?)
        .env(CHILD, args)
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut words = line.split(' ');
            if let (Some("RECV"), Some(id), Some(count)) =
                (words.next(), words.next(), words.next())
                && let Ok(count) = count.parse()
                && tx.send((id.to_owned(), count)).is_err()
            {
                return;
            }
        }
    });
    Ok((child, rx))
}

/// Collects lines until `done` says stop, or fails after `common::WITHIN`.
fn collect(
    rx: &mpsc::Receiver<(String, u32)>,
    seen: &mut Vec<(String, u32)>,
    done: impl Fn(&[(String, u32)]) -> bool,
) -> Result<()> {
    let deadline = std::time::Instant::now() + common::WITHIN;
    while !done(seen) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(_) => bail!("timed out after {} deliveries", seen.len()),
        }
    }
    Ok(())
}

async fn parent() -> Result<()> {
    let broker = KafkaBroker::shared()?;
    let publisher = common::connect(broker).await?;
    let topic = common::topic(&publisher, "killed", 4).await?;
    let group = common::unique("killed");
    for seq in 0..EACH {
        let batch = (0..KEYS)
            .map(|key| OutgoingMessage::new(format!("k{key}-{seq}")).with_key(format!("k{key}")))
            .collect();
        for result in publisher.publish_batch(&topic, batch).await {
            result?;
        }
    }
    let total = KEYS * EACH;
    let args = format!("{} {topic} {group}", broker.bootstrap());

    let mut seen = Vec::new();
    let (mut first, lines) = spawn_child(&args)?;
    collect(&lines, &mut seen, |s| s.len() >= total / 3)?;
    first.kill()?;
    first.wait()?;
    // Lines already written before the kill still count as handled.
    seen.extend(lines.try_iter());
    let before_kill = seen.len();

    let (mut second, lines) = spawn_child(&args)?;
    let distinct = |s: &[(String, u32)]| s.iter().map(|(id, _)| id).collect::<HashSet<_>>().len();
    let result = collect(&lines, &mut seen, |s| distinct(s) == total);
    second.kill()?;
    second.wait()?;
    result.context("after the restart")?;

    // Per key, first deliveries in publish order.
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut first_seen = HashSet::new();
    for (id, _) in &seen {
        if !first_seen.insert(id.clone()) {
            continue;
        }
        let (key, seq) = id.split_once('-').context("payload")?;
        let expected = next.entry(key.to_owned()).or_default();
        ensure!(
            seq.parse::<usize>()? == *expected,
            "key {key}: {id} first-delivered before seq {expected}"
        );
        *expected += 1;
    }
    ensure!(
        first_seen.len() == total,
        "lost {} messages",
        total - first_seen.len()
    );
    let duplicates = seen.len() - total;
    println!(
        "killed_consumer: {total} messages, {before_kill} handled before the kill, \
         {duplicates} delivered again after it"
    );
    publisher.close().await?;
    Ok(())
}
