//! How faithfully brownout's faults do what their config says, under load,
//! with the proxy in process (`seed = 1`) and everything on 127.0.0.1:
//!
//! - **Latency with jitter**: an HTTP target with a `normal` latency
//!   (50 ms ± 10 ms at 400 req/s, then 500 ms ± 100 ms at 100 req/s),
//!   driven like `latency_fidelity` (64 keep-alive connections, a fixed
//!   total rate). A normal distribution's median is its mean and its 1st
//!   and 99th percentiles are mean ∓ 2.326 stddev; the table gives observed
//!   minus configured for the mean, p50, p1 and p99, and the stddev.
//! - **Bandwidth caps**: one HTTP response body and one TCP stream per
//!   rate (100 KB/s, 1 MB/s, 10 MB/s; KB = 1000 B as in the config), sized
//!   to take 2.5 s; achieved bytes per second (from sending the request to
//!   the last byte) against configured.
//! - **Probabilities**: an HTTP `error` fault (503) with probability 0.1
//!   and 0.5, 100,000 requests over 64 keep-alive connections, closed loop;
//!   a TCP `reset_peer` fault (timeout 0) with probability 0.25 per
//!   connection, 20,000 connections from 32 clients in turn, each echoing
//!   4 bytes, closing its side and reading to the end (a reset anywhere
//!   counts as the fault, a clean end as untouched). The observed share is
//!   given with the binomial standard error sqrt(p (1 - p) / n) and how many
//!   of those it is away (z), so a deviation can be read against the noise.
//!
//! Both latency and probability rows also show what the proxy's seeded
//! decisions drew (`drawn`): the same config replayed through a
//! `FaultSwitch` with the same seed gives exactly the draws behind the
//! requests sent, so observed minus drawn is the proxy's own error and
//! drawn minus configured is sampling noise.
//!
//! Run with `cargo bench --bench fault_fidelity`; `BROWNOUT_BENCH_SECS`
//! sets the seconds per latency scenario (default 5). Every loop stops at a
//! count or a deadline, whichever comes first.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use http_body_util::BodyExt;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "support.rs"]
mod support;

const CONNECTIONS: usize = 64;
/// The 99th percentile of the standard normal distribution.
const Z99: f64 = 2.326_348;
/// How long a bandwidth transfer should take at its configured rate.
const TRANSFER_SECS: f64 = 2.5;
const HTTP_TRIALS: u64 = 100_000;
const TCP_TRIALS: u64 = 20_000;
const TCP_CLIENTS: usize = 32;
/// No probability scenario runs longer than this, whatever its count.
const TRIALS_DEADLINE: Duration = Duration::from_secs(120);

/// The config of one target `t` of `protocol` in front of `upstream`, with
/// `fault` (a `[[target.fault]]` table, or nothing).
fn config(protocol: &str, upstream: &str, fault: &str) -> brownout::config::Config {
    let text = format!(
        "seed = 1\nshutdown_grace = \"1s\"\n[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"{protocol}\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n{fault}"
    );
    brownout::config::parse("bench.toml", &text, None).expect("valid bench config")
}

/// The decisions the proxy makes for the same config, replayed without it:
/// a switch with the same seed and faults hands out the same sequence of
/// per-request (per-connection) seeds, so its first `n` draws are exactly
/// the draws behind `n` requests (connections) through the proxy, in some
/// order. What the proxy adds to them is its own error; what they differ
/// from the configured distribution by is sampling noise.
fn replica(config: &brownout::config::Config) -> brownout::fault::FaultSwitch {
    let target = &config.targets[0];
    brownout::fault::FaultSwitch::new(&target.name, config.seed.expect("seeded"), target.faults.clone())
}

/// The delays (in ms) the first `n` requests through `config` drew.
fn drawn_delays(config: &brownout::config::Config, n: usize) -> Vec<f64> {
    let switch = replica(config);
    let plan = switch.load_full();
    let headers = http::HeaderMap::new();
    let facts = brownout::fault::RequestFacts {
        method: &http::Method::GET,
        path: "/",
        query: None,
        headers: brownout::fault::Fields::Map(&headers),
        client: std::net::Ipv4Addr::LOCALHOST.into(),
    };
    let now = tokio::time::Instant::now();
    (0..n)
        .map(|_| {
            let picks = brownout::fault::decide_http(&facts, &plan.faults, switch.next_request_seed(), || now);
            picks.iter().map(|p| p.delay.as_secs_f64() * 1000.0).sum()
        })
        .collect()
}

