//! A little shop for the standards and scoreboard tests: three journeys,
//! each calling one dependency through a brownout target on a port the test
//! chose, so that which dependency matters to which journey is known by
//! construction:
//!
//! - `POST /checkout` needs payments: without it the order fails, with a
//!   sentence and `Retry-After` once `graceful_checkout` is set (the fix),
//!   with a stack trace before.
//! - `GET /products/{id}` waits for recommendations (up to 2 s) and shows
//!   the product either way: slow when recommendations are slow.
//! - `POST /signup` gives the CRM 300 ms and signs the user up either way.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Users at the observer taking all three journeys, as an experiment's
/// `[load]` table.
pub const LOAD: &str = r#"[load]
target = "observer"
rate = "60/s"
requests = [
  { method = "POST", path = "/checkout" },
  { method = "GET", path = "/products/1" },
  { method = "POST", path = "/signup" },
]"#;

/// The shop's standards, as a standards.toml (the first line is line 1):
/// checkout is critical (every failure graceful), products standard, both
/// real-time (p95 within 1 s); signup has no tier.
pub const STANDARDS: &str = r#"[tier.critical]
availability = "99.9%"
graceful = "100%"

[tier.standard]
availability = "99%"

[interaction.real_time]
p95 = "1s"

[graceful]
status = [429, 503]
within = "2s"
required_headers = ["retry-after"]
body_contains = ["try again"]

[service.shop]
"POST /checkout" = { tier = "critical", interaction = "real_time" }
"GET /products/*" = { tier = "standard", interaction = "real_time" }
"#;

use http::{Request, Response};
use hyper::body::Incoming;

use super::client::send_http1;
use super::upstream::{self, full, Body};

pub struct LittleShop {
    pub addr: SocketAddr,
    /// The fix: checkout fails gracefully instead of leaking a stack trace.
    pub graceful_checkout: Arc<AtomicBool>,
    /// Where the shop calls each dependency: brownout's target listens there.
    pub payments: u16,
    pub recommendations: u16,
    pub crm: u16,
    /// The real dependencies, for the targets' upstreams.
    pub payments_api: SocketAddr,
    pub recommendations_api: SocketAddr,
    pub crm_api: SocketAddr,
}

impl LittleShop {
    /// The `[observer]` and `[[target]]`s of an experiment run on this shop.
    pub fn listeners(&self) -> String {
        format!(
            r#"
[admin]
listen = "127.0.0.1:0"
[observer]
listen = "127.0.0.1:0"
upstream = "http://{shop}"
[[target]]
name = "payments"
protocol = "http"
listen = "127.0.0.1:{payments}"
upstream = "http://{payments_api}"
[[target]]
name = "recommendations"
protocol = "http"
listen = "127.0.0.1:{recommendations}"
upstream = "http://{recommendations_api}"
[[target]]
name = "crm"
protocol = "http"
listen = "127.0.0.1:{crm}"
upstream = "http://{crm_api}"
"#,
            shop = self.addr,
            payments = self.payments,
            payments_api = self.payments_api,
            recommendations = self.recommendations,
            recommendations_api = self.recommendations_api,
            crm = self.crm,
            crm_api = self.crm_api,
        )
    }
}

fn answer(status: u16, body: &str, retry_after: bool) -> Response<Body> {
    let mut r = Response::builder().status(status);
    if retry_after {
        r = r.header("retry-after", "30");
    }
    r.body(full(body.to_string())).expect("a response")
}

/// Calls a dependency through its target; `None` when it failed or took too long.
async fn call(port: u16, path: &str, wait: Duration) -> Option<u16> {
    let to = SocketAddr::from(([127, 0, 0, 1], port));
    let req = Request::post(format!("http://{to}{path}")).body(full("")).ok()?;
    let resp = tokio::time::timeout(wait, send_http1(to, req)).await.ok()?.ok()?;
    let status = resp.status().as_u16();
    let _ = tokio::time::timeout(wait, http_body_util::BodyExt::collect(resp.into_body())).await;
    (status < 300).then_some(status)
}

/// Starts the dependencies and the shop.
pub async fn start() -> LittleShop {
    let ok = || upstream::http(|_req: Request<Incoming>| async { Response::new(full("{\"ok\": true}")) });
    let (payments_api, recommendations_api, crm_api) = (ok().await, ok().await, ok().await);
    let (payments, recommendations, crm) = (super::free_port(), super::free_port(), super::free_port());
    let graceful_checkout = Arc::new(AtomicBool::new(false));
    let graceful = graceful_checkout.clone();
    let addr = upstream::http(move |req: Request<Incoming>| {
        let graceful = graceful.load(Ordering::Relaxed);
        async move {
            let route = (req.method().as_str().to_string(), req.uri().path().to_string());
            match (route.0.as_str(), route.1.as_str()) {
                ("POST", "/checkout") => match call(payments, "/v1/charges", Duration::from_secs(2)).await {
                    Some(_) => answer(200, "Order placed.", false),
                    None if graceful => {
                        answer(503, "Payments are down for a moment; your cart is saved, please try again.", true)
                    }
                    None => answer(
                        500,
                        "Traceback (most recent call last):\n  File \"shop.py\", line 12\nPaymentsError: 503",
                        false,
                    ),
                },
                ("GET", p) if p.starts_with("/products/") => {
                    let _ = call(recommendations, "/v1/recommendations", Duration::from_secs(2)).await;
                    answer(200, "A lamp.", false)
                }
                ("POST", "/signup") => {
                    let _ = call(crm, "/v1/contacts", Duration::from_millis(300)).await;
                    answer(201, "Welcome!", false)
                }
                _ => answer(404, "No such page.", false),
            }
        }
    })
    .await;
    LittleShop { addr, graceful_checkout, payments, recommendations, crm, payments_api, recommendations_api, crm_api }
}
