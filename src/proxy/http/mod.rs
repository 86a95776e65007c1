//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) from clients,
//! or either over TLS by ALPN (`secure`), each request put through the
//! target's faults and forwarded to the upstream over a pooled connection.
//! HTTP/1.1 requests, in the clear or over TLS, take `fast`, which decides their
//! faults first (`decision`) and relays those no fault acts on as bytes; a
//! connection goes to hyper at its first request that is not plain, for
//! good.

mod body;
mod conn;
mod decision;
mod dial;
mod fast;
mod forward;
mod grpc;
mod header_faults;
pub mod headers;
mod idle;
mod inject;
mod multiplex;
mod pool;
mod recorded;
mod secure;
mod streams;
mod trace;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body_util::combinators::BoxBody;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};
use tokio_util::task::TaskTracker;
use tracing::debug;

pub use body::Truncated;
use conn::{Asked, ClientConn, Control};
pub use forward::{plain_response, Failure, Forwarder};
pub use header_faults::HeaderGate;
use headers::Peer;
pub use inject::{Around, Injected, Injector};
pub use pool::SetupError;
pub use recorded::Outcome;

use super::reset::{ResetHandle, ResettableStream};
use super::{ConnGauge, Gate, Open};
use crate::config::ClientLimits;
use crate::record::fields;
pub use secure::acceptor;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response brownout sends: the upstream's, streamed, or
/// one of its own.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// Accepts connections on `listener` until `shutdown`, then lets the open
/// connections finish their requests. Connection tasks go on `tracker`.
/// While an outage refuses connections, the listener is closed.
pub async fn serve(
    listener: TcpListener,
    injector: Injector,
    tls: Option<tokio_rustls::TlsAcceptor>,
    gauge: ConnGauge,
    limits: ClientLimits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut gate = Gate::new(listener, injector.switch().clone(), injector.name(), gauge, limits.max_connections);
    while let Some((stream, peer, open)) = gate.accept(&shutdown).await {
        // Spawned as is: wrapped in an `async move` block, the (large)
        // connection future would be stored twice, captured and then awaited.
        match &tls {
            Some(tls) => {
                tracker.spawn(secure::connection(stream, peer, tls.clone(), injector.clone(), shutdown.clone(), open))
            }
            None => tracker.spawn(connection(stream, peer, injector.clone(), shutdown.clone(), open)),
        };
    }
}

/// The preface an HTTP/2 client with prior knowledge opens with.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// One client connection, counted open while `_open` lives: HTTP/2 when it
/// opens with the HTTP/2 preface, else HTTP/1.1: the plain pass-through
/// first, then hyper with upgrades. The first bytes are peeked, not read, so
/// hyper's read buffer keeps its initial 8 KiB (reading them first, as
/// hyper-util's auto builder does, grows it to 16 KiB for the connection's
/// life).
async fn connection(stream: TcpStream, peer: SocketAddr, injector: Injector, shutdown: CancellationToken, _open: Open) {
    let _ = stream.set_nodelay(true);
    let limits = *injector.limits();
    let h2 = tokio::select! {
        h2 = speaks_h2(&stream) => h2,
        () = shutdown.cancelled() => return,
        // A client that sends no request head (nor preface) in time is closed.
        () = until(limits.header_timeout.map(|t| tokio::time::Instant::now() + t)) => return,
    };
    let Ok(h2) = h2 else { return };
    let (mut stream, reset) = ResettableStream::new(stream);
    let peer = Peer::new(peer);
    let prefix = if h2 {
        BytesMut::new()
    } else {
        match fast::serve(&mut stream, BytesMut::new(), &reset, &injector, &peer, &shutdown).await {
            fast::Exit::Done => return,
            fast::Exit::ToHyper(prefix) => prefix,
        }
    };
    serve_hyper(fast::Prefixed::new(prefix, stream), h2, peer, &injector, reset, &shutdown).await;
}

/// Serves a client connection with hyper, HTTP/2 or HTTP/1.1 with upgrades,
/// until it ends or, after `shutdown`, has drained.
async fn serve_hyper<I>(
    io: I,
    h2: bool,
    peer: Peer,
    injector: &Injector,
    reset: ResetHandle,
    shutdown: &CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let addr = peer.addr;
    let (conn, control) = ClientConn::new(reset, h2);
    let service = service(injector.clone(), peer, conn);
    let io = TokioIo::new(io);
    let target = injector.name();
    if h2 {
        let streams = streams::InConnection::default();
        let conn =
            streams::WithStreams::new(http2::Builder::new(streams.clone()).serve_connection(io, service), &streams);
        let graceful = |conn: Pin<&mut streams::WithStreams<http2::Connection<_, _, _>, _>>| {
            if let Some(conn) = conn.conn() {
                conn.graceful_shutdown();
            }
        };
        // Boxed: HTTP/2 connections are few, and the task is sized for HTTP/1.1.
        let served = Box::pin(Served::new(conn, graceful, shutdown, control, target, addr));
        served.await;
    } else {
        let limits = injector.limits();
        let mut builder = http1::Builder::new();
        // hyper's head timer runs from the end of one exchange to the next
        // head, so it is the idle timeout too: the longer of the two bounds
        // both (a head on this path can take up to the idle timeout). With
        // no idle timeout, idle connections stay and so no head timer runs.
        if let Some(timeout) = limits.idle_timeout.map(|idle| limits.header_timeout.map_or(idle, |h| h.max(idle))) {
            builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(timeout);
        }
        let conn = builder.serve_connection(io, service).with_upgrades();
        Served::new(conn, http1::UpgradeableConnection::graceful_shutdown, shutdown, control, target, addr).await;
    }
}