/// How many of the first `n` requests (HTTP) or connections (TCP) through
/// `config` drew the fault.
fn drawn_applied(config: &brownout::config::Config, http: bool, n: u64) -> u64 {
    let switch = replica(config);
    let plan = switch.load_full();
    let headers = http::HeaderMap::new();
    let client = std::net::Ipv4Addr::LOCALHOST.into();
    let facts = brownout::fault::RequestFacts {
        method: &http::Method::GET,
        path: "/",
        query: None,
        headers: brownout::fault::Fields::Map(&headers),
        client,
    };
    let now = tokio::time::Instant::now();
    (0..n)
        .filter(|_| {
            let seed = switch.next_request_seed();
            if http {
                !brownout::fault::decide_http(&facts, &plan.faults, seed, || now).is_empty()
            } else {
                brownout::fault::tcp_applies(&plan.faults[0], client, seed)
            }
        })
        .count() as u64
}

/// Starts a proxy in process with one target `t` of `protocol` in front of
/// `upstream`, with `fault` (a `[[target.fault]]` table, or nothing).
async fn proxy(protocol: &str, upstream: &str, fault: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    support::proxy(&config(protocol, upstream, fault)).await
}

fn summary(ms: &mut [f64]) -> [f64; 5] {
    ms.sort_unstable_by(f64::total_cmp);
    let n = ms.len() as f64;
    let mean = ms.iter().sum::<f64>() / n;
    let stddev = (ms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let q = |p: f64| ms[((ms.len() - 1) as f64 * p).round() as usize];
    [mean, q(0.50), q(0.01), q(0.99), stddev]
}

async fn latency_with_jitter(secs: f64) {
    let up = support::upstream(b"ok").await;
    println!("## latency with jitter: normal distributions, {CONNECTIONS} connections, {secs} s per scenario");
    println!();
    println!(
        "mean, p50, p1 and p99 are minus the configured ones (p50 = mean, p1/p99 = mean -/+ {Z99:.3} stddev); \
         `drawn` is the delays the proxy's seeded decisions sampled for those requests, without the proxy"
    );
    println!();
    println!("| configured | rate (req/s) | series | requests | mean | p50 | p1 | p99 | stddev |");
    println!("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (mean_ms, stddev_ms, rate) in [(50.0_f64, 10.0_f64, 400.0), (500.0, 100.0, 100.0)] {
        let fault = format!(
            "[[target.fault]]\nkind = \"latency\"\ndistribution = \"normal\"\nmean = \"{mean_ms}ms\"\nstddev = \"{stddev_ms}ms\"\n"
        );
        let upstream = format!("http://{up}");
        let (addr, stop) = proxy("http", &upstream, &fault).await;
        let us = support::drive(addr, CONNECTIONS, rate, secs).await;
        let _ = stop.send(());
        let mut observed: Vec<f64> = us.iter().map(|u| *u as f64 / 1000.0).collect();
        let mut drawn = drawn_delays(&config("http", &upstream, &fault), us.len());
        let configured = [mean_ms, mean_ms, mean_ms - Z99 * stddev_ms, mean_ms + Z99 * stddev_ms];
        let (o, d) = (summary(&mut observed), summary(&mut drawn));
        let label = format!("normal({mean_ms} ms, {stddev_ms} ms)");
        for (series, row, minus) in [
            ("observed", &o, &configured),
            ("drawn", &d, &configured),
            ("observed - drawn", &o, &[d[0], d[1], d[2], d[3]]),
        ] {
            let stddev = if series == "observed - drawn" {
                format!("{:+.2} ms", o[4] - d[4])
            } else {
                format!("{:.2} ms", row[4])
            };
            println!(
                "| {label} | {rate} | {series} | {} | {:+.2} ms | {:+.2} ms | {:+.2} ms | {:+.2} ms | {stddev} |",
                us.len(),
                row[0] - minus[0],
                row[1] - minus[1],
                row[2] - minus[2],
                row[3] - minus[3],
            );
        }
    }
    println!();
}

/// A TCP upstream that reads an 8-byte big-endian length, writes that many
/// bytes and closes.
async fn source() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let mut len = [0u8; 8];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut left = u64::from_be_bytes(len);
                let chunk = vec![b'x'; 64 * 1024];
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if stream.write_all(&chunk[..n]).await.is_err() {
                        return;
                    }
                    left -= n as u64;
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    addr
}

/// Fetches `bytes` through an HTTP target; returns what arrived and the time taken.
async fn http_transfer(addr: SocketAddr, bytes: u64) -> (u64, Duration) {
    let mut sender = support::http1(addr).await;
    let started = Instant::now();
    let resp = sender.send_request(support::get(&format!("/bytes/{bytes}"))).await.expect("response");
    let mut body = resp.into_body();
    let mut got = 0u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("body").into_data() {
            got += data.len() as u64;
        }
    }
    (got, started.elapsed())
}

/// Asks a TCP target's `source` for `bytes`; returns what arrived and the time taken.
async fn tcp_transfer(addr: SocketAddr, bytes: u64) -> (u64, Duration) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let started = Instant::now();
    stream.write_all(&bytes.to_be_bytes()).await.expect("write");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0u64;
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n as u64,
        }
    }
    (got, started.elapsed())
}

