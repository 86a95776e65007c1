//! The admin API: health, targets and their ad-hoc faults, the run in
//! progress, Prometheus `/metrics` and the control page at `/ui`, as JSON
//! over HTTP. Every request passes the guard first: a token when one is
//! configured, no browsers unless allowed (but the control page and its own
//! calls), bodies of at most 1 MiB. Errors are JSON bodies that say what
//! was wrong.
//!
//! `guard.rs` decides who may ask, `faults.rs` serves `/targets` and their
//! faults (added, switched off and on), `runs.rs` the runs, `toxiproxy/`
//! the Toxiproxy-compatible proxies and toxics, `ui/` the control page and
//! its sessions; this file routes and serves `/metrics`.

mod faults;
mod guard;
mod runs;
mod toxiproxy;
mod ui;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Admin, Secret};
use crate::fault::Fault;
use crate::proxy::http::ProxyBody;
use crate::proxy::{ConnGauge, TargetInfo};
use crate::record::Live;
use crate::run::Runs;

/// What the admin API reads and changes. Cheap to clone.
#[derive(Clone, Default)]
pub struct AdminState {
    pub live: Option<Arc<Live>>,
    pub gauges: Vec<(String, ConnGauge)>,
    /// The run in progress and the finished ones.
    pub runs: Arc<Runs>,
    token: Option<Secret>,
    allow_browsers: bool,
    trust: guard::Trust,
    /// Where `POST /runs {"file": ...}` may read from.
    experiments_dir: std::path::PathBuf,
    targets: Arc<Vec<TargetInfo>>,
    /// Ad-hoc faults by target, added through the API.
    adhoc: Arc<Mutex<BTreeMap<String, Vec<Fault>>>>,
    /// The faults switched off (config or ad-hoc), by target: kept, not applied.
    off: Arc<Mutex<BTreeMap<String, std::collections::BTreeSet<String>>>>,
    /// The control page's sessions and form.
    ui: Arc<ui::Ui>,
    next_id: Arc<AtomicU64>,
    /// The Toxiproxy-compatible proxies, and where to spawn their listeners.
    toxiproxy: toxiproxy::Shared,
    spawner: Option<toxiproxy::Spawner>,
}

impl AdminState {
    pub fn new(
        live: Option<Arc<Live>>,
        gauges: Vec<(String, ConnGauge)>,
        runs: Arc<Runs>,
        admin: &Admin,
        targets: Vec<TargetInfo>,
        seed: u64,
    ) -> Self {
        AdminState {
            live,
            gauges,
            runs,
            token: admin.token.clone(),
            allow_browsers: admin.allow_browsers,
            trust: guard::Trust::new(admin, admin.listen),
            experiments_dir: admin.experiments_dir.clone(),
            targets: Arc::new(targets),
            adhoc: Arc::default(),
            off: Arc::default(),
            ui: Arc::default(),
            // Ad-hoc fault ids start far above the config's, so seeds never collide.
            next_id: Arc::new(AtomicU64::new(1_000_000)),
            toxiproxy: Arc::new(Mutex::new(toxiproxy::Registry::seeded(seed))),
            spawner: None,
        }
    }
}

