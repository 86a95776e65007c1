//! What recording costs: requests per second through `brownout proxy` with
//! the recorder on (the default) and off (`--no-record`), alternating runs
//! so that machine drift cancels out. 64 keep-alive connections, closed loop,
//! small bodies. Run with `cargo bench --bench recorder_cost`;
//! `BROWNOUT_BENCH_SECS` sets seconds per run (default 5), `BROWNOUT_BENCH_ROUNDS`
//! the number of on/off pairs (default 3).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[path = "support.rs"]
mod support;

const CONNECTIONS: usize = 64;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn start_proxy(upstream: SocketAddr, record: bool, dir: &std::path::Path) -> (Child, u16) {
    let port = free_port();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{port}\"\nupstream = \"http://{upstream}\"\n"
        ),
    )
    .expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brownout"));
    cmd.args(["proxy", "--config"]).arg(&config).arg("--run-dir").arg(dir.join("run"));
    if !record {
        cmd.arg("--no-record");
    }
    let child = cmd.stderr(Stdio::null()).spawn().expect("spawn brownout");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "brownout did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, port)
}

async fn drive(addr: SocketAddr, secs: f64) -> u64 {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await.expect("connect");
                let _ = stream.set_nodelay(true);
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("hs");
                tokio::spawn(conn);
                let mut done = 0u64;
                while Instant::now() < end {
                    let req = Request::get("/").header("host", "bench").body(Empty::<Bytes>::new()).expect("req");
                    let Ok(resp) = sender.send_request(req).await else { break };
                    let _ = resp.into_body().collect().await;
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("client");
    }
    total
}

fn main() {
    let secs: f64 = std::env::var("BROWNOUT_BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let rounds: usize = std::env::var("BROWNOUT_BENCH_ROUNDS").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let dir = std::env::temp_dir().join(format!("brownout-recorder-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let up = runtime.block_on(support::upstream(b"hello from upstream"));
    // A throwaway run warms the machine up, so the first measured run is not the odd one out.
    {
        let (mut child, port) = start_proxy(up, false, &dir);
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        runtime.block_on(drive(addr, 2.0));
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let _ = child.wait();
    }
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for record in [false, true] {
            let (mut child, port) = start_proxy(up, record, &dir);
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
            let done = runtime.block_on(drive(addr, secs));
            let rps = done as f64 / secs;
            println!("round {round}: recorder {}: {rps:.0} req/s", if record { "on " } else { "off" });
            if record {
                on.push(rps)
            } else {
                off.push(rps)
            }
            let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (on, off) = (mean(&on), mean(&off));
    println!(
        "recorder off {off:.0} req/s, on {on:.0} req/s: on is {:.1}% {} off ({CONNECTIONS} connections, {secs} s x {rounds})",
        ((on - off) / off * 100.0).abs(),
        if on < off { "below" } else { "above" }
    );
    let _ = std::fs::remove_dir_all(&dir);
}
