//! How brownout holds up at scale, everything on 127.0.0.1:
//!
//! - **Memory per idle connection**: the real binary, `brownout proxy
//!   --config <tmp file> --no-record`, runs as a child process so that its
//!   memory is its own. Cargo builds it for the bench (with the bench
//!   profile, i.e. release) and passes its path as `CARGO_BIN_EXE_brownout`,
//!   so nothing needs building first. Its VmRSS and VmHWM
//!   (`/proc/<pid>/status`) are read once idle after 100 warm-up requests,
//!   then after 10,000 client connections are open and idle: through an
//!   HTTP target each connection sends one request, reads the response and
//!   stays open; through a TCP target each echoes 4 bytes and stays open.
//!   Connections are opened 200 at a time so the accept backlog is never
//!   overrun. The upstreams (an HTTP server answering `ok`, an echo server)
//!   run in this process. Reported: KB per connection above the idle
//!   baseline, against the targets of 12 KB (HTTP) and 4 KB (TCP).
//!   A TCP connection costs the proxy two descriptors (client and upstream
//!   side), and this process two as well, so the bench first tries to raise
//!   its open-files limit to 65,536 (`prlimit` on itself; the proxy
//!   inherits the limit). Where that is not allowed (no `CAP_SYS_RESOURCE`)
//!   the TCP case opens as many connections as the hard limit leaves room
//!   for, and says so.
//! - **Throughput while a pool is exhausted**: a proxy in process, an HTTP
//!   target with a `pool_exhaustion` fault (limit 4, `when_full = "queue"`,
//!   a `queue_timeout` far longer than a phase) matching `/slow*`, whose
//!   upstream answers `/slow` only when the bench releases it. 1,004
//!   requests to `/slow` (one connection each) take the 4 slots and leave
//!   1,000 queued in brownout, while requests to `/` (not matched) run
//!   closed loop over 64 keep-alive connections. Phases without and with
//!   the queue alternate in one run (the queue is released and drained
//!   between rounds), so machine drift hits both alike. The queue is
//!   confirmed from the upstream (exactly 4 `/slow` requests reached it
//!   while 1,004 were sent, before and after the phase), the admin API's
//!   `brownout_active_connections`, and all 1,004 answered once released.
//!
//! Run with `cargo bench --bench scale`; `BROWNOUT_BENCH_SECS` sets the
//! seconds per throughput phase (default 5), `BROWNOUT_BENCH_ROUNDS` the
//! number of without/with pairs (default 3). Every wait is bounded.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use http::Request;
use http_body_util::{BodyExt, Empty};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support.rs"]
mod support;

const IDLE_CONNECTIONS: usize = 10_000;
/// Connections being opened at once.
const OPENING: usize = 200;
const WANT_NOFILE: u64 = 65_536;
const HTTP_TARGET_KB: f64 = 12.0;
const TCP_TARGET_KB: f64 = 4.0;
const POOL_LIMIT: usize = 4;
const QUEUED: usize = 1_000;
const DRIVERS: usize = 64;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The soft and hard open-files limits of a process.
fn nofile(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    let line = limits.lines().find(|l| l.starts_with("Max open files")).expect("open files line");
    let mut n = line.split_whitespace().skip(3).map(|v| v.parse().unwrap_or(u64::MAX));
    (n.next().unwrap_or(0), n.next().unwrap_or(0))
}

/// Raises this process's open-files limit to 65,536 if allowed, else its
/// soft limit to the hard one. Children inherit it.
fn raise_nofile() -> (u64, u64) {
    let me = std::process::id().to_string();
    let (_, hard) = nofile(std::process::id());
    for want in [format!("{WANT_NOFILE}:{WANT_NOFILE}"), format!("{hard}:{hard}")] {
        let ok = Command::new("prlimit")
            .args(["--pid", &me, &format!("--nofile={want}")])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            break;
        }
    }
    nofile(std::process::id())
}

/// VmRSS and VmHWM of a process, in KiB.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let field = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

struct Brownout {
    child: Child,
    listen: SocketAddr,
    admin: SocketAddr,
    log: PathBuf,
}

