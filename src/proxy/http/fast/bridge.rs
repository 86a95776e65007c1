//! hyper's requests over the plain path's upstream connections. A request
//! hyper read (an HTTP/2 stream, or HTTP/1.1 that the plain path handed to
//! hyper) whose body is already whole is written to the upstream as bytes,
//! as a plain request is; the response head is parsed where it lies and
//! given back to hyper with a body that reads the upstream connection as
//! hyper takes it, its framing followed (a chunked body's content and
//! trailers told apart from its framing). The exchange runs where the
//! request is handled (an HTTP/2 stream in its connection's task,
//! `streams.rs`): no connection task of hyper's client, no channel to it,
//! no second wakeup per request.
//!
//! A request with a streamed body, an upgrade or `CONNECT` keeps hyper's
//! client (`forward.rs`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Version};
use http_body::{Body as _, Frame, SizeHint};
use tokio::net::TcpStream;

use super::body::{Body, Framing, Piece};
use super::head::{is_hop, Connection, MAX_HEADERS};
use super::request::{rewrite, Head};
use super::upstream::{framed, send, Framed};
use super::RawPool;
use crate::proxy::http::forward::{Failure, Forwarder, RequestBody};
use crate::proxy::http::headers::Peer;
use crate::proxy::http::BoxError;
use crate::proxy::reset::ResetHandle;

/// How much of a response body is read at a time.
const BODY_CHUNK: usize = 64 * 1024;

/// The request's body when it is already whole (none, or read whole by the
/// plain path): what a bridged request sends. `None`: hyper's client
/// carries it.
pub fn whole_body(req: &Request<RequestBody>) -> Option<Bytes> {
    if req.method() == Method::CONNECT || !req.uri().path().starts_with('/') {
        return None;
    }
    match req.body() {
        http_body_util::Either::Left(incoming) => incoming.is_end_stream().then(Bytes::new),
        http_body_util::Either::Right(full) => {
            // A `Full` yields its bytes at the first poll, without waiting.
            let mut full = full.clone();
            let waker = std::task::Waker::noop();
            match Pin::new(&mut full).poll_frame(&mut Context::from_waker(waker)) {
                Poll::Ready(Some(Ok(frame))) => frame.into_data().ok(),
                Poll::Ready(None) => Some(Bytes::new()),
                _ => None,
            }
        }
    }
}

/// Sends `req`, whose whole body is `body`, over the plain pool `raw` and
/// returns the response with a body read from the connection as it is
/// taken. An HTTP/1 client's connection is reset (`reset_on_break`) when
/// the upstream breaks off the body.
pub async fn forward(
    forwarder: &Forwarder,
    raw: &Arc<RawPool>,
    req: Request<RequestBody>,
    body: Bytes,
    client: &Peer,
    reset_on_break: Option<ResetHandle>,
) -> Result<Response<Bridged>, (Failure, String)> {
    let request = head_bytes(forwarder, client, &req, &body);
    let to_head = req.method() == Method::HEAD;
    let up = forwarder.upstream();
    let (stream, mut rbuf, head) =
        send(raw, up, req.method(), &request, |resp, bytes| response_head(resp, bytes, to_head)).await?;
    // The fields' values are slices of the head's bytes, not copies.
    let bytes = rbuf.split_to(head.len).freeze();
    let mut headers = HeaderMap::with_capacity(head.fields.len());
    for (name, at) in head.fields {
        let value = HeaderValue::from_maybe_shared(bytes.slice(at)).map_err(|_| invalid())?;
        headers.append(name, value);
    }
    let mut parts = head.parts;
    parts.headers = headers;
    let mut bridged = Bridged {
        up: Some(stream),
        rbuf,
        body: Body::new(head.framing),
        raw: raw.clone(),
        keep: head.keep,
        reset_on_break,
        trailers: Vec::new(),
    };
    if bridged.body.done() {
        bridged.finish();
    }
    Ok(Response::from_parts(parts, bridged))
}

/// A response head hyper cannot take, as hyper's client names it.
fn invalid() -> (Failure, String) {
    (Failure::Broken, "invalid response framing".to_string())
}

/// The upstream's request head (and body) for a request hyper read, written
/// as the plain path writes its own.
fn head_bytes(forwarder: &Forwarder, client: &Peer, req: &Request<RequestBody>, body: &[u8]) -> Vec<u8> {
    let headers = req.headers();
    let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
    let authority = req.uri().authority().map(|a| a.as_str().as_bytes());
    let connection = Connection::of(headers.get_all(header::CONNECTION).iter().map(HeaderValue::as_bytes));
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let head = Head {
        method: req.method(),
        path,
        fields: headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes())),
        connection: &connection,
        host: host.or(authority).unwrap_or_default(),
        join_cookies: req.version() == Version::HTTP_2,
    };
    rewrite(forwarder, client, head, body)
}

/// A parsed final response head, for hyper.
struct ResponseHead {
    /// Status, version and reason; the fields come apart.
    parts: http::response::Parts,
    /// The fields passed on (not hop-by-hop: the body is framed anew for
    /// the client), each value where it lies in the head's bytes.
    fields: Vec<(HeaderName, std::ops::Range<usize>)>,
    /// The head's length in the read buffer.
    len: usize,
    framing: Framing,
    /// The connection may be reused after the body.
    keep: bool,
}

