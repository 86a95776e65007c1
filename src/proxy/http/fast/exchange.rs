//! One plain exchange: the rewritten request sent over a pooled (or new)
//! upstream connection, the response head read and rewritten for the
//! client, and the body relayed as it arrives with its framing followed.

use std::io;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use http::header;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::{Body, Framing};
use super::head::{is_hop, parse_length, put_field, tokens, MAX_HEADERS};
use super::request::Request;
use super::RawPool;
use crate::proxy::http::decision::Delays;
use crate::proxy::http::forward::{Failure, Forwarder};
use crate::proxy::http::inject::sleep_unless_ended;
use crate::proxy::http::recorded::{self, Started};
use crate::proxy::http::Injector;
use crate::proxy::reset::{ResetHandle, ResettableStream};
use crate::record::fields;

/// A response head longer than this is a broken upstream (hyper's client
/// limit: its largest read buffer).
const MAX_RESPONSE_HEAD: usize = 8192 + 4096 * 100;
/// How much of a response body is read at a time.
const BODY_CHUNK: usize = 64 * 1024;

/// One request and its response.
pub(super) struct Exchange<'a> {
    pub(super) injector: &'a Injector,
    pub(super) forwarder: &'a Forwarder,
    pub(super) raw: &'a Arc<RawPool>,
    pub(super) request: &'a Request,
    /// Armed when the upstream broke off a response: the client then sees
    /// a reset, never a clean end of a body that is not whole.
    pub(super) reset: &'a ResetHandle,
}

impl Exchange<'_> {
    /// Forwards the request and relays the response. False when the client
    /// connection is to close.
    pub(super) async fn run(self, client: &mut ResettableStream) -> bool {
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
        let delays = request.faults.delays.as_ref();
        for (delay, active) in delays.iter().flat_map(|d| d.before()) {
            self.injector.applied(active, &format!("delay {delay:?} before request"));
            sleep_unless_ended(delay, active).await;
        }
        let faults = delays.map(Delays::names);
        match self.send(&request.upstream).await {
            Ok((up, mut rbuf, head)) => {
                if let Some((delay, active)) = delays.and_then(Delays::after) {
                    self.injector.applied(active, &format!("delay {delay:?} before response"));
                    sleep_unless_ended(delay, active).await;
                }
                let ttfb = at.elapsed();
                let relayed = self.relay(client, up, &mut rbuf, head).await;
                kept &= relayed.kept;
                if let Some(started) = started {
                    let status = Some(relayed.status);
                    started.finished(status, Some(ttfb), relayed.bytes_out, relayed.error, faults.as_deref());
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
                    started.finished(Some(status.as_u16()), None, sent, error, faults.as_deref());
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
        crate::proxy::http::dial::dial(self.forwarder.upstream())
            .await
            .map_err(|why| (Failure::Unreachable, why.to_string()))
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