impl Brownout {
    /// Starts `brownout proxy --no-record` with one target `t` and waits
    /// (up to 20 s) until it listens.
    fn start(dir: &Path, protocol: &str, upstream: &str) -> Brownout {
        let (port, admin_port) = (free_port(), free_port());
        let config = dir.join(format!("{protocol}.toml"));
        std::fs::write(
            &config,
            format!(
                "seed = 1\nshutdown_grace = \"2s\"\n[admin]\nlisten = \"127.0.0.1:{admin_port}\"\n[[target]]\nname = \"t\"\nprotocol = \"{protocol}\"\nlisten = \"127.0.0.1:{port}\"\nupstream = \"{upstream}\"\n"
            ),
        )
        .expect("config");
        let log = dir.join(format!("{protocol}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_brownout"))
            .args(["proxy", "--config"])
            .arg(&config)
            .arg("--no-record")
            .arg("--run-dir")
            .arg(dir.join("run"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("spawn brownout");
        let listen: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let started = Instant::now();
        while std::net::TcpStream::connect(listen).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "brownout did not listen; its log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Brownout { child, listen, admin: format!("127.0.0.1:{admin_port}").parse().expect("addr"), log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then up to 10 s for a clean exit, then SIGKILL.
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("brownout did not stop within 10 s; killing it (log: {})", self.log.display());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads one HTTP/1.1 response with a `Content-Length` body: its status and body.
async fn read_response(stream: &mut TcpStream) -> io::Result<(u16, Vec<u8>)> {
    let invalid = || io::Error::new(ErrorKind::InvalidData, "not an HTTP/1.1 response with a Content-Length");
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end]).map_err(|_| invalid())?;
            let status = head.get(9..12).and_then(|s| s.parse().ok()).ok_or_else(invalid)?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case("content-length").then(|| v.trim().parse().ok())?
                })
                .ok_or_else(invalid)?;
            let total = end + 4 + len;
            while buf.len() < total {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            return Ok((status, buf[end + 4..total].to_vec()));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

async fn get(stream: &mut TcpStream, path: &str) -> io::Result<(u16, Vec<u8>)> {
    stream.write_all(format!("GET {path} HTTP/1.1\r\nhost: bench\r\n\r\n").as_bytes()).await?;
    read_response(stream).await
}

/// One client connection through an HTTP target: one request answered 200, then idle.
async fn open_http(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    match get(&mut stream, "/").await? {
        (200, _) => Ok(stream),
        (status, _) => Err(io::Error::other(format!("status {status}"))),
    }
}

/// One client connection through a TCP target: 4 bytes echoed, then idle.
async fn open_tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    stream.write_all(b"ping").await?;
    let mut buf = [0u8; 4];
    stream.read_exact(&mut buf).await?;
    if &buf != b"ping" {
        return Err(io::Error::other("wrong echo"));
    }
    Ok(stream)
}

/// Opens `n` connections with `open`, 200 at a time, each within 10 s and
/// all within 120 s. Returns the open ones and the failures by message.
async fn open_many<F, Fut>(n: usize, open: F) -> (Vec<TcpStream>, Vec<String>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = io::Result<TcpStream>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let results: Vec<io::Result<TcpStream>> = futures_util::stream::iter(0..n)
        .map(|_| {
            let one = open();
            async move {
                match tokio::time::timeout_at(deadline.min(tokio::time::Instant::now() + Duration::from_secs(10)), one)
                    .await
                {
                    Ok(r) => r,
                    Err(_) => Err(io::Error::new(ErrorKind::TimedOut, "not open within its time")),
                }
            }
        })
        .buffer_unordered(OPENING)
        .collect()
        .await;
    let (mut open, mut failed) = (Vec::new(), Vec::new());
    for r in results {
        match r {
            Ok(s) => open.push(s),
            Err(e) => failed.push(e.to_string()),
        }
    }
    (open, failed)
}

/// `brownout_active_connections{listener="t"}` from the admin API.
async fn active_connections(admin: SocketAddr) -> Option<u64> {
    let mut stream = TcpStream::connect(admin).await.ok()?;
    let (_, body) = tokio::time::timeout(Duration::from_secs(5), get(&mut stream, "/metrics")).await.ok()?.ok()?;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("brownout_active_connections{listener=\"t\"} "))
        .and_then(|v| v.trim().parse().ok())
}

