//! How exactly brownout injects latency under load: for each configured
//! delay, 64 keep-alive connections send a few hundred requests a second
//! through an HTTP target, and the observed latency minus the configured one
//! is reported at p50 and p99, beside the same measure with no fault and
//! beside how late a thread of the machine's wakes from a sleep of its own
//! (no delay can end sooner after its deadline than that).
//!
//! Then under a burst: wrk's 64 connections in a closed loop, each sending
//! its next request as soon as an answer comes, so the 64 requests one delay
//! releases all come back at once (and go out again together), through a
//! 50 ms latency fault on an HTTP target and on a TCP target, beside wrk
//! straight to an upstream that waits 50 ms itself (the same burst with
//! no proxy: on brownout's timer, the floor of this machine). This part
//! needs wrk (`apt-get install wrk`) and is skipped, saying so, without it.
//!
//! Run with `cargo bench --bench latency_fidelity`; `BROWNOUT_BENCH_SECS`
//! sets the seconds per scenario (default 5).

use std::net::SocketAddr;

#[path = "support.rs"]
mod support;

const CONNECTIONS: usize = 64;

async fn proxy(upstream: SocketAddr, fault: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    proxy_of("http", &format!("http://{upstream}"), fault).await
}

async fn proxy_of(protocol: &str, upstream: &str, fault: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let text = format!(
        "seed = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"{protocol}\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n{fault}"
    );
    support::proxy(&brownout::config::parse("bench.toml", &text, None).expect("valid bench config")).await
}

