//! The plain pass-through of HTTP/1.1: while a target has no fault, a
//! client connection's requests go to the upstream as bytes, without hyper
//! on either side. A request head is parsed where it lies in the read
//! buffer, rewritten as the forwarder would (origin-form path under the base
//! path, hop-by-hop fields out, `Host` by the target's rule, `X-Forwarded-*`
//! in) and written with its body in one call. The response head is rewritten
//! the same way and the body passes as it arrives, its framing (length,
//! chunked or up to the close) followed byte by byte but never re-encoded.
//!
//! Only plain requests take this path. At the first request that is not
//! (a fault in the plan, an observer's classification, HTTP/1.0, an
//! upgrade, `Expect`, a chunked or large request body, a malformed or huge
//! head, an `https` upstream) the connection goes to hyper for the rest of
//! its life, with the bytes read so far put back in front of the stream.
//! Nothing has been answered or sent upstream for that request by then.
//!
//! An idle client connection holds no buffer: one is taken when a request
//! arrives and given back when its exchange ends.

mod body;
mod pool;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use http::header;
use http::Method;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::forward::{Failure, Forwarder};
use super::headers::{Peer, HOP_BY_HOP_NAMES, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use super::recorded::{self, Started};
use super::Injector;
use crate::config::{ClientLimits, HostHeader};
use crate::proxy::reset::{ResetHandle, ResettableStream};
use crate::record::fields;
use body::{Body, Framing};
pub use pool::RawPool;

/// The most header fields a plain request or response may have (hyper's
/// limit too).
const MAX_HEADERS: usize = 100;
/// A request head longer than this goes to hyper, which has its own limits.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// A response head longer than this is a broken upstream (hyper's client
/// limit: its largest read buffer).
const MAX_RESPONSE_HEAD: usize = 8192 + 4096 * 100;
/// A request body longer than this goes to hyper, which streams it. A plain
/// request's body is read whole before it is sent, so that the upstream
/// gets head and body in one write and nothing waits on a slow client.
const MAX_PLAIN_BODY: u64 = 64 * 1024;
/// How much of a response body is read at a time.
const BODY_CHUNK: usize = 64 * 1024;

/// How a connection left the plain path.
pub enum Exit {
    /// It is over: closed by either side, or asked to stop.
    Done,
    /// The next request is not plain: hyper serves the rest, starting with
    /// these bytes.
    ToHyper(BytesMut),
}

/// Serves plain requests on `client` until the connection ends or a request
/// is not plain.
pub async fn serve(
    client: &mut ResettableStream,
    reset: &ResetHandle,
    injector: &Injector,
    peer: &Peer,
    shutdown: &CancellationToken,
) -> Exit {
    let forwarder = injector.forwarder();
    let Some(raw) = forwarder.raw_pool() else { return Exit::ToHyper(BytesMut::new()) };
    let limits = *injector.limits();
    let mut idle = super::idle::IdleTimer::new(limits.idle_timeout);
    let mut buf = BytesMut::new();
    loop {
        if buf.is_empty() {
            // Idle between requests: no buffer held, and a shutdown or the
            // idle timeout ends it.
            buf = BytesMut::new();
            tokio::select! {
                // A request already waiting is served, shutdown or not.
                biased;
                ready = client.tcp().readable() => if ready.is_err() { return Exit::Done },
                () = shutdown.cancelled() => return Exit::Done,
                () = idle.expired() => return Exit::Done,
            }
        }
        // Draining: hyper answers what has come and closes with
        // `Connection: close`, as on its own connections.
        if shutdown.is_cancelled() {
            return if buf.is_empty() { Exit::Done } else { Exit::ToHyper(buf) };
        }
        if !injector.switch().load().faults.is_empty() || injector.rules_switch().is_some() {
            return Exit::ToHyper(buf);
        }
        let request = match read_request(client, &mut buf, forwarder, peer, shutdown, &limits).await {
            Ok(Some(request)) => request,
            Ok(None) => return Exit::ToHyper(buf),
            Err(_) => return Exit::Done,
        };
        // A request choosing its own faults goes where faults are applied.
        if injector.header_gate().is_some() && crate::config::fault::header::mentioned_in(&buf[..request.len]) {
            return Exit::ToHyper(buf);
        }
        let kept = Exchange { injector, forwarder, raw, request: &request, reset }.run(client).await;
        idle.touch();
        buf.advance(request.len);
        if !kept {
            let _ = client.shutdown().await;
            return Exit::Done;
        }
    }
}

/// A plain request, read whole and rewritten for the upstream.
struct Request {
    /// Its length in the read buffer, head and body.
    len: usize,
    /// What the upstream gets, head and body.
    upstream: Vec<u8>,
    method: Method,
    /// The path as the client sent it, for the record.
    path: String,
    body: u64,
    /// The client asked for the connection to close after this exchange.
    close: bool,
}

/// Reads until `buf` holds a whole request and rewrites it for the
/// upstream. `Ok(None)`: the request is not plain, the connection ended
/// half way through a head, or a shutdown came while the request was still
/// coming in; hyper is to serve it (and, shutting down, to close after it).
async fn read_request(
    client: &mut ResettableStream,
    buf: &mut BytesMut,
    forwarder: &Forwarder,
    peer: &Peer,
    shutdown: &CancellationToken,
    limits: &ClientLimits,
) -> io::Result<Option<Request>> {
    // The head must be whole within the header timeout of its first byte; a
    // body may pause for at most the idle timeout between its bytes.
    let head_by = limits.header_timeout.map(|t| Instant::now() + t);
    loop {
        // The request's whole length, once its head is in and plain.
        let mut whole = None;
        if !buf.is_empty() {
            match examine(buf, forwarder, peer) {
                Examined::Plain(request) => return Ok(Some(request)),
                Examined::NotPlain => return Ok(None),
                Examined::Partial if buf.len() >= MAX_REQUEST_HEAD => return Ok(None),
                Examined::Partial => {}
                Examined::Body(len) => whole = Some(len),
            }
        }
        loop {
            buf.reserve(whole.map_or(4096, |len| len - buf.len()));
            let deadline = match whole {
                None => head_by,
                Some(_) => limits.idle_timeout.map(|t| Instant::now() + t),
            };
            let read = tokio::select! {
                // Bytes already there are read without touching the timer.
                biased;
                read = client.read_buf(buf) => read?,
                () = shutdown.cancelled() => return Ok(None),
                () = super::until(deadline) => return Err(io::ErrorKind::TimedOut.into()),
            };
            if read == 0 {
                // Closed between requests is the normal end; half a head is
                // hyper's to answer or drop; half a body ends the connection.
                return if buf.is_empty() || whole.is_some() {
                    Err(io::ErrorKind::UnexpectedEof.into())
                } else {
                    Ok(None)
                };
            }
            if whole.is_none_or(|len| buf.len() >= len) {
                break;
            }
        }
    }
}

enum Examined {
    Plain(Request),
    /// The head is whole and plain; the body is not all here: the request
    /// is this long.
    Body(usize),
    Partial,
    NotPlain,
}

/// Parses the request at the front of `buf` and, when it is plain and
/// whole, writes the upstream's request: the request line under the base
/// path, the client's fields but the hop-by-hop ones, `Host` by the
/// target's rule, the `X-Forwarded-*` fields, then the body.
fn examine(buf: &[u8], forwarder: &Forwarder, peer: &Peer) -> Examined {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Examined::Partial,
        Err(_) => return Examined::NotPlain,
    };
    let (Some(method), Some(path), Some(1)) = (req.method, req.path, req.version) else { return Examined::NotPlain };
    if !path.starts_with('/') {
        return Examined::NotPlain;
    }
    let mut body = 0;
    let (mut lengths, mut hosts) = (0, 0);
    let mut original_host: &[u8] = b"";
    let mut close = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            match parse_length(h.value) {
                Some(n) if n <= MAX_PLAIN_BODY => body = n,
                _ => return Examined::NotPlain,
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            original_host = h.value;
        } else if name.eq_ignore_ascii_case("connection") {
            close |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"close"));
        } else if ["transfer-encoding", "expect", "upgrade"].iter().any(|n| name.eq_ignore_ascii_case(n)) {
            return Examined::NotPlain;
        }
    }
    if lengths > 1 || hosts != 1 {
        return Examined::NotPlain;
    }
    let len = head_len + body as usize;
    if buf.len() < len {
        return Examined::Body(len);
    }
    let Ok(method) = Method::from_bytes(method.as_bytes()) else { return Examined::NotPlain };

    let up = forwarder.upstream();
    let mut out = Vec::with_capacity(len + 160);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(up.base_path.as_bytes());
    // A fragment is the client's own, never sent (the `http` crate drops it
    // on the hyper path too).
    let path = path.split('#').next().unwrap_or(path);
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    match &up.host {
        HostHeader::Keep => put_field(&mut out, b"host", original_host),
        HostHeader::Upstream => put_field(&mut out, b"host", up.authority.as_str().as_bytes()),
        HostHeader::Fixed(v) => put_field(&mut out, b"host", v.as_bytes()),
    }
    let connection: Vec<&[u8]> =
        req.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("connection")).map(|h| h.value).collect();
    let mut forwarded_for: Option<&[u8]> = None;
    let (mut proto, mut forwarded_host) = (false, false);
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("host") || is_hop(name, &connection) {
            continue;
        }
        if name.eq_ignore_ascii_case(X_FORWARDED_FOR.as_str()) {
            // Joined with the client's address below, as the forwarder does.
            forwarded_for.get_or_insert(h.value);
            continue;
        }
        proto |= name.eq_ignore_ascii_case(X_FORWARDED_PROTO.as_str());
        forwarded_host |= name.eq_ignore_ascii_case(X_FORWARDED_HOST.as_str());
        put_field(&mut out, name.as_bytes(), h.value);
    }
    let ip = peer.forwarded_for().as_bytes();
    match forwarded_for.filter(|p| !p.trim_ascii().is_empty()) {
        Some(prior) => put_field(&mut out, X_FORWARDED_FOR.as_str().as_bytes(), &[prior, b", ", ip].concat()),
        None => put_field(&mut out, X_FORWARDED_FOR.as_str().as_bytes(), ip),
    }
    if !proto {
        put_field(&mut out, X_FORWARDED_PROTO.as_str().as_bytes(), b"http");
    }
    if !forwarded_host {
        put_field(&mut out, X_FORWARDED_HOST.as_str().as_bytes(), original_host);
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&buf[head_len..len]);
    // The record names the path without its query, as the hyper path's does.
    let path = path.split('?').next().unwrap_or(path).to_string();
    Examined::Plain(Request { len, upstream: out, method, path, body, close })
}

