//! Recording HTTP exchanges: a response body that, when it ends (or the
//! client walks away), emits one `request` event with what the client got,
//! a gRPC call's `grpc-status` (from the trailers, or a trailers-only head)
//! included. At the observer it also classifies the response as ok,
//! graceful or ungraceful. A request the client abandons before its answer
//! is recorded too, with the faults that held it.

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
use crate::trace_context::SpanIds;

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
    /// brownout's span for the request, when the listener reads trace context.
    pub trace: Option<SpanIds>,
    /// The faults applied as they happen, kept while spans are exported.
    pub fault_events: Option<Arc<FaultEvents>>,
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
        Started {
            listener: listener.clone(),
            rules,
            method,
            path,
            bytes_in,
            at,
            _in_flight,
            trace: None,
            fault_events: None,
        }
    }

    /// The request's span; while spans are exported, the faults applied
    /// to it are kept for the span's events too.
    pub fn with_trace(mut self, trace: Option<SpanIds>) -> Self {
        self.trace = trace;
        if trace.is_some() && crate::record::spans_attached() {
            self.fault_events = Some(Arc::new(FaultEvents::new(self.at)));
        }
        self
    }

    /// The record of a request on the plain pass-through, which knows no
    /// `http::Request` (and classifies nothing: observers do not take it).
    pub fn plain(listener: &Arc<str>, in_flight: &Arc<InFlight>, method: Method, path: String, bytes_in: u64) -> Self {
        let at = Instant::now();
        let _in_flight = in_flight.track(method.as_str(), &path, at);
        Started {
            listener: listener.clone(),
            rules: None,
            method,
            path,
            bytes_in,
            at,
            _in_flight,
            trace: None,
            fault_events: None,
        }
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
        let answer = Answer { status, grpc: None, bytes_out };
        emit(&self, answer, latency, ttfb, origin, error.map(|(e, _)| e), faults, None, None, None);
    }

    /// Records a request that got no response (reset, closed by a fault).
    pub fn no_response(self, error: &'static str, origin: &'static str, fault: Option<&str>) {
        let class = self.rules.as_ref().map(|_| "ungraceful");
        emit(&self, Answer::NONE, self.at.elapsed(), None, Some(origin), Some(error), fault, class, None, None);
    }

    /// Wraps the response so that its end is recorded.
    pub fn response(self, resp: Response<ProxyBody>) -> Response<ProxyBody> {
        let ttfb = self.at.elapsed();
        let status = resp.status().as_u16();
        let outcome = resp.extensions().get::<Outcome>().cloned().unwrap_or_default();
        // A trailers-only answer carries its status in the head.
        let grpc = crate::grpc::status_of(resp.headers());
        let grpc_message = grpc.and_then(|_| crate::grpc::message_of(resp.headers()));
        let maybe_grpc_failure = grpc.is_some_and(|c| c != 0) || crate::grpc::is_grpc(resp.headers());
        let observe_failure = self.rules.is_some() && (status >= 400 || maybe_grpc_failure);
        let (has_rule_header, headers) = match (&self.rules, observe_failure) {
            (Some(rules), true) => (
                rules
                    .for_route(self.method.as_str(), &self.path)
                    .watched_headers()
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
                grpc,
                grpc_message,
                ttfb,
                outcome,
                bytes_out: 0,
                ended: false,
                error: None,
                capture: (observe_failure && status >= 400).then(Vec::new),
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
    /// `grpc-status` and `grpc-message`, from the head or the trailers.
    grpc: Option<u16>,
    grpc_message: Option<String>,
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
                } else if let Some(trailers) = f.trailers_ref() {
                    if let Some(code) = crate::grpc::status_of(trailers) {
                        this.grpc = Some(code);
                        this.grpc_message = crate::grpc::message_of(trailers);
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
        let grpc_failed = self.grpc.is_some_and(|c| c != 0);
        let origin = origin.or_else(|| (is_failure(self.status) || grpc_failed).then_some(fields::ORIGIN_UPSTREAM));
        // A gRPC failure's words are its grpc-message; its body is protobuf.
        let body = match &self.grpc_message {
            Some(m) if grpc_failed => Some(redact::body(m)),
            _ => self.capture.take().map(|b| redact::body(&String::from_utf8_lossy(&b))),
        };
        let class = started.rules.as_ref().map(|rules| {
            let rules = rules.for_route(started.method.as_str(), &started.path);
            let status = if error.is_some() && self.error.is_some() { None } else { Some(self.status) };
            let has = |h: &http::HeaderName| {
                rules.watched_headers().position(|r| r == h).is_some_and(|i| self.has_rule_header.get(i) == Some(&true))
            };
            classify(rules, status, self.grpc, latency, has, body.as_deref().unwrap_or("")).as_str()
        });
        // Evidence is kept of failures only (a gRPC head is looked at in case the trailers fail).
        let keep = self.status >= 400 || grpc_failed;
        let answer = Answer { status: Some(self.status), grpc: self.grpc, bytes_out: self.bytes_out };
        emit(
            &started,
            answer,
            latency,
            Some(self.ttfb),
            origin,
            error,
            self.outcome.faults.as_deref(),
            class,
            body.as_deref().filter(|_| keep),
            self.headers.as_deref().filter(|_| keep),
        );
    }
}

/// What the client got: the status, a gRPC status, the body's size.
#[derive(Debug, Clone, Copy)]
struct Answer {
    status: Option<u16>,
    grpc: Option<u16>,
    bytes_out: u64,
}

impl Answer {
    const NONE: Answer = Answer { status: None, grpc: None, bytes_out: 0 };
}

/// A request being handled, recorded as abandoned if its handling is
/// dropped before an answer (the client reset the stream or closed the
/// connection), with the faults that held it as the injector noted them.
pub struct Pending {
    started: Option<Started>,
    note: Note,
}

/// What the injector notes while it holds a request (a delay, a hang, a
/// queue): the faults applied so far, and the gRPC status the wait ends
/// in when it runs past the call's deadline.
#[derive(Debug, Default)]
pub struct Note(std::sync::Mutex<Option<Held>>);

#[derive(Debug, Clone)]
struct Held {
    faults: String,
    grpc: Option<u16>,
}

impl Note {
    /// The request is held by `faults`; past its deadline it ends as `grpc`.
    pub fn held(&self, faults: &[&str], grpc: Option<u16>) {
        let held = Held { faults: faults.join(","), grpc };
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(held);
    }

    fn take(&self) -> Option<Held> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

impl Pending {
    pub fn new(started: Started) -> Self {
        Pending { started: Some(started), note: Note::default() }
    }

    pub fn note(&self) -> &Note {
        &self.note
    }

    /// The request's record, now that the handling has an outcome.
    pub fn take(&mut self) -> Started {
        self.started.take().expect("a pending request is taken once")
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        let Some(started) = self.started.take() else { return };
        let held = self.note.take();
        let class = started.rules.as_ref().map(|_| "ungraceful");
        let (error, origin, grpc) = match &held {
            Some(Held { grpc: Some(code), .. }) => ("deadline_exceeded", fields::ORIGIN_INJECTED, Some(*code)),
            Some(_) => ("client_closed", fields::ORIGIN_INJECTED, None),
            None => ("client_closed", fields::ORIGIN_CLIENT, None),
        };
        let answer = Answer { grpc, ..Answer::NONE };
        let faults = held.as_ref().map(|h| h.faults.as_str());
        emit(&started, answer, started.at.elapsed(), None, Some(origin), Some(error), faults, class, None, None);
    }
}

#[allow(clippy::too_many_arguments)]
fn emit(
    started: &Started,
    answer: Answer,
    latency: Duration,
    ttfb: Option<Duration>,
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
        { fields::HTTP_STATUS } = answer.status.map(u64::from),
        { fields::GRPC_STATUS } = answer.grpc.map(u64::from),
        { fields::LATENCY_US } = latency.as_micros() as u64,
        { fields::TTFB_US } = ttfb.map(|t| t.as_micros() as u64),
        { fields::BYTES_IN } = started.bytes_in,
        { fields::BYTES_OUT } = answer.bytes_out,
        { fields::ORIGIN } = origin,
        { fields::ERROR_KIND } = error,
        { fields::FAULT_NAME } = fault,
        { fields::GRACEFUL } = class,
        { fields::BODY } = body,
        { fields::HEADERS } = headers,
        { fields::TRACE_ID } = started.trace.map(|t| t.trace_id),
        { fields::SPAN_ID } = started.trace.map(|t| t.span_id),
        { fields::PARENT_SPAN_ID } = started.trace.and_then(|t| t.parent_id),
        { fields::FAULT_EVENTS } = started.fault_events.as_ref().and_then(|e| e.text()).as_deref(),
    );
}

tokio::task_local! {
    /// The fault events of the request being handled, while spans are
    /// exported: the injector notes each fault it applies here, whatever
    /// path it takes.
    static FAULT_EVENTS: Arc<FaultEvents>;
}

/// The faults applied to one request, in order, as the span's events:
/// `offset_us<TAB>name<TAB>kind<TAB>what` lines (see `fields::FAULT_EVENTS`).
#[derive(Debug)]
pub struct FaultEvents {
    since: Instant,
    lines: std::sync::Mutex<String>,
}

impl FaultEvents {
    fn new(since: Instant) -> Self {
        FaultEvents { since, lines: std::sync::Mutex::new(String::new()) }
    }

    fn text(&self) -> Option<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        (!lines.is_empty()).then(|| lines.clone())
    }

    /// Handles `future` with its fault events noted here. Not an `async fn`:
    /// one would keep room for `future` twice, as its argument and as what
    /// it awaits.
    pub fn scope<F: std::future::Future>(events: Option<Arc<FaultEvents>>, future: F) -> Scoped<F> {
        match events {
            Some(events) => Scoped::Noted { future: FAULT_EVENTS.scope(events, future) },
            None => Scoped::Plain { future },
        }
    }
}

pin_project_lite::pin_project! {
    /// A future handled with its fault events noted, or as it is.
    #[project = ScopedProj]
    pub enum Scoped<F: std::future::Future> {
        Plain { #[pin] future: F },
        Noted { #[pin] future: tokio::task::futures::TaskLocalFuture<Arc<FaultEvents>, F> },
    }
}

impl<F: std::future::Future> std::future::Future for Scoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project() {
            ScopedProj::Plain { future } => future.poll(cx),
            ScopedProj::Noted { future } => future.poll(cx),
        }
    }
}

/// Notes that a fault was applied to the request being handled, if its
/// span's events are kept.
pub fn fault_applied(name: &str, kind: &str, what: &str) {
    let _ = FAULT_EVENTS.try_with(|events| {
        use std::fmt::Write;
        let offset = events.since.elapsed().as_micros();
        let mut lines = events.lines.lock().unwrap_or_else(|p| p.into_inner());
        // Names and kinds are words; what a fault did is one line of text.
        let what = what.replace(['\t', '\n'], " ");
        let _ = writeln!(lines, "{offset}\t{name}\t{kind}\t{what}");
    });
}
