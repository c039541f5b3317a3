//! The loads of `bench/floods.sh`, one per run, against a server on 127.0.0.1, each bounded in
//! time and count, each ending in one line of `key=value` figures for the script's table.
//!
//! ```text
//! floods idle      PORT PIDS N                 N connections that send nothing
//! floods slowloris PORT PIDS N SECONDS         N heads trickled, a header line every 10 s
//! floods readers   PORT PIDS N SECONDS PATH    N downloads of PATH read at 1 byte/s
//! floods connects  PORT PIDS RATE SECONDS      RATE connects a second, each closed at once
//! ```
//!
//! PIDS is a comma-separated list of the server's processes (their RSS is summed). Every load
//! is measured with a probe: a `GET /probe.txt` on a new connection, read to its end and
//! checked (status 200 and the file's 13 bytes, `probe answer\n`), 100 times spread over the
//! load; a probe not answered within 5 s is lost.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{sleep, timeout};

/// What `/probe.txt` holds (the script writes it).
const PROBE_BODY: &[u8] = b"probe answer\n";
/// A probe waits this long at most.
const PROBE_LIMIT: Duration = Duration::from_secs(5);
/// Probes per load.
const PROBES: usize = 100;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str {
        args.get(i)
            .map(String::as_str)
            .unwrap_or_else(|| usage())
    };
    let num = |i: usize| -> u64 { arg(i).parse().unwrap_or_else(|_| usage()) };
    let addr: SocketAddr = format!("127.0.0.1:{}", arg(1)).parse().unwrap_or_else(|_| usage());
    let pids: Vec<u32> = arg(2).split(',').filter_map(|p| p.parse().ok()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let line = runtime.block_on(async {
        match arg(0) {
            "idle" => idle(addr, &pids, num(3) as usize).await,
            "slowloris" => slowloris(addr, &pids, num(3) as usize, secs(num(4))).await,
            "readers" => readers(addr, &pids, num(3) as usize, secs(num(4)), arg(5)).await,
            "connects" => connects(addr, num(3), secs(num(4))).await,
            _ => usage(),
        }
    });
    println!("{line}");
    // Connections still held by tasks are closed by the exit.
    runtime.shutdown_timeout(Duration::from_millis(100));
}

fn usage() -> ! {
    eprintln!("usage: floods idle|slowloris|readers|connects PORT PIDS ... (see the source)");
    std::process::exit(2)
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The summed resident memory of `pids`, in KiB.
fn rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .filter_map(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .sum()
}

/// The open descriptors of `pids`: the connections a server accepted, once its own are
/// subtracted.
fn descriptors(pids: &[u32]) -> usize {
    pids.iter()
        .filter_map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).ok())
        .map(|dir| dir.count())
        .sum()
}

/// One probe: its latency, or `None` if it failed or took longer than [`PROBE_LIMIT`].
async fn probe(addr: SocketAddr) -> Option<Duration> {
    let start = Instant::now();
    let answer = timeout(PROBE_LIMIT, async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /probe.txt HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        Some(answer)
    })
    .await
    .ok()
    .flatten()?;
    let right = answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(PROBE_BODY);
    right.then(|| start.elapsed())
}

/// [`PROBES`] probes, one every `every`: "p50=… p99=… lost=…" (milliseconds), sent from a
/// thread and a runtime of their own. Sharing the load's runtime, a probe waited behind the
/// load's tasks whenever they kept the tool's core busy: under the connect flood the probes'
/// p99 was ~200–250 ms for serveur and nginx alike while a probe from another process, at the
/// same moment, saw 3.3 ms (and the kernel's `ListenOverflows` stayed at 0) — it measured the
/// tool. On a thread of its own, the kernel's scheduler wakes the probe as soon as its answer
/// comes, whatever the load's thread is doing.
async fn probes(addr: SocketAddr, every: Duration) -> String {
    let (sent, answer) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the probes' runtime");
        let _ = sent.send(runtime.block_on(probes_here(addr, every)));
    });
    answer.await.expect("the probes' thread answers")
}

/// [`probes`] on the current runtime.
async fn probes_here(addr: SocketAddr, every: Duration) -> String {
    let mut tasks = JoinSet::new();
    for _ in 0..PROBES {
        tasks.spawn(probe(addr));
        sleep(every).await;
    }
    let mut times = Vec::new();
    let mut lost = 0;
    while let Some(done) = tasks.join_next().await {
        match done.ok().flatten() {
            Some(t) => times.push(t),
            None => lost += 1,
        }
    }
    times.sort();
    let at = |q: f64| -> String {
        if times.is_empty() {
            return "-".into();
        }
        let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        format!("{:.1}", times[i].as_secs_f64() * 1000.0)
    };
    format!("p50_ms={} p99_ms={} lost={lost}", at(0.50), at(0.99))
}

/// A connection with a small receive buffer (so a slow reader holds back the server within a
/// few KiB), or `None` when the connect fails within 5 s.
async fn connect(addr: SocketAddr, small_buffer: bool) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    if small_buffer {
        socket.set_recv_buffer_size(4096).ok()?;
    }
    timeout(PROBE_LIMIT, socket.connect(addr)).await.ok()?.ok()
}