async fn bandwidth_caps() {
    let http_up = support::upstream_fn(|path: String| async move {
        let n: usize = path.strip_prefix("/bytes/").and_then(|n| n.parse().ok()).unwrap_or(0);
        Bytes::from(vec![b'x'; n])
    })
    .await;
    let tcp_up = source().await;
    println!("## bandwidth caps: one transfer per row, sized for {TRANSFER_SECS} s at the configured rate");
    println!();
    println!("| target | configured | bytes | elapsed | achieved | achieved / configured |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (protocol, upstream) in [("http", format!("http://{http_up}")), ("tcp", tcp_up.to_string())] {
        for (rate, bytes_per_s) in [("100KB/s", 100_000.0_f64), ("1MB/s", 1e6), ("10MB/s", 1e7)] {
            let fault = format!("[[target.fault]]\nkind = \"bandwidth\"\nrate = \"{rate}\"\n");
            let (addr, stop) = proxy(protocol, &upstream, &fault).await;
            let size = (bytes_per_s * TRANSFER_SECS) as u64;
            let limit = Duration::from_secs_f64(TRANSFER_SECS * 4.0 + 10.0);
            let transfer = async {
                if protocol == "http" {
                    http_transfer(addr, size).await
                } else {
                    tcp_transfer(addr, size).await
                }
            };
            let (got, took) = tokio::time::timeout(limit, transfer).await.unwrap_or((0, limit));
            let _ = stop.send(());
            let achieved = got as f64 / took.as_secs_f64();
            println!(
                "| {protocol} | {rate} | {got}{} | {:.3} s | {} | {:.3} |",
                if got == size { String::new() } else { format!(" of {size}") },
                took.as_secs_f64(),
                human_rate(achieved),
                achieved / bytes_per_s,
            );
        }
    }
    println!();
}

fn human_rate(bytes_per_s: f64) -> String {
    if bytes_per_s >= 1e6 {
        format!("{:.3} MB/s", bytes_per_s / 1e6)
    } else {
        format!("{:.1} KB/s", bytes_per_s / 1e3)
    }
}

/// What a run of trials saw: passed untouched, the fault applied, anything else.
#[derive(Default)]
struct Tally {
    passed: u64,
    applied: u64,
    /// TCP: of `applied`, the connections reset only after the echo had come back.
    late: u64,
    /// Neither passed nor the fault, by what happened.
    other: BTreeMap<String, u64>,
}

impl Tally {
    fn other(&mut self, why: impl Into<String>) {
        *self.other.entry(why.into()).or_default() += 1;
    }

    fn add(&mut self, t: Tally) {
        self.passed += t.passed;
        self.applied += t.applied;
        self.late += t.late;
        for (why, n) in t.other {
            *self.other.entry(why).or_default() += n;
        }
    }

    fn others(&self) -> u64 {
        self.other.values().sum()
    }
}

/// Sends up to `total` requests over 64 keep-alive connections, closed loop;
/// a 503 is the error fault, a 200 went through.
async fn http_trials(addr: SocketAddr, total: u64) -> Tally {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + TRIALS_DEADLINE;
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let issued = issued.clone();
            tokio::spawn(async move {
                let mut sender = support::http1(addr).await;
                let mut tally = Tally::default();
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < total {
                    match sender.send_request(support::get("/")).await {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let _ = resp.into_body().collect().await;
                            match status {
                                200 => tally.passed += 1,
                                503 => tally.applied += 1,
                                s => tally.other(format!("status {s}")),
                            }
                        }
                        Err(e) => {
                            tally.other(format!("request failed: {e}"));
                            sender = support::http1(addr).await;
                        }
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        all.add(t.await.expect("client task"));
    }
    all
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof | ErrorKind::BrokenPipe)
}

/// Connects, trying again a few times when the client side fails (out of
/// ephemeral ports while earlier connections sit in TIME_WAIT): a failed
/// connect never reached the proxy, so it decided nothing.
async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut tries = 0;
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if tries < 5 && e.kind() == ErrorKind::AddrNotAvailable => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// One TCP trial: writes 4 bytes, reads the echo, closes its side and reads
/// to the end.
async fn tcp_trial(addr: SocketAddr) -> Result<&'static str, String> {
    let mut stream = match connect(addr).await {
        Ok(s) => s,
        // Accepted and reset before this client got to see its connect complete.
        Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok("reset"),
        Err(e) => return Err(format!("connect: {e}")),
    };
    let _ = stream.set_nodelay(true);
    let mut buf = [0u8; 4];
    let echoed = async {
        stream.write_all(b"ping").await?;
        stream.read_exact(&mut buf).await
    };
    match echoed.await {
        Ok(_) if &buf == b"ping" => {}
        Ok(_) => return Err("a wrong echo".into()),
        Err(e) if is_reset(&e) => return Ok("reset"),
        Err(e) => return Err(format!("before the echo: {e}")),
    }
    let _ = stream.shutdown().await;
    match stream.read(&mut buf).await {
        Ok(0) => Ok("passed"),
        Ok(_) => Err("data after the echo".into()),
        Err(e) if is_reset(&e) => Ok("late"),
        Err(e) => Err(format!("after the echo: {e}")),
    }
}

