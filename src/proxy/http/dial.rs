//! Dialing an HTTP target's upstream, and the limits that both of its pools
//! (hyper's in `pool`, the plain pass-through's in `fast::pool`) keep alike.

use std::net::SocketAddr;

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

/// A TCP connection to the upstream within its connect timeout, with
/// `TCP_NODELAY`; the error says why, for a 502.
pub(super) async fn dial(up: &HttpUpstream) -> Result<TcpStream, String> {
    let default_port = if up.scheme == Scheme::HTTPS { 443 } else { 80 };
    let port = up.authority.port_u16().unwrap_or(default_port);
    let tcp = match tokio::time::timeout(up.connect_timeout, connect_tcp(host(up), port)).await {
        Ok(Ok(tcp)) => tcp,
        Ok(Err(e)) => return Err(format!("tcp connect error: {e}")),
        Err(_) => return Err(format!("tcp connect error: no answer within {:?}", up.connect_timeout)),
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
