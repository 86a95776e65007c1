//! Reading a plain request from the client and rewriting it for the
//! upstream: the head parsed where it lies in the read buffer, the body read
//! whole, and the upstream's request written as the forwarder would (origin
//! form under the base path, hop-by-hop fields out, `Host` by the target's
//! rule, `X-Forwarded-*` in).

use std::io;

use bytes::BytesMut;
use http::Method;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::choose::{choose, hyper_request, Chosen, Faulty};
use super::head::{is_hop, parse_length, put_field, tokens, Connection, MAX_HEADERS};
use super::Client;
use crate::config::{ClientLimits, HostHeader};
use crate::proxy::http::decision::Plain;
use crate::proxy::http::forward::Forwarder;
use crate::proxy::http::headers::{Peer, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::proxy::http::Injector;

/// A request head longer than this goes to hyper, which has its own limits.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// A request body longer than this goes to hyper, which streams it. A plain
/// request's body is read whole before it is sent, so that the upstream
/// gets head and body in one write and nothing waits on a slow client.
const MAX_PLAIN_BODY: u64 = 64 * 1024;

/// A plain request, read whole and rewritten for the upstream.
pub(super) struct Request {
    /// Its length in the read buffer, head and body.
    pub(super) len: usize,
    /// What the upstream gets, head and body.
    pub(super) upstream: Vec<u8>,
    pub(super) method: Method,
    /// The path as the client sent it, for the record.
    pub(super) path: String,
    pub(super) body: u64,
    /// The client asked for the connection to close after this exchange.
    pub(super) close: bool,
    /// What it carries of its faults: latency to wait out, pool slots held
    /// until the exchange ends.
    pub(super) faults: Plain,
    /// The caller's span, from the one valid `traceparent` it sent.
    pub(super) parent: Option<crate::trace_context::Parent>,
}

/// A whole request read from the client.
pub(super) enum Read {
    /// No fault acts on it: it passes as bytes.
    Plain(Request),
    /// A fault acts on it: the injector carries it.
    /// Boxed: it is the rare path, and `Faulty` is several times `Request`.
    Faulty(Box<Faulty>),
}

/// Reads until `buf` holds a whole request and decides its faults, then
/// rewrites it for the upstream when no fault acts on it. `Ok(None)`: the
/// request is not plain, the connection ended half way through a head, or a
/// shutdown came while the request was still coming in; hyper is to serve
/// it (and, shutting down, to close after it).
pub(super) async fn read_request(
    client: &mut impl Client,
    buf: &mut BytesMut,
    injector: &Injector,
    peer: &Peer,
    shutdown: &CancellationToken,
    limits: &ClientLimits,
) -> io::Result<Option<Read>> {
    // The head must be whole within the header timeout of its first byte; a
    // body may pause for at most the idle timeout between its bytes.
    let head_by = limits.header_timeout.map(|t| Instant::now() + t);
    loop {
        // The request's whole length, once its head is in and plain.
        let mut whole = None;
        if !buf.is_empty() {
            match examine(buf, injector, peer) {
                Examined::Whole(read) => return Ok(Some(read)),
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
                () = crate::proxy::http::until(deadline) => return Err(io::ErrorKind::TimedOut.into()),
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
    Whole(Read),
    /// The head is whole and plain; the body is not all here: the request
    /// is this long.
    Body(usize),
    Partial,
    NotPlain,
}

/// Parses the request at the front of `buf` and, when it is plain and
/// whole, decides its faults (once, as the request is whole) and, when none
/// acts on it, writes the upstream's request.
fn examine(buf: &[u8], injector: &Injector, peer: &Peer) -> Examined {
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
    // A request that may choose its own faults goes where faults are
    // applied, before anything is decided, as hyper's path reads them first.
    let header_faults = injector.header_gate().is_some();
    let mut traceparents = (0, None);
    for h in req.headers.iter() {
        let name = h.name;
        if header_faults && crate::config::fault::header::may_be_named(name) {
            return Examined::NotPlain;
        }
        if name.eq_ignore_ascii_case(crate::trace_context::TRACEPARENT) {
            traceparents = (traceparents.0 + 1, crate::trace_context::parse(h.value));
        } else if name.eq_ignore_ascii_case("content-length") {
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
    let faults = match choose(injector, peer, &method, path, req.headers) {
        Chosen::Plain(faults) => faults,
        Chosen::Faulty(decision, uri) => {
            let request = hyper_request(method, uri, req.headers, &buf[head_len..len]);
            return Examined::Whole(Read::Faulty(Box::new(Faulty { len, request, decision, close })));
        }
        Chosen::NotPlain => return Examined::NotPlain,
    };
    let connection = Connection::of_fields(req.headers);
    let head = Head {
        method: &method,
        path,
        fields: req.headers.iter().map(|h| (h.name, h.value)),
        connection: &connection,
        host: original_host,
        join_cookies: false,
    };
    let upstream = rewrite(injector.forwarder(), peer, head, &buf[head_len..len]);
    // The record names the path without its fragment and query, as the
    // hyper path's does.
    let path = up_to(path, |b| b == b'#' || b == b'?').to_string();
    // Read only: a target never changes the application's traceparent.
    let parent = if traceparents.0 == 1 { traceparents.1 } else { None };
    Examined::Whole(Read::Plain(Request { len, upstream, method, path, body, close, faults, parent }))
}

/// `path` up to the first byte that `stop` picks (an ASCII one), or whole:
/// a plain scan, as paths are short.
fn up_to(path: &str, stop: impl Fn(u8) -> bool) -> &str {
    match path.bytes().position(stop) {
        Some(at) => &path[..at],
        None => path,
    }
}

/// A request head to write for the upstream, from wherever it was read.
pub(super) struct Head<'a, I> {
    pub(super) method: &'a Method,
    /// In origin form, as the client sent it.
    pub(super) path: &'a str,
    /// Its fields in order, `(name, value)`.
    pub(super) fields: I,
    /// What its `Connection` fields say.
    pub(super) connection: &'a Connection<'a>,
    /// Its `Host` (or HTTP/2 `:authority`).
    pub(super) host: &'a [u8],
    /// Its `Cookie` fields go as one, joined with `; `: HTTP/2 sends a
    /// cookie per field, HTTP/1.1 in one field (RFC 9113 8.2.3).
    pub(super) join_cookies: bool,
}

/// Writes the upstream's request: the request line under the base path, the
/// client's fields but the hop-by-hop ones, `Host` by the target's rule, the
/// `X-Forwarded-*` fields, then the body, with its length when the head
/// gives none (a whole HTTP/2 body may come without one).
pub(super) fn rewrite<'h>(
    forwarder: &Forwarder,
    peer: &Peer,
    head: Head<'_, impl Iterator<Item = (&'h str, &'h [u8])>>,
    body: &[u8],
) -> Vec<u8> {
    let Head { method, path, fields, connection, host: original_host, join_cookies } = head;
    let up = forwarder.upstream();
    let mut out = Vec::with_capacity(path.len() + body.len() + 256);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(up.base_path.as_bytes());
    // A fragment is the client's own, never sent (the `http` crate drops it
    // on the hyper path too).
    out.extend_from_slice(up_to(path, |b| b == b'#').as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    match &up.host {
        HostHeader::Keep => put_field(&mut out, b"host", original_host),
        HostHeader::Upstream => put_field(&mut out, b"host", up.authority.as_str().as_bytes()),
        HostHeader::Fixed(v) => put_field(&mut out, b"host", v.as_bytes()),
    }
    let mut cookies: Vec<u8> = Vec::new();
    let mut forwarded_for: Option<&[u8]> = None;
    let (mut proto, mut forwarded_host, mut length) = (false, false, body.is_empty());
    for (name, value) in fields {
        if name.eq_ignore_ascii_case("host") || is_hop(name, connection) {
            continue;
        }
        if name.eq_ignore_ascii_case(X_FORWARDED_FOR.as_str()) {
            // Joined with the client's address below, as the forwarder does.
            forwarded_for.get_or_insert(value);
            continue;
        }
        if join_cookies && name.eq_ignore_ascii_case("cookie") {
            if !cookies.is_empty() {
                cookies.extend_from_slice(b"; ");
            }
            cookies.extend_from_slice(value);
            continue;
        }
        proto |= name.eq_ignore_ascii_case(X_FORWARDED_PROTO.as_str());
        forwarded_host |= name.eq_ignore_ascii_case(X_FORWARDED_HOST.as_str());
        length = length || name.eq_ignore_ascii_case("content-length");
        put_field(&mut out, name.as_bytes(), value);
    }
    if !cookies.is_empty() {
        put_field(&mut out, b"cookie", &cookies);
    }
    let ip = peer.forwarded_for().as_bytes();
    match forwarded_for.filter(|p| !p.trim_ascii().is_empty()) {
        Some(prior) => put_field(&mut out, X_FORWARDED_FOR.as_str().as_bytes(), &[prior, b", ", ip].concat()),
        None => put_field(&mut out, X_FORWARDED_FOR.as_str().as_bytes(), ip),
    }
    if !proto {
        put_field(&mut out, X_FORWARDED_PROTO.as_str().as_bytes(), peer.proto().as_bytes());
    }
    if !forwarded_host {
        put_field(&mut out, X_FORWARDED_HOST.as_str().as_bytes(), original_host);
    }
    if !length {
        put_field(&mut out, b"content-length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}