/// Completes at `deadline`, or never without one.
pub(super) async fn until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Whether the client opens with the HTTP/2 preface. Bytes that stop
/// matching it, or the end of the stream, mean HTTP/1.1; a preface that
/// arrives in pieces is peeked again until whole (for at most ten seconds).
async fn speaks_h2(stream: &TcpStream) -> std::io::Result<bool> {
    let mut seen = [0u8; H2_PREFACE.len()];
    for _ in 0..1000 {
        let n = stream.peek(&mut seen).await?;
        if n == 0 || !H2_PREFACE.starts_with(&seen[..n]) {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(false)
}

/// What every request of one client connection shares.
struct Client {
    injector: Injector,
    peer: Peer,
    conn: ClientConn,
}

/// A request being handled: the response, or how a fault ended it.
type Handling = Pin<Box<dyn Future<Output = Result<hyper::Response<ProxyBody>, Injected>> + Send>>;

/// The service for one connection: each request through the injector, and
/// recorded when a recorder listens.
fn service(
    injector: Injector,
    peer: Peer,
    conn: ClientConn,
) -> impl hyper::service::Service<
    hyper::Request<hyper::body::Incoming>,
    Response = hyper::Response<ProxyBody>,
    Error = Injected,
    Future = Handling,
> {
    let client = Arc::new(Client { injector, peer, conn });
    service_fn(move |req| {
        let client = client.clone();
        // Boxed per request: hyper keeps a slot for the service's future
        // for the connection's life, so an unboxed (several KiB) future
        // would cost every idle connection that much.
        let handling: Handling = Box::pin(async move {
            let Client { injector, peer, conn } = &*client;
            let mut req = req;
            let recording = recorded::enabled();
            let span = trace::span_for(req.headers_mut(), injector.forwarder().upstream().trace_context, recording);
            if !recording {
                let handled = injector.handle(req, Around { peer, conn, note: None });
                return handled.await;
            }
            // Boxed apart: the record's state would make every request's
            // future larger, recorded or not.
            let handled = Box::pin(handle_recorded(injector, peer, conn, req, span));
            handled.await
        });
        handling
    })
}

/// Handles `req` and records it, as abandoned if the client gives up before
/// the answer.
async fn handle_recorded(
    injector: &Injector,
    peer: &Peer,
    conn: &ClientConn,
    req: hyper::Request<hyper::body::Incoming>,
    span: Option<crate::trace_context::SpanIds>,
) -> Result<hyper::Response<ProxyBody>, Injected> {
    let started =
        recorded::Started::new(injector.listener(), injector.in_flight(), injector.rules(), &req).with_trace(span);
    let events = started.fault_events.clone();
    let mut pending = recorded::Pending::new(started);
    let around = Around { peer, conn, note: Some(pending.note()) };
    let handled = recorded::FaultEvents::scope(events, injector.handle(req, around)).await;
    let started = pending.take();
    match handled {
        Ok(resp) => Ok(started.response(resp)),
        Err(e) => {
            let error = match &e {
                Injected::Reset(_) | Injected::ResetStream { .. } => "reset",
                Injected::Closed(_) => "closed",
            };
            started.no_response(error, fields::ORIGIN_INJECTED, Some(e.fault()));
            Err(e)
        }
    }
}

pin_project_lite::pin_project! {
    /// A client connection's hyper future, asked to finish gracefully (its
    /// request in flight answered, then closed) once `shutdown` fires, and
    /// logging how it failed.
    struct Served<'a, F> {
        #[pin]
        conn: F,
        graceful: fn(Pin<&mut F>),
        // What the connection's requests ask of it (drain, abort).
        control: Arc<Control>,
        #[pin]
        shutdown: WaitForCancellationFuture<'a>,
        token: &'a CancellationToken,
        // Whether `shutdown` has been polled (and so will wake the task).
        watching: bool,
        draining: bool,
        target: &'a str,
        peer: SocketAddr,
    }
}

impl<'a, F> Served<'a, F> {
    fn new(
        conn: F,
        graceful: fn(Pin<&mut F>),
        shutdown: &'a CancellationToken,
        control: Arc<Control>,
        target: &'a str,
        peer: SocketAddr,
    ) -> Self {
        Served {
            conn,
            graceful,
            control,
            shutdown: shutdown.cancelled(),
            token: shutdown,
            watching: false,
            draining: false,
            target,
            peer,
        }
    }
}

impl<F> Future for Served<'_, F>
where
    F: Future<Output = Result<(), hyper::Error>>,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        // The shutdown future is polled once, to be woken by it, and again
        // only once the token is cancelled: every poll of it takes the
        // token's lock, which all connections share.
        let check = !*this.watching || this.token.is_cancelled();
        if !*this.draining && check {
            *this.watching = true;
            if this.shutdown.poll(cx).is_ready() {
                *this.draining = true;
                (this.graceful)(this.conn.as_mut());
            }
        }
        match this.control.poll(cx) {
            Asked::Nothing => {}
            Asked::Drain if !*this.draining => {
                *this.draining = true;
                (this.graceful)(this.conn.as_mut());
            }
            Asked::Drain => {}
            // Dropping the connection drops its socket, armed to reset.
            Asked::Abort => return Poll::Ready(()),
        }
        if let Err(e) = ready!(this.conn.poll(cx)) {
            debug!({ fields::TARGET } = %this.target, { fields::PEER } = %this.peer, error = %e, "connection ended with an error");
        }
        Poll::Ready(())
    }
}

/// Serves a listener that injects nothing and classifies what users get
/// (the observer).
pub fn observer(forwarder: Forwarder, rules: crate::record::classify::GracefulRules) -> Injector {
    let switch = std::sync::Arc::new(crate::fault::FaultSwitch::new(forwarder.name(), 0, Vec::new()));
    Injector::new(switch, forwarder).with_rules(rules)
}
