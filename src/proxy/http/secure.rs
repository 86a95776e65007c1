//! HTTPS on a listener: the TLS handshake in the connection's own task,
//! then HTTP/2 or HTTP/1.1 as ALPN chose (a client that chose nothing is
//! told apart by the HTTP/2 preface, as on plain connections). HTTP/1.1
//! requests take the plain pass-through as on a plain listener, HTTP/2
//! goes to hyper.

use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::headers::Peer;
use super::{fast, serve_hyper, until, Injector, H2_PREFACE};
use crate::proxy::reset::ResettableStream;
use crate::proxy::Open;
use crate::record::fields;
use crate::tls::server::ALPN_H2;

/// What accepts TLS on a listener that presents `identity`.
pub fn acceptor(identity: crate::tls::server::Identity) -> Result<TlsAcceptor, String> {
    crate::tls::server::server_config(identity).map(TlsAcceptor::from)
}

/// One client connection over TLS, counted open while `_open` lives.
pub(super) async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: TlsAcceptor,
    injector: Injector,
    shutdown: CancellationToken,
    _open: Open,
) {
    let _ = stream.set_nodelay(true);
    let (stream, reset) = ResettableStream::new(stream);
    // The handshake (and, without ALPN, the first bytes) must come within
    // the listener's header timeout, as a plain connection's first head.
    let deadline = injector.limits().header_timeout.map(|t| tokio::time::Instant::now() + t);
    let accepted = tokio::select! {
        accepted = tls.accept(stream) => accepted,
        () = shutdown.cancelled() => return,
        () = until(deadline) => {
            debug!({ fields::TARGET } = %injector.name(), { fields::PEER } = %peer, "tls handshake timed out");
            return;
        }
    };
    let mut stream = match accepted {
        Ok(stream) => stream,
        Err(e) => {
            debug!({ fields::TARGET } = %injector.name(), { fields::PEER } = %peer, error = %e, "tls handshake failed");
            return;
        }
    };
    let (h2, prefix) = match stream.get_ref().1.alpn_protocol() {
        Some(p) => (p == ALPN_H2, BytesMut::new()),
        None => {
            let mut seen = BytesMut::with_capacity(H2_PREFACE.len());
            let sniff = async {
                while seen.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&seen) {
                    if stream.read_buf(&mut seen).await? == 0 {
                        break;
                    }
                }
                Ok::<_, std::io::Error>(())
            };
            let sniffed = tokio::select! {
                sniffed = sniff => sniffed,
                () = until(deadline) => return,
            };
            if sniffed.is_err() {
                return;
            }
            (seen.starts_with(H2_PREFACE), seen)
        }
    };
    let peer = Peer::secure(peer);
    let prefix = if h2 {
        prefix
    } else {
        match fast::serve(&mut stream, prefix, &reset, &injector, &peer, &shutdown).await {
            fast::Exit::Done => return,
            fast::Exit::ToHyper(prefix) => prefix,
        }
    };
    let io = fast::Prefixed::new(prefix, stream);
    let serving = Box::pin(serve_hyper(io, h2, peer, &injector, reset, &shutdown));
    serving.await;
}
