//! HTTP/2 to upstreams: requests go as streams of a few multiplexed
//! connections, bodies stream both ways with their trailers, a slow client
//! holds the upstream back (memory stays bounded), and an `https` upstream
//! is reached over HTTP/2 or HTTP/1.1 as ALPN and `upstream_version` say.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::support::client::send_http2;
use crate::support::upstream::{full, Body};
use crate::support::{self, random_bytes, LIMIT};

/// An h2c upstream (prior knowledge) serving `handler`; counts its connections.
async fn h2c_upstream<F, Fut>(handler: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let conns = Arc::new(AtomicUsize::new(0));
    let counted = conns.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::Relaxed);
            let handler = handler.clone();
            let svc = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            tokio::spawn(
                hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc),
            );
        }
    });
    (addr, conns)
}

fn h2_target(upstream: SocketAddr) -> String {
    support::http_target("grpcish", upstream, "upstream_version = \"http2\"")
}

/// Echoes the request body as it comes, then the request's trailers with
/// `x-upstream-version` added.
async fn echo_with_trailers(req: Request<Incoming>) -> Response<Body> {
    let version = format!("{:?}", req.version());
    let te = req.headers().get("te").map(|v| v.to_str().unwrap_or("").to_string()).unwrap_or_default();
    let mut body = req.into_body();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>>(4);
    tokio::spawn(async move {
        let mut trailers = HeaderMap::new();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            match frame.into_data() {
                Ok(data) => {
                    if tx.send(Ok(Frame::data(data))).await.is_err() {
                        return;
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = t;
                    }
                }
            }
        }
        trailers.insert("x-upstream-version", HeaderValue::from_str(&version).expect("value"));
        trailers.insert("x-upstream-te", HeaderValue::from_str(&te).expect("value"));
        let _ = tx.send(Ok(Frame::trailers(trailers))).await;
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
    Response::new(StreamBody::new(stream).boxed())
}

#[tokio::test]
async fn an_http2_upstream_gets_streamed_bodies_and_trailers_both_ways() {
    let (upstream, _) = h2c_upstream(echo_with_trailers).await;
    let proxy = support::start(&h2_target(upstream)).await;
    let data = random_bytes(11, 3 * 1024 * 1024 + 17);
    let mut frames: Vec<Result<Frame<Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
        data.chunks(100_000).map(|c| Ok(Frame::data(Bytes::copy_from_slice(c)))).collect();
    let mut trailers = HeaderMap::new();
    trailers.insert("x-checksum", HeaderValue::from_static("abc123"));
    frames.push(Ok(Frame::trailers(trailers)));
    let body = StreamBody::new(futures_util::stream::iter(frames)).boxed();
    let req = Request::post("http://grpcish/upload").header("te", "trailers").body(body).expect("req");
    let resp =
        tokio::time::timeout(LIMIT, send_http2(proxy.addr("grpcish"), req)).await.expect("in time").expect("resp");
    let collected = tokio::time::timeout(LIMIT, resp.into_body().collect()).await.expect("in time").expect("body");
    let got_trailers = collected.trailers().cloned().expect("response trailers");
    assert_eq!(collected.to_bytes(), data.as_slice(), "the body came back byte for byte");
    assert_eq!(got_trailers["x-checksum"], "abc123", "the request's trailer reached the upstream");
    assert_eq!(got_trailers["x-upstream-version"], "HTTP/2.0");
    assert_eq!(got_trailers["x-upstream-te"], "trailers");
}

#[tokio::test]
async fn many_requests_at_once_share_a_few_multiplexed_upstream_connections() {
    let (upstream, conns) = h2c_upstream(|req: Request<Incoming>| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Response::new(full(req.uri().path().to_string()))
    })
    .await;
    let proxy = support::start(&h2_target(upstream)).await;
    let addr = proxy.addr("grpcish");
    let calls = (0..200).map(|i| async move {
        let req = Request::get(format!("http://grpcish/call/{i}")).body(full("")).expect("req");
        let resp = send_http2(addr, req).await.expect("resp");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        assert_eq!(body, format!("/call/{i}").as_bytes());
    });
    tokio::time::timeout(LIMIT, futures_util::future::join_all(calls)).await.expect("in time");
    let n = conns.load(Ordering::Relaxed);
    assert!((1..=4).contains(&n), "200 concurrent requests opened {n} upstream connections");
}

