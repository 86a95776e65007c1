//! The admin listener: health, and the Prometheus `/metrics`.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use std::sync::Arc;

use crate::proxy::http::ProxyBody;
use crate::proxy::ConnGauge;
use crate::record::Live;

/// What the admin API reads.
#[derive(Clone, Default)]
pub struct AdminState {
    pub live: Option<Arc<Live>>,
    pub gauges: Vec<(String, ConnGauge)>,
    /// Cancels the run in progress, if this process runs one.
    pub run_stop: Option<tokio_util::sync::CancellationToken>,
}

/// Serves the admin API on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, state: AdminState, shutdown: CancellationToken, tracker: TaskTracker) {
    let builder = auto::Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    crate::proxy::accept_failed("admin", &e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(route(req, &state)) }
        });
        let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
        let conn = graceful.watch(conn);
        tracker.spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn route(req: Request<Incoming>, state: &AdminState) -> Response<ProxyBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
        (&Method::GET, "/metrics") => metrics(state),
        (&Method::POST, "/run/stop") => match &state.run_stop {
            Some(stop) if !stop.is_cancelled() => {
                stop.cancel();
                json(StatusCode::ACCEPTED, r#"{"stopping":true}"#.into())
            }
            Some(_) => json(StatusCode::CONFLICT, r#"{"error":"the run is already stopping","status":409}"#.into()),
            None => json(StatusCode::CONFLICT, r#"{"error":"no run in progress","status":409}"#.into()),
        },
        (_, path) => json(
            StatusCode::NOT_FOUND,
            format!(r#"{{"error":"no admin endpoint {} {}","status":404}}"#, req.method(), escape(path)),
        ),
    }
}

fn metrics(state: &AdminState) -> Response<ProxyBody> {
    let open: Vec<(String, i64)> =
        state.gauges.iter().map(|(name, g)| (name.clone(), g.load(std::sync::atomic::Ordering::Relaxed))).collect();
    let text = match &state.live {
        Some(live) => live.prometheus(&open),
        None => Live::default().prometheus(&open),
    };
    let mut resp = Response::new(Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed());
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

fn json(status: StatusCode, body: String) -> Response<ProxyBody> {
    let mut resp = Response::new(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

fn escape(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}
