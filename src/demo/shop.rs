//! The demo's shop and the dependencies it calls, all in-process on
//! loopback. Some journeys degrade gracefully (a sentence, a cached
//! fallback, `Retry-After`), some do not (a leaked stack trace), so the
//! report has something to say.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn text(status: u16, body: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())).boxed());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r
}

/// Serves `handler` on loopback `port` (0: a free one) until the process ends.
async fn serve<F, Fut>(port: u16, handler: F) -> std::io::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Where the six dependencies are: the real ones (each a tiny API on its
/// own port), or brownout's targets in front of them, as the shop sees them.
#[derive(Clone)]
pub struct Dependencies {
    pub payments: SocketAddr,
    pub auth: SocketAddr,
    pub search: SocketAddr,
    pub export: SocketAddr,
    pub crm: SocketAddr,
    pub inventory: SocketAddr,
}

pub async fn dependencies() -> std::io::Result<Dependencies> {
    dependencies_on([0; 6]).await
}

/// The six dependencies on loopback ports of their own (0: a free one), in
/// the order payments, auth, search, export, crm, inventory: where
/// `config/shop.toml` expects them, for running `experiments/` against the
/// demo's shop.
pub async fn dependencies_on(ports: [u16; 6]) -> std::io::Result<Dependencies> {
    Ok(Dependencies {
        payments: serve(ports[0], |_req| async { text(200, r#"{"charge": "ch_1", "status": "succeeded"}"#) }).await?,
        auth: serve(ports[1], |_req| async { text(200, r#"{"token": "t0k3n"}"#) }).await?,
        search: serve(ports[2], |_req| async { text(200, r#"{"results": ["lamp", "desk lamp"]}"#) }).await?,
        // A 64 KiB export, so that a bandwidth cap shows.
        export: serve(ports[3], |_req| async { text(200, &"id,name,stock\n".repeat(4681)) }).await?,
        crm: serve(ports[4], |_req| async { text(201, r#"{"contact": "c_1"}"#) }).await?,
        inventory: serve(ports[5], |_req| async { text(200, r#"{"sku": 42, "stock": 7}"#) }).await?,
    })
}

struct Call {
    status: u16,
    body: Bytes,
}

async fn call(
    client: &Client<HttpConnector, Full<Bytes>>,
    method: Method,
    to: SocketAddr,
    path: &str,
    wait: Duration,
) -> Option<Call> {
    let req = Request::builder().method(method).uri(format!("http://{to}{path}")).body(Full::new(Bytes::new())).ok()?;
    let resp = tokio::time::timeout(wait, client.request(req)).await.ok()?.ok()?;
    let status = resp.status().as_u16();
    let body = tokio::time::timeout(wait, resp.into_body().collect()).await.ok()?.ok()?.to_bytes();
    Some(Call { status, body })
}

/// Starts the shop on a free port; its routes call the dependencies through `up`.
pub async fn shop(up: Dependencies) -> std::io::Result<SocketAddr> {
    shop_on(0, up).await
}

/// Starts the shop on loopback `port`.
pub async fn shop_on(port: u16, up: Dependencies) -> std::io::Result<SocketAddr> {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_timer(TokioTimer::new()).build(connector);
    let ctx = Arc::new((client, up));
    serve(port, move |req: Request<Incoming>| {
        let ctx = ctx.clone();
        async move {
            let (client, up) = &*ctx;
            let path = req.uri().path().to_string();
            match (req.method().as_str(), path.as_str()) {
                // Graceful: a sentence and Retry-After when payments fails.
                ("POST", "/checkout") => match call(client, Method::POST, up.payments, "/v1/charges", Duration::from_secs(2)).await {
                    Some(c) if c.status < 300 => text(200, "Order placed. Thank you!"),
                    _ => {
                        let mut r = text(503, "Payments are taking a short break. Your cart is saved; please try again in a minute.");
                        r.headers_mut().insert("retry-after", http::HeaderValue::from_static("60"));
                        r
                    }
                },
                // Graceful while auth is merely slow; past 800 ms it gives up politely.
                ("POST", "/login") => match call(client, Method::POST, up.auth, "/v1/token", Duration::from_millis(800)).await {
                    Some(c) if c.status < 300 => text(200, "Welcome back!"),
                    _ => {
                        let mut r = text(503, "Signing in is slow right now, please try again in a few seconds.");
                        r.headers_mut().insert("retry-after", http::HeaderValue::from_static("5"));
                        r
                    }
                },
                // Ungraceful: the database error leaks straight to the user.
                ("GET", p) if p.starts_with("/products/") => {
                    match call(client, Method::GET, up.inventory, "/v1/stock/42", Duration::from_secs(2)).await {
                        Some(c) if c.status < 300 => text(200, &String::from_utf8_lossy(&c.body)),
                        Some(c) => text(
                            500,
                            &format!(
                                "Traceback (most recent call last):\n  File \"shop/catalogue.py\", line 88, in product\n    stock = inventory.get(sku)\npsycopg2.OperationalError: inventory answered {}: connection pool exhausted",
                                c.status
                            ),
                        ),
                        None => text(500, "psycopg2.OperationalError: could not connect to server: Connection timed out"),
                    }
                }
                // Graceful: cached results when the search quota runs out.
                ("GET", "/search") => match call(client, Method::GET, up.search, "/v1/search?q=lamp", Duration::from_secs(1)).await {
                    Some(c) if c.status < 300 => text(200, &String::from_utf8_lossy(&c.body)),
                    _ => {
                        let mut r = text(200, r#"{"results": ["lamp"], "note": "showing cached results"}"#);
                        r.headers_mut().insert("x-fallback", http::HeaderValue::from_static("cache"));
                        r
                    }
                },
                // Slow when the export is throttled, but it arrives.
                ("GET", "/export") => match call(client, Method::GET, up.export, "/v1/export.csv", Duration::from_secs(30)).await {
                    Some(c) if c.status < 300 => text(200, &String::from_utf8_lossy(&c.body)),
                    _ => text(502, "Bad Gateway"),
                },
                // Graceful: sign-up succeeds and the CRM sync is queued.
                ("POST", "/signup") => match call(client, Method::POST, up.crm, "/v1/contacts", Duration::from_millis(500)).await {
                    Some(c) if c.status < 300 => text(201, "Welcome aboard!"),
                    _ => text(201, "Welcome aboard! (We will finish setting up your account shortly.)"),
                },
                _ => text(404, "No such page."),
            }
        }
    })
    .await
}
