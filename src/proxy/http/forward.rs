//! Forwarding one request to the upstream over a pooled connection, and
//! mapping what went wrong on the way to a 502 or 504.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tracing::{debug, warn};

use super::fast::RawPool;
use super::headers::{self, Peer};
use super::multiplex::WantsTrailers;
use super::pool::{Pool, PoolError, PooledBody, SetupError};
use super::ProxyBody;
use crate::config::{HostHeader, HttpUpstream, UpstreamVersion};
use crate::proxy::reset::ResetHandle;
use crate::record::fields;

/// A request body on its way upstream: streamed from a hyper connection,
/// or whole, as the plain path read it.
pub type RequestBody = http_body_util::Either<Incoming, Full<Bytes>>;

/// Sends requests of one listener to its upstream. Cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    upstream: HttpUpstream,
    /// Connections of the plain pass-through; `None` for `https`.
    raw: Option<Arc<RawPool>>,
    /// The `Host` of a request to the upstream when `host = "upstream"`.
    upstream_host: Option<HeaderValue>,
    pool: Arc<Pool>,
}

/// Why a forward failed, with the origin that a report attributes it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The upstream could not be reached: refused, unreachable, connect timeout.
    Unreachable,
    /// The upstream did not answer within the request timeout.
    TimedOut,
    /// The upstream connection broke after it was made.
    Broken,
}

impl Failure {
    /// How a record names it.
    pub fn kind(self) -> &'static str {
        match self {
            Failure::Unreachable => "unreachable",
            Failure::TimedOut => "timeout",
            Failure::Broken => "broken",
        }
    }
}

impl Forwarder {
    pub fn new(name: &str, upstream: &HttpUpstream) -> Result<Self, SetupError> {
        let pool = Pool::new(name, upstream)?;
        let upstream_host = HeaderValue::from_str(upstream.authority.as_str()).ok();
        Ok(Forwarder {
            inner: Arc::new(Inner {
                name: name.to_string(),
                upstream: upstream.clone(),
                // The plain pass-through speaks HTTP/1.1 in the clear only.
                raw: (upstream.scheme == Scheme::HTTP && upstream.version != UpstreamVersion::Http2).then(Arc::default),
                upstream_host,
                pool,
            }),
        })
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn upstream(&self) -> &HttpUpstream {
        &self.inner.upstream
    }

    /// The plain pass-through's connections, for a plain `http` upstream.
    pub(super) fn raw_pool(&self) -> Option<&Arc<RawPool>> {
        self.inner.raw.as_ref()
    }

    /// Forwards `req` from `client` and returns the upstream's response, or a
    /// 502/504 of brownout's own when the upstream failed. An HTTP/1 client's
    /// connection is reset (`conn` armed) when the upstream breaks off the
    /// body, so that a cut body never looks whole.
    pub async fn forward(
        &self,
        mut req: Request<RequestBody>,
        client: &Peer,
        conn: &ResetHandle,
    ) -> Response<ProxyBody> {
        let reset_on_break = (req.version() <= Version::HTTP_11).then(|| conn.clone());
        let upgrade = req.version() == Version::HTTP_11 && headers::is_upgrade(req.headers());
        let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let grpc = crate::grpc::is_grpc(req.headers());
        // A request whose body is whole goes over the plain path's
        // connections, as bytes, in this task.
        let raw = self.inner.raw.as_ref().filter(|_| !upgrade);
        if let Some((raw, body)) = raw.and_then(|raw| Some((raw, super::fast::whole_body(&req)?))) {
            return match super::fast::bridge(self, raw, req, body, client, reset_on_break).await {
                Ok(resp) => resp.map(BodyExt::boxed),
                Err((failure, why)) => self.failure(failure, &why, grpc),
            };
        }
        self.prepare(&mut req, client, upgrade);
        let this = &self.inner;
        let sent = tokio::time::timeout(this.upstream.request_timeout, this.pool.send(req)).await;
        let mut resp = match sent {
            Ok(Ok(resp)) => resp,
            Ok(Err(e @ PoolError::Connect(_))) => return self.failure(Failure::Unreachable, &e, grpc),
            Ok(Err(e @ (PoolError::Send(_) | PoolError::Closed))) => return self.failure(Failure::Broken, &e, grpc),
            Err(_) => {
                let waited = format!("no answer within {:?}", this.upstream.request_timeout);
                return self.failure(Failure::TimedOut, &waited, grpc);
            }
        };
        let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
        match client_upgrade {
            Some(client_upgrade) if switching => {
                let upstream_upgrade = hyper::upgrade::on(&mut resp);
                tokio::spawn(tunnel(client_upgrade, upstream_upgrade, this.name.clone()));
            }
            _ => {}
        }
        headers::remove_hop_by_hop(resp.headers_mut(), upgrade && switching);
        resp.map(|body| UpstreamBody { inner: body, reset_on_break }.boxed())
    }

    /// Rewrites a client's request into the upstream's: origin-form URI
    /// (under the upstream's base path), HTTP/1.1, hop-by-hop fields out,
    /// forwarding fields in.
    fn prepare(&self, req: &mut Request<RequestBody>, client: &Peer, upgrade: bool) {
        let this = &self.inner;
        let up = &this.upstream;
        let original_host = req
            .headers()
            .get(header::HOST)
            .cloned()
            .or_else(|| req.uri().authority().and_then(|a| HeaderValue::from_str(a.as_str()).ok()));
        let path = req.uri().path_and_query().map_or("/", PathAndQuery::as_str);
        if !up.base_path.is_empty() || req.uri().authority().is_some() || req.uri().path_and_query().is_none() {
            let path_and_query =
                if up.base_path.is_empty() { path.to_string() } else { format!("{}{}", up.base_path, path) };
            match Uri::builder().path_and_query(path_and_query).build() {
                Ok(uri) => *req.uri_mut() = uri,
                // The path comes from a valid URI, so a failure here would be
                // a bug; the request then goes with its URI as it was.
                Err(e) => warn!(error = %e, "could not build the upstream uri"),
            }
        }
        *req.version_mut() = Version::HTTP_11;
        let wants_trailers = req
            .headers()
            .get_all(header::TE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("trailers")));
        if wants_trailers {
            // Taken out with the hop-by-hop fields below; an HTTP/2 upstream gets it back.
            req.extensions_mut().insert(WantsTrailers);
        }
        let h = req.headers_mut();
        headers::remove_hop_by_hop(h, upgrade);
        headers::add_forwarded(h, client, original_host.as_ref());
        let host = match &up.host {
            HostHeader::Upstream => this.upstream_host.clone(),
            HostHeader::Keep => original_host,
            HostHeader::Fixed(v) => Some(v.clone()),
        };
        if let Some(host) = host {
            h.insert(header::HOST, host);
        }
    }