/// Opens up to `total` connections, 32 clients each opening one after
/// another (see [`tcp_trial`]). A reset at any point (or an end of stream
/// before the echo) is the fault; a clean end after the echo is a
/// connection it left alone.
async fn tcp_trials(addr: SocketAddr, total: u64) -> Tally {
    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + TRIALS_DEADLINE;
    let tasks: Vec<_> = (0..TCP_CLIENTS)
        .map(|_| {
            let issued = issued.clone();
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < total {
                    match tokio::time::timeout(Duration::from_secs(5), tcp_trial(addr)).await {
                        Ok(Ok("passed")) => tally.passed += 1,
                        Ok(Ok("late")) => {
                            tally.applied += 1;
                            tally.late += 1;
                        }
                        Ok(Ok(_)) => tally.applied += 1,
                        Ok(Err(why)) => tally.other(why),
                        Err(_) => tally.other("no end within 5 s"),
                    }
                }
                tally
            })
        })
        .collect();
    let mut all = Tally::default();
    for t in tasks {
        all.add(t.await.expect("client task"));
    }
    all
}

async fn probabilities() {
    let http_up = support::upstream(b"ok").await;
    let echo = support::echo().await;
    println!("## probabilities: observed share against configured, binomial standard error sqrt(p (1 - p) / n)");
    println!();
    println!("`drawn` is the share the proxy's seeded decisions drew for the same number of requests (connections)");
    println!();
    println!(
        "| target | fault | probability | trials | applied | other | observed | observed - configured | standard error | z | drawn |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let cases: [(&str, String, &str, f64, u64); 3] = [
        ("http", format!("http://{http_up}"), "error 503", 0.1, HTTP_TRIALS),
        ("http", format!("http://{http_up}"), "error 503", 0.5, HTTP_TRIALS),
        ("tcp", echo.to_string(), "reset_peer", 0.25, TCP_TRIALS),
    ];
    let mut notes = Vec::new();
    for (protocol, upstream, what, p, total) in cases {
        let fault = if protocol == "http" {
            format!("[[target.fault]]\nkind = \"error\"\nstatus = 503\nprobability = {p}\n")
        } else {
            format!("[[target.fault]]\nkind = \"reset_peer\"\nprobability = {p}\n")
        };
        let (addr, stop) = proxy(protocol, &upstream, &fault).await;
        let started = Instant::now();
        let tally = if protocol == "http" { http_trials(addr, total).await } else { tcp_trials(addr, total).await };
        let took = started.elapsed();
        let _ = stop.send(());
        let n = tally.passed + tally.applied;
        let share = tally.applied as f64 / n as f64;
        let se = (p * (1.0 - p) / n as f64).sqrt();
        let drawn_count = drawn_applied(&config(protocol, &upstream, &fault), protocol == "http", n);
        let drawn = drawn_count as f64 / n as f64;
        println!(
            "| {protocol} | {what} | {p} | {n} | {} | {} | {:.4} | {:+.4} | {se:.4} | {:+.2} | {drawn:.4} |",
            tally.applied,
            tally.others(),
            share,
            share - p,
            (share - p) / se,
        );
        notes.push(format!("{protocol} {what} {p}: {n} trials in {:.1} s", took.as_secs_f64()));
        for (why, count) in &tally.other {
            notes.push(format!("{protocol} {what} {p}: other: {count} x {why}"));
        }
        notes.push(format!(
            "{protocol} {what} {p}: the fault was applied {} times; the decisions drew it {drawn_count} times",
            tally.applied
        ));
        if protocol == "tcp" {
            notes.push(format!(
                "tcp reset_peer {p}: {} of the {} resets came only after the 4-byte echo had passed \
                 (timeout 0: data flows until the reset)",
                tally.late, tally.applied
            ));
        }
    }
    println!();
    println!(
        "http: {CONNECTIONS} keep-alive connections, closed loop; tcp: {TCP_CLIENTS} clients opening connections in turn, \
         each echoing 4 bytes, then closing; trials exclude `other` (neither passed nor the fault)"
    );
    println!();
    for note in notes {
        println!("- {note}");
    }
}

fn main() {
    let secs: f64 = std::env::var("BROWNOUT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        latency_with_jitter(secs).await;
        bandwidth_caps().await;
        probabilities().await;
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}