struct Footprint {
    protocol: &'static str,
    wanted: usize,
    opened: usize,
    failed: Vec<String>,
    base: (u64, u64),
    loaded: (u64, u64),
    fds: (usize, usize),
    active: Option<u64>,
    took: Duration,
}

async fn footprint(dir: &Path, protocol: &'static str, wanted: usize) -> Footprint {
    let (upstream, addr_for_http) = if protocol == "http" {
        let up = support::upstream(b"ok").await;
        (format!("http://{up}"), true)
    } else {
        (support::echo().await.to_string(), false)
    };
    let proxy = Brownout::start(dir, protocol, &upstream);
    let addr = proxy.listen;
    // Warm up: 100 requests (HTTP) or echoes (TCP) over 10 connections, closed again.
    for _ in 0..10 {
        let mut stream = TcpStream::connect(addr).await.expect("warm-up connect");
        for _ in 0..10 {
            if addr_for_http {
                let (status, _) = get(&mut stream, "/").await.expect("warm-up request");
                assert_eq!(status, 200, "warm-up request through brownout");
            } else {
                stream.write_all(b"ping").await.expect("warm-up write");
                let mut buf = [0u8; 4];
                stream.read_exact(&mut buf).await.expect("warm-up echo");
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = memory(proxy.pid());
    let fds_before = open_fds(proxy.pid());
    let started = Instant::now();
    let (open, failed) = if addr_for_http {
        open_many(wanted, || open_http(addr)).await
    } else {
        open_many(wanted, || open_tcp(addr)).await
    };
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let loaded = memory(proxy.pid());
    let fds = (fds_before, open_fds(proxy.pid()));
    let active = active_connections(proxy.admin).await;
    let opened = open.len();
    drop(open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.stop();
    Footprint { protocol, wanted, opened, failed, base, loaded, fds, active, took }
}

async fn memory_per_connection(tcp_wanted: usize) {
    let dir = std::env::temp_dir().join(format!("brownout-scale-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    println!("## memory per idle client connection: `brownout proxy --no-record` as a child process");
    println!();
    println!(
        "| target | connections open | opened in | VmRSS idle | VmRSS with connections | VmHWM | proxy fds | per connection | goal |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut notes = Vec::new();
    for (protocol, wanted, goal) in [("http", IDLE_CONNECTIONS, HTTP_TARGET_KB), ("tcp", tcp_wanted, TCP_TARGET_KB)] {
        let f = footprint(&dir, protocol, wanted).await;
        let per = (f.loaded.0 as f64 - f.base.0 as f64) * 1.024 / f.opened.max(1) as f64;
        println!(
            "| {} | {} of {} | {:.1} s | {:.1} MB | {:.1} MB | {:.1} MB | {} -> {} | {per:.2} KB | {goal} KB {} |",
            f.protocol,
            f.opened,
            f.wanted,
            f.took.as_secs_f64(),
            f.base.0 as f64 * 1.024 / 1000.0,
            f.loaded.0 as f64 * 1.024 / 1000.0,
            f.loaded.1 as f64 * 1.024 / 1000.0,
            f.fds.0,
            f.fds.1,
            if per <= goal { "(met)" } else { "(missed)" },
        );
        notes.push(format!(
            "{}: the admin API counted {} open client connections at the target",
            f.protocol,
            f.active.map_or("no".to_string(), |n| n.to_string())
        ));
        if !f.failed.is_empty() {
            let mut kinds: Vec<(String, usize)> = Vec::new();
            for e in &f.failed {
                match kinds.iter_mut().find(|(k, _)| k == e) {
                    Some((_, n)) => *n += 1,
                    None => kinds.push((e.clone(), 1)),
                }
            }
            for (e, n) in kinds {
                notes.push(format!("{}: {n} connections failed: {e}", f.protocol));
            }
        }
    }
    println!();
    println!("KB = 1000 bytes; per connection = (VmRSS with connections - VmRSS idle) / connections open");
    println!();
    for note in notes {
        println!("- {note}");
    }
    println!();
    let _ = std::fs::remove_dir_all(&dir);
}

/// What the pool bench's upstream saw of `/slow`, and the gate that holds
/// it: a `/slow` request that arrives in round r is answered once round r
/// is released.
#[derive(Default)]
struct Slow {
    total: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
    round: AtomicU64,
}

/// Requests to `/` over 64 keep-alive connections, closed loop, for `secs`:
/// how many were answered 200, and how many were not.
async fn drive(addr: SocketAddr, secs: f64) -> (u64, u64) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..DRIVERS)
        .map(|_| {
            tokio::spawn(async move {
                let mut sender = support::http1(addr).await;
                let (mut ok, mut bad) = (0u64, 0u64);
                while Instant::now() < end {
                    let req = Request::get("/").header("host", "bench").body(Empty::<Bytes>::new()).expect("req");
                    let Ok(resp) = sender.send_request(req).await else {
                        bad += 1;
                        break;
                    };
                    if resp.status() == 200 {
                        ok += 1;
                    } else {
                        bad += 1;
                    }
                    let _ = resp.into_body().collect().await;
                }
                (ok, bad)
            })
        })
        .collect();
    let (mut ok, mut bad) = (0, 0);
    for t in tasks {
        let (o, b) = t.await.expect("driver");
        ok += o;
        bad += b;
    }
    (ok, bad)
}

/// One round with the queue: what it measured and confirmed.
struct Queued {
    rate: f64,
    failed: u64,
    sent: usize,
    /// `/slow` requests that reached the upstream while the queue was in place.
    reached: u64,
    /// The same, counted again after the fast requests' phase.
    reached_after: u64,
    open: Option<u64>,
    answered: usize,
    drain: Duration,
}

/// Sends 1,004 `/slow` requests (one connection each), waits until the 4
/// slots are taken, drives `/` for `secs`, then releases the upstream and
/// reads every `/slow` answer.
async fn with_queue(
    addr: SocketAddr,
    admin: SocketAddr,
    slow: &Slow,
    release: &tokio::sync::watch::Sender<u64>,
    secs: f64,
) -> Queued {
    let round = slow.round.fetch_add(1, Ordering::SeqCst) + 1;
    let start = slow.total.load(Ordering::SeqCst);
    let sent = POOL_LIMIT + QUEUED;
    let conns: Vec<io::Result<TcpStream>> = futures_util::stream::iter(0..sent)
        .map(|_| async move {
            let mut s = TcpStream::connect(addr).await?;
            s.write_all(b"GET /slow HTTP/1.1\r\nhost: bench\r\n\r\n").await?;
            Ok(s)
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let mut conns: Vec<TcpStream> = conns.into_iter().filter_map(Result::ok).collect();
    let reached = || slow.total.load(Ordering::SeqCst) - start;
    let settle = Instant::now();
    while (reached() as usize) < POOL_LIMIT.min(conns.len()) && settle.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Time for any request that would get past the pool to show up upstream.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let reached_before = reached();
    let open = active_connections(admin).await;
    let (ok, failed) = drive(addr, secs).await;
    let reached_after = reached();
    let _ = release.send(round);
    let drained = Instant::now();
    let answered: Vec<bool> = futures_util::stream::iter(conns.iter_mut())
        .map(|s| async move {
            let answer = tokio::time::timeout(Duration::from_secs(30), read_response(s)).await;
            matches!(answer, Ok(Ok((200, body))) if body == b"slow")
        })
        .buffer_unordered(sent)
        .collect()
        .await;
    Queued {
        rate: ok as f64 / secs,
        failed,
        sent: conns.len(),
        reached: reached_before,
        reached_after,
        open,
        answered: answered.iter().filter(|a| **a).count(),
        drain: drained.elapsed(),
    }
}

async fn pool_exhaustion(secs: f64, rounds: usize) {
    let slow = Arc::new(Slow::default());
    let (release, released) = tokio::sync::watch::channel(0u64);
    let seen = slow.clone();
    let up = support::upstream_fn(move |path: String| {
        let (seen, mut released) = (seen.clone(), released.clone());
        async move {
            if !path.starts_with("/slow") {
                return Bytes::from_static(b"ok");
            }
            let round = seen.round.load(Ordering::SeqCst);
            seen.total.fetch_add(1, Ordering::SeqCst);
            let now = seen.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            seen.most_in_flight.fetch_max(now, Ordering::SeqCst);
            let _ = tokio::time::timeout(Duration::from_secs(300), released.wait_for(|r| *r >= round)).await;
            seen.in_flight.fetch_sub(1, Ordering::SeqCst);
            Bytes::from_static(b"slow")
        }
    })
    .await;
    // Everything held must outlast a phase by far: queue and request timeouts.
    let hold = (secs * 4.0 + 120.0).ceil();
    let text = format!(
        "seed = 1\nshutdown_grace = \"1s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\nrequest_timeout = \"{hold}s\"\n[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = {POOL_LIMIT}\nwhen_full = \"queue\"\nqueue_timeout = \"{hold}s\"\nmatch = {{ path = \"/slow*\" }}\n"
    );
    let config = brownout::config::parse("bench.toml", &text, None).expect("valid bench config");
    let app = brownout::app::App::bind(&config).expect("bind");
    let addr = app.proxy().target_addr("t").expect("addr");
    let admin = app.admin_addr().expect("admin");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));

    println!(
        "## throughput while a pool is exhausted: pool_exhaustion limit {POOL_LIMIT}, queue, on /slow*; \
         {DRIVERS} connections to / (not matched), closed loop, {secs} s per phase, phases alternating"
    );
    println!();
    println!("| round | phase | requests/s to / | failed | /slow queued in brownout |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let (mut without, mut with) = (Vec::new(), Vec::new());
    let mut notes = Vec::new();
    for round in 1..=rounds {
        let (ok, failed) = drive(addr, secs).await;
        without.push(ok as f64 / secs);
        println!("| {round} | without a queue | {:.0} | {failed} | 0 |", ok as f64 / secs);
        let q = with_queue(addr, admin, &slow, &release, secs).await;
        with.push(q.rate);
        let queued = q.sent as u64 - q.reached;
        println!("| {round} | with the queue | {:.0} | {} | {queued} |", q.rate, q.failed);
        notes.push(format!(
            "round {round}: {} /slow sent, {} reached the upstream before the phase and {} by its end \
             (the limit is {POOL_LIMIT}); the admin API counted {} client connections at the target; \
             released: {} of {} answered 200 within {:.2} s",
            q.sent,
            q.reached,
            q.reached_after,
            q.open.map_or("no".to_string(), |n| n.to_string()),
            q.answered,
            q.sent,
            q.drain.as_secs_f64(),
        ));
    }
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!();
    println!(
        "with 1,000 queued: {:.0} req/s against {:.0} without, {:.1}% ({rounds} rounds)",
        mean(&with),
        mean(&without),
        mean(&with) / mean(&without) * 100.0
    );
    println!();
    for note in notes {
        println!("- {note}");
    }
    println!(
        "- at most {} /slow requests were at the upstream at once, {} in all",
        slow.most_in_flight.load(Ordering::SeqCst),
        slow.total.load(Ordering::SeqCst)
    );
}

fn main() {
    let secs: f64 = std::env::var("BROWNOUT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let rounds: usize = std::env::var("BROWNOUT_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let (soft, hard) = raise_nofile();
    // A TCP connection holds two descriptors in the proxy and two here; keep 100 spare.
    let tcp_wanted = IDLE_CONNECTIONS.min((soft.saturating_sub(100) / 2) as usize);
    println!("open-files limit of this process and the proxy: {soft} (hard {hard}); wanted {WANT_NOFILE}");
    if tcp_wanted < IDLE_CONNECTIONS {
        println!(
            "the limit could not be raised (no CAP_SYS_RESOURCE?): the TCP case opens {tcp_wanted} connections, \
             not {IDLE_CONNECTIONS}"
        );
    }
    println!();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        memory_per_connection(tcp_wanted).await;
        pool_exhaustion(secs, rounds.max(1)).await;
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
