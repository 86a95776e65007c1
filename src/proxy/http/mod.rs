//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) from clients,
//! each request put through the target's faults and forwarded to the
//! upstream over a pooled connection.

mod body;
mod forward;
pub mod headers;
mod inject;
mod pool;
mod recorded;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::debug;

pub use body::Truncated;
pub use forward::{plain_response, Failure, Forwarder};
pub use inject::{Injected, Injector};
pub use recorded::Outcome;

use super::reset::ResettableStream;
use super::{ConnGauge, Gate, Open};
use crate::record::fields;

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
    gauge: ConnGauge,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut gate = Gate::new(listener, injector.switch().clone(), injector.name(), gauge);
    while let Some((stream, peer, open)) = gate.accept(&shutdown).await {
        let _ = stream.set_nodelay(true);
        let (stream, reset) = ResettableStream::new(stream);
        let for_conn = injector.clone();
        let service = service_fn(move |req| {
            let injector = for_conn.clone();
            let reset = reset.clone();
            // Boxed per request: hyper keeps a slot for the service's future
            // for the connection's life, so an unboxed (several KiB) future
            // would cost every idle connection that much.
            Box::pin(async move {
                if !recorded::enabled() {
                    return injector.handle(req, peer, &reset).await;
                }
                let started = recorded::Started::new(injector.listener(), injector.rules(), &req);
                match injector.handle(req, peer, &reset).await {
                    Ok(resp) => Ok(started.response(resp)),
                    Err(e) => {
                        let error = match &e {
                            Injected::Reset(_) => "reset",
                            Injected::Closed(_) => "closed",
                        };
                        started.no_response(error, fields::ORIGIN_INJECTED, Some(e.fault()));
                        Err(e)
                    }
                }
            })
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tracker.spawn(Served { conn, _open: open, target: injector.name().to_string(), peer });
    }
    drop(gate);
    graceful.shutdown().await;
}

pin_project_lite::pin_project! {
    /// A client connection's future, counted open while it runs, logging how
    /// it failed. A struct, not an `async move` block: the block would store
    /// the (large) connection future twice, captured and then awaited.
    struct Served<F> {
        #[pin]
        conn: F,
        _open: Open,
        target: String,
        peer: SocketAddr,
    }
}

impl<F, E> Future for Served<F>
where
    F: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
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
