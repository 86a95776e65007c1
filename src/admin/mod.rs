//! The admin listener: for now a health endpoint that says the process is up.

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

use crate::proxy::http::ProxyBody;

/// Serves the admin API on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken, tracker: TaskTracker) {
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
        let conn = builder
            .serve_connection(TokioIo::new(stream), service_fn(|req| async { Ok::<_, Infallible>(route(req)) }))
            .into_owned();
        let conn = graceful.watch(conn);
        tracker.spawn(async move {
            let _ = conn.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

fn route(req: Request<Incoming>) -> Response<ProxyBody> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/health") => json(StatusCode::OK, r#"{"status":"ok"}"#.into()),
        (_, path) => json(
            StatusCode::NOT_FOUND,
            format!(r#"{{"error":"no admin endpoint {} {}","status":404}}"#, req.method(), escape(path)),
        ),
    }
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