/// Serves the admin API on `listener` until `shutdown`.
pub async fn serve(listener: TcpListener, mut state: AdminState, shutdown: CancellationToken, tracker: TaskTracker) {
    let tokened = state.token.is_some();
    state.spawner = Some(toxiproxy::Spawner { shutdown: shutdown.clone(), tracker: tracker.clone(), tokened });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // An admin connection that sends no request head for this long is closed.
    builder.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(ADMIN_HEADER_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut reserve = Reserve::new();
    let mut failures = 0u32;
    let mut released = false;
    loop {
        // Not right after a release: the descriptor freed is for the accept.
        if !std::mem::take(&mut released) {
            reserve.refill();
        }
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    failures = 0;
                    stream
                }
                Err(e) if reserve.release() => {
                    released = true;
                    // Out of descriptors: one kept in reserve lets this
                    // connection in, so that the proxy can still be stopped.
                    tracing::warn!(error = %e, "out of file descriptors; the admin listener uses its reserve");
                    continue;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    crate::proxy::accept_failed("admin", &e, failures).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(handle(req, &state).await) }
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

/// How long an admin connection may take to send a request head, and idle
/// between requests.
const ADMIN_HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// File descriptors the admin listener holds back, so that it can accept a
/// connection when the data path has used every descriptor the process may
/// open: on `EMFILE` one is closed, and the accept tried again at once.
struct Reserve(Vec<std::fs::File>);

impl Reserve {
    const KEEP: usize = 4;

    fn new() -> Self {
        let mut r = Reserve(Vec::new());
        r.refill();
        r
    }

    /// Opens what was released, when descriptors are free again.
    fn refill(&mut self) {
        while self.0.len() < Self::KEEP {
            match std::fs::File::open("/dev/null") {
                Ok(f) => self.0.push(f),
                Err(_) => break,
            }
        }
    }

    /// Closes one reserved descriptor; false when none is left.
    fn release(&mut self) -> bool {
        self.0.pop().is_some()
    }
}

/// Why a request was refused: turned into a JSON error response.
#[derive(Debug)]
pub(crate) struct Refused(pub StatusCode, pub String);

impl Refused {
    fn into_response(self) -> Response<ProxyBody> {
        error(self.0, &self.1)
    }
}

async fn handle(req: Request<Incoming>, state: &AdminState) -> Response<ProxyBody> {
    let passed = match guard::check(&req, state) {
        Ok(passed) => passed,
        Err(refused) => return refused.into_response(),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match guard::read_body(req).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    if let Some(resp) = ui::route(&method, &parts, &query, &body, state, &passed) {
        return resp;
    }
    match (&method, parts.as_slice()) {
        (&Method::GET, ["health"]) => ok(json!({"status": "ok"})),
        (&Method::GET, ["ready"]) => ok(json!({"ready": true, "targets": state.targets.len()})),
        (&Method::GET, ["metrics"]) => metrics(state),
        (_, ["run", ..] | ["runs", ..]) => runs::route(&method, &parts, &body, state).await,
        (_, ["targets", ..]) => {
            faults::route(&method, &parts[1..], &body, state).unwrap_or_else(Refused::into_response)
        }
        _ => match toxiproxy::route(&method, &parts, &body, state).await {
            Some(resp) => resp,
            None => error(StatusCode::NOT_FOUND, &format!("no admin endpoint {method} {path}")),
        },
    }
}

fn metrics(state: &AdminState) -> Response<ProxyBody> {
    let open: Vec<(String, i64)> =
        state.gauges.iter().map(|(name, g)| (name.clone(), g.load(std::sync::atomic::Ordering::Relaxed))).collect();
    let mut text = match &state.live {
        Some(live) => live.prometheus(&open),
        None => Live::default().prometheus(&open),
    };
    header_overflow(&mut text, &state.targets);
    let mut resp = Response::new(Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed());
    resp.headers_mut()
        .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}

/// `brownout_header_faults_overflow_total`: per target that takes header
/// faults, the requests that passed without theirs at `max_active`.
fn header_overflow(text: &mut String, targets: &[TargetInfo]) {
    use std::fmt::Write;
    text.push_str("# HELP brownout_header_faults_overflow_total Requests that passed without their header faults because max_active were in progress.\n");
    text.push_str("# TYPE brownout_header_faults_overflow_total counter\n");
    for t in targets {
        if let Some(n) = &t.header_overflow {
            let n = n.load(std::sync::atomic::Ordering::Relaxed);
            // Target names are letters, digits, `-` and `_`: nothing to escape.
            let _ = writeln!(text, "brownout_header_faults_overflow_total{{target=\"{}\"}} {n}", t.name);
        }
    }
}

pub(crate) fn respond(status: StatusCode, body: serde_json::Value) -> Response<ProxyBody> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

pub(crate) fn ok(body: serde_json::Value) -> Response<ProxyBody> {
    respond(StatusCode::OK, body)
}

/// A JSON error: `{"error": "...", "status": N}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Response<ProxyBody> {
    respond(status, json!({"error": message, "status": status.as_u16()}))
}
