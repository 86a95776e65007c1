//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) from clients,
//! each request forwarded to the upstream over a pooled connection.

mod forward;
pub mod headers;

use std::convert::Infallible;

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

pub use forward::{plain_response, Failure, Forwarder};

use crate::record::fields;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of every response brownout sends: the upstream's, streamed, or
/// one of its own.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// Accepts connections on `listener` until `shutdown`, then lets the open
/// connections finish their requests. Connection tasks go on `tracker`.
pub async fn serve(
    listener: TcpListener,
    forwarder: Forwarder,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    super::accept_failed(forwarder.name(), &e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            debug!(error = %e, "set_nodelay failed");
        }
        let for_conn = forwarder.clone();
        let service = service_fn(move |req| {
            let forwarder = for_conn.clone();
            async move { Ok::<_, Infallible>(forwarder.forward(req, peer).await) }
        });
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        let name = forwarder.name().to_string();
        tracker.spawn(async move {
            if let Err(e) = conn.await {
                debug!({ fields::TARGET } = %name, { fields::PEER } = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
