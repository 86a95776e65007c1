//! The HTTP/2 connections of one upstream: a few, each carrying many
//! requests at once as streams. Requests take them in turn; a connection
//! the upstream closed (or drained with GOAWAY) is replaced by the next
//! request that comes to its slot, and only one request dials per slot
//! while the others wait for it.
//!
//! Flow control is HTTP/2's own: a response body is read from the upstream
//! only as fast as the client takes it, so a slow client holds at most the
//! stream's window (2 MiB) here while the upstream waits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use http::header::{self, HeaderValue};
use http::uri::{Authority, Scheme};
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tracing::debug;

use super::forward::RequestBody;
use super::pool::{ConnectError, PoolError};
use crate::record::fields;

pub(super) type H2Sender = SendRequest<RequestBody>;

/// One slot: its live connection, and a lock only the request dialing it holds.
#[derive(Default)]
struct Slot {
    sender: Mutex<Option<H2Sender>>,
    dialing: tokio::sync::Mutex<()>,
}

/// The connections, and whose turn is next.
pub(super) struct Multiplexed {
    slots: Vec<Slot>,
    next: AtomicUsize,
}

/// Marks a request whose client asked for trailers (`TE: trailers`), the
/// one `TE` HTTP/2 forwards.
#[derive(Debug, Clone, Copy)]
pub(super) struct WantsTrailers;

impl Multiplexed {
    /// Up to one connection per core, at most four: one connection's task
    /// frames every stream on it, so a single one would keep the upstream
    /// side of a busy target on one core.
    pub(super) fn new() -> Self {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 4);
        Multiplexed { slots: (0..n).map(|_| Slot::default()).collect(), next: AtomicUsize::new(0) }
    }

    /// A live sender of the next slot, dialed with `dial` if it has none.
    pub(super) async fn sender<F, Fut>(&self, dial: F) -> Result<(usize, H2Sender), ConnectError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<H2Sender, ConnectError>>,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if let Some(s) = live(slot) {
            return Ok((i, s));
        }
        let _dialing = slot.dialing.lock().await;
        if let Some(s) = live(slot) {
            return Ok((i, s));
        }
        let sender = dial().await?;
        *slot.sender.lock().unwrap_or_else(|p| p.into_inner()) = Some(sender.clone());
        Ok((i, sender))
    }

    /// Keeps `sender` (learned by dialing for HTTP/1.1 and getting HTTP/2)
    /// in the first empty slot.
    pub(super) fn adopt(&self, sender: &H2Sender) {
        for slot in &self.slots {
            let mut s = slot.sender.lock().unwrap_or_else(|p| p.into_inner());
            if s.as_ref().is_none_or(SendRequest::is_closed) {
                *s = Some(sender.clone());
                return;
            }
        }
    }

    /// Forgets slot `i`'s connection, which failed to start a request.
    pub(super) fn drop_slot(&self, i: usize) {
        *self.slots[i].sender.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

fn live(slot: &Slot) -> Option<H2Sender> {
    slot.sender.lock().unwrap_or_else(|p| p.into_inner()).as_ref().filter(|s| !s.is_closed()).cloned()
}

/// The HTTP/2 handshake on a connected stream; the connection's task runs
/// until the upstream or brownout closes it.
pub(super) async fn handshake<T>(name: &str, stream: T) -> Result<H2Sender, ConnectError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http2::Builder::new(TokioExecutor::new())
        .handshake(TokioIo::new(stream))
        .await
        .map_err(ConnectError::Handshake)?;
    let name = name.to_string();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            debug!({ fields::TARGET } = %name, error = %e, "upstream http/2 connection ended with an error");
        }
    });
    Ok(sender)
}

/// Sends `req` on `sender`. A request the connection could not start is
/// given back, to be sent on a new one.
pub(super) async fn send(
    sender: &mut H2Sender,
    req: Request<RequestBody>,
) -> Result<Response<Incoming>, (PoolError, Option<Request<RequestBody>>)> {
    match sender.try_send_request(req).await {
        Ok(resp) => Ok(resp),
        Err(mut e) => {
            let unsent = e.take_message();
            Err((PoolError::Send(e.into_error()), unsent))
        }
    }
}

/// Turns a request prepared for HTTP/1.1 (origin form, `Host`) into its
/// HTTP/2 form: `:scheme` and `:authority` from the upstream's scheme and
/// the `Host` chosen for it, no `Host` field, and `TE: trailers` again when
/// the client asked for trailers.
pub(super) fn to_h2(req: &mut Request<RequestBody>, scheme: &Scheme, fallback: &Authority) {
    let host = req.headers_mut().remove(header::HOST);
    let authority = host
        .as_ref()
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<Authority>().ok())
        .unwrap_or_else(|| fallback.clone());
    let path = req.uri().path_and_query().cloned();
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(scheme.clone());
    parts.authority = Some(authority);
    parts.path_and_query = path.or_else(|| Some(http::uri::PathAndQuery::from_static("/")));
    if let Ok(uri) = Uri::from_parts(parts) {
        *req.uri_mut() = uri;
    }
    *req.version_mut() = Version::HTTP_2;
    if req.extensions().get::<WantsTrailers>().is_some() {
        req.headers_mut().insert(header::TE, HeaderValue::from_static("trailers"));
    }
}
