//! The Toxiproxy-compatible API: proxies and toxics driven over HTTP, with
//! their effect checked on the wire.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::Request;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::client::{read_body, send_http1};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

async fn call(admin: SocketAddr, method: &str, path: &str, body: &str) -> (u16, Value) {
    let req = Request::builder().method(method).uri(format!("http://{admin}{path}")).body(full(body.to_string()));
    let resp = send_http1(admin, req.expect("req")).await.expect("resp");
    let status = resp.status().as_u16();
    let bytes = read_body(resp).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// One echo round trip on `s`; returns how long it took.
async fn echo(s: &mut TcpStream) -> std::io::Result<Duration> {
    let started = Instant::now();
    s.write_all(b"ping").await?;
    let mut back = [0u8; 4];
    timeout(LIMIT, s.read_exact(&mut back)).await.map_err(|_| std::io::ErrorKind::TimedOut)??;
    assert_eq!(&back, b"ping");
    Ok(started.elapsed())
}

#[tokio::test]
async fn proxies_and_toxics_work_as_in_toxiproxy() {
    let echo_server = upstream::tcp_echo().await;
    let running = support::start("[admin]\nlisten = \"127.0.0.1:0\"\n").await;
    let admin = running.addr("admin");

    let (status, version) = call(admin, "GET", "/version", "").await;
    assert_eq!(status, 200);
    assert!(version["version"].is_string());

    let create = format!(r#"{{"name": "redis", "listen": "127.0.0.1:0", "upstream": "{echo_server}"}}"#);
    let (status, proxy) = call(admin, "POST", "/proxies", &create).await;
    assert_eq!(status, 201, "{proxy}");
    let listen: SocketAddr = proxy["listen"].as_str().expect("listen").parse().expect("addr");
    assert_ne!(listen.port(), 0, "an ephemeral listen address is filled in");
    assert_eq!(proxy["enabled"], true);
    let (status, body) = call(admin, "POST", "/proxies", &create).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("proxy already exists")));
    let (_, all) = call(admin, "GET", "/proxies", "").await;
    assert_eq!(all["redis"]["upstream"], echo_server.to_string());

    let mut conn = TcpStream::connect(listen).await.expect("connect");
    assert!(echo(&mut conn).await.expect("echo") < Duration::from_millis(150));

    // A latency toxic: default name and stream, Toxiproxy's units (ms).
    let (status, toxic) = call(
        admin,
        "POST",
        "/proxies/redis/toxics",
        r#"{"type": "latency", "attributes": {"latency": 200, "jitter": 0}}"#,
    )
    .await;
    assert_eq!(status, 200, "{toxic}");
    assert_eq!(
        (toxic["name"].as_str(), toxic["stream"].as_str(), toxic["toxicity"].as_f64()),
        (Some("latency_downstream"), Some("downstream"), Some(1.0))
    );
    let slowed = echo(&mut conn).await.expect("echo");
    assert!(slowed >= Duration::from_millis(200), "the open connection sees the toxic: {slowed:?}");
    // Partial updates merge attributes.
    let (status, toxic) =
        call(admin, "PATCH", "/proxies/redis/toxics/latency_downstream", r#"{"attributes": {"latency": 0}}"#).await;
    assert_eq!(status, 200);
    assert_eq!((toxic["attributes"]["latency"].as_i64(), toxic["attributes"]["jitter"].as_i64()), (Some(0), Some(0)));
    assert!(echo(&mut conn).await.expect("echo") < Duration::from_millis(150));

    // A toxic with toxicity 0 has no effect at all.
    let (status, _) = call(
        admin,
        "POST",
        "/proxies/redis/toxics",
        r#"{"type": "reset_peer", "toxicity": 0, "attributes": {"timeout": 0}}"#,
    )
    .await;
    assert_eq!(status, 200);
    let mut fresh = TcpStream::connect(listen).await.expect("connect");
    echo(&mut fresh).await.expect("not reset");
    tokio::time::sleep(Duration::from_millis(100)).await;
    echo(&mut fresh).await.expect("still not reset");
    let (_, toxics) = call(admin, "GET", "/proxies/redis/toxics", "").await;
    assert_eq!(toxics.as_array().map(Vec::len), Some(2));
    assert_eq!(call(admin, "DELETE", "/proxies/redis/toxics/reset_peer_downstream", "").await.0, 204);
    assert_eq!(call(admin, "DELETE", "/proxies/redis/toxics/reset_peer_downstream", "").await.0, 404);

    // Disabled: new connections refused, open ones closed; enabled again: back.
    let (status, proxy) = call(admin, "POST", "/proxies/redis", r#"{"enabled": false}"#).await;
    assert_eq!((status, proxy["enabled"].as_bool()), (200, Some(false)));
    assert!(echo(&mut conn).await.is_err(), "an open connection is closed when the proxy is disabled");
    let refused = TcpStream::connect(listen).await;
    assert!(refused.is_err(), "a disabled proxy refuses connections");
    let (status, _) = call(admin, "POST", "/proxies/redis", r#"{"enabled": true}"#).await;
    assert_eq!(status, 200);
    let mut again = TcpStream::connect(listen).await.expect("enabled again");
    echo(&mut again).await.expect("echo");

    // Populate leaves a proxy that is already as asked alone, toxics included.
    let populate = format!(
        r#"[{{"name": "redis", "listen": "{listen}", "upstream": "{echo_server}"}}, {{"name": "pg", "listen": "127.0.0.1:0", "upstream": "{echo_server}"}}]"#
    );
    let (status, body) = call(admin, "POST", "/populate", &populate).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["proxies"].as_array().map(Vec::len), Some(2));
    let (_, redis) = call(admin, "GET", "/proxies/redis", "").await;
    assert_eq!(redis["toxics"].as_array().map(Vec::len), Some(1), "{redis}");
    echo(&mut again).await.expect("the connection survived populate");

    // Reset: every toxic removed, every proxy enabled.
    assert_eq!(call(admin, "POST", "/proxies/pg", r#"{"enabled": false}"#).await.0, 200);
    assert_eq!(call(admin, "POST", "/reset", "").await.0, 204);
    let (_, all) = call(admin, "GET", "/proxies", "").await;
    assert_eq!(all["redis"]["toxics"].as_array().map(Vec::len), Some(0));
    assert_eq!(all["pg"]["enabled"], true);

    assert_eq!(call(admin, "DELETE", "/proxies/pg", "").await.0, 204);
    let (status, body) = call(admin, "GET", "/proxies/pg", "").await;
    assert_eq!((status, body["error"].as_str(), body["status"].as_u64()), (404, Some("proxy not found"), Some(404)));
    let (status, body) = call(admin, "POST", "/proxies/redis/toxics", r#"{"type": "warp_drive"}"#).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_api_calls_answer_within_a_second_each_while_200_connections_push_data() {
    let echo_server = upstream::tcp_echo().await;
    let running = support::start("[admin]\nlisten = \"127.0.0.1:0\"\n").await;
    let admin = running.addr("admin");
    let create = format!(r#"{{"name": "busy", "listen": "127.0.0.1:0", "upstream": "{echo_server}"}}"#);
    let (_, proxy) = call(admin, "POST", "/proxies", &create).await;
    let listen: SocketAddr = proxy["listen"].as_str().expect("listen").parse().expect("addr");

    let stop = tokio_util::sync::CancellationToken::new();
    let pushers: Vec<_> = (0..200)
        .map(|_| {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut s = TcpStream::connect(listen).await.expect("connect");
                let mut rounds = 0u64;
                while !stop.is_cancelled() {
                    echo(&mut s).await?;
                    rounds += 1;
                }
                Ok::<u64, std::io::Error>(rounds)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut slowest = Duration::ZERO;
    for i in 0..500 {
        let body = format!(r#"{{"type": "latency", "name": "l{i}", "attributes": {{"latency": 1}}}}"#);
        let started = Instant::now();
        let (status, _) = call(admin, "POST", "/proxies/busy/toxics", &body).await;
        assert_eq!(status, 200);
        slowest = slowest.max(started.elapsed());
        let started = Instant::now();
        let (status, _) = call(admin, "DELETE", &format!("/proxies/busy/toxics/l{i}"), "").await;
        assert_eq!(status, 204);
        slowest = slowest.max(started.elapsed());
    }
    stop.cancel();
    for p in pushers {
        let rounds = timeout(LIMIT, p).await.expect("in time").expect("task").expect("no connection was dropped");
        assert!(rounds > 0);
    }
    assert!(slowest < Duration::from_secs(1), "the slowest API call took {slowest:?}");
}
