//! Dialing an HTTP target's upstream, and the limits that both of its pools
//! (hyper's in `pool`, the plain pass-through's in `fast::pool`) keep alike.

use std::net::SocketAddr;
use std::time::Duration;

use http::uri::Scheme;
use tokio::net::TcpStream;

use crate::config::HttpUpstream;

/// Idle upstream connections kept per target and pool beyond this are closed.
pub(super) const MAX_IDLE: usize = 512;

/// The upstream's host as a name or an address to connect to, an IPv6
/// address without its brackets.
pub(super) fn host(up: &HttpUpstream) -> &str {
    up.authority.host().trim_start_matches('[').trim_end_matches(']')
}

/// Why no TCP connection to the upstream was made. The cause is part of the
/// text rather than a `source`: the text is a 502's body, whole.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Refused, unreachable, or the name did not resolve.
    #[error("tcp connect error: {0}")]
    Failed(std::io::Error),
    /// No answer within the upstream's connect timeout.
    #[error("tcp connect error: no answer within {0:?}")]
    TimedOut(Duration),
}

/// A TCP connection to the upstream within its connect timeout, with
/// `TCP_NODELAY`.
pub(super) async fn dial(up: &HttpUpstream) -> Result<TcpStream, DialError> {
    let default_port = if up.scheme == Scheme::HTTPS { 443 } else { 80 };
    let port = up.authority.port_u16().unwrap_or(default_port);
    let tcp = match tokio::time::timeout(up.connect_timeout, connect_tcp(host(up), port)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(DialError::Failed(e)),
        Err(_) => return Err(DialError::TimedOut(up.connect_timeout)),
    };
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

async fn connect_tcp(host: &str, port: u16) -> std::io::Result<TcpStream> {
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => TcpStream::connect(SocketAddr::new(ip, port)).await,
        Err(_) => TcpStream::connect((host, port)).await,
    }
}
