//! Sending a plain request over the plain pool's upstream connections and
//! reading the response head: a connection taken from the pool (or dialed),
//! the request written whole, the head parsed in place and handed to a
//! builder of the caller's, and the body's framing read from it.

use std::io;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use http::header;
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::Framing;
use super::head::{parse_length, Connection, MAX_HEADERS};
use super::RawPool;
use crate::config::HttpUpstream;
use crate::proxy::http::forward::Failure;

/// A response head longer than this is a broken upstream (hyper's client
/// limit: its largest read buffer).
const MAX_RESPONSE_HEAD: usize = 8192 + 4096 * 100;

/// Sends `request` (head and body) over an idle connection, or a new one,
/// and reads the response head, which `head` builds into what the caller
/// needs (given the parsed head and the bytes it was parsed from). An idempotent request that
/// a reused connection answered with nothing at all is sent again on a new
/// one. The whole wait is bounded by the upstream's request timeout.
pub(super) async fn send<T>(
    raw: &Arc<RawPool>,
    up: &HttpUpstream,
    method: &Method,
    request: &[u8],
    head: impl Fn(&httparse::Response<'_, '_>, &[u8]) -> Result<T, ()>,
) -> Result<(TcpStream, BytesMut, T), (Failure, String)> {
    let deadline = Instant::now() + up.request_timeout;
    let idempotent = idempotent(method);
    let mut reused = raw.take(idempotent);
    loop {
        let (mut stream, was_reused) = match reused.take() {
            Some(stream) => (stream, true),
            None => {
                // Boxed: dialing is rare next to reusing, and its future
                // would keep room in every exchange's.
                let dialing = Box::pin(crate::proxy::http::dial::dial(up));
                (dialing.await.map_err(|why| (Failure::Unreachable, why.to_string()))?, false)
            }
        };
        let mut rbuf = BytesMut::new();
        let mut answered = false;
        let sent = async {
            stream.write_all(request).await?;
            read_response_head(&mut stream, &mut rbuf, &mut answered, &head).await
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

fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE)
}

/// Reads until `rbuf` holds a final response head (a 1xx head before it is
/// dropped, as hyper's client does) and builds it with `head`.
async fn read_response_head<T>(
    up: &mut TcpStream,
    rbuf: &mut BytesMut,
    answered: &mut bool,
    head: &impl Fn(&httparse::Response<'_, '_>, &[u8]) -> Result<T, ()>,
) -> io::Result<T> {
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
                    _ => return head(&resp, &rbuf[..len]).map_err(|()| io::Error::other("invalid response framing")),
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

/// How a response's body is framed, read from its head.
pub(super) struct Framed {
    pub framing: Framing,
    /// It has a `Transfer-Encoding`, which overrides any `Content-Length`.
    pub coded: bool,
    /// The upstream closes the connection after it.
    pub up_close: bool,
}

/// The framing of a parsed final response (`connection`: its `Connection`
/// fields). `Err` when a response that may have a body has invalid or
/// differing `Content-Length` values and no `Transfer-Encoding` (hyper's
/// client rejects those too); the framing of a response that has no body
/// (to `HEAD`, 204, 304) is not checked, as hyper's client does not.
/// Transfer-Encoding overrides Content-Length; a body coded other than
/// chunked runs to the close (RFC 9112 6.3). Chunked is the last element of
/// the last field, as hyper's client reads it: `chunked,` is not chunked,
/// so the body runs to the close, which a client that reads it either way
/// sees end.
pub(super) fn framed(
    resp: &httparse::Response<'_, '_>,
    connection: &Connection<'_>,
    to_head: bool,
) -> Result<Framed, ()> {
    let status = resp.code.unwrap_or(502);
    let up_close = resp.version == Some(0) || connection.close;
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
    Ok(Framed { framing, coded, up_close })
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
