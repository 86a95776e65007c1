//! One plain exchange: the rewritten request sent over a pooled (or new)
//! upstream connection (`upstream.rs`), the response head rewritten for the
//! client, and the body relayed as it arrives with its framing followed.

use std::sync::Arc;

use bytes::{Buf, BytesMut};
use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::body::{Body, Framing};
use super::head::{is_hop, put_field, Connection};
use super::request::Request;
use super::upstream::{framed, send, Framed};
use super::Client;
use super::RawPool;
use crate::proxy::http::decision::Delays;
use crate::proxy::http::forward::Forwarder;
use crate::proxy::http::inject::sleep_unless_ended;
use crate::proxy::http::recorded::{self, Started};
use crate::proxy::http::Injector;
use crate::proxy::reset::ResetHandle;
use crate::record::fields;

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
    pub(super) async fn run(self, client: &mut impl Client) -> bool {
        let request = self.request;
        let started = recorded::enabled().then(|| {
            let traced = self.forwarder.upstream().trace_context != crate::config::TraceContext::Off;
            Started::plain(
                self.injector.listener(),
                self.injector.in_flight(),
                request.method.clone(),
                request.path.clone(),
                request.body,
            )
            .with_trace(traced.then(|| crate::trace_context::SpanIds::under(request.parent)))
        });
        let events = started.as_ref().and_then(|s| s.fault_events.clone());
        recorded::FaultEvents::scope(events, self.carry(client, started)).await
    }

    /// Waits out the request's delays, forwards it and relays the response,
    /// recording it as `started` when recorded.
    async fn carry(self, client: &mut impl Client, started: Option<Started>) -> bool {
        let request = self.request;
        let mut kept = !request.close;
        let at = Instant::now();
        let delays = request.faults.delays.as_ref();
        for (delay, active) in delays.iter().flat_map(|d| d.before()) {
            self.injector.applied(active, &format!("delay {delay:?} before request"));
            // Boxed, as the wait after: only a delayed request has room for it.
            let sleeping = Box::pin(sleep_unless_ended(delay, active));
            sleeping.await;
        }
        let faults = delays.map(Delays::names);
        let up = self.forwarder.upstream();
        let to_head = request.method == Method::HEAD;
        // Awaited in a statement of its own: a future (or a temporary of a
        // `match` on it) stays in this future's room for as long as it is in
        // scope, and the relay below would be stacked on top of it.
        let sent =
            send(self.raw, up, &request.method, &request.upstream, |resp, head| client_head(resp, head.len(), to_head))
                .await;
        match sent {
            Ok((up, mut rbuf, head)) => {
                if let Some((delay, active)) = delays.and_then(Delays::after) {
                    self.injector.applied(active, &format!("delay {delay:?} before response"));
                    let sleeping = Box::pin(sleep_unless_ended(delay, active));
                    sleeping.await;
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

    /// Writes the response head and body to the client as they come, and
    /// gives the upstream connection back when the exchange left it clean.
    async fn relay(
        &self,
        client: &mut impl Client,
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
/// the upstream connection may be reused after it (`Err`: framing no
/// client could follow, see `upstream::framed`). A coded body's bytes pass
/// as they are, so its `Transfer-Encoding` stays and its length goes.
fn client_head(resp: &httparse::Response<'_, '_>, len: usize, to_head: bool) -> Result<ResponseHead, ()> {
    let status = resp.code.unwrap_or(502);
    let connection = Connection::of_fields(resp.headers);
    let Framed { framing, coded, up_close } = framed(resp, &connection, to_head)?;
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

struct Relayed {
    status: u16,
    bytes_out: u64,
    /// The client connection may serve another request.
    kept: bool,
    error: Option<(&'static str, &'static str)>,
}