/// A header value's comma-separated tokens, trimmed.
fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(|t| t.trim_ascii()).filter(|t| !t.is_empty())
}

fn parse_length(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// True when a field is not passed on: hop-by-hop, or named by one of the
/// `Connection` values. `Content-Length` frames the message and always
/// passes, whatever `Connection` says: dropping it would let the body be
/// read as another message.
fn is_hop(name: &str, connection: &[&[u8]]) -> bool {
    HOP_BY_HOP_NAMES.iter().any(|h| h.len() == name.len() && name.eq_ignore_ascii_case(h))
        || (!connection.is_empty()
            && !name.eq_ignore_ascii_case("content-length")
            && connection.iter().any(|c| tokens(c).any(|t| t.eq_ignore_ascii_case(name.as_bytes()))))
}

fn put_field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// One request and its response.
struct Exchange<'a> {
    injector: &'a Injector,
    forwarder: &'a Forwarder,
    raw: &'a Arc<RawPool>,
    request: &'a Request,
    /// Armed when the upstream broke off a response: the client then sees
    /// a reset, never a clean end of a body that is not whole.
    reset: &'a ResetHandle,
}

impl Exchange<'_> {
    /// Forwards the request and relays the response. False when the client
    /// connection is to close.
    async fn run(self, client: &mut ResettableStream) -> bool {
        let request = self.request;
        let started = recorded::enabled().then(|| {
            Started::plain(
                self.injector.listener(),
                self.injector.in_flight(),
                request.method.clone(),
                request.path.clone(),
                request.body,
            )
        });
        let mut kept = !request.close;
        let at = Instant::now();
        match self.send(&request.upstream).await {
            Ok((up, mut rbuf, head)) => {
                let ttfb = at.elapsed();
                let relayed = self.relay(client, up, &mut rbuf, head).await;
                kept &= relayed.kept;
                if let Some(started) = started {
                    started.finished(Some(relayed.status), Some(ttfb), relayed.bytes_out, relayed.error);
                }
            }
            Err((failure, why)) => {
                let (status, text) = self.forwarder.failure_text(failure, &why);
                let mut out = Vec::with_capacity(128 + text.len());
                out.extend_from_slice(
                    format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or("")).as_bytes(),
                );
                put_field(&mut out, b"content-type", b"text/plain; charset=utf-8");
                put_field(&mut out, b"content-length", text.len().to_string().as_bytes());
                if !kept {
                    put_field(&mut out, b"connection", b"close");
                }
                out.extend_from_slice(b"\r\n");
                // An answer to HEAD has no body, whatever its length says.
                if request.method != Method::HEAD {
                    out.extend_from_slice(text.as_bytes());
                }
                let written = client.write_all(&out).await.is_ok();
                kept &= written;
                if let Some(started) = started {
                    let error = if written {
                        Some((failure.kind(), fields::ORIGIN_UPSTREAM))
                    } else {
                        Some(("client_closed", fields::ORIGIN_CLIENT))
                    };
                    let sent = if written && request.method != Method::HEAD { text.len() as u64 } else { 0 };
                    started.finished(Some(status.as_u16()), None, sent, error);
                }
            }
        }
        kept
    }

    /// Sends the request over an idle connection, or a new one, and reads
    /// the response head. An idempotent request that a reused connection
    /// answered with nothing at all is sent again on a new one.
    async fn send(&self, request: &[u8]) -> Result<(TcpStream, BytesMut, ResponseHead), (Failure, String)> {
        let up = self.forwarder.upstream();
        let deadline = Instant::now() + up.request_timeout;
        let idempotent = idempotent(&self.request.method);
        let mut reused = self.raw.take(idempotent);
        loop {
            let (mut stream, was_reused) = match reused.take() {
                Some(stream) => (stream, true),
                None => (self.connect().await?, false),
            };
            let mut rbuf = BytesMut::new();
            let mut answered = false;
            let sent = async {
                stream.write_all(request).await?;
                read_response_head(&mut stream, &mut rbuf, &mut answered, self.request.method == Method::HEAD).await
            };
            match tokio::time::timeout_at(deadline, sent).await {
                Ok(Ok(head)) => return Ok((stream, rbuf, head)),
                // Closed by the upstream while it idled here, before a byte
                // of an answer (RFC 9110 9.2.2 allows the retry).
                Ok(Err(_)) if was_reused && !answered && idempotent => continue,
                Ok(Err(e)) => return Err((Failure::Broken, e.to_string())),
                Err(_) => return Err((Failure::TimedOut, format!("no answer within {:?}", up.request_timeout))),
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream, (Failure, String)> {
        super::dial::dial(self.forwarder.upstream()).await.map_err(|why| (Failure::Unreachable, why.to_string()))
    }

    /// Writes the response head and body to the client as they come, and
    /// gives the upstream connection back when the exchange left it clean.
    async fn relay(
        &self,
        client: &mut ResettableStream,
        mut up: TcpStream,
        rbuf: &mut BytesMut,
        head: ResponseHead,
    ) -> Relayed {
        let ResponseHead { len, status, framing, mut out, mut up_keep } = head;
        let mut relayed = Relayed { status, bytes_out: 0, kept: true, error: None };
        if matches!(framing, Framing::Close) {
            relayed.kept = false;
            put_field(&mut out, b"connection", b"close");
        } else if self.request.close {
            put_field(&mut out, b"connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        rbuf.advance(len);
        let mut body = Body::new(framing);
        // The head goes with the body bytes already read, in one write.
        let mut pending = out;
        loop {
            let (take, data) = match body.feed(rbuf) {
                Ok(fed) => fed,
                Err(()) => {
                    // The head still goes, as hyper's would, then the reset.
                    if !pending.is_empty() {
                        let _ = client.write_all(&pending).await;
                    }
                    return self.broken(relayed);
                }
            };
            relayed.bytes_out += data;
            if pending.is_empty() {
                if take > 0 && client.write_all(&rbuf[..take]).await.is_err() {
                    return Relayed { kept: false, error: Some(("client_closed", fields::ORIGIN_CLIENT)), ..relayed };
                }
            } else {
                pending.extend_from_slice(&rbuf[..take]);
                if client.write_all(&pending).await.is_err() {
                    return Relayed { kept: false, error: Some(("client_closed", fields::ORIGIN_CLIENT)), ..relayed };
                }
                pending = Vec::new();
            }
            rbuf.advance(take);
            if body.done() {
                // Bytes after the response: the connection is out of step.
                up_keep &= rbuf.is_empty();
                break;
            }
            rbuf.clear();
            rbuf.reserve(BODY_CHUNK);
            match up.read_buf(rbuf).await {
                Ok(0) if matches!(framing, Framing::Close) => {
                    up_keep = false;
                    break;
                }
                Ok(0) | Err(_) => return self.broken(relayed),
                Ok(_) => {}
            }
        }
        if up_keep {
            self.raw.put_back(up);
        }
        relayed
    }

    /// The upstream broke off the body: the client connection is reset, so
    /// that a body framed by the close does not look whole.
    fn broken(&self, relayed: Relayed) -> Relayed {
        self.reset.arm();
        Relayed { kept: false, error: Some(("upstream_body", fields::ORIGIN_UPSTREAM)), ..relayed }
    }
}

fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE)
}

/// A final response head, rewritten for the client.
struct ResponseHead {
    /// Its length in the read buffer.
    len: usize,
    status: u16,
    framing: Framing,
    /// The head for the client, without its closing empty line.
    out: Vec<u8>,
    /// The upstream connection may be reused after the body.
    up_keep: bool,
}

/// The client's head for a parsed final response, its framing, and whether
/// the upstream connection may be reused after it. `Err` when a response
/// that may have a body has invalid or differing `Content-Length` values
/// and no `Transfer-Encoding` (hyper's client rejects those too); the
/// framing of a response that has no body (to `HEAD`, 204, 304) is not
/// checked, as hyper's client does not.
fn client_head(resp: &httparse::Response<'_, '_>, len: usize, to_head: bool) -> Result<ResponseHead, ()> {
    let status = resp.code.unwrap_or(502);
    let connection: Vec<&[u8]> =
        resp.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("connection")).map(|h| h.value).collect();
    let up_close =
        resp.version == Some(0) || connection.iter().any(|c| tokens(c).any(|t| t.eq_ignore_ascii_case(b"close")));
    // Transfer-Encoding overrides Content-Length; a body coded other than
    // chunked runs to the close (RFC 9112 6.3). Either way its bytes pass
    // as they are, so the field stays and the length goes. Chunked is the
    // last element of the last field, as hyper's client reads it:
    // `chunked,` is not chunked, so the body runs to the close, which a
    // client that reads it either way sees end.
    let mut coded = false;
    let mut chunked = false;
    for h in resp.headers.iter().filter(|h| h.name.eq_ignore_ascii_case("transfer-encoding")) {
        coded = true;
        chunked =
            h.value.rsplit(|b| *b == b',').next().is_some_and(|t| t.trim_ascii().eq_ignore_ascii_case(b"chunked"));
    }
    let bodiless = to_head || status == 204 || status == 304;
    let framing = if bodiless {
        Framing::None
    } else if coded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::Close
        }
    } else {
        match response_length(resp.headers)? {
            Some(n) => Framing::Length(n),
            None => Framing::Close,
        }
    };
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(b"HTTP/1.1 ");
    // httparse reads exactly three digits.
    out.extend_from_slice(&[b'0' + (status / 100) as u8, b'0' + (status / 10 % 10) as u8, b'0' + (status % 10) as u8]);
    out.push(b' ');
    out.extend_from_slice(resp.reason.unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in resp.headers.iter() {
        let name = h.name;
        let kept_coding = coded && name.eq_ignore_ascii_case("transfer-encoding");
        let dropped_length = coded && name.eq_ignore_ascii_case("content-length");
        if dropped_length || (!kept_coding && is_hop(name, &connection)) {
            continue;
        }
        put_field(&mut out, name.as_bytes(), h.value);
    }
    Ok(ResponseHead { len, status, framing, out, up_keep: !up_close })
}

