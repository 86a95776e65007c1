//! A request some fault acts on, met on a plain connection: the injector
//! carries its decision out (the faults in their steps, hyper's pooled
//! forward, a throttled or cut body) and its response is written back as
//! HTTP/1.1. The connection stays on the plain path for the requests after
//! it, so a fault that touches one request in a hundred costs only that one.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use http::header::{CONNECTION, CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use http::{Method, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use tokio::io::AsyncWriteExt;

use super::choose::Faulty;
use super::head::put_field;
use super::Client;
use crate::proxy::http::conn::{Asked, ClientConn};
use crate::proxy::http::headers::Peer;
use crate::proxy::http::recorded::{self, Pending, Started};
use crate::proxy::http::{Around, Injected, Injector, ProxyBody, Truncated};
use crate::proxy::reset::ResetHandle;
use crate::record::fields;

/// Body bytes gathered before they are written, while more is ready at once.
const GATHER: usize = 64 * 1024;

/// Carries out the faults of one request and answers the client. False
/// when the client connection is to close (a fault reset or closed it, or
/// its response could not be framed for another request after it).
pub(super) async fn exchange(
    client: &mut impl Client,
    reset: &ResetHandle,
    injector: &Injector,
    peer: &Peer,
    faulty: Faulty,
) -> bool {
    let Faulty { mut request, decision, close, .. } = faulty;
    let to_head = request.method() == Method::HEAD;
    let (conn, control) = ClientConn::new(reset.clone(), false);
    let recording = recorded::enabled();
    let mode = injector.forwarder().upstream().trace_context;
    let span = super::super::trace::span_for(request.headers_mut(), mode, recording);
    let started = recording
        .then(|| Started::new(injector.listener(), injector.in_flight(), injector.rules(), &request).with_trace(span));
    let events = started.as_ref().and_then(|s| s.fault_events.clone());
    let mut pending = started.map(Pending::new);
    let around = Around { peer, conn: &conn, note: pending.as_ref().map(Pending::note) };
    let handled = recorded::FaultEvents::scope(events, injector.inject(decision, request, around)).await;
    let started = pending.as_mut().map(Pending::take);
    // A fault that drains the connection (`goaway`) makes this answer its
    // last, with `Connection: close`, as hyper's path does on HTTP/1.1.
    let close = close || control.asked() != Asked::Nothing;
    match handled {
        Ok(resp) => {
            let resp = match started {
                Some(started) => started.response(resp),
                None => resp,
            };
            write_response(client, reset, resp, to_head, close).await
        }
        Err(e) => {
            if let Some(started) = started {
                let error = match &e {
                    Injected::Reset(_) | Injected::ResetStream { .. } => "reset",
                    Injected::Closed(_) => "closed",
                };
                started.no_response(error, fields::ORIGIN_INJECTED, Some(e.fault()));
            }
            false
        }
    }
}

/// How a response body is framed for the client.
#[derive(PartialEq)]
enum Framing {
    /// No body goes out (an answer to `HEAD`, 1xx, 204, 304).
    None,
    /// As long as its `Content-Length` says.
    Length,
    Chunked,
}

/// Writes `resp` as hyper's server would: its status and fields, a length
/// from the body when it knows one and no field gives it, else chunked. The
/// body goes out as it comes, bytes that are ready at once gathered into
/// one write. A body cut by a truncate fault ends the connection with what
/// went before it; one the upstream broke off ends it with a reset.
async fn write_response(
    client: &mut impl Client,
    reset: &ResetHandle,
    resp: Response<ProxyBody>,
    to_head: bool,
    close: bool,
) -> bool {
    let (head, mut body) = resp.into_parts();
    let status = head.status;
    let bodiless =
        to_head || status.is_informational() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    // The upstream's own reason phrase when hyper's client kept one, as
    // hyper's server writes it.
    match head.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(reason) => out.extend_from_slice(reason.as_bytes()),
        None => out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes()),
    }
    out.extend_from_slice(b"\r\n");
    for (name, value) in &head.headers {
        // The framing is brownout's to choose, as hyper's server does.
        if name != TRANSFER_ENCODING && name != CONNECTION {
            put_field(&mut out, name.as_str().as_bytes(), value.as_bytes());
        }
    }
    let framing = if head.headers.contains_key(CONTENT_LENGTH) {
        if bodiless {
            Framing::None
        } else {
            Framing::Length
        }
    } else if let Some(n) = body.size_hint().exact() {
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED && !status.is_informational() {
            put_field(&mut out, b"content-length", n.to_string().as_bytes());
        }
        if bodiless {
            Framing::None
        } else {
            Framing::Length
        }
    } else if bodiless {
        Framing::None
    } else {
        put_field(&mut out, b"transfer-encoding", b"chunked");
        Framing::Chunked
    };
    if !head.headers.contains_key(DATE) {
        // hyper's server dates every answer that has no date of its own
        // (brownout's fault answers have none).
        let now = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S GMT").to_string();
        put_field(&mut out, b"date", now.as_bytes());
    }
    if close {
        put_field(&mut out, b"connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    loop {
        // What is ready now joins what waits to go; when nothing is, that
        // goes out before waiting.
        let ready = poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx))).await;
        let frame = match ready {
            Poll::Ready(frame) => frame,
            Poll::Pending => {
                if !out.is_empty() && client.write_all(&out).await.is_err() {
                    return false;
                }
                out.clear();
                body.frame().await
            }
        };
        match frame {
            Some(Ok(frame)) => {
                // Trailers are dropped, as hyper's server drops them for a
                // client that did not ask for them with `TE: trailers`.
                let Ok(data) = frame.into_data() else { continue };
                if framing == Framing::None || data.is_empty() {
                    continue;
                }
                if framing == Framing::Chunked {
                    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
                }
                out.extend_from_slice(&data);
                if framing == Framing::Chunked {
                    out.extend_from_slice(b"\r\n");
                }
                if out.len() >= GATHER {
                    if client.write_all(&out).await.is_err() {
                        return false;
                    }
                    out.clear();
                }
            }
            None => {
                if framing == Framing::Chunked {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                return client.write_all(&out).await.is_ok() && !close;
            }
            Some(Err(e)) => {
                let _ = client.write_all(&out).await;
                if !e.is::<Truncated>() {
                    reset.arm();
                }
                return false;
            }
        }
    }
}
