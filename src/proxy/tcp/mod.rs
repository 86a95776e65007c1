//! The TCP listener: each connection dialed to the upstream in its own task,
//! then bytes copied both ways with half-close and bounded buffers.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::config::TcpUpstream;
use crate::record::fields;

/// Bytes buffered per direction of a connection; a full buffer stops reading,
/// so a slow reader slows the writer down instead of growing memory.
const BUFFER: usize = 16 * 1024;

/// Accepts connections on `listener` until `shutdown`. The accept loop never
/// dials: a blackholed upstream stalls only its own connections.
pub async fn serve(
    listener: TcpListener,
    name: Arc<str>,
    upstream: Arc<TcpUpstream>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    super::accept_failed(&name, &e).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        tracker.spawn(connection(stream, peer, name.clone(), upstream.clone()));
    }
}

#[tracing::instrument(name = "tcp", skip_all, fields(target = %name, peer = %peer))]
async fn connection(
    mut client: TcpStream,
    peer: SocketAddr,
    name: Arc<str>,
    upstream: Arc<TcpUpstream>,
) {
    let _ = client.set_nodelay(true);
    let dial = tokio::time::timeout(
        upstream.connect_timeout,
        TcpStream::connect(upstream.address.as_str()),
    );
    let mut server = match dial.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            warn!({ fields::ORIGIN } = fields::ORIGIN_UPSTREAM, { fields::ERROR_KIND } = "unreachable", upstream = %upstream.address, "upstream failed: {e}");
            let _ = client.shutdown().await;
            return;
        }
        Err(_) => {
            warn!({ fields::ORIGIN } = fields::ORIGIN_UPSTREAM, { fields::ERROR_KIND } = "connect_timeout", upstream = %upstream.address, "upstream failed: no connection within {:?}", upstream.connect_timeout);
            let _ = client.shutdown().await;
            return;
        }
    };
    let _ = server.set_nodelay(true);
    match tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, BUFFER, BUFFER).await {
        Ok((to_server, to_client)) => {
            debug!(
                { fields::BYTES_IN } = to_server,
                { fields::BYTES_OUT } = to_client,
                "connection closed"
            );
        }
        Err(e) => debug!(error = %e, "connection ended with an error"),
    }
}
