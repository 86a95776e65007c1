//! gRPC answers of brownout's own: a status as a trailers-only response
//! (HTTP 200, `content-type: application/grpc`, `grpc-status` and
//! `grpc-message` in the head, and no body), and a call's deadline from its
//! `grpc-timeout`, which a fault's wait cannot outlive.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, Response, StatusCode};
use http_body_util::{BodyExt, Empty};
use tokio::time::Instant;

use super::ProxyBody;
use crate::grpc::{encode_message, GRPC_MESSAGE, GRPC_RETRY_PUSHBACK_MS, GRPC_STATUS};

/// What a real server says when a call's deadline passes.
pub const DEADLINE_MESSAGE: &str = "Deadline Exceeded";

/// A gRPC call as the injector sees it: when its deadline passes, if it has one.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub deadline: Option<Instant>,
}

impl Call {
    /// The call `headers` open, arrived at `now`; `None` for requests that
    /// are not gRPC.
    pub fn of(headers: &HeaderMap, now: Instant) -> Option<Call> {
        crate::grpc::is_grpc(headers).then(|| Call { deadline: crate::grpc::timeout(headers).map(|t| now + t) })
    }

    /// The deadline when a wait of `wait` from now would pass it.
    pub fn cut(&self, wait: Duration) -> Option<Instant> {
        self.deadline.filter(|d| Instant::now() + wait > *d)
    }
}

/// A trailers-only answer with status `code` and `message`, and any
/// `headers` (details such as `grpc-status-details-bin`).
pub fn status(code: u16, message: &str, headers: &[(HeaderName, HeaderValue)]) -> Response<ProxyBody> {
    let mut resp = Response::new(Empty::new().map_err(|never| match never {}).boxed());
    *resp.status_mut() = StatusCode::OK;
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    h.insert(&GRPC_STATUS, HeaderValue::from(code));
    if !message.is_empty() {
        h.insert(&GRPC_MESSAGE, encode_message(message));
    }
    for (name, value) in headers {
        h.append(name, value.clone());
    }
    resp
}

/// `RESOURCE_EXHAUSTED` for a rate limit, telling the client's retry policy
/// when a token is due.
pub fn rate_limited(wait: Duration) -> Response<ProxyBody> {
    let mut resp = status(crate::grpc::RESOURCE_EXHAUSTED, "rate limit exceeded", &[]);
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    resp.headers_mut().insert(&GRPC_RETRY_PUSHBACK_MS, HeaderValue::from(ms));
    resp
}

/// `DEADLINE_EXCEEDED`, as the server answers when the call's deadline passes.
pub fn deadline_exceeded() -> Response<ProxyBody> {
    status(crate::grpc::DEADLINE_EXCEEDED, DEADLINE_MESSAGE, &[])
}

/// The gRPC status for an HTTP failure status of brownout's own (503, 504):
/// `UNAVAILABLE`, as gRPC maps them.
pub fn unavailable(message: &str) -> Response<ProxyBody> {
    status(crate::grpc::UNAVAILABLE, message.trim_end(), &[])
}