    /// brownout's answer for an upstream failure: a 502 or 504, or for a
    /// gRPC call `UNAVAILABLE` (gRPC's reading of both).
    fn failure(&self, failure: Failure, why: &dyn fmt::Display, grpc: bool) -> Response<ProxyBody> {
        let (status, text) = self.failure_text(failure, why);
        let mut resp = if grpc { super::grpc::unavailable(&text) } else { plain_response(status, text) };
        resp.extensions_mut().insert(super::Outcome {
            faults: None,
            origin: Some(fields::ORIGIN_UPSTREAM),
            error: Some(failure.kind()),
        });
        resp
    }

    /// The status and text of brownout's answer for an upstream failure,
    /// logged.
    pub(super) fn failure_text(&self, failure: Failure, why: &dyn fmt::Display) -> (StatusCode, String) {
        let this = &self.inner;
        let upstream = this.upstream.display();
        let (status, text) = match failure {
            Failure::Unreachable => (
                StatusCode::BAD_GATEWAY,
                format!("brownout could not reach upstream {} at {upstream}: {why}\n", this.name),
            ),
            Failure::Broken => {
                (StatusCode::BAD_GATEWAY, format!("brownout lost upstream {} at {upstream}: {why}\n", this.name))
            }
            Failure::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                format!("brownout gave up on upstream {} at {upstream}: {why}\n", this.name),
            ),
        };
        warn!(
            { fields::TARGET } = %this.name,
            { fields::ORIGIN } = fields::ORIGIN_UPSTREAM,
            { fields::ERROR_KIND } = ?failure,
            { fields::HTTP_STATUS } = status.as_u16(),
            "upstream failed: {why}"
        );
        (status, text)
    }
}

/// A short plain-text response of brownout's own.
pub fn plain_response(status: StatusCode, text: String) -> Response<ProxyBody> {
    let mut resp = Response::new(Full::new(Bytes::from(text)).map_err(|never| match never {}).boxed());
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}

/// Copies bytes both ways between the two halves of a switched protocol.
async fn tunnel(client: hyper::upgrade::OnUpgrade, upstream: hyper::upgrade::OnUpgrade, name: String) {
    let (client, upstream) = match tokio::try_join!(client, upstream) {
        Ok(pair) => pair,
        Err(e) => {
            debug!({ fields::TARGET } = %name, error = %e, "upgrade did not complete");
            return;
        }
    };
    let mut client = TokioIo::new(client);
    let mut upstream = TokioIo::new(upstream);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        debug!({ fields::TARGET } = %name, error = %e, "upgraded connection ended");
    }
}

pin_project_lite::pin_project! {
    /// The upstream's response body, arming the client connection's reset
    /// when it breaks off.
    struct UpstreamBody {
        #[pin]
        inner: PooledBody,
        reset_on_break: Option<ResetHandle>,
    }
}

impl http_body::Body for UpstreamBody {
    type Data = Bytes;
    type Error = super::BoxError;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        match std::task::ready!(this.inner.poll_frame(cx)) {
            Some(Err(e)) => {
                if let Some(conn) = this.reset_on_break {
                    conn.arm();
                }
                std::task::Poll::Ready(Some(Err(e.into())))
            }
            other => std::task::Poll::Ready(other.map(|frame| frame.map_err(Into::into))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
