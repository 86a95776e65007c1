//! Every TCP fault, asserted on the wire over real sockets.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::upstream;
use crate::support::{self, faults, random_bytes, read_until_end, tcp_target, LIMIT};

/// An upstream that sends `data` at once, then closes.
async fn sender(data: Vec<u8>) -> SocketAddr {
    upstream::tcp(move |mut s: TcpStream| {
        let data = data.clone();
        async move {
            let _ = s.write_all(&data).await;
            let _ = s.shutdown().await;
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink).await;
        }
    })
    .await
}

#[tokio::test]
async fn latency_delays_each_chunk_without_throttling_throughput() {
    let data = random_bytes(1, 4 << 20);
    let up = sender(data.clone()).await;
    let fault = "[[target.fault]]\nkind = \"latency\"\ndelay = \"300ms\"\n";
    let proxy = support::start(&tcp_target("t", up, fault)).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let mut first = [0u8; 1];
    timeout(LIMIT, s.read_exact(&mut first)).await.expect("in time").expect("first byte");
    let first_byte = started.elapsed();
    let (rest, end) = read_until_end(&mut s, LIMIT).await;
    let total = started.elapsed();
    assert_eq!(end, Ok(()));
    assert_eq!(1 + rest.len(), data.len());
    assert!(first_byte >= Duration::from_millis(300), "first byte after {first_byte:?}");
    // 4 MiB in 16 KiB chunks is 256 chunks: a delay per chunk in series
    // would take over a minute; with queueing time subtracted, about one delay.
    assert!(total < Duration::from_secs(3), "took {total:?}: latency throttled throughput");
}

#[tokio::test]
async fn latency_applies_to_an_open_connection_without_reconnecting() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("t", up, "")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let round_trip = async |s: &mut TcpStream| {
        let started = Instant::now();
        s.write_all(b"ping").await.expect("write");
        let mut back = [0u8; 4];
        timeout(LIMIT, s.read_exact(&mut back)).await.expect("in time").expect("read");
        started.elapsed()
    };
    assert!(round_trip(&mut s).await < Duration::from_millis(200));
    proxy
        .switch("t")
        .set(faults("tcp", "[[target.fault]]\nkind = \"latency\"\ndelay = \"250ms\"\ndirection = \"both\"\n"));
    let slowed = round_trip(&mut s).await;
    assert!(slowed >= Duration::from_millis(500), "two directions of 250 ms, got {slowed:?}");
    proxy.switch("t").clear();
    assert!(round_trip(&mut s).await < Duration::from_millis(200));
}

#[tokio::test]
async fn bandwidth_holds_throughput_within_ten_percent() {
    let data = random_bytes(2, 2 << 20);
    let up = sender(data.clone()).await;
    let proxy =
        support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"bandwidth\"\nrate = \"1MiB/s\"\n")).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (got, end) = read_until_end(&mut s, LIMIT).await;
    let took = started.elapsed().as_secs_f64();
    assert_eq!(end, Ok(()));
    assert!(got == data, "bytes differ");
    let achieved = got.len() as f64 / took;
    let rate = (1 << 20) as f64;
    assert!((achieved - rate).abs() / rate < 0.10, "achieved {achieved:.0} B/s for {rate} B/s");
}

#[tokio::test]
async fn slow_close_passes_the_close_on_only_after_its_delay() {
    let up = sender(b"bye".to_vec()).await;
    let proxy =
        support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"slow_close\"\ndelay = \"400ms\"\n")).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (got, end) = read_until_end(&mut s, LIMIT).await;
    assert_eq!((got.as_slice(), end), (&b"bye"[..], Ok(())));
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
}

#[tokio::test]
async fn timeout_drops_data_then_closes_after_its_time() {
    let up = upstream::tcp_echo().await;
    let fault = "[[target.fault]]\nkind = \"timeout\"\ntimeout = \"300ms\"\n";
    let proxy = support::start(&tcp_target("t", up, fault)).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    s.write_all(b"hello?").await.expect("write");
    let (got, end) = read_until_end(&mut s, LIMIT).await;
    assert!(got.is_empty(), "data got through: {got:?}");
    assert!(end.is_ok(), "{end:?}");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn timeout_without_a_time_holds_until_the_fault_is_removed() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"timeout\"\n")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    s.write_all(b"lost").await.expect("write");
    let (got, end) = read_until_end(&mut s, Duration::from_millis(400)).await;
    assert_eq!((got.len(), end), (0, Err(ErrorKind::TimedOut)));
    let removed = Instant::now();
    proxy.switch("t").clear();
    s.write_all(b"back").await.expect("write");
    let mut back = [0u8; 4];
    timeout(LIMIT, s.read_exact(&mut back)).await.expect("in time").expect("read");
    assert_eq!(&back, b"back", "data flows again on the same connection");
    assert!(removed.elapsed() < Duration::from_millis(100), "{:?}", removed.elapsed());
}

#[tokio::test]
async fn reset_peer_resets_the_client_after_its_delay() {
    let up = upstream::tcp_echo().await;
    let proxy =
        support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"reset_peer\"\ntimeout = \"200ms\"\n")).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (_, end) = read_until_end(&mut s, LIMIT).await;
    assert_eq!(end, Err(ErrorKind::ConnectionReset));
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());
}

