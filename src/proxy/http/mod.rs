//! The HTTP listener: HTTP/1.1 and HTTP/2 (prior knowledge) from clients,
//! each request put through the target's faults and forwarded to the
//! upstream over a pooled connection.

mod body;
mod forward;
pub mod headers;
mod inject;
mod pool;
mod recorded;

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
use super::{ConnGauge, Gate};
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
            async move {
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
            }
        });
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        let name = injector.name().to_string();
        tracker.spawn(async move {
            let _open = open;
            if let Err(e) = conn.await {
                debug!({ fields::TARGET } = %name, { fields::PEER } = %peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(gate);
    graceful.shutdown().await;
}

/// Serves a listener that injects nothing and classifies what users get
/// (the observer).
pub fn observer(forwarder: Forwarder, rules: crate::record::classify::GracefulRules) -> Injector {
    let switch = std::sync::Arc::new(crate::fault::FaultSwitch::new(forwarder.name(), 0, Vec::new()));
    Injector::new(switch, forwarder).with_rules(rules)
}
