//! The serde mirror of a config file: what the TOML says, before validation.

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::values::{Dur, HostPort, ListenAddr, NonZeroDur, Timeout};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub admin: Option<RawAdmin>,
    pub observer: Option<RawHttp>,
    #[serde(default)]
    pub target: Vec<RawTarget>,
    pub shutdown_grace: Option<Dur>,
    pub seed: Option<u64>,
    pub graceful: Option<RawGraceful>,
}

/// `[graceful]`: the rules a failure at the observer must meet to be graceful.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGraceful {
    pub status: Option<Spanned<Vec<i64>>>,
    pub body_contains: Option<Vec<String>>,
    pub headers: Option<Spanned<Vec<String>>>,
    pub within: Option<Dur>,
    pub leaks: Option<Spanned<Vec<String>>>,
    /// gRPC statuses a degraded application may answer with (numbers or names).
    pub grpc_status: Option<Spanned<Vec<super::fault::NumberOrName>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAdmin {
    pub listen: Option<Spanned<ListenAddr>>,
    /// A file holding the admin token (never the token itself in the config).
    pub token_file: Option<Spanned<PathBuf>>,
    /// An environment variable holding the admin token.
    pub token_env: Option<Spanned<String>>,
    /// Accept requests from browsers (refused by default: a cheap guard
    /// against cross-site requests to a local admin port).
    pub allow_browsers: Option<bool>,
    /// Origins besides the admin listener's own whose requests are served.
    pub allowed_origins: Option<Spanned<Vec<String>>>,
    /// `Host` values besides loopback names and the listen address.
    pub allowed_hosts: Option<Spanned<Vec<String>>>,
    /// Where `POST /runs {"file": ...}` may read experiment files from.
    pub experiments_dir: Option<Spanned<PathBuf>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    pub name: Spanned<String>,
    pub protocol: Spanned<RawProtocol>,
    pub listen: Spanned<ListenAddr>,
    pub upstream: Spanned<String>,
    pub host: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<PathBuf>>,
    pub connect_timeout: Option<NonZeroDur>,
    pub request_timeout: Option<Spanned<NonZeroDur>>,
    pub idle_timeout: Option<Spanned<Timeout>>,
    pub header_timeout: Option<Spanned<Timeout>>,
    pub max_connections: Option<Spanned<u64>>,
    pub upstream_version: Option<Spanned<super::UpstreamVersion>>,
    pub tls: Option<Spanned<super::tls::RawTls>>,
    /// Faults requests may choose by header (`x-envoy-fault-*`, `x-brownout-fault`).
    pub header_faults: Option<Spanned<super::header_faults::RawHeaderFaults>>,
    #[serde(default)]
    pub fault: Vec<super::fault::RawFault>,
}

/// The observer: an HTTP listener without a name or protocol of its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    pub listen: Spanned<ListenAddr>,
    pub upstream: Spanned<String>,
    pub host: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<PathBuf>>,
    pub connect_timeout: Option<NonZeroDur>,
    pub request_timeout: Option<NonZeroDur>,
    pub idle_timeout: Option<Spanned<Timeout>>,
    pub header_timeout: Option<Spanned<Timeout>>,
    pub max_connections: Option<Spanned<u64>>,
    pub upstream_version: Option<Spanned<super::UpstreamVersion>>,
    pub tls: Option<Spanned<super::tls::RawTls>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawProtocol {
    Http,
    Tcp,
}

impl RawTarget {
    /// Checks a TCP upstream's form by the same rules as the HTTP one's.
    pub fn tcp_upstream(&self) -> Result<HostPort, String> {
        use serde::de::IntoDeserializer;
        let value: &str = self.upstream.get_ref();
        let d: serde::de::value::StrDeserializer<'_, serde::de::value::Error> = value.into_deserializer();
        HostPort::deserialize(d).map_err(|e| e.to_string())
    }
}