#[tokio::test]
async fn reset_peer_with_no_delay_lets_nothing_through_before_the_reset() {
    let up = upstream::tcp_echo().await;
    let proxy =
        support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"reset_peer\"\ntimeout = \"0s\"\n")).await;
    for i in 0..100 {
        let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
        // The write may already meet the reset.
        let _ = s.write_all(b"ping").await;
        let (got, end) = read_until_end(&mut s, LIMIT).await;
        assert!(got.is_empty(), "connection {i}: {got:?} came back before the reset");
        assert_eq!(end, Err(ErrorKind::ConnectionReset), "connection {i}");
    }
}

#[tokio::test]
async fn slicer_cuts_writes_into_small_delayed_pieces() {
    let data = random_bytes(5, 2000);
    let up = sender(data.clone()).await;
    let fault = "[[target.fault]]\nkind = \"slicer\"\naverage_size = 100\nsize_variation = 20\ndelay = \"10ms\"\n";
    let proxy = support::start(&tcp_target("t", up, fault)).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let mut got = Vec::new();
    let mut reads = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = timeout(LIMIT, s.read(&mut buf)).await.expect("in time").expect("read");
        if n == 0 {
            break;
        }
        reads.push(n);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got == data);
    assert!(reads.iter().all(|n| *n <= 120), "a read larger than a slice: {reads:?}");
    assert!(reads.len() >= 2000 / 120, "{reads:?}");
    assert!(started.elapsed() >= Duration::from_millis(150), "{:?}", started.elapsed());
}

#[tokio::test]
async fn limit_data_closes_after_exactly_its_bytes() {
    let data = random_bytes(6, 100_000);
    let up = sender(data.clone()).await;
    let proxy = support::start(&tcp_target("t", up, "[[target.fault]]\nkind = \"limit_data\"\nbytes = 12345\n")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (got, end) = read_until_end(&mut s, LIMIT).await;
    assert!(end.is_ok(), "{end:?}");
    assert_eq!(got, data[..12345]);
}

/// An upstream that counts connections open at once and holds each for `hold`.
async fn holding(hold: Duration) -> (SocketAddr, std::sync::Arc<upstream::Counter>) {
    let counter = std::sync::Arc::new(upstream::Counter::default());
    let c = counter.clone();
    let addr = upstream::tcp(move |mut s: TcpStream| {
        let c = c.clone();
        async move {
            c.enter();
            tokio::time::sleep(hold).await;
            let _ = s.write_all(b"done").await;
            c.leave();
        }
    })
    .await;
    (addr, counter)
}

async fn pool_clients(addr: SocketAddr, n: usize) -> Vec<Result<Vec<u8>, ErrorKind>> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = TcpStream::connect(addr).await.expect("connect");
                let (got, end) = read_until_end(&mut s, LIMIT).await;
                end.map(|()| got)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test]
async fn a_pool_holds_open_connections_to_its_limit_and_queues_the_rest() {
    let (up, counter) = holding(Duration::from_millis(300)).await;
    let fault = "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 2\nqueue_timeout = \"10s\"\n";
    let proxy = support::start(&tcp_target("t", up, fault)).await;
    let results = pool_clients(proxy.addr("t"), 6).await;
    assert!(results.iter().all(|r| r.as_deref() == Ok(&b"done"[..])), "{results:?}");
    assert_eq!((counter.peak(), counter.total()), (2, 6));
}

#[tokio::test]
async fn a_full_pool_refuses_with_a_reset_when_so_configured() {
    let (up, counter) = holding(Duration::from_millis(500)).await;
    let fault = "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 2\nwhen_full = \"refuse\"\n";
    let proxy = support::start(&tcp_target("t", up, fault)).await;
    let results = pool_clients(proxy.addr("t"), 5).await;
    let done = results.iter().filter(|r| r.as_deref() == Ok(&b"done"[..])).count();
    let reset = results.iter().filter(|r| **r == Err(ErrorKind::ConnectionReset)).count();
    assert_eq!((done, reset), (2, 3), "{results:?}");
    assert_eq!(counter.total(), 2);
}

#[tokio::test]
async fn an_outage_refuses_resets_or_holds_new_connections() {
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&tcp_target("t", up, "")).await;
    let addr = proxy.addr("t");
    proxy.switch("t").set(faults("tcp", "[[target.fault]]\nkind = \"outage\"\nmode = \"refuse\"\n"));
    let refused = async {
        loop {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    timeout(Duration::from_secs(2), refused).await.expect("refused during the outage");

    proxy.switch("t").set(faults("tcp", "[[target.fault]]\nkind = \"outage\"\nmode = \"reset\"\n"));
    let reset = async {
        loop {
            if let Ok(mut s) = TcpStream::connect(addr).await {
                break read_until_end(&mut s, LIMIT).await.1;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    assert_eq!(timeout(Duration::from_secs(5), reset).await.expect("in time"), Err(ErrorKind::ConnectionReset));

    proxy.switch("t").set(faults("tcp", "[[target.fault]]\nkind = \"outage\"\nmode = \"hang\"\n"));
    let mut held = TcpStream::connect(addr).await.expect("accepted");
    held.write_all(b"anyone?").await.expect("write");
    assert_eq!(read_until_end(&mut held, Duration::from_millis(300)).await, (vec![], Err(ErrorKind::TimedOut)));

    proxy.switch("t").clear();
    let mut s = TcpStream::connect(addr).await.expect("connect after the outage");
    s.write_all(b"ok").await.expect("write");
    let mut back = [0u8; 2];
    timeout(LIMIT, s.read_exact(&mut back)).await.expect("in time").expect("read");
    assert_eq!(&back, b"ok");
}