/// Reads until `rbuf` holds a final response head (a 1xx head before it is
/// dropped, as hyper's client does) and rewrites it for the client.
async fn read_response_head(
    up: &mut TcpStream,
    rbuf: &mut BytesMut,
    answered: &mut bool,
    to_head: bool,
) -> io::Result<ResponseHead> {
    loop {
        if !rbuf.is_empty() {
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(rbuf) {
                Ok(httparse::Status::Complete(len)) => match resp.code {
                    Some(101) => return Err(io::Error::other("the upstream switched protocols unasked")),
                    Some(100..=199) => {
                        rbuf.advance(len);
                        continue;
                    }
                    _ => {
                        return client_head(&resp, len, to_head)
                            .map_err(|()| io::Error::other("invalid response framing"));
                    }
                },
                Ok(httparse::Status::Partial) if rbuf.len() < MAX_RESPONSE_HEAD => {}
                Ok(httparse::Status::Partial) => return Err(io::Error::other("response head too large")),
                Err(e) => return Err(io::Error::other(format!("invalid response head: {e}"))),
            }
        }
        rbuf.reserve(8192);
        if up.read_buf(rbuf).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before message completed"));
        }
        *answered = true;
    }
}

/// A response's `Content-Length`: `Ok(None)` when it has none, `Err` when
/// its values are invalid or differ (`Content-Length: 2, 2` is 2).
fn response_length(headers: &[httparse::Header<'_>]) -> Result<Option<u64>, ()> {
    let mut length = None;
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case(header::CONTENT_LENGTH.as_str())) {
        for value in h.value.split(|b| *b == b',') {
            let n = parse_length(value).ok_or(())?;
            if length.is_some_and(|l| l != n) {
                return Err(());
            }
            length = Some(n);
        }
    }
    Ok(length)
}

struct Relayed {
    status: u16,
    bytes_out: u64,
    /// The client connection may serve another request.
    kept: bool,
    error: Option<(&'static str, &'static str)>,
}

/// A stream with bytes already read put back in front of it.
pub struct Prefixed<T> {
    prefix: BytesMut,
    inner: T,
}

impl<T> Prefixed<T> {
    pub fn new(prefix: BytesMut, inner: T) -> Self {
        Prefixed { prefix, inner }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Prefixed<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            if self.prefix.is_empty() {
                self.prefix = BytesMut::new();
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Prefixed<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_plain_digits() {
        assert_eq!(parse_length(b" 42 "), Some(42));
        for bad in [&b""[..], b"-1", b"+1", b"4 2", b"0x10", b"1,1", b"9999999999999999999"] {
            assert_eq!(parse_length(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
