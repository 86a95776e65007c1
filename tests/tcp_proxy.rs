//! The TCP listener over real sockets: byte-exact copies, half-close in both
//! directions, upstream failures and many concurrent connections.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::upstream;
use crate::support::{self, random_bytes, tcp_target, LIMIT};

/// Writes `data`, half-closes, and reads until the far side closes.
async fn round_trip(addr: std::net::SocketAddr, data: Vec<u8>) -> Vec<u8> {
    let s = TcpStream::connect(addr).await.expect("connect");
    let (mut r, mut w) = s.into_split();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.expect("write");
        w.shutdown().await.expect("half-close");
    });
    let mut got = Vec::new();
    r.read_to_end(&mut got).await.expect("read");
    writer.await.expect("writer");
    got
}

#[tokio::test]
async fn bytes_pass_through_exactly_at_every_size() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("echo", up, "")).await;
    for (i, size) in [0usize, 1, 4097, 65_543, (1 << 20) + 3, 8 << 20].into_iter().enumerate() {
        let data = random_bytes(i as u64, size);
        let got = timeout(LIMIT, round_trip(proxy.addr("echo"), data.clone())).await.expect("in time");
        assert!(got == data, "{size} bytes: got {} back, differing", got.len());
    }
}

#[tokio::test]
async fn a_client_half_close_still_lets_the_upstream_answer() {
    // The upstream reads to EOF, then answers with the length it read.
    let up = upstream::tcp(|mut s: TcpStream| async move {
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = s.write_all(format!("read {} bytes", all.len()).as_bytes()).await;
    })
    .await;
    let proxy = support::start(&tcp_target("t", up, "")).await;
    let got = timeout(LIMIT, round_trip(proxy.addr("t"), vec![7u8; 100_000])).await.expect("in time");
    assert_eq!(String::from_utf8_lossy(&got), "read 100000 bytes");
}

#[tokio::test]
async fn an_upstream_half_close_still_lets_the_client_send() {
    // The upstream greets, half-closes, then counts what the client sends.
    let (count_tx, mut count_rx) = tokio::sync::mpsc::channel::<usize>(1);
    let up = upstream::tcp(move |mut s: TcpStream| {
        let count_tx = count_tx.clone();
        async move {
            let _ = s.write_all(b"hello").await;
            let _ = s.shutdown().await;
            let mut all = Vec::new();
            let _ = s.read_to_end(&mut all).await;
            let _ = count_tx.send(all.len()).await;
        }
    })
    .await;
    let proxy = support::start(&tcp_target("t", up, "")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let mut greeting = Vec::new();
    timeout(LIMIT, s.read_to_end(&mut greeting)).await.expect("EOF in time").expect("read");
    assert_eq!(greeting, b"hello");
    // The client's direction is still open after the upstream's EOF.
    s.write_all(&vec![1u8; 50_000]).await.expect("write after EOF");
    s.shutdown().await.expect("half-close");
    let n = timeout(LIMIT, count_rx.recv()).await.expect("in time").expect("count");
    assert_eq!(n, 50_000);
}

#[tokio::test]
async fn a_thousand_concurrent_connections_all_get_their_bytes_back() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("echo", up, "")).await;
    let addr = proxy.addr("echo");
    let tasks: Vec<_> = (0..1000u64)
        .map(|i| {
            tokio::spawn(async move {
                let data = random_bytes(i, 8192 + i as usize);
                round_trip(addr, data.clone()).await == data
            })
        })
        .collect();
    let mut intact = 0;
    for t in tasks {
        if timeout(LIMIT, t).await.expect("in time").expect("task") {
            intact += 1;
        }
    }
    assert_eq!(intact, 1000);
}

#[tokio::test]
async fn a_refusing_upstream_closes_the_client_connection() {
    let proxy = support::start(&tcp_target("down", support::closed_port(), "")).await;
    let mut s = TcpStream::connect(proxy.addr("down")).await.expect("accepted");
    let mut buf = Vec::new();
    let n = timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await.expect("closed in time");
    assert!(matches!(n, Ok(0)) || n.is_err(), "{n:?}");
}

#[tokio::test]
async fn a_blackholed_upstream_closes_within_the_connect_timeout_while_others_are_served() {
    let (hole, _held) = upstream::blackhole().await;
    let echo = upstream::tcp_echo().await;
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         [[target]]\nname = \"hole\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{hole}\"\nconnect_timeout = \"700ms\"\n\
         [[target]]\nname = \"echo\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{echo}\"\n"
    );
    let proxy = support::start(&config).await;
    let started = Instant::now();
    let mut stuck = Vec::new();
    for _ in 0..10 {
        stuck.push(TcpStream::connect(proxy.addr("hole")).await.expect("accepted while dials hang"));
    }
    let got = timeout(Duration::from_millis(500), round_trip(proxy.addr("echo"), b"still served".to_vec()))
        .await
        .expect("served at once");
    assert_eq!(got, b"still served");
    for mut s in stuck {
        let mut buf = Vec::new();
        let r = timeout(LIMIT, s.read_to_end(&mut buf)).await.expect("closed in time");
        assert!(matches!(r, Ok(0)), "{r:?}");
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(700) && waited < Duration::from_secs(4), "{waited:?}");
}
