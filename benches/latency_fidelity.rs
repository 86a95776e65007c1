//! How exactly brownout injects latency under load: for each configured
//! delay, 64 keep-alive connections send a few hundred requests a second
//! through an HTTP target, and the observed latency minus the configured one
//! is reported at p50 and p99, beside the same measure with no fault.
//!
//! Run with `cargo bench --bench latency_fidelity`; `BROWNOUT_BENCH_SECS`
//! sets the seconds per scenario (default 5).

use std::net::SocketAddr;

#[path = "support.rs"]
mod support;

const CONNECTIONS: usize = 64;

async fn proxy(upstream: SocketAddr, fault: &str) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let text = format!(
        "seed = 1\n[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n{fault}"
    );
    support::proxy(&brownout::config::parse("bench.toml", &text, None).expect("valid bench config")).await
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
        println!("| configured | rate (req/s) | requests | p50 observed | p99 observed | p50 - configured | p99 - configured |");
        println!("| --- | --- | --- | --- | --- | --- | --- |");
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
        for (label, fault, configured_ms, rate) in cases {
            let (addr, stop) = if label.starts_with("direct") { (up, None) } else {
                let (a, s) = proxy(up, fault).await;
                (a, Some(s))
            };
            let mut samples = support::drive(addr, CONNECTIONS, rate, secs).await;
            samples.sort_unstable();
            let configured = (configured_ms * 1000.0) as i64;
            let (p50, p99) = (percentile(&samples, 0.50), percentile(&samples, 0.99));
            println!(
                "| {label} | {rate} | {} | {:.2} ms | {:.2} ms | {:+.2} ms | {:+.2} ms |",
                samples.len(),
                p50 as f64 / 1000.0,
                p99 as f64 / 1000.0,
                (p50 as i64 - configured) as f64 / 1000.0,
                (p99 as i64 - configured) as f64 / 1000.0,
            );
            if let Some(stop) = stop {
                let _ = stop.send(());
            }
        }
    });
}