/// Reads a final response head parsed from `bytes`. A reason other than the
/// status' own is kept, as hyper's client keeps it.
fn response_head(resp: &httparse::Response<'_, '_>, bytes: &[u8], to_head: bool) -> Result<ResponseHead, ()> {
    let code = resp.code.ok_or(())?;
    let status = StatusCode::from_u16(code).map_err(|_| ())?;
    let connection = Connection::of_fields(resp.headers);
    let Framed { framing, coded, up_close } = framed(resp, &connection, to_head)?;
    let mut fields = Vec::with_capacity(resp.headers.len());
    let base = bytes.as_ptr() as usize;
    for h in resp.headers.iter() {
        let dropped_length = coded && h.name.eq_ignore_ascii_case("content-length");
        if dropped_length || is_hop(h.name, &connection) {
            continue;
        }
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| ())?;
        // httparse's values are slices of `bytes` (an empty one may point
        // anywhere).
        let len = h.value.len();
        let at = (h.value.as_ptr() as usize).checked_sub(base).filter(|at| at + len <= bytes.len());
        fields.push((name, if len == 0 { 0..0 } else { at.map(|at| at..at + len).ok_or(())? }));
    }
    let (mut parts, ()) = Response::new(()).into_parts();
    parts.status = status;
    parts.version = if resp.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    if let Some(reason) = resp.reason.filter(|r| Some(*r) != status.canonical_reason()) {
        if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(reason.as_bytes()) {
            parts.extensions.insert(reason);
        }
    }
    Ok(ResponseHead { parts, fields, len: bytes.len(), framing, keep: !up_close })
}

/// A bridged response's body: read from the upstream connection as hyper
/// takes it, the connection put back in the plain pool once the body is
/// whole and nothing follows it.
pub struct Bridged {
    /// `None` once the body is whole (put back or closed) or broken.
    up: Option<TcpStream>,
    rbuf: BytesMut,
    body: Body,
    raw: Arc<RawPool>,
    /// The upstream keeps the connection open after this response.
    keep: bool,
    reset_on_break: Option<ResetHandle>,
    /// A chunked body's trailer section, as it came.
    trailers: Vec<u8>,
}

impl Bridged {
    /// The body is whole: the connection goes back to the pool when the
    /// upstream keeps it and nothing came after the body.
    fn finish(&mut self) {
        if let Some(up) = self.up.take() {
            if self.keep && self.rbuf.is_empty() {
                self.raw.put_back(up);
            }
        }
    }

    /// The upstream broke off the body: no reuse, and an HTTP/1 client's
    /// connection is reset so that the body never looks whole.
    fn broken(&mut self, why: &str) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.up = None;
        if let Some(reset) = &self.reset_on_break {
            reset.arm();
        }
        Poll::Ready(Some(Err(why.into())))
    }

    /// The content at the front of the read buffer, if any, with the
    /// framing around it taken off.
    fn content(&mut self) -> Result<Option<Bytes>, ()> {
        if !matches!(self.body.framing(), Framing::Chunked) {
            let (take, _) = self.body.feed(&self.rbuf)?;
            return Ok((take > 0).then(|| self.rbuf.split_to(take).freeze()));
        }
        let mut data = BytesMut::new();
        let Bridged { body, rbuf, trailers, .. } = self;
        let (took, _) = body.feed_chunked(rbuf, |piece| match piece {
            Piece::Data(range) => data.extend_from_slice(&rbuf[range]),
            Piece::Trailer(b) => trailers.push(b),
        })?;
        bytes::Buf::advance(rbuf, took);
        Ok((!data.is_empty()).then(|| data.freeze()))
    }

    /// A chunked body's trailer fields, once, when it had any.
    fn take_trailers(&mut self) -> Option<HeaderMap> {
        if self.trailers.len() <= 2 {
            return None;
        }
        let section = std::mem::take(&mut self.trailers);
        let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let Ok(httparse::Status::Complete((_, fields))) = httparse::parse_headers(&section, &mut fields) else {
            return None;
        };
        let mut map = HeaderMap::with_capacity(fields.len());
        for f in fields {
            if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(f.name.as_bytes()), HeaderValue::from_bytes(f.value))
            {
                map.append(name, value);
            }
        }
        Some(map)
    }
}

impl http_body::Body for Bridged {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if !this.rbuf.is_empty() && !this.body.done() {
                match this.content() {
                    Ok(Some(data)) => {
                        if this.body.done() {
                            this.finish();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Ok(None) => {}
                    Err(()) => return this.broken("invalid chunked framing"),
                }
            }
            if this.body.done() {
                this.finish();
                return Poll::Ready(this.take_trailers().map(|t| Ok(Frame::trailers(t))));
            }
            let Some(up) = this.up.as_mut() else { return Poll::Ready(None) };
            this.rbuf.clear();
            this.rbuf.reserve(BODY_CHUNK);
            match ready!(tokio_util::io::poll_read_buf(Pin::new(up), cx, &mut this.rbuf)) {
                Ok(0) if matches!(this.body.framing(), Framing::Close) => {
                    this.up = None;
                    return Poll::Ready(None);
                }
                Ok(0) => return this.broken("connection closed before message completed"),
                Err(e) => return this.broken(&e.to_string()),
                Ok(_) => {}
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.done() && self.trailers.len() <= 2
    }

    fn size_hint(&self) -> SizeHint {
        match self.body.remaining() {
            Some(left) => SizeHint::with_exact(left),
            None => SizeHint::default(),
        }
    }
}
