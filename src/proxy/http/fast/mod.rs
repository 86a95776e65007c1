//! The plain pass-through of HTTP/1.1: a client connection's requests that
//! no fault acts on go to the upstream as bytes, without hyper on either
//! side. A request head is parsed where it lies in the read
//! buffer, rewritten as the forwarder would (origin-form path under the base
//! path, hop-by-hop fields out, `Host` by the target's rule, `X-Forwarded-*`
//! in) and written with its body in one call. The response head is rewritten
//! the same way and the body passes as it arrives, its framing (length,
//! chunked or up to the close) followed byte by byte but never re-encoded.
//!
//! Once a plain request is whole, its faults are decided (the same pure,
//! seeded decision as on hyper's path, from the head as parsed): one that no
//! fault acts on passes as bytes, and so does one only latency acts on,
//! after its delays; one that another fault acts on goes through the
//! injector and its answer is written back (`faulty.rs`), and the
//! connection goes on with its next request. A target's faults so cost only
//! the requests they touch, and a delay costs no more than its wait.
//!
//! At the first request that is not plain (HTTP/1.0, an upgrade, `Expect`,
//! a chunked or large request body, a malformed or huge head), and on an
//! observer's connections (which classify) or for an `https` upstream, the
//! connection goes to hyper for the rest of its life, with the bytes read
//! so far put back in front of the stream. Nothing has been decided,
//! answered or sent upstream for that request by then.
//!
//! An idle client connection holds no buffer: one is taken when a request
//! arrives and given back when its exchange ends.
//!
//! hyper's own requests use the same upstream connections when their body
//! is already whole (`bridge.rs`): an HTTP/2 stream's `GET` is written
//! upstream as bytes and its response read back as hyper takes it.
//!
//! `request.rs` reads and rewrites a request, `choose.rs` decides its
//! faults, `exchange.rs` carries a plain one and relays the response,
//! `upstream.rs` sends it over a pooled connection and reads the response
//! head and its framing,
//! `faulty.rs` answers one a fault acts on, `body.rs` follows a body's framing, `head.rs` holds
//! what both heads share, `pool.rs` the idle upstream connections and
//! `prefixed.rs` the stream handed to hyper, `client.rs` what a client
//! connection must offer (plain TCP, or TLS over it).

mod body;
mod bridge;
mod choose;
mod client;
mod exchange;
mod faulty;
mod head;
mod pool;
mod prefixed;
mod request;
mod upstream;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

use super::headers::Peer;
use super::Injector;
use crate::proxy::reset::ResetHandle;
pub use bridge::{forward as bridge, whole_body};
pub use client::Client;
use exchange::Exchange;
pub use pool::RawPool;
pub use prefixed::Prefixed;
use request::{read_request, Read};

/// How a connection left the plain path.
pub enum Exit {
    /// It is over: closed by either side, or asked to stop.
    Done,
    /// The next request is not plain: hyper serves the rest, starting with
    /// these bytes.
    ToHyper(BytesMut),
}

/// Serves plain requests on `client`, the first starting with the bytes
/// already read in `buf`, until the connection ends or a request is not
/// plain.
pub async fn serve(
    client: &mut impl Client,
    mut buf: BytesMut,
    reset: &ResetHandle,
    injector: &Injector,
    peer: &Peer,
    shutdown: &CancellationToken,
) -> Exit {
    let forwarder = injector.forwarder();
    // An observer classifies every response, which only hyper's path does.
    let Some(raw) = forwarder.raw_pool().filter(|_| injector.rules_switch().is_none()) else {
        return Exit::ToHyper(buf);
    };
    let limits = *injector.limits();
    let mut idle = super::idle::IdleTimer::new(limits.idle_timeout);
    loop {
        if buf.is_empty() {
            // Idle between requests: no buffer held, and a shutdown or the
            // idle timeout ends it.
            buf = BytesMut::new();
            tokio::select! {
                // A request already waiting is served, shutdown or not.
                biased;
                ready = client.readable() => if ready.is_err() { return Exit::Done },
                () = shutdown.cancelled() => return Exit::Done,
                () = idle.expired() => return Exit::Done,
            }
        }
        // Draining: hyper answers what has come and closes with
        // `Connection: close`, as on its own connections.
        if shutdown.is_cancelled() {
            return if buf.is_empty() { Exit::Done } else { Exit::ToHyper(buf) };
        }
        // Read in a statement of its own: a `match` on the awaited read
        // would keep the read's future in the connection's room through
        // the exchange.
        let read = read_request(client, &mut buf, injector, peer, shutdown, &limits).await;
        let (kept, len) = match read {
            Ok(Some(Read::Plain(request))) => {
                (Exchange { injector, forwarder, raw, request: &request, reset }.run(client).await, request.len)
            }
            Ok(Some(Read::Faulty(faulty))) => {
                let len = faulty.len;
                // Boxed: the injector's exchange is the largest state of
                // all, and an idle connection's task would otherwise hold
                // room for it. Only requests a fault selects pay for it.
                // In a statement of its own: a temporary of the awaiting
                // statement would keep its room in the connection's future.
                let exchange = Box::pin(faulty::exchange(client, reset, injector, peer, *faulty));
                (exchange.await, len)
            }
            Ok(None) => return Exit::ToHyper(buf),
            Err(_) => return Exit::Done,
        };
        idle.touch();
        buf.advance(len);
        if !kept {
            let _ = client.shutdown().await;
            return Exit::Done;
        }
    }
}
