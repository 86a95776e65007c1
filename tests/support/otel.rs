//! The OpenTelemetry Python packages as real peers: an instrumented shop
//! (the SDK with `opentelemetry-instrumentation-wsgi` and `-requests`) and
//! a decoder of OTLP exports (`opentelemetry-proto`), in `tests/otel/`, run
//! from the virtual environment `.ci/run` makes (`target/otel-venv`, or
//! `$BROWNOUT_OTEL_PYTHON`). An OTLP/HTTP receiver in the test keeps what
//! it is sent.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::upstream::{self, full};

/// The Python with the OpenTelemetry packages, or `None` (with the reason
/// printed) when it is missing; under `CI=true` a missing one fails the test.
pub fn python() -> Option<PathBuf> {
    let python = std::env::var_os("BROWNOUT_OTEL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/otel-venv/bin/python"));
    let check = "import opentelemetry.sdk, opentelemetry.instrumentation.requests, \
                 opentelemetry.instrumentation.wsgi, opentelemetry.proto, requests";
    let works = Command::new(&python).args(["-c", check]).output().is_ok_and(|o| o.status.success());
    if works {
        return Some(python);
    }
    let why = format!(
        "{} with the OpenTelemetry packages is missing (.ci/run makes it: python3 -m venv target/otel-venv && \
         target/otel-venv/bin/pip install opentelemetry-sdk opentelemetry-instrumentation-wsgi \
         opentelemetry-instrumentation-requests opentelemetry-proto requests)",
        python.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
    eprintln!("skipped: {why}");
    None
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel").join(name)
}

/// The instrumented shop, stopped when dropped (its stdin closes, then it is killed).
pub struct Shop {
    child: Child,
    _stdin: ChildStdin,
    pub addr: SocketAddr,
}

impl Shop {
    /// Starts `tests/otel/app.py`, calling payments and inventory at these addresses.
    pub fn start(python: &Path, payments: SocketAddr, inventory: SocketAddr) -> Shop {
        let mut child = Command::new(python)
            .arg(script("app.py"))
            .env("PAYMENTS_URL", format!("http://{payments}"))
            .env("INVENTORY_URL", format!("http://{inventory}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start app.py");
        let stdin = child.stdin.take().expect("stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read port");
        let port: u16 =
            line.trim().strip_prefix("port ").and_then(|p| p.parse().ok()).expect("app.py printed its port");
        Shop { child, _stdin: stdin, addr: SocketAddr::from(([127, 0, 0, 1], port)) }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An OTLP/HTTP receiver: keeps the body of every POST to `/v1/traces`
/// with the headers it came with, and answers 200 (what a collector says
/// when it took everything). It serves from a thread of its own, so that a
/// test may block its own thread (ending a recorder, finishing the
/// exporter) while the exporter is still sending to it.
#[derive(Clone, Default)]
pub struct Receiver {
    pub exports: Arc<Mutex<Vec<(http::HeaderMap, Bytes)>>>,
}

impl Receiver {
    pub async fn start() -> (SocketAddr, Receiver) {
        Receiver::start_refusing(0).await
    }

    /// A receiver that answers the first `refuse` exports 503 (a collector
    /// that is overloaded or restarting), keeping none of them.
    pub async fn start_refusing(refuse: usize) -> (SocketAddr, Receiver) {
        let receiver = Receiver::default();
        let kept = receiver.exports.clone();
        let refused = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let addr = upstream::http(move |req: Request<Incoming>| {
                    let kept = kept.clone();
                    let refused = refused.clone();
                    async move {
                        if req.method() != http::Method::POST || req.uri().path() != "/v1/traces" {
                            let mut resp = Response::new(full("not found"));
                            *resp.status_mut() = http::StatusCode::NOT_FOUND;
                            return resp;
                        }
                        let headers = req.headers().clone();
                        let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        if refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < refuse {
                            let mut resp = Response::new(full("overloaded"));
                            *resp.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                            return resp;
                        }
                        kept.lock().unwrap().push((headers, body));
                        Response::builder()
                            .header("content-type", "application/x-protobuf")
                            .body(full(""))
                            .expect("200")
                    }
                })
                .await;
                let _ = tx.send(addr);
                // Serves until the test process ends.
                std::future::pending::<()>().await;
            });
        });
        let addr = tokio::time::timeout(super::LIMIT, rx).await.expect("receiver in time").expect("receiver bound");
        (addr, receiver)
    }

    /// Every span received, decoded by `opentelemetry-proto`.
    pub fn spans(&self, python: &Path) -> Vec<serde_json::Value> {
        let dir = std::env::temp_dir().join(format!("brownout-otlp-{}-{:p}", std::process::id(), self));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut files = Vec::new();
        for (i, (_, body)) in self.exports.lock().unwrap().iter().enumerate() {
            let file = dir.join(format!("export-{i}.pb"));
            std::fs::write(&file, body).expect("write export");
            files.push(file);
        }
        let out = Command::new(python).arg(script("decode.py")).args(&files).output().expect("run decode.py");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(out.status.success(), "decode.py failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a json span"))
            .collect()
    }
}
