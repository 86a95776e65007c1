//! The validated configuration that the rest of brownout uses.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use http::uri::{Authority, Scheme};

/// A whole proxy configuration: where the admin API listens, the optional
/// observer, and the targets.
#[derive(Debug, Clone)]
pub struct Config {
    pub admin: Admin,
    pub observer: Option<HttpListener>,
    pub targets: Vec<Target>,
    /// How long in-flight work may go on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// What counts as a graceful failure at the observer.
    pub graceful: crate::record::classify::GracefulRules,
    /// Seeds every fault decision: the same seed and traffic give the same
    /// decisions. Without one, the proxy picks one and logs it.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Admin {
    pub listen: SocketAddr,
    /// Every admin request must carry `Authorization: Bearer <token>`.
    pub token: Option<Secret>,
    pub allow_browsers: bool,
    /// Origins (`https://console.example:8443`) besides the listener's own
    /// whose requests are served; any other `Origin` is refused.
    pub allowed_origins: Vec<String>,
    /// `Host` values (lowercase, with or without a port) besides loopback
    /// names and addresses and the listen address; any other is refused.
    pub allowed_hosts: Vec<String>,
    /// The only directory `POST /runs {"file": ...}` reads experiments from.
    pub experiments_dir: PathBuf,
}

/// A secret that never shows in logs or debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// One dependency brownout stands in front of.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub listen: SocketAddr,
    pub protocol: Protocol,
    /// HTTP only: the listener speaks HTTPS.
    pub tls: Option<ListenerTls>,
    /// Faults active from the start (`[[target.fault]]`).
    pub faults: Vec<crate::fault::Fault>,
    pub limits: ClientLimits,
    /// What requests may ask for by header; `None`: fault headers pass on untouched.
    pub header_faults: Option<super::HeaderFaults>,
}

/// What a listener allows its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientLimits {
    /// A connection that carries no request (HTTP) or no byte either way
    /// (TCP) for this long is closed.
    pub idle_timeout: Option<Duration>,
    /// An HTTP request head (or an HTTP/2 preface) must arrive within this.
    pub header_timeout: Option<Duration>,
    /// Connections beyond this many at once are closed as they arrive.
    pub max_connections: Option<usize>,
}

impl ClientLimits {
    /// An idle keep-alive connection goes after a minute; a request head
    /// must come within 10 s.
    pub const HTTP: ClientLimits = ClientLimits {
        idle_timeout: Some(Duration::from_secs(60)),
        header_timeout: Some(Duration::from_secs(10)),
        max_connections: None,
    };
    /// Database pools idle for long: no idle timeout unless asked for.
    pub const TCP: ClientLimits = ClientLimits { idle_timeout: None, header_timeout: None, max_connections: None };
}

#[derive(Debug, Clone)]
pub enum Protocol {
    Http(HttpUpstream),
    Tcp(TcpUpstream),
}

/// An HTTP listener with no faults of its own: the observer.
#[derive(Debug, Clone)]
pub struct HttpListener {
    pub name: String,
    pub listen: SocketAddr,
    pub upstream: HttpUpstream,
    pub limits: ClientLimits,
    /// The listener speaks HTTPS.
    pub tls: Option<ListenerTls>,
}

/// Where a listener's certificate comes from.
#[derive(Debug, Clone)]
pub enum ListenerTls {
    /// Read from files when the config was loaded, the key checked against the certificate.
    Files { cert_file: PathBuf, key_file: PathBuf, identity: crate::tls::server::Identity },
    /// Issued at start by brownout's local authority for the listener's
    /// address, `localhost` and these names.
    Auto { names: Vec<String> },
}

/// Which HTTP version a target speaks to its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamVersion {
    /// HTTP/2 when an `https://` upstream offers it by ALPN, else HTTP/1.1.
    #[default]
    Auto,
    Http1,
    /// HTTP/2 (by prior knowledge on `http://`).
    Http2,
}

/// Where and how an HTTP target forwards requests.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    pub scheme: Scheme,
    pub authority: Authority,
    /// A path prefix every forwarded request path is appended to ("" for none).
    pub base_path: String,
    pub host: HostHeader,
    pub version: UpstreamVersion,
    /// A PEM file of CA certificates that replaces the system roots for `https`.
    pub ca_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The longest wait for the upstream's response head.
    pub request_timeout: Duration,
}

/// What the `Host` header of a forwarded request says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostHeader {
    /// The upstream's authority, as a client calling it directly would send.
    Upstream,
    /// The client's own `Host` header, unchanged.
    Keep,
    /// A fixed value.
    Fixed(http::HeaderValue),
}

/// Where a TCP target connects: `host:port`, resolved at dial time.
#[derive(Debug, Clone)]
pub struct TcpUpstream {
    pub address: String,
    pub connect_timeout: Duration,
}

impl Target {
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol {
            Protocol::Http(_) => "http",
            Protocol::Tcp(_) => "tcp",
        }
    }
}

impl HttpUpstream {
    /// The upstream as written: `http://host:port/base`.
    pub fn display(&self) -> String {
        format!("{}://{}{}", self.scheme, self.authority, self.base_path)
    }
}