/// wrk's p50 and p99 in microseconds, 64 connections in a closed loop for
/// `secs` against `addr`; `None` when wrk cannot be run.
fn wrk(addr: SocketAddr, secs: f64) -> Option<(f64, f64)> {
    let out = std::process::Command::new("wrk")
        .args(["-t1", &format!("-c{CONNECTIONS}"), &format!("-d{}s", secs.ceil()), "--latency"])
        .arg(format!("http://{addr}/"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let at = |p: &str| {
        let value = text.lines().find_map(|l| l.trim().strip_prefix(p))?.trim();
        let n: f64 = value.trim_end_matches(|c: char| c.is_alphabetic()).parse().ok()?;
        Some(match value {
            v if v.ends_with("us") => n,
            v if v.ends_with("ms") => n * 1000.0,
            _ => n * 1_000_000.0,
        })
    };
    Some((at("50%")?, at("99%")?))
}

/// The burst rows: wrk through a 50 ms latency fault on an HTTP and a TCP
/// target, through each with no fault (the closed loop's own latency), and
/// straight to an upstream that waits 50 ms itself before each answer (the
/// same burst with no proxy): on brownout's precise timer, the least a
/// 50 ms delay costs here, and on tokio's, as a service's own sleep would.
async fn burst(up: SocketAddr, secs: f64) {
    println!();
    if std::process::Command::new("wrk").arg("--version").output().is_err() {
        println!("latency under a burst: skipped, wrk is not installed (apt-get install wrk)");
        return;
    }
    println!("injected latency under a burst: wrk, {CONNECTIONS} connections in a closed loop, {secs} s per row");
    println!();
    println!("| through | configured | p50 observed | p99 observed | p50 - configured | p99 - configured | waited for a CPU |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let latency = "[[target.fault]]\nkind = \"latency\"\ndelay = \"50ms\"\n";
    let http = format!("http://{up}");
    let tcp = up.to_string();
    let fifty = std::time::Duration::from_millis(50);
    let precise = support::upstream_fn(move |_| async move {
        brownout::proxy::timer::sleep(fifty).await;
        bytes::Bytes::from_static(b"ok")
    })
    .await;
    let tokio_sleep = support::upstream_fn(move |_| async move {
        tokio::time::sleep(fifty).await;
        bytes::Bytes::from_static(b"ok")
    })
    .await;
    let (precise, tokio_sleep) = (precise.to_string(), tokio_sleep.to_string());
    for (label, protocol, upstream, fault, configured_ms) in [
        ("direct, the upstream waits 50 ms on brownout's timer", "", &precise, "", 50.0),
        ("direct, the upstream waits 50 ms on tokio's timer", "", &tokio_sleep, "", 50.0),
        ("HTTP, no fault", "http", &http, "", 0.0),
        ("HTTP, 50ms fixed", "http", &http, latency, 50.0),
        ("TCP, no fault", "tcp", &tcp, "", 0.0),
        ("TCP, 50ms fixed (per chunk, to the client)", "tcp", &tcp, latency, 50.0),
    ] {
        let (addr, stop) = if protocol.is_empty() {
            (upstream.parse().expect("an upstream's address"), None)
        } else {
            let (addr, stop) = proxy_of(protocol, upstream, fault).await;
            (addr, Some(stop))
        };
        let before = waited_for_cpu();
        let measured = tokio::task::spawn_blocking(move || wrk(addr, secs)).await.expect("wrk task");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        let Some((p50, p99)) = measured else {
            println!("| {label} | wrk gave no figures | | | | | |");
            continue;
        };
        let configured = configured_ms * 1000.0;
        println!(
            "| {label} | {configured_ms} ms | {:.2} ms | {:.2} ms | {:+.2} ms | {:+.2} ms | {} |",
            p50 / 1000.0,
            p99 / 1000.0,
            (p50 - configured) / 1000.0,
            (p99 - configured) / 1000.0,
            noise(before, secs),
        );
    }
}

/// How long this process's threads have waited for a CPU, in all
/// (`/proc/self/task/*/schedstat`, Linux): the machine's own noise, which
/// a p99 of a few milliseconds cannot be told apart from. `None` elsewhere.
fn waited_for_cpu() -> Option<std::time::Duration> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(std::time::Duration::from_nanos(ns))
}

/// The run-queue wait over a row, per second of the row: `12.3 ms/s`.
fn noise(before: Option<std::time::Duration>, secs: f64) -> String {
    match (before, waited_for_cpu()) {
        (Some(b), Some(a)) => format!("{:.1} ms/s", (a - b).as_secs_f64() * 1000.0 / secs),
        _ => "-".into(),
    }
}

/// The machine's own row: a thread sleeping 5 ms, 400 times, and how late
/// it wakes. Nothing brownout does wakes a sleeping thread sooner than the
/// machine does (a virtual machine's idle CPU can take a millisecond), so
/// this is the floor under every delay's p99 below.
async fn machine_row() {
    const SLEEP: std::time::Duration = std::time::Duration::from_millis(5);
    let before = waited_for_cpu();
    let mut late: Vec<u64> = tokio::task::spawn_blocking(|| {
        (0..400)
            .map(|_| {
                let start = std::time::Instant::now();
                std::thread::sleep(SLEEP);
                (start.elapsed() - SLEEP).as_micros() as u64
            })
            .collect()
    })
    .await
    .expect("the sleeping thread");
    late.sort_unstable();
    let (p50, p99) = (percentile(&late, 0.50) as f64 / 1000.0, percentile(&late, 0.99) as f64 / 1000.0);
    println!(
        "| a thread's own 5 ms sleep (the machine's wake-up) | - | {} | {:.2} ms | {:.2} ms | {p50:+.2} ms | {p99:+.2} ms | {} |",
        late.len(),
        5.0 + p50,
        5.0 + p99,
        noise(before, 2.0),
    );
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let secs: f64 = std::env::var("BROWNOUT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let up = support::upstream(b"ok").await;
        println!("injected latency fidelity: {CONNECTIONS} connections, {secs} s per row, observed minus configured");
        println!();
        println!("(waited for a CPU: how long this process's threads sat runnable without one, per second of the row)");
        println!();
        println!("| configured | rate (req/s) | requests | p50 observed | p99 observed | p50 - configured | p99 - configured | waited for a CPU |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
        let cases: [(&str, &str, f64, f64); 6] = [
            ("direct (no proxy)", "", 0.0, 400.0),
            ("proxy, no fault", "", 0.0, 400.0),
            ("50ms fixed", "[[target.fault]]\nkind = \"latency\"\ndelay = \"50ms\"\n", 50.0, 400.0),
            ("100ms fixed", "[[target.fault]]\nkind = \"latency\"\ndelay = \"100ms\"\n", 100.0, 400.0),
            ("500ms fixed", "[[target.fault]]\nkind = \"latency\"\ndelay = \"500ms\"\n", 500.0, 100.0),
            (
                "50ms uniform 40..60ms",
                "[[target.fault]]\nkind = \"latency\"\ndistribution = \"uniform\"\nmin = \"40ms\"\nmax = \"60ms\"\n",
                50.0,
                400.0,
            ),
        ];
        machine_row().await;
        for (label, fault, configured_ms, rate) in cases {
            let (addr, stop) = if label.starts_with("direct") { (up, None) } else {
                let (a, s) = proxy(up, fault).await;
                (a, Some(s))
            };
            let before = waited_for_cpu();
            let mut samples = support::drive(addr, CONNECTIONS, rate, secs).await;
            samples.sort_unstable();
            let configured = (configured_ms * 1000.0) as i64;
            let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
            println!(
                "| {label} | {rate} | {} | {:.2} ms | {:.2} ms | {:+.2} ms | {:+.2} ms | {} |",
                samples.len(),
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0,
                (p50 as i64 - configured) as f64 / 1000.0,
                (p99 as i64 - configured) as f64 / 1000.0,
                noise(before, secs),
            );
            if let Some(stop) = stop {
                let _ = stop.send(());
            }
        }
        burst(up, secs).await;
    });
}