/// Opens `n` connections, 200 connects in flight at most (each given 1 s: a server that stopped
/// accepting leaves the rest in its backlog or unanswered), each through `start` (which may
/// send something); returns those that opened.
async fn open_many<F, Fut>(addr: SocketAddr, n: usize, small: bool, start: F) -> Vec<TcpStream>
where
    F: Fn(TcpStream) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<TcpStream>> + Send + 'static,
{
    let mut open = Vec::with_capacity(n);
    let mut tasks = JoinSet::new();
    let mut launched = 0;
    while launched < n || !tasks.is_empty() {
        while launched < n && tasks.len() < 200 {
            let start = start.clone();
            tasks.spawn(async move {
                let stream = timeout(Duration::from_secs(1), connect(addr, small))
                    .await
                    .ok()
                    .flatten()?;
                start(stream).await
            });
            launched += 1;
        }
        if let Some(done) = tasks.join_next().await {
            if let Some(stream) = done.ok().flatten() {
                open.push(stream);
            }
        }
    }
    open
}

/// How many of `streams` the server has not closed: a read that would block means open.
fn still_open(streams: &mut [TcpStream]) -> usize {
    let mut buf = [0u8; 4096];
    streams
        .iter_mut()
        .filter(|s| loop {
            match s.try_read(&mut buf) {
                Ok(0) => break false,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break true,
                Err(_) => break false,
            }
        })
        .count()
}

async fn idle(addr: SocketAddr, pids: &[u32], n: usize) -> String {
    let (before, fds_before) = (rss_kib(pids), descriptors(pids));
    let mut open = open_many(addr, n, false, |s| async move { Some(s) }).await;
    sleep(Duration::from_secs(2)).await;
    // Connections in the listen queue cost the kernel, not the server: the growth is divided
    // among those the server took.
    let (after, accepted) = (rss_kib(pids), descriptors(pids).saturating_sub(fds_before));
    let probed = probes(addr, Duration::from_millis(20)).await;
    let held = still_open(&mut open);
    let per = (after.saturating_sub(before) as f64 * 1024.0) / accepted.max(1) as f64;
    format!(
        "opened={} accepted={accepted} held={held} rss_before_kib={before} rss_after_kib={after} bytes_per_conn={per:.0} {probed}",
        open.len()
    )
}

async fn slowloris(addr: SocketAddr, pids: &[u32], n: usize, length: Duration) -> String {
    let started = Instant::now();
    let mut open = open_many(addr, n, false, |mut s| async move {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.ok()?;
        Some(s)
    })
    .await;
    // A header line every 10 s on each, probes spread over the attack.
    let trickle = async {
        let mut i = 0u32;
        while started.elapsed() < length {
            sleep(Duration::from_secs(10).min(length.saturating_sub(started.elapsed()))).await;
            i += 1;
            for s in open.iter_mut() {
                let line = format!("X-{i}: {i}\r\n");
                let _ = s.try_write(line.as_bytes());
            }
        }
    };
    let every = length / PROBES as u32;
    let (probed, ()) = tokio::join!(probes(addr, every), trickle);
    let rss = rss_kib(pids);
    let kept = still_open(&mut open);
    format!("opened={} kept={kept} rss_kib={rss} {probed}", open.len())
}

async fn readers(
    addr: SocketAddr,
    pids: &[u32],
    n: usize,
    length: Duration,
    path: &str,
) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let started = Instant::now();
    let before = rss_kib(pids);
    let request: std::sync::Arc<str> = request.into();
    let mut open = open_many(addr, n, true, move |mut s| {
        let request = std::sync::Arc::clone(&request);
        async move {
            s.write_all(request.as_bytes()).await.ok()?;
            Some(s)
        }
    })
    .await;
    // One byte a second from each, for the length of the load; the server's peak memory.
    let peak = std::sync::atomic::AtomicU64::new(0);
    let crawl = async {
        let mut byte = [0u8; 1];
        while started.elapsed() < length {
            for s in open.iter_mut() {
                let _ = s.try_read(&mut byte);
            }
            peak.fetch_max(rss_kib(pids), std::sync::atomic::Ordering::Relaxed);
            sleep(Duration::from_secs(1)).await;
        }
    };
    let every = length / PROBES as u32;
    let (probed, ()) = tokio::join!(probes(addr, every), crawl);
    let kept = still_open(&mut open);
    format!(
        "opened={} kept={kept} rss_before_kib={before} rss_peak_kib={} {probed}",
        open.len(),
        peak.into_inner()
    )
}

async fn connects(addr: SocketAddr, rate: u64, length: Duration) -> String {
    // 64 workers, each connecting at rate/64 a second and closing each connection at once (a
    // connect that fails or takes over 1 s is an error); behind schedule, a worker skips ticks,
    // so the rate reached is reported.
    const WORKERS: u64 = 64;
    let started = Instant::now();
    let period = Duration::from_secs_f64(WORKERS as f64 / rate.max(1) as f64);
    let mut workers = JoinSet::new();
    for _ in 0..WORKERS {
        workers.spawn(async move {
            let (mut made, mut failed) = (0u64, 0u64);
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            while started.elapsed() < length {
                tick.tick().await;
                match timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
                    Ok(Ok(_)) => made += 1,
                    _ => failed += 1,
                }
            }
            (made, failed)
        });
    }
    let flood = async {
        let (mut made, mut failed) = (0, 0);
        while let Some(done) = workers.join_next().await {
            let (m, f) = done.unwrap_or((0, 0));
            made += m;
            failed += f;
        }
        (made, failed)
    };
    let every = length / PROBES as u32;
    let (probed, (made, failed)) = tokio::join!(probes(addr, every), flood);
    let achieved = made as f64 / started.elapsed().as_secs_f64();
    format!("connects={made} per_sec={achieved:.0} errors={failed} {probed}")
}
