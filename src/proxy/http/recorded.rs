//! Recording HTTP exchanges: a response body that, when it ends (or the
//! client walks away), emits one `request` event with what the client got.
//! At the observer it also classifies the response as ok, graceful or
//! ungraceful.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;
use tracing::Level;

use super::{BoxError, ProxyBody, Truncated};
use crate::record::classify::{classify, is_failure, GracefulRules};
use crate::record::inflight::{InFlight, Ticket};
use crate::record::{fields, redact};

/// How much of a failed observer response is kept for classification.
const CAPTURE: usize = 2048;

/// What the injector and the forwarder say about a response they produced,
/// carried in its extensions.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The faults applied to the request, comma-separated.
    pub faults: Option<String>,
    /// Where the failure came from, when brownout answered for a failure.
    pub origin: Option<&'static str>,
    /// What went wrong, when brownout answered for a failure.
    pub error: Option<&'static str>,
}

/// True when a recorder is listening; otherwise nothing is wrapped.
pub fn enabled() -> bool {
    crate::record::any_attached() && tracing::enabled!(target: fields::RECORD, Level::TRACE)
}

/// The request's side of a record, taken before it is handled.
pub struct Started {
    pub listener: Arc<str>,
    pub rules: Option<Arc<GracefulRules>>,
    pub method: Method,
    pub path: String,
    pub bytes_in: u64,
    pub at: Instant,
    /// On the listener's list of requests in flight while a guardrail watches.
    _in_flight: Option<Ticket>,
}

impl Started {
    pub fn new<B>(
        listener: &Arc<str>,
        in_flight: &Arc<InFlight>,
        rules: Option<Arc<GracefulRules>>,
        req: &http::Request<B>,
    ) -> Self {
        let bytes_in = req
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (method, path, at) = (req.method().clone(), req.uri().path().to_string(), Instant::now());
        let _in_flight = in_flight.track(method.as_str(), &path, at);
        Started { listener: listener.clone(), rules, method, path, bytes_in, at, _in_flight }
    }

    /// The record of a request on the plain pass-through, which knows no
    /// `http::Request` (and classifies nothing: observers do not take it).
    pub fn plain(listener: &Arc<str>, in_flight: &Arc<InFlight>, method: Method, path: String, bytes_in: u64) -> Self {
        let at = Instant::now();
        let _in_flight = in_flight.track(method.as_str(), &path, at);
        Started { listener: listener.clone(), rules: None, method, path, bytes_in, at, _in_flight }
    }

    /// Records an exchange of the plain pass-through: what the client got,
    /// how it failed if it did (`(error, origin)`), and the faults that
    /// delayed it.
    pub fn finished(
        self,
        status: Option<u16>,
        ttfb: Option<Duration>,
        bytes_out: u64,
        error: Option<(&'static str, &'static str)>,
        faults: Option<&str>,
    ) {
        let origin =
            error.map(|(_, o)| o).or_else(|| status.filter(|s| is_failure(*s)).map(|_| fields::ORIGIN_UPSTREAM));
        let latency = self.at.elapsed();
        let ttfb = ttfb.or(Some(latency));
        emit(&self, status, latency, ttfb, bytes_out, origin, error.map(|(e, _)| e), faults, None, None, None);
    }

    /// Records a request that got no response (reset, closed by a fault).
    pub fn no_response(self, error: &'static str, origin: &'static str, fault: Option<&str>) {
        let class = self.rules.as_ref().map(|_| "ungraceful");
        emit(&self, None, self.at.elapsed(), None, 0, Some(origin), Some(error), fault, class, None, None);
    }

    /// Wraps the response so that its end is recorded.
    pub fn response(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let ttfb = self.at.elapsed();
        let status = resp.status().as_u16();
        let outcome = resp.extensions().get::<Outcome>().cloned().unwrap_or_default();
        let observe_failure = self.rules.is_some() && (status >= 400);
        let (has_rule_header, headers) = match (&self.rules, observe_failure) {
            (Some(rules), true) => (
                rules
                    .for_route(self.method.as_str(), &self.path)
                    .headers
                    .iter()
                    .map(|h| resp.headers().contains_key(h))
                    .collect(),
                Some(header_lines(resp.headers())),
            ),
            _ => (Vec::new(), None),
        };
        resp.map(|inner| {
            let recorded = Recorded {
                inner,
                started: Some(Box::new(self)),
                status,
                ttfb,
                outcome,
                bytes_out: 0,
                ended: false,
                error: None,
                capture: observe_failure.then(Vec::new),
                has_rule_header,
                headers,
            };
            http_body_util::BodyExt::boxed(recorded)
        })
    }
}