/// A body that makes its bytes as they are asked for, counting them.
struct Counted {
    made: Arc<AtomicU64>,
    left: u64,
}

impl http_body::Body for Counted {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(16 * 1024);
        self.left -= n;
        self.made.fetch_add(n, Ordering::Relaxed);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n as usize])))))
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_the_upstream_back_within_the_flow_control_windows() {
    const SIZE: u64 = 256 * 1024 * 1024;
    let made = Arc::new(AtomicU64::new(0));
    let counter = made.clone();
    let (upstream, _) = h2c_upstream(move |_req: Request<Incoming>| {
        let made = counter.clone();
        async move { Response::new(Counted { made, left: SIZE }.map_err(|never| match never {}).boxed()) }
    })
    .await;
    let proxy = support::start(&h2_target(upstream)).await;
    let req = Request::get("http://grpcish/big").body(full("")).expect("req");
    let resp =
        tokio::time::timeout(LIMIT, send_http2(proxy.addr("grpcish"), req)).await.expect("in time").expect("resp");
    let mut body = resp.into_body();
    // Read a little, then nothing for a while: the upstream must stop.
    let first = body.frame().await.expect("a frame").expect("ok");
    assert!(first.is_data());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stalled = made.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(made.load(Ordering::Relaxed), stalled, "the upstream kept making bytes nobody read");
    // The client's window (64 KiB), brownout's stream window toward the
    // upstream (2 MiB) and the send buffers between them: far below the body.
    assert!(stalled < 8 * 1024 * 1024, "{stalled} bytes were made while the client read nothing");
    // Then it all arrives.
    let mut got = first.into_data().expect("data").len() as u64;
    let read = async {
        while let Some(frame) = body.frame().await {
            got += frame.expect("frame").into_data().map_or(0, |d| d.len() as u64);
        }
    };
    tokio::time::timeout(LIMIT, read).await.expect("the rest in time");
    assert_eq!(got, SIZE);
}

/// An `https` upstream for `localhost` offering `alpn`, answering with the
/// HTTP version the request came in.
async fn tls_upstream(alpn: &[&[u8]]) -> (SocketAddr, std::path::PathBuf) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("brownout-h2-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (ca, cert, key) = crate::https_listener::issue_files(&dir, "localhost");
    let identity = brownout::tls::server::read_identity(&cert, &key).expect("identity");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(identity.0.cert.clone(), rustls::pki_types::PrivateKeyDer::from_pem_file(&key).expect("key"))
        .expect("config");
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else { return };
                let svc = service_fn(|req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(Response::new(full(format!("{:?}", req.version()))))
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
            });
        }
    });
    (addr, ca)
}

use rustls::pki_types::pem::PemObject;

#[tokio::test]
async fn an_https_upstream_is_reached_over_http2_by_alpn_unless_told_otherwise() {
    let cases: [(&[&[u8]], &str, &str); 4] = [
        (&[b"h2", b"http/1.1"], "", "HTTP/2.0"),
        (&[b"http/1.1"], "", "HTTP/1.1"),
        (&[b"h2", b"http/1.1"], "upstream_version = \"http1\"", "HTTP/1.1"),
        (&[b"h2", b"http/1.1"], "upstream_version = \"http2\"", "HTTP/2.0"),
    ];
    for (alpn, version, want) in cases {
        let (addr, ca) = tls_upstream(alpn).await;
        let config = format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"secure\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"https://localhost:{}\"\nca_file = {:?}\n{version}\n",
            addr.port(),
            ca.display().to_string()
        );
        let proxy = support::start(&config).await;
        for _ in 0..3 {
            let (status, body) = crate::support::client::get(proxy.addr("secure"), "/").await;
            assert_eq!((status, body.as_str()), (200, want), "upstream offering {alpn:?} with {version:?}");
        }
    }
}