fn header_lines(headers: &HeaderMap) -> String {
    let mut text = String::new();
    for (name, value) in headers {
        let value = if redact::is_secret_header(name) { "[redacted]" } else { value.to_str().unwrap_or("[binary]") };
        text.push_str(name.as_str());
        text.push_str(": ");
        text.push_str(value);
        text.push('\n');
    }
    text
}

struct Recorded {
    inner: ProxyBody,
    started: Option<Box<Started>>,
    status: u16,
    ttfb: Duration,
    outcome: Outcome,
    bytes_out: u64,
    ended: bool,
    error: Option<(&'static str, &'static str)>,
    capture: Option<Vec<u8>>,
    has_rule_header: Vec<bool>,
    headers: Option<String>,
}

impl Body for Recorded {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(f)) => {
                if let Some(data) = f.data_ref() {
                    this.bytes_out += data.len() as u64;
                    if let Some(buf) = &mut this.capture {
                        let room = CAPTURE.saturating_sub(buf.len());
                        buf.extend_from_slice(&data[..room.min(data.len())]);
                    }
                }
            }
            Some(Err(e)) => {
                this.error = Some(if e.is::<Truncated>() {
                    ("truncated", fields::ORIGIN_INJECTED)
                } else {
                    ("upstream_body", fields::ORIGIN_UPSTREAM)
                });
            }
            None => this.ended = true,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let Some(started) = self.started.take() else { return };
        let latency = started.at.elapsed();
        let ended = self.ended || self.inner.is_end_stream();
        let (error, origin) = match self.error {
            Some((e, o)) => (Some(e), Some(o)),
            None if !ended => (Some("client_closed"), Some(fields::ORIGIN_CLIENT)),
            None => (self.outcome.error, self.outcome.origin),
        };
        let origin = origin.or_else(|| is_failure(self.status).then_some(fields::ORIGIN_UPSTREAM));
        let body = self.capture.take().map(|b| redact::body(&String::from_utf8_lossy(&b)));
        let class = started.rules.as_ref().map(|rules| {
            let rules = rules.for_route(started.method.as_str(), &started.path);
            let status = if error.is_some() && self.error.is_some() { None } else { Some(self.status) };
            let has = |h: &http::HeaderName| {
                rules.headers.iter().position(|r| r == h).is_some_and(|i| self.has_rule_header.get(i) == Some(&true))
            };
            classify(rules, status, latency, has, body.as_deref().unwrap_or("")).as_str()
        });
        emit(
            &started,
            Some(self.status),
            latency,
            Some(self.ttfb),
            self.bytes_out,
            origin,
            error,
            self.outcome.faults.as_deref(),
            class,
            body.as_deref(),
            self.headers.as_deref(),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn emit(
    started: &Started,
    status: Option<u16>,
    latency: Duration,
    ttfb: Option<Duration>,
    bytes_out: u64,
    origin: Option<&str>,
    error: Option<&str>,
    fault: Option<&str>,
    class: Option<&str>,
    body: Option<&str>,
    headers: Option<&str>,
) {
    tracing::trace!(
        target: fields::RECORD,
        record = fields::TYPE_REQUEST,
        { fields::TARGET } = &*started.listener,
        { fields::HTTP_METHOD } = started.method.as_str(),
        { fields::HTTP_PATH } = started.path.as_str(),
        { fields::HTTP_STATUS } = status.map(u64::from),
        { fields::LATENCY_US } = latency.as_micros() as u64,
        { fields::TTFB_US } = ttfb.map(|t| t.as_micros() as u64),
        { fields::BYTES_IN } = started.bytes_in,
        { fields::BYTES_OUT } = bytes_out,
        { fields::ORIGIN } = origin,
        { fields::ERROR_KIND } = error,
        { fields::FAULT_NAME } = fault,
        { fields::GRACEFUL } = class,
        { fields::BODY } = body,
        { fields::HEADERS } = headers,
    );
}
